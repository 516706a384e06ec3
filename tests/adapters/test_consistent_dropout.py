"""Consistent MC dropout: sample t of every row shares one mask per dropout layer."""

import itertools

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from al_adapters.bayesian import bald_sampling, batch_bald_sampling
from tests.adapters.factories import blobs, make_adapter

torch = pytest.importorskip("torch")
nn = torch.nn

from al_adapters.adapters._consistent_dropout import ConsistentMasks  # noqa: E402


def fitted(hidden=16, dropout=0.5, **params):
    X, y = blobs(n=60)
    torch.manual_seed(0)
    return make_adapter(
        "torch", hidden=hidden, dropout=dropout, epochs=2, **params
    ).fit(X, y)


@pytest.mark.parametrize("predict_batch_size", [None, 4])  # replicated, looped
def test_identical_rows_get_identical_samples_across_calls(predict_batch_size):
    adapter = fitted(predict_batch_size=predict_batch_size)
    X, _ = blobs(n=30, seed=1)
    X[17] = X[2]
    first = adapter.sample_proba(X[:10], 6, random_state=3, consistent=True)
    second = adapter.sample_proba(X[10:], 6, random_state=3, consistent=True)
    assert_array_equal(first[:, 2], second[:, 7])
    # the masks are shared, not switched off: the samples vary over t
    assert np.std(first, axis=0).max() > 1e-3
    # default mode: a fresh mask per row
    fresh = adapter.sample_proba(X, 6, random_state=3)
    assert not np.allclose(fresh[:, 2], fresh[:, 17])


def test_samples_match_a_mask_shared_by_all_rows():
    """Brute force: for each t one of the 2**5 hidden masks explains every row."""
    adapter = fitted(hidden=5, dropout=0.4)
    X, _ = blobs(n=12, seed=2)
    samples = adapter.sample_proba(X, 8, random_state=0, consistent=True)
    first, _, _, last = adapter.net_.module_.net
    with torch.no_grad():
        hidden = torch.relu(first(torch.from_numpy(X)))
        found = []
        for t in range(8):
            matches = []
            for bits in itertools.product([0.0, 1.0], repeat=5):
                mask = torch.tensor(bits) / (1 - 0.4)
                proba = torch.softmax(last(hidden * mask), dim=1).numpy()
                if np.allclose(proba, samples[t], atol=1e-5):
                    matches.append(bits)
            assert len(matches) == 1, (t, matches)
            found.append(matches[0])
    assert len(set(found)) > 1  # a new mask per sample


def test_samples_do_not_depend_on_chunks_order_or_pass_size():
    X, _ = blobs(n=23, seed=3)
    adapter = fitted()
    whole = adapter.sample_proba(X, 5, random_state=7, consistent=True)
    chunks = np.concatenate(
        [
            adapter.sample_proba(X[s : s + 6], 5, random_state=7, consistent=True)
            for s in range(0, 23, 6)
        ],
        axis=1,
    )
    assert_allclose(chunks, whole, rtol=1e-6, atol=1e-7)
    order = np.random.default_rng(0).permutation(23)
    shuffled = adapter.sample_proba(X[order], 5, random_state=7, consistent=True)
    assert_allclose(shuffled, whole[:, order], rtol=1e-6, atol=1e-7)
    adapter.set_params(predict_batch_size=3)  # one pass per sample and slice
    assert_allclose(
        adapter.sample_proba(X, 5, random_state=7, consistent=True),
        whole,
        rtol=1e-6,
        atol=1e-7,
    )
    # sample t does not depend on how many samples are drawn
    fewer = adapter.sample_proba(X, 3, random_state=7, consistent=True)
    assert_allclose(fewer, whole[:3], rtol=1e-6, atol=1e-7)
    other = adapter.sample_proba(X, 5, random_state=8, consistent=True)
    assert not np.allclose(other, whole)


def test_tensor_input_and_none_follow_torch_seed():
    adapter = fitted()
    X, _ = blobs(n=9, seed=4)
    torch.manual_seed(5)
    first = adapter.sample_proba(torch.from_numpy(X), 4, consistent=True)
    torch.manual_seed(5)
    again = adapter.sample_proba(X, 4, consistent=True)
    assert isinstance(first, torch.Tensor)
    assert_array_equal(first.numpy(), again)


def torch_values(layer, x, repeats=400):
    """The outputs torch's own layer gives at each position, over many masks."""
    torch.manual_seed(0)
    layer.train()
    with torch.no_grad():
        out = layer(x.expand(repeats, *x.shape[1:]).clone())
    return out


@pytest.mark.parametrize(
    ("layer", "shape", "channel"),
    [
        (nn.Dropout(0.3), (6,), False),
        (nn.AlphaDropout(0.3), (6,), False),
        (nn.Dropout1d(0.5), (3, 4), True),
        (nn.Dropout2d(0.5), (3, 2, 2), True),
        (nn.Dropout3d(0.5), (2, 2, 1, 2), True),
        (nn.FeatureAlphaDropout(0.5), (3, 2, 2), True),
    ],
)
def test_each_layer_gives_one_of_torchs_values_with_a_mask_shared_by_rows(
    layer, shape, channel
):
    rows, samples = 4, 3
    x = torch.randn(1, *shape)
    reference = torch_values(layer, x)  # (repeats, *shape): torch's two values
    layer.eval()
    with torch.no_grad(), ConsistentMasks(nn.Sequential(layer), seed=1) as masks:
        masks.samples = range(samples)
        out = layer(x.expand(samples * rows, *shape).clone())
    out = out.reshape(samples, rows, *shape)
    assert torch.equal(out, out[:, :1].expand_as(out))  # shared by the rows
    for t in range(samples):
        close = (out[t, 0].unsqueeze(0) - reference).abs() < 1e-5
        if channel:  # the whole pattern is one torch draws (a mask per channel)
            assert bool(close.flatten(1).all(dim=1).any()), t
        else:  # each element is a value torch's layer gives there
            assert bool(close.any(dim=0).all()), t


def test_unsupported_dropout_subclass_is_refused():
    class MyDropout(nn.Dropout):
        def forward(self, X):
            return X * 2

    module = nn.Sequential(nn.Linear(2, 2), MyDropout(0.5))
    with pytest.raises(TypeError, match="MyDropout"):
        ConsistentMasks(module, seed=0)


@pytest.mark.filterwarnings("ignore:dropout2d. Received a 3D input")
def test_unbatched_channel_dropout_is_refused():
    layer = nn.Dropout2d(0.5).eval()
    with ConsistentMasks(layer, seed=0) as masks, torch.no_grad():
        masks.samples = 0
        with pytest.raises(ValueError, match="Dropout2d needs batched input"):
            layer(torch.ones(3, 4, 4))


def test_batch_bald_with_consistent_masks_avoids_the_copies_bald_takes():
    X, y = blobs(n=60)
    # with weights from torch seeds 0-5, BatchBALD took 6 distinct rows every
    # time, top-k BALD copies 4 times and fresh-mask BatchBALD copies 5 times
    torch.manual_seed(3)
    adapter = make_adapter("torch", hidden=32, dropout=0.5, epochs=1).fit(X[:6], y[:6])
    last = adapter.net_.module_.net[-1]
    with torch.no_grad():  # confident samples: a copy's label adds little
        last.weight.mul_(10)
        last.bias.mul_(10)
    pool = np.repeat(blobs(n=40, seed=6)[0], 3, axis=0)  # each row 3 times
    options = {"n_samples": 30, "random_state": 0, "chunk_size": 16}
    top, _ = bald_sampling(adapter, pool, 6, **options)
    assert len(set((top // 3).tolist())) < 6  # top-k BALD: copies of a row
    batch, _ = batch_bald_sampling(adapter, pool, 6, **options)
    assert len(set((batch // 3).tolist())) == 6
    unchunked, _ = batch_bald_sampling(
        adapter, pool, 6, **{**options, "chunk_size": 50}
    )
    assert_array_equal(unchunked, batch)
    # a fresh mask per row hides the copies from BatchBALD
    fresh, _ = batch_bald_sampling(adapter, pool, 6, consistent=False, **options)
    assert len(set((fresh // 3).tolist())) < 6
