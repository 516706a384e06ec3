"""Pool sources: memmaps, tensors, torch datasets and loaders, tf.data, iterables.

Every source must give the same query as the NumPy array it holds, with indices
that are pool positions, also through a Pool with labelled rows and through
``ActiveLearner.query``.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from al_adapters import ActiveLearner, Pool, _rows
from al_adapters.uncertainty import entropy_sampling, uncertainty_sampling

N, F = 157, 4


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(N, F)).astype(np.float32), np.arange(N) % 3


@pytest.fixture(scope="module")
def clf(data):
    from sklearn.linear_model import LogisticRegression

    X, y = data
    return LogisticRegression(max_iter=200).fit(X, y)


class Batches:
    """A re-iterable of (x, y) batches of uneven sizes."""

    def __init__(self, X, y, size=20):
        self.X, self.y, self.size = X, y, size

    def __iter__(self):
        for start in range(0, len(self.X), self.size):
            yield self.X[start : start + self.size], self.y[start : start + self.size]


def _sources(data, tmp_path):
    X, y = data
    memmap = np.lib.format.open_memmap(tmp_path / "pool.npy", "w+", np.float32, X.shape)
    memmap[:] = X
    yield "memmap", memmap
    yield "batches", Batches(X, y)
    try:
        import torch
        from torch.utils.data import DataLoader, TensorDataset
    except ImportError:
        pass
    else:
        dataset = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
        yield "tensor", torch.from_numpy(X)
        yield "dataset", dataset
        yield "shuffled-loader", DataLoader(dataset, batch_size=16, shuffle=True)
    try:
        import tensorflow as tf
    except ImportError:
        pass
    else:
        yield "tf-rows", tf.data.Dataset.from_tensor_slices((X, y))
        yield "tf-batches", tf.data.Dataset.from_tensor_slices(X).batch(30)


@pytest.fixture
def sources(data, tmp_path):
    return dict(_sources(data, tmp_path))


def _as_numpy(rows):
    return np.asarray(rows.numpy() if hasattr(rows, "numpy") else rows)


class NumpyInputs:
    """Hands every chunk to the wrapped classifier as NumPy, counting rows."""

    def __init__(self, clf):
        self.clf, self.rows = clf, 0
        self.classes_ = clf.classes_

    def to_device(self, X):
        X = _as_numpy(X)
        self.rows += len(X)
        return X

    def predict_proba(self, X):
        return self.clf.predict_proba(X)


def test_every_source_gives_the_array_query(data, clf, sources):
    X, _ = data
    expected = entropy_sampling(clf, X, n_instances=5)
    for name, source in sources.items():
        model = NumpyInputs(clf)
        idx, scores = entropy_sampling(model, source, n_instances=5, chunk_size=13)
        assert_array_equal(idx, expected[0], err_msg=name)
        assert_allclose(scores, expected[1], rtol=1e-6, err_msg=name)
        assert model.rows == N, name
        assert _rows.n_rows(source) == N, name


def test_every_source_through_a_pool_and_a_learner(data, clf, sources):
    X, y = data
    labelled = np.arange(0, N, 3)
    candidates = np.setdiff1d(np.arange(N), labelled)
    expected = candidates[uncertainty_sampling(clf, X[candidates], n_instances=4)[0]]
    for name, source in sources.items():
        model = NumpyInputs(clf)
        learner = ActiveLearner(model)
        pool = Pool(source, labelled=labelled)
        idx, rows = learner.query(pool, n_instances=4)
        assert_array_equal(idx, expected, err_msg=name)
        assert_allclose(_as_numpy(rows), X[idx], err_msg=name)
        assert_allclose(_as_numpy(pool.rows(idx)), X[idx], err_msg=name)
        idx_all, rows_all = learner.query(source, n_instances=2)
        assert_allclose(_as_numpy(rows_all), X[idx_all], err_msg=name)


def test_datasets_read_only_the_candidate_rows(data, clf):
    torch = pytest.importorskip("torch")
    X, _ = data

    class Counting(torch.utils.data.Dataset):
        def __init__(self):
            self.read = set()

        def __len__(self):
            return N

        def __getitem__(self, i):
            self.read.add(int(i))
            return torch.from_numpy(X[i])

    dataset = Counting()
    idx, _ = entropy_sampling(
        NumpyInputs(clf), dataset, n_instances=3, subsample=25, random_state=0
    )
    chosen = np.random.RandomState(0).choice(N, 25, replace=False)
    assert dataset.read == set(chosen.tolist()) | {0}  # row 0 gives the row shape
    assert set(idx) <= dataset.read


def test_a_one_shot_iterator_is_refused(data, clf):
    X, _ = data
    with pytest.raises(TypeError, match="one-shot iterator"):
        entropy_sampling(clf, iter([X[:10], X[10:]]), n_instances=2)
    with pytest.raises(TypeError, match="one-shot iterator"):
        Pool(x for x in [X])


def test_dict_items_are_refused(data, clf):
    X, _ = data

    class DictBatches:
        def __iter__(self):
            yield {"x": X}

    with pytest.raises(TypeError, match="dicts are not supported"):
        entropy_sampling(NumpyInputs(clf), DictBatches(), n_instances=1)


def test_too_many_instances_from_a_stream_of_unknown_length(data, clf):
    X, y = data
    with pytest.raises(ValueError, match="larger than the pool"):
        entropy_sampling(NumpyInputs(clf), Batches(X[:10], y[:10]), n_instances=11)


def test_torch_tensor_pool_on_the_torch_path(data):
    pytest.importorskip("torch")
    import torch

    from tests.protocol_models import TorchProtocolEstimator

    X, _ = data
    model = TorchProtocolEstimator(n_features=F).fit()
    tensor_idx, _ = entropy_sampling(model, torch.from_numpy(X), n_instances=4)
    array_idx, _ = entropy_sampling(model, X, n_instances=4)
    assert_array_equal(tensor_idx, array_idx)
    learner = ActiveLearner(model)
    idx, rows = learner.query(Pool(torch.from_numpy(X), labelled=[0]), n_instances=2)
    assert isinstance(rows, torch.Tensor)
    assert_allclose(rows.numpy(), X[idx])


# -- pools that change between passes, samplers, chunking of streams ----------


class Reshuffling:
    """A re-iterable of batches that gives the rows in a new order on every pass."""

    def __init__(self, X, size=20):
        self.X, self.size, self.rng = X, size, np.random.default_rng(0)

    def __iter__(self):
        X = self.X[self.rng.permutation(len(self.X))]
        for start in range(0, len(X), self.size):
            yield X[start : start + self.size]


def test_a_reshuffling_iterable_is_refused(data, clf):
    X, _ = data
    learner = ActiveLearner(clf)
    with pytest.raises(ValueError, match="reshuffle"):
        learner.query(Reshuffling(X), n_instances=3, return_metrics=True)


def test_a_shuffling_iterable_dataset_is_refused(data, clf):
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader, IterableDataset

    X, _ = data

    class Shuffled(IterableDataset):
        def __iter__(self):
            yield from torch.from_numpy(X)[torch.randperm(len(X))]

    with pytest.raises(ValueError, match="reshuffle"):
        ActiveLearner(clf).query(DataLoader(Shuffled(), batch_size=32), n_instances=3)


def test_tf_data_reshuffling_each_pass_is_refused_and_a_fixed_shuffle_accepted(
    data, clf
):
    tf = pytest.importorskip("tensorflow")
    X, _ = data
    learner = ActiveLearner(clf)
    pool = tf.data.Dataset.from_tensor_slices(X).shuffle(100, seed=0)
    with pytest.raises(ValueError, match="reshuffle_each_iteration=False"):
        learner.query(pool, n_instances=3, return_metrics=True)
    with pytest.raises(ValueError, match="reshuffle"):
        learner.query(pool.map(lambda x: x * 2).batch(10), n_instances=3)
    fixed = tf.data.Dataset.from_tensor_slices(X).shuffle(
        100, seed=0, reshuffle_each_iteration=False
    )
    order = np.stack([row.numpy() for row in fixed])
    idx, rows, scores = learner.query(fixed, n_instances=3, return_metrics=True)
    assert_array_equal(rows, order[idx])  # the rows at those positions, scored
    proba = clf.predict_proba(rows)
    assert_allclose(scores, 1 - proba.max(axis=1), rtol=1e-5)


def test_a_dataloader_sampler_is_respected(data, clf):
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader, SubsetRandomSampler, TensorDataset

    X, y = data
    dataset = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    loader = DataLoader(
        dataset, batch_size=8, sampler=SubsetRandomSampler(range(40, 97))
    )
    learner = ActiveLearner(clf)
    idx, rows, scores = learner.query(loader, n_instances=5, return_metrics=True)
    uncertainty = 1 - clf.predict_proba(X).max(axis=1)
    inside = np.arange(40, 97)
    expected = inside[np.argsort(-uncertainty[inside], kind="stable")[:5]]
    assert_array_equal(idx, expected)  # dataset indices, only sampled rows
    assert_array_equal(rows.numpy(), X[idx])
    assert_allclose(scores, uncertainty[idx], rtol=1e-5)
    # through a Pool: labelled rows and unsampled rows are both skipped
    pool = Pool(loader, labelled=expected[:2])
    again, _ = learner.query(pool, n_instances=5)
    assert set(again.tolist()) <= set(inside.tolist()) - set(expected[:2].tolist())


def test_a_random_sampler_with_replacement_gives_indices_of_the_scored_rows(data, clf):
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader, RandomSampler, TensorDataset

    X, y = data
    dataset = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))

    draws = []

    class Recording(RandomSampler):
        def __iter__(self):
            drawn = list(super().__iter__())
            draws.append(drawn)
            return iter(drawn)

    sampler = Recording(dataset, replacement=True, num_samples=30)
    learner = ActiveLearner(clf)
    idx, rows, scores = learner.query(
        DataLoader(dataset, sampler=sampler), n_instances=4, return_metrics=True
    )
    assert len(draws) == 1  # read once per query
    assert set(idx.tolist()) <= set(draws[0])
    assert_array_equal(rows.numpy(), X[idx])
    assert_allclose(scores, 1 - clf.predict_proba(X[idx]).max(axis=1), rtol=1e-5)


class SeededNoise:
    """sample_proba whose draws depend on the seed and on the chunk's rows."""

    classes_ = np.array([0, 1])

    def sample_proba(self, X, n_samples, random_state=None):
        X = _as_numpy(X)
        rng = np.random.default_rng(random_state)
        p = rng.uniform(0.05, 0.95, size=(n_samples, len(X), 1)) * (X[:, :1] > 0)
        return np.concatenate([p, 1 - p], axis=2)


def test_bald_picks_do_not_depend_on_the_batches_of_the_pool(data):
    from al_adapters.bayesian import bald_sampling

    X, y = data
    options = {"n_instances": 6, "random_state": 5, "chunk_size": 25, "n_samples": 4}
    learner = ActiveLearner(SeededNoise(), query_strategy=bald_sampling)
    expected, rows, scores = learner.query(X, return_metrics=True, **options)
    for size in (7, 25, 60):  # batches smaller than, equal to and larger than chunks
        idx, _, again = learner.query(
            Batches(X, y, size), return_metrics=True, **options
        )
        assert_array_equal(idx, expected)
        assert_allclose(again, scores)


def test_stream_chunks_have_the_chunk_size_whatever_the_batches(data, clf):
    X, y = data
    model = NumpyInputs(clf)
    sizes = []
    model.predict_proba = lambda rows: (
        sizes.append(len(rows)) or clf.predict_proba(rows)
    )
    uncertainty_sampling(
        model, _rows.RowView(Batches(X, y, 7), np.arange(3, N, 2)), 2, chunk_size=10
    )
    n = len(range(3, N, 2))
    assert sizes == [10] * (n // 10) + [n % 10]
