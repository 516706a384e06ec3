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
