"""Input checks shared by the learner, the committee and the strategies.

Every check raises before anything is changed, with a message that names the
offending value.
"""

import numbers

import numpy as np
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


def check_labels(y, n_rows, *, name="y"):
    """Check labels: one per row, none missing. Return them as an array."""
    if y is None:
        raise ValueError(f"{name} is None: labels are needed for every row of X")
    labels = y if _backend.is_array_api(y) else np.asarray(y)
    n_labels = _rows.n_rows(labels)
    if n_labels != n_rows:
        raise ValueError(f"X has {n_rows} rows but {name} has {n_labels} labels")
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


def check_known_labels(y, classes, *, source):
    """Check that every label in ``y`` is one of ``classes``."""
    if classes is None:
        return
    known = np.asarray(_backend.to_numpy(classes))
    values = np.unique(_backend.to_numpy(y))
    unknown = values[~np.isin(values, known)]
    if unknown.size:
        raise ValueError(
            f"y contains labels {unknown.tolist()} that the estimator cannot take: "
            f"{source} are {known.tolist()}"
        )
