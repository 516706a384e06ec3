"""Input checks shared by the learner, the committee and the strategies.

Every check raises before anything is changed, with a message that names the
offending value.
"""

import numbers
import warnings
from collections.abc import Mapping

import numpy as np
from sklearn.exceptions import DataConversionWarning
from sklearn.utils import check_array

from al_adapters import _backend, _rows


def check_n_instances(n_instances, n_pool):
    """Check that ``n_instances`` rows can be picked from ``n_pool`` candidates."""
    if isinstance(n_instances, bool) or not isinstance(n_instances, numbers.Integral):
        raise TypeError(f"n_instances must be an integer, got {n_instances!r}")
    if n_instances < 1:
        raise ValueError(f"n_instances must be at least 1, got {n_instances}")
    if n_pool == 0:
        raise ValueError("the pool is empty: there is nothing to query")
    if n_instances > n_pool:
        raise ValueError(
            f"n_instances={n_instances} is larger than the pool, which has "
            f"{n_pool} candidate rows"
        )
    return int(n_instances)


def finiteness(force_all_finite):
    """Check modAL's ``force_all_finite``, which maps to ``ensure_all_finite``."""
    if force_all_finite in (True, False, "allow-nan"):
        return force_all_finite
    raise ValueError(
        f"force_all_finite must be True, False or 'allow-nan', got {force_all_finite!r}"
    )


def check_rows(X, *, ensure_all_finite=True, name="X"):
    """Check a block of rows: not empty, and finite unless allowed otherwise."""
    n = _rows.n_rows(X)
    if n == 0:
        raise ValueError(f"{name} is empty: it has no rows")
    if _backend.is_array_api(X) and not _backend.is_numpy(X):
        if ensure_all_finite is not False:
            _check_finite_array_api(
                X, allow_nan=ensure_all_finite == "allow-nan", name=name
            )
        return n
    if isinstance(X, (list, tuple)) and X and isinstance(X[0], str):
        return n  # raw text, fed to a pipeline that vectorises it
    if isinstance(X, Mapping):
        for key, column in X.items():  # lists (text, ragged tokens) go unchecked
            if _backend.is_array_api(column):
                check_rows(
                    column, ensure_all_finite=ensure_all_finite, name=f"{name}[{key!r}]"
                )
        return n
    check_array(
        X,
        accept_sparse=True,
        ensure_2d=False,
        allow_nd=True,
        dtype=None,
        ensure_all_finite=ensure_all_finite,
        input_name=name,
    )
    return n


def _check_finite_array_api(X, *, allow_nan, name):
    xp = _backend.get_namespace(X)
    if not xp.isdtype(X.dtype, ("real floating", "complex floating")):
        return
    bad = xp.isinf(X) if allow_nan else ~xp.isfinite(X)
    if bool(xp.any(bad)):
        what = "infinity" if allow_nan else "NaN or infinity"
        raise ValueError(f"Input {name} contains {what}.")


def check_not_a_single_row(X, y, row_shape, *, name="X"):
    """Refuse one row given as a 1-D array, as scikit-learn does, saying how to fix it.

    A 1-D numeric ``X`` whose length is the number of features, or that comes with
    a single label, is one row: ``X[i]`` where ``X[[i]]`` was meant.
    """
    shape = getattr(X, "shape", None)
    if shape is None or len(shape) != 1 or not _is_numeric(X):
        return
    single_label = y is not None and (np.ndim(y) == 0 or _rows.n_rows(y) == 1)
    if tuple(shape) == row_shape or (single_label and shape[0] != 1):
        raise ValueError(
            f"{name} is a 1-D array of shape {tuple(shape)}, one row rather than a "
            f"block of rows: reshape it with {name}.reshape(1, -1) (or select it as "
            f"{name}[[i]] rather than {name}[i]), with its label as y[[i]]"
        )


def _is_numeric(X):
    if _backend.is_numpy(X):
        return X.dtype.kind in "biufc"
    return _backend.is_array_api(X)


def check_labels(y, n_rows, *, name="y", rows_name="X"):
    """Check labels: one per row, none missing. Return them as an array.

    A column vector of shape ``(n, 1)`` is flattened with scikit-learn's
    ``DataConversionWarning``, as scikit-learn's classifiers do.
    """
    if y is None:
        raise ValueError(f"{name} is None: labels are needed for every row of X")
    labels = y if _backend.is_array_api(y) else np.asarray(y)
    if len(labels.shape) == 0:
        raise ValueError(
            f"{name} is a single label ({labels!r}): pass one label per row as a 1-D "
            "array, such as y[[i]] for the row X[[i]]"
        )
    if len(labels.shape) == 2 and labels.shape[1] == 1:
        warnings.warn(
            f"A column-vector {name} was passed when a 1d array was expected. Please "
            f"change the shape of {name} to (n_samples, ), for example using ravel().",
            DataConversionWarning,
            stacklevel=4,
        )
        labels = labels[:, 0]
    n_labels = _rows.n_rows(labels)
    if n_labels != n_rows:
        raise ValueError(
            f"{rows_name} has {n_rows} rows but {name} has {n_labels} labels"
        )
    if _backend.is_numpy(labels):
        check_array(labels, ensure_2d=False, dtype=None, input_name=name)
    else:
        _check_finite_array_api(labels, allow_nan=False, name=name)
    return labels


def check_row_shape(X, expected, *, name="X", against="the training data"):
    """Check that the rows of ``X`` have the ``expected`` feature shape."""
    if expected is None:
        return
    shape = _rows.row_shape(X)
    if shape is not None and shape != expected:
        raise ValueError(
            f"{name} has rows of shape {_shape_text(shape)}, but {against} has rows "
            f"of shape {_shape_text(expected)}"
        )


def _shape_text(shape):
    if len(shape) == 1:
        return f"{shape} ({shape[0]} features)"
    return str(shape)


def check_known_labels(y, classes, *, source, hint=None):
    """Check that every label in ``y`` is one of ``classes``."""
    if classes is None:
        return
    known = np.asarray(_backend.to_numpy(classes))
    values = np.unique(_backend.to_numpy(y))
    unknown = values[~np.isin(values, known)]
    if unknown.size:
        raise ValueError(
            f"y contains labels {unknown.tolist()} that the estimator cannot take: "
            f"{source} are {known.tolist()}" + ("" if hint is None else f". {hint}")
        )


def check_same_kind(new, known, *, name, known_name, convert_objects=False):
    """Refuse values of another kind (numbers, strings, objects) than those held.

    NumPy would widen the held values to hold both (every label a string, every
    row an object), silently changing what was there. Returns ``new``, with an
    object array of only strings or only numbers turned into a string or number
    array when that is what ``known`` holds and ``convert_objects`` is true.
    """
    if known is None:
        return new
    new_kind, known_kind = value_kind(new), value_kind(known)
    if (
        convert_objects
        and new_kind == "objects"
        and known_kind != "objects"
        and _content_kind(new) == known_kind
    ):
        return np.array(new.tolist())
    if (
        new_kind == known_kind
        or known_kind == "objects"
        or None
        in (
            new_kind,
            known_kind,
        )
    ):
        return new
    widened = "objects" if "objects" in (new_kind, known_kind) else "strings"
    raise ValueError(
        f"{name} holds {new_kind} ({_dtype_text(new)}) but {known_name} holds "
        f"{known_kind} ({_dtype_text(known)}): mixing them would turn every value "
        f"into {widened}. Convert {name} to the type of {known_name}"
    )


def value_kind(values):
    """Return ``"numbers"``, ``"strings"``, ``"objects"``, or None when unknown."""
    if _backend.is_array_api(values) and not _backend.is_numpy(values):
        return "numbers"
    if not _backend.is_numpy(values):
        return None
    kind = values.dtype.kind
    if kind in "biufc":
        return "numbers"
    if kind in "US":
        return "strings"
    return "objects" if kind == "O" else None


def _content_kind(values):
    items = values.ravel().tolist()
    if all(isinstance(item, str) for item in items):
        return "strings"
    if all(
        isinstance(item, numbers.Number) and not isinstance(item, bool)
        for item in items
    ):
        return "numbers"
    return "objects"


def _dtype_text(values):
    return f"dtype {values.dtype}"


def check_label_shape(y, known, *, name="y"):
    """Check that each label of ``y`` has the shape of the labels held in ``known``."""
    if known is None:
        return
    new_shape, known_shape = tuple(y.shape[1:]), tuple(known.shape[1:])
    if new_shape != known_shape:
        raise ValueError(
            f"{name} has labels of shape {new_shape}, but the labels taught so far "
            f"have shape {known_shape}"
        )
