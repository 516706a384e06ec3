"""What the diversity strategies read from the model: pool embeddings, streamed.

The pool goes through the model one chunk at a time (each chunk moved to the
model's device by its ``to_device``); the chunks' embeddings (and
probabilities) stay on the device and are joined there, so a strategy holds
``(n, d)`` (and ``(n, n_classes)``) values of the model's array library and
nothing of the pool's inputs beyond one chunk.
"""

import itertools
import weakref

import numpy as np

from al_adapters import _backend, _rows
from al_adapters._scoring import all_scores, n_classes_of
from al_adapters._strategies import capability
from al_adapters.uncertainty import margin

#: Embedding width assumed by the chunk policy before the model has answered.
ASSUMED_WIDTH = 512


def pool_outputs(classifier, X, methods, strategy, *, chunk_size=None, **kwargs):
    """Return the outputs of each of ``methods`` for every row of ``X``.

    Parameters
    ----------
    classifier : estimator or ActiveLearner
        The model (or a learner around it) that has ``methods``.
    X : array-like, RowView or pool source
        The rows.
    methods : sequence of {'embed', 'predict_proba'}
        What to ask the model for, per chunk.
    strategy : str
        Name of the strategy, for the error when a method is missing.
    chunk_size : int, default=None
        Rows per chunk; None takes the chunk policy's.
    **kwargs
        ``mixed_precision``, or keywords of the model's methods.

    Returns
    -------
    outputs : list of arrays of shape (n_rows, width)
        In the model's array library, on its device.
    """
    calls = [capability(classifier, method, strategy) for method in methods]
    mixed_precision = kwargs.pop("mixed_precision", None)
    widths = []

    def score_chunk(_, chunk):
        parts = [call(chunk, **kwargs) for call in calls]
        widths[:] = [part.shape[1] for part in parts]
        if len(parts) == 1:
            return parts[0]
        return _backend.get_namespace(*parts).concat(parts, axis=1)

    outputs_per_row = n_classes_of(classifier) + ASSUMED_WIDTH
    joined = all_scores(
        classifier,
        X,
        score_chunk,
        chunk_size=chunk_size,
        outputs_per_row=outputs_per_row,
        mixed_precision=mixed_precision,
    )
    if _backend.is_tensorflow(joined):
        joined = _backend.to_numpy(joined)
    bounds = np.cumsum([0, *widths])
    return [joined[:, start:stop] for start, stop in itertools.pairwise(bounds)]


def pool_margins(classifier, X, strategy, *, chunk_size=None, **kwargs):
    """Return the margin of every row of ``X``, on the model's device."""
    predict_proba = capability(classifier, "predict_proba", strategy)
    mixed_precision = kwargs.pop("mixed_precision", None)
    return all_scores(
        classifier,
        X,
        lambda _, chunk: margin(predict_proba(chunk, **kwargs)),
        chunk_size=chunk_size,
        outputs_per_row=n_classes_of(classifier),
        mixed_precision=mixed_precision,
    )


def labelled_embeddings(classifier, strategy, *, chunk_size=None, **kwargs):
    """Return the embeddings of a learner's ``X_training``, or None."""
    labelled = getattr(classifier, "X_training", None)
    if labelled is None or _rows.n_rows(labelled) == 0:
        return None
    (embeddings,) = pool_outputs(
        classifier, labelled, ["embed"], strategy, chunk_size=chunk_size, **kwargs
    )
    return embeddings


def check_pool(X):
    """Return ``X`` as a RowView; raise on an empty pool."""
    rows = _rows.as_row_view(X)
    if len(rows) == 0:
        raise ValueError("the pool is empty: there is nothing to query")
    return rows


class ClusterCache:
    """Cluster labels of a pool container's rows, kept between queries.

    The labels hold for the container they were computed on (the same object,
    with the same number of rows); a query over another container, or one
    that changed size, clusters anew.
    """

    def __init__(self, data, labels, n_clusters):
        self._data = _reference(data)
        self.n_rows = _rows.n_rows(data)
        self.labels = labels
        self.n_clusters = n_clusters

    def matches(self, data):
        """Tell whether the labels were computed on ``data``."""
        return self._data() is data and self.n_rows == _rows.n_rows(data)


def _reference(data):
    try:
        return weakref.ref(data)
    except TypeError:  # lists and tuples take no weak references
        return lambda: data
