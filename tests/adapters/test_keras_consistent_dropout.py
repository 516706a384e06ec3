"""KerasAdapter consistent MC dropout: sample t of every row shares one mask per layer.

The rules every adapter with ``consistent=True`` follows (copies of a row get
equal samples, chunks and row order change nothing) are in ``test_contract.py``;
these are the Keras specifics. The file name holds "keras", so the
Keras-on-torch and Keras-on-JAX sessions (``-k keras``) run it on their
backends too.
"""

import functools
import itertools

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("scikeras")

from numpy.testing import assert_allclose, assert_array_equal  # noqa: E402

from al_adapters._backend import to_numpy  # noqa: E402
from al_adapters.adapters._keras_consistent_dropout import (  # noqa: E402
    ConsistentMasks,
)
from al_adapters.bayesian import bald_sampling, batch_bald_sampling  # noqa: E402
from tests.adapters.factories import blobs, make_adapter, seed  # noqa: E402


def fitted(hidden=16, dropout=0.5, **params):
    X, y = blobs(n=60)
    seed("keras", 0)
    return make_adapter(
        "keras", hidden=hidden, dropout=dropout, epochs=2, **params
    ).fit(X, y)


@pytest.fixture(scope="module")
def adapter():
    """A fitted adapter with dropout 0.5 (do not train it further)."""
    return fitted()


def dense_layers(adapter):
    layers = adapter.model_.layers
    return [layer for layer in layers if isinstance(layer, keras.layers.Dense)]


def dense_weights(adapter):
    first, last = dense_layers(adapter)
    return [to_numpy(w) for w in (first.kernel, first.bias, last.kernel, last.bias)]


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_keras_consistent_samples_match_a_mask_shared_by_all_rows():
    """Brute force: for each t one of the 2**5 hidden masks explains every row.

    A hidden unit that is 0 on every row (ReLU) leaves its bit free, so masks
    are compared on the units that are active somewhere.
    """
    adapter = fitted(hidden=5, dropout=0.4)
    X, _ = blobs(n=12, seed=2)
    samples = adapter.sample_proba(X, 8, random_state=0, consistent=True)
    W1, b1, W2, b2 = dense_weights(adapter)
    hidden = np.maximum(X @ W1 + b1, 0)
    active = hidden.max(axis=0) > 0
    assert active.sum() >= 3
    found = []
    for t in range(8):
        matches = {
            np.array(bits)[active].tobytes()
            for bits in itertools.product([0.0, 1.0], repeat=5)
            if np.allclose(
                softmax((hidden * np.array(bits) / 0.6) @ W2 + b2),
                samples[t],
                atol=1e-5,
            )
        }
        assert len(matches) == 1, (t, matches)
        found.append(matches.pop())
    assert len(set(found)) > 1  # a new mask per sample


def test_keras_consistent_samples_do_not_depend_on_the_model_call_size():
    X, _ = blobs(n=23, seed=3)
    whole = fitted().sample_proba(X, 5, random_state=7, consistent=True)
    in_threes = fitted(predict__batch_size=3)
    assert_allclose(
        in_threes.sample_proba(X, 5, random_state=7, consistent=True),
        whole,
        rtol=1e-6,
        atol=1e-7,
    )


def test_keras_consistent_call_leaves_the_model_and_its_generators_as_they_were(
    adapter,
):
    X, _ = blobs(n=9, seed=4)
    proba = adapter.predict_proba(X)
    seeded = adapter.sample_proba(X, 3, random_state=1)
    adapter.sample_proba(X, 3, random_state=1, consistent=True)
    assert not any("call" in vars(layer) for layer in adapter.model_.layers)
    assert_array_equal(adapter.predict_proba(X), proba)
    assert_array_equal(adapter.sample_proba(X, 3, random_state=1), seeded)


def test_keras_consistent_none_follows_kerass_global_seed(adapter):
    X, _ = blobs(n=9, seed=4)
    keras.utils.set_random_seed(5)
    first = adapter.sample_proba(X, 4, consistent=True)
    keras.utils.set_random_seed(5)
    assert_array_equal(adapter.sample_proba(X, 4, consistent=True), first)
    assert not np.allclose(adapter.sample_proba(X, 4, consistent=True), first)


def layer_output(layer, x, samples):
    """Run ``layer`` on ``x`` under shared masks; return ``(samples, *x.shape)``."""
    model = keras.Sequential([keras.Input(x.shape[1:]), layer])
    with ConsistentMasks(model, seed=1) as masks:
        out = []
        for t in range(samples):
            masks.sample = t
            out.append(to_numpy(model(x, training=False)))
    return np.stack(out)


@pytest.mark.parametrize(
    ("layer", "shape", "shared_axes"),
    [
        (keras.layers.Dropout(0.5), (4, 6), ()),
        (keras.layers.Dropout(0.5, noise_shape=(None, 1, 6)), (4, 6), (0,)),
        (keras.layers.SpatialDropout1D(0.5), (4, 6), (0,)),
        (keras.layers.SpatialDropout2D(0.5), (3, 2, 6), (0, 1)),
        (keras.layers.SpatialDropout2D(0.5, data_format="channels_first"), (6, 3, 2),
         (1, 2)),
        (keras.layers.SpatialDropout3D(0.5), (2, 2, 2, 6), (0, 1, 2)),
    ],
)  # fmt: skip
def test_keras_each_dropout_layer_keeps_or_drops_what_keras_would_for_all_rows(
    layer, shape, shared_axes
):
    rows, samples = 5, 6
    x = np.ones((rows, *shape), dtype=np.float32)
    out = layer_output(layer, x, samples)
    assert set(np.unique(out)) <= {0.0, 2.0}  # dropped, or kept and scaled by 2
    assert_array_equal(out, np.broadcast_to(out[:, :1], out.shape))  # rows share
    for axis in shared_axes:  # one draw along the shared axes (of a row)
        per_row = out[:, 0]
        first = np.take(per_row, [0], axis=axis + 1)
        assert_array_equal(per_row, np.broadcast_to(first, per_row.shape))
    assert 0.2 < out.mean() / 2 < 0.8  # about half kept
    assert len({o.tobytes() for o in out}) > 1  # a new draw per sample


def test_keras_consistent_refuses_noise_layers_it_cannot_share():
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.GaussianNoise(0.1, name="noisy")]
    )
    with pytest.raises(TypeError, match="'noisy' is a GaussianNoise"):
        ConsistentMasks(model, seed=0)


def test_keras_consistent_without_dropout_warns_and_repeats_predict_proba():
    adapter = fitted(dropout=0.0)
    X, _ = blobs(n=7, seed=5)
    with pytest.warns(UserWarning, match="no dropout layer"):
        samples = adapter.sample_proba(X, 3, random_state=0, consistent=True)
    assert_allclose(samples, np.broadcast_to(adapter.predict_proba(X), samples.shape))


def test_keras_batch_bald_asks_for_consistent_masks_and_avoids_copies(monkeypatch):
    X, y = blobs(n=60)
    seed("keras", 3)
    adapter = make_adapter("keras", hidden=32, dropout=0.5, epochs=1).fit(X[:6], y[:6])
    last = dense_layers(adapter)[-1]
    last.kernel.assign(last.kernel * 10)  # confident samples: a copy adds little
    last.bias.assign(last.bias * 10)
    pool = np.repeat(blobs(n=20, seed=6)[0], 3, axis=0)  # each row 3 times
    asked = []
    sample_proba = adapter.sample_proba

    @functools.wraps(sample_proba)
    def recording(X, n_samples, random_state=None, consistent=False):
        asked.append((random_state, consistent))
        return sample_proba(X, n_samples, random_state, consistent)

    monkeypatch.setattr(adapter, "sample_proba", recording)
    options = {"n_samples": 20, "random_state": 0, "chunk_size": 16}
    top, _ = bald_sampling(adapter, pool, 4, **options)
    assert len(set((top // 3).tolist())) < 4  # top-k BALD: copies of a row
    asked.clear()
    batch, _ = batch_bald_sampling(adapter, pool, 4, **options)
    assert len(asked) == 4  # 60 rows in chunks of 16, all with one seed
    assert {consistent for _, consistent in asked} == {True}
    assert len({seed for seed, _ in asked}) == 1
    assert len(set((batch // 3).tolist())) == 4
    unchunked, _ = batch_bald_sampling(
        adapter, pool, 4, **{**options, "chunk_size": 60}
    )
    assert_array_equal(unchunked, batch)
