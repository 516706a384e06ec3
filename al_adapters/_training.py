"""Training an active learner's estimator: bootstrap resamples and warm training."""

import inspect

import numpy as np
from sklearn.utils.validation import check_random_state

from al_adapters import _backend, _rows
from al_adapters._labelled import inferred_classes, is_fitted


def as_generator(random_state):
    """Return the source of bootstrap resamples for ``random_state``.

    None draws fresh entropy, never the global NumPy random state.
    """
    if isinstance(random_state, (np.random.Generator, np.random.RandomState)):
        return random_state
    if random_state is None:
        return np.random.default_rng()
    return check_random_state(random_state)


def bootstrap(rng, X, y):
    """Return a bootstrap resample of ``(X, y)`` drawn from ``rng``."""
    n = _rows.n_rows(X)
    if isinstance(rng, np.random.Generator):
        idx = rng.integers(0, n, size=n)
    else:
        idx = rng.randint(0, n, size=n)
    return _rows.take_rows(X, idx), _rows.take_rows(y, idx)


def fit_on_new(estimator, X, y, all_labels, **fit_kwargs):
    """Train ``estimator`` on new rows only: ``partial_fit`` when it has one.

    ``all_labels`` are every label taught so far: the classes of a first
    ``partial_fit`` that needs them and was given none.
    """
    partial_fit = getattr(estimator, "partial_fit", None)
    if partial_fit is None:
        estimator.fit(X, y, **fit_kwargs)
        return
    if needs_classes(estimator, partial_fit, fit_kwargs):
        classes = np.unique(_backend.to_numpy(all_labels))
        fit_kwargs = {"classes": classes, **fit_kwargs}
    seen = inferred_classes(estimator)
    partial_fit(X, y, **fit_kwargs)
    if seen is not None:
        # skorch infers classes_ from this batch alone; keep all labels seen
        estimator.classes_inferred_ = np.union1d(seen, inferred_classes(estimator))


def needs_classes(estimator, partial_fit, fit_kwargs):
    """Tell whether a first ``partial_fit`` must be given ``classes``."""
    if "classes" in fit_kwargs or is_fitted(estimator):
        return False
    if "classes" not in inspect.signature(partial_fit).parameters:
        return False
    params = estimator.get_params() if hasattr(estimator, "get_params") else {}
    return params.get("classes") is None
