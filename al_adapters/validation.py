"""modAL's class checks (``modAL.utils.validation``) for committees of classifiers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.exceptions import NotFittedError

from al_adapters import _backend

__all__ = ["check_class_labels", "check_class_proba"]


def check_class_labels(*args: Any) -> bool:
    """Tell whether every classifier knows the same classes, in the same order.

    Parameters
    ----------
    *args : classifiers
        Fitted classifiers (with ``classes_``).

    Returns
    -------
    same : bool

    Raises
    ------
    NotFittedError
        If a classifier has no ``classes_``.

    Examples
    --------
    >>> from sklearn.dummy import DummyClassifier
    >>> from al_adapters.validation import check_class_labels
    >>> a = DummyClassifier().fit([[0], [1]], [0, 1])
    >>> b = DummyClassifier().fit([[0], [1]], [1, 2])
    >>> check_class_labels(a, a), check_class_labels(a, b)
    (True, False)
    """
    try:
        classes = [_backend.to_numpy(estimator.classes_) for estimator in args]
    except AttributeError:
        raise NotFittedError(
            "Not all estimators are fitted. Fit all estimators before using this "
            "method."
        ) from None
    return all(np.array_equal(classes[0], other) for other in classes[1:])


def check_class_proba(
    proba: Any, known_labels: Sequence[Any], all_labels: Sequence[Any]
) -> np.ndarray:
    """Spread a classifier's probabilities over all classes: 0 for unknown ones.

    Parameters
    ----------
    proba : array of shape (n_samples, n_known)
        Probabilities, columns in the order of ``known_labels``.
    known_labels : sequence
        The classifier's classes.
    all_labels : sequence
        Every class, in the order wanted.

    Returns
    -------
    proba : ndarray of shape (n_samples, n_all)
        Columns in the order of ``all_labels``.

    Examples
    --------
    >>> import numpy as np
    >>> from al_adapters.validation import check_class_proba
    >>> check_class_proba(np.array([[0.2, 0.8]]), [1, 3], [1, 2, 3])
    array([[0.2, 0. , 0.8]])
    """
    proba = np.asarray(_backend.to_numpy(proba))
    out = np.zeros((proba.shape[0], len(all_labels)), dtype=np.result_type(proba, 0.0))
    position = {label: i for i, label in enumerate(np.asarray(all_labels).tolist())}
    for column, label in enumerate(np.asarray(known_labels).tolist()):
        if label not in position:
            raise ValueError(f"label {label!r} is not one of all_labels")
        out[:, position[label]] = proba[:, column]
    return out
