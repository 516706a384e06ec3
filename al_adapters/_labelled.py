"""Checking labelled rows before they join an active learner's training data.

A block of rows and labels passed to ``fit``, ``teach`` or the training-data
setters is converted to the container of the data taught so far and checked
against it (row shape, finiteness, kind of values, label shape) and against the
classes the estimator declares or was fitted on, before anything changes.
"""

import sys

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from al_adapters import _rows
from al_adapters._buffer import RowBuffer
from al_adapters._conform import as_training_labels, as_training_rows
from al_adapters._validation import (
    check_known_labels,
    check_label_shape,
    check_labels,
    check_not_a_single_row,
    check_row_shape,
    check_rows,
    check_same_kind,
)
from al_adapters.adapters.base import decode_one_hot

#: What to do when ``partial_fit`` meets a class it was not first fitted on.
UNDECLARED_CLASS_HINT = (
    "partial_fit only takes the classes the estimator was first "
    "fitted on; declare every class up front by passing "
    "classes=[...] to the first teach(..., only_new=True) of a "
    "learner built without X_training "
    "(assign X_training and y_training instead of passing them), or "
    "to the estimator's first partial_fit before handing it over"
)


def checked_block(learner, X, y, *, joining=True):
    """Validate a block of labelled rows for ``learner``; return it in storable form.

    With ``joining``, the rows are to be appended to the training data: they
    are converted to its container and must hold the same kind of values.
    """
    X, y = as_rows(X), decoded(learner.estimator, as_labels(y))
    X_known = learner.X_training if joining else None
    y_known = learner.y_training if joining else None
    X = as_training_rows(X, X_known)
    check_not_a_single_row(X, y, row_shape_of(learner))
    n = check_rows(X, ensure_all_finite=learner.force_all_finite)
    y = check_labels(as_training_labels(y, y_known), n)
    X = check_same_kind(X, X_known, name="X", known_name="X_training")
    y = check_same_kind(
        y, y_known, name="y", known_name="y_training", convert_objects=True
    )
    check_label_shape(y, y_known)
    return X, y


def checked_new_rows(learner, X, y):
    """Validate rows and labels to be appended to ``learner``'s training data."""
    check_training_pairs(learner)
    X, y = checked_block(learner, X, y)
    check_row_shape(X, row_shape_of(learner))
    return X, y


def append(learner, X, y):
    """Append checked rows and labels to ``learner``'s training data."""
    if learner.X_training is None:
        learner._X, learner._y = RowBuffer(), RowBuffer()
    try:
        learner._X.append(X)
        learner._y.append(y)
    except (ValueError, TypeError) as exc:
        raise ValueError(
            "the new rows and labels must agree with the training data and "
            f"labels taught so far: {exc}"
        ) from exc


def check_training_pairs(learner):
    """Check that ``X_training`` and ``y_training`` have one label per row."""
    n_rows, n_labels = len(learner._X), len(learner._y)
    if n_rows != n_labels:
        raise ValueError(
            f"X_training has {n_rows} rows but y_training has {n_labels} labels: "
            "assign both, X_training first (learner.X_training, "
            "learner.y_training = X, y)"
        )


def check_feature_count(estimator, X):
    """Check flat rows against the feature count ``estimator`` was fitted on."""
    n_features = getattr(estimator, "n_features_in_", None)
    shape = _rows.row_shape(X)
    if n_features is not None and shape is not None and len(shape) == 1:
        check_row_shape(
            X, (int(n_features),), name="X_training", against="the fitted estimator"
        )


def row_shape_of(learner):
    """Return the row shape ``learner`` was taught (or fitted) on, or None."""
    if learner.X_training is not None:
        return _rows.row_shape(learner.X_training)
    n_features = getattr(learner.estimator, "n_features_in_", None)
    return None if n_features is None else (int(n_features),)


def decoded(estimator, y):
    """Return one-hot ``y`` as labels when ``estimator`` declares its classes.

    Keras users pass one-hot targets (``to_categorical``); an estimator that
    declares ``classes`` (as the adapters do) reads each row as the label of
    its 1, so the training data holds plain labels.
    """
    declared = declared_classes(estimator)
    if declared is None or y is None or len(getattr(y, "shape", ())) != 2:
        return y
    return decode_one_hot(y, declared)


def declared_classes(estimator):
    """Return the ``classes`` parameter of ``estimator`` as an array, or None."""
    params = estimator.get_params() if hasattr(estimator, "get_params") else {}
    declared = params.get("classes")
    if declared is None or not len(declared):
        return None
    return np.asarray(declared)


def check_classes(estimator, y, *, incremental):
    """Check ``y`` against the classes ``estimator`` declares or was fitted on."""
    declared = declared_classes(estimator)
    if declared is not None:
        check_known_labels(y, declared, source="its classes")
    elif incremental and is_fitted(estimator):
        if infers_classes_per_batch(estimator):
            return
        check_known_labels(
            y,
            getattr(estimator, "classes_", None),
            source="the classes it was fitted on",
            hint=UNDECLARED_CLASS_HINT,
        )


def is_fitted(estimator):
    """Tell whether ``estimator`` is fitted (scikit-learn's check, never raising)."""
    try:
        check_is_fitted(estimator)
    except (NotFittedError, TypeError):
        return False
    return True


def inferred_classes(estimator):
    """Return the classes a skorch classifier inferred from its last batch, or None."""
    return vars(estimator).get("classes_inferred_")


def infers_classes_per_batch(estimator):
    """Tell whether ``estimator`` re-infers ``classes_`` from every batch it fits.

    A skorch ``NeuralNetClassifier`` without ``classes`` does: its ``classes_``
    then lists only the labels of the last batch, and its ``partial_fit``
    ignores ``classes=``. It takes integer labels as indices of the module's
    output units, and the loss rejects a label with no unit, so there is no
    fixed set of classes to check new labels against.
    """
    return inferred_classes(estimator) is not None


def as_rows(X):
    """Return list or tuple rows as an array; other containers as they are."""
    if isinstance(X, (list, tuple)):
        return np.asarray(X)
    return X


def as_labels(y):
    """Return pandas, list or tuple labels as an array; others as they are."""
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(y, (pd.Series, pd.DataFrame)):
        return y.to_numpy()
    if isinstance(y, (list, tuple)):
        return np.asarray(y)
    return y
