"""Training a KerasAdapter's model through a scikeras ``KerasClassifier``.

The adapter keeps its own parameters and hands each cold start a fresh scikeras
wrapper built from them: scikeras routes ``model__*``, ``optimizer__*``,
``fit__*``... parameters, calls the build function, compiles, and runs
``Model.fit``. The adapter does the rest itself: it encodes labels against the
declared classes (so the output width never depends on one call's ``y``),
chooses the epochs of every call, and seeds every framework from
``random_state``.

scikeras 0.13 is the last release of an unmaintained project, so the few of its
private methods used here (``_initialize``, ``_ensure_compiled_model``,
``_fit``) are frozen.
"""

import contextlib
import copy
import functools
import numbers
import random

import keras
import numpy as np
from scikeras.wrappers import KerasClassifier
from sklearn.base import clone

#: Parameters of the adapter that scikeras does not take.
ADAPTER_ONLY = ("model", "classes", "device", "random_state")


def check_classes(classes):
    """Return the declared classes as an array, or raise if they are unusable."""
    if classes is None:
        raise ValueError(
            "classes is required: pass every label the model will ever see, in the "
            "order of its output units, e.g. KerasAdapter(build, classes=[0, 1, 2])"
        )
    array = np.asarray(classes)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(
            f"classes must be a non-empty 1-D list of labels, got {classes!r}"
        )
    values, counts = np.unique(array, return_counts=True)
    if np.any(counts > 1):
        raise ValueError(
            f"classes must not repeat a label; repeated: {values[counts > 1].tolist()}"
        )
    return array


def check_same_classes(classes, declared):
    """Check ``partial_fit``'s ``classes`` argument against the declared classes."""
    if classes is None:
        return
    given = np.asarray(classes)
    if given.shape != declared.shape or not np.all(given == declared):
        raise ValueError(
            f"classes={given.tolist()} differs from the adapter's classes "
            f"{declared.tolist()}; the classes are fixed when the adapter is made"
        )


def encode_labels(y, classes, n_rows):
    """Return ``y`` as int64 positions in ``classes``, or raise naming unknown ones."""
    if y is None:
        raise ValueError("y is None: a label is needed for every row of X")
    labels = np.asarray(y)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels.ravel()
    if labels.ndim != 1:
        raise ValueError(f"y must be 1-D (one label per row), got shape {labels.shape}")
    if len(labels) != n_rows:
        raise ValueError(f"X has {n_rows} rows but y has {len(labels)} labels")
    position = {label: i for i, label in enumerate(classes.tolist())}
    values, inverse = np.unique(labels, return_inverse=True)
    codes = np.array([position.get(value, -1) for value in values.tolist()])
    unknown = values[codes < 0]
    if unknown.size:
        raise ValueError(
            f"y contains labels {unknown.tolist()} that are not in classes "
            f"{classes.tolist()}"
        )
    return codes[inverse.ravel()].astype(np.int64)


def check_epochs(epochs):
    """Check a per-call epoch count (None keeps the adapter's)."""
    if epochs is None:
        return None
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral):
        raise TypeError(f"epochs must be a positive integer, got {epochs!r}")
    if epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs}")
    return int(epochs)


def default_epochs(wrapper):
    """Return the epochs per call of ``wrapper`` (``fit__epochs`` wins)."""
    return check_epochs(getattr(wrapper, "fit__epochs", wrapper.epochs))


def _fresh_copy(model):
    return copy.deepcopy(model)


def _build_function(model, build_params):
    """Return a build function scikeras accepts for the adapter's ``model``."""
    if isinstance(model, keras.Model):
        if build_params:
            raise ValueError(
                f"parameters {sorted(build_params)} go to a build function, but model "
                "is a keras.Model instance; pass a function that builds the model"
            )
        # The instance is never trained itself: each cold start gets a copy of it
        # as it was given, so fit and clone both start from its initial weights.
        return functools.partial(_fresh_copy, model)
    if callable(model):
        # scikeras takes plain functions and partials only; a class or a bound
        # method works the same once wrapped.
        if isinstance(model, functools.partial):
            return model
        return functools.partial(model)
    raise TypeError(
        "model must be a function that builds a keras.Model, a keras.Model, or an "
        f"unfitted scikeras KerasClassifier, got {model!r}"
    )


def _differs(value, default):
    if value is default:
        return False
    try:
        return bool(value != default)
    except (TypeError, ValueError):  # arrays and objects without a plain ==
        return True


def make_wrapper(adapter, defaults):
    """Return an unfitted ``KerasClassifier`` set up from the adapter's parameters.

    Parameters
    ----------
    adapter : KerasAdapter
        The adapter; its ``get_params()`` are read, nothing is changed.
    defaults : dict
        The default of each named parameter of the adapter.

    Returns
    -------
    wrapper : KerasClassifier
        With ``warm_start=False`` and no ``random_state`` (the adapter seeds).
    """
    params = adapter.get_params()
    model = params["model"]
    scikeras_params = {k: v for k, v in params.items() if k not in ADAPTER_ONLY}
    if isinstance(model, KerasClassifier):
        if model.initialized_:
            raise ValueError(
                "model is a fitted KerasClassifier: pass an unfitted one (its "
                "settings are used, its weights are not)"
            )
        wrapper = clone(model)
        # The adapter's settings win where they were given; its verbose=0 always
        # applies (pass verbose=1 to the adapter for Keras' progress output).
        overrides = {
            k: v
            for k, v in scikeras_params.items()
            if k not in defaults or _differs(v, defaults[k]) or k == "verbose"
        }
        if wrapper.loss is None:
            overrides.setdefault("loss", scikeras_params["loss"])
        wrapper.set_params(**overrides)
        model = wrapper.model if wrapper.model is not None else wrapper.build_fn
    else:
        wrapper = KerasClassifier(model=None, **scikeras_params)
    # What scikeras hands the build function: model__* and non-routed extras.
    build_params = {k for k in wrapper.get_params() if k.startswith("model__")}
    build_params |= {k for k in getattr(wrapper, "_user_params", ()) if "__" not in k}
    if model is not None or not hasattr(wrapper, "_keras_build_fn"):
        wrapper.set_params(model=_build_function(model, build_params), build_fn=None)
    wrapper.set_params(warm_start=False, random_state=None)
    return wrapper


def random_state_of(adapter):
    """Return the seed source for training: the adapter's, else a wrapper's."""
    if adapter.random_state is not None:
        return adapter.random_state
    model = adapter.model
    if isinstance(model, KerasClassifier):
        return model.random_state
    return None


def draw_seeds(random_state, n):
    """Return ``n`` seeds in ``[1, 2**31 - 1)`` drawn from ``random_state``."""
    if isinstance(random_state, bool):
        raise TypeError(
            f"random_state must be an int or a generator, got {random_state}"
        )
    if isinstance(random_state, np.random.RandomState):
        return [int(s) for s in random_state.randint(1, 2**31 - 1, size=n)]
    try:
        rng = np.random.default_rng(random_state)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            "random_state must be None, an int, a numpy Generator or RandomState, "
            f"got {random_state!r}"
        ) from exc
    return [int(s) for s in rng.integers(1, 2**31 - 1, size=n)]


@contextlib.contextmanager
def seeded(random_state):
    """Scope in which Keras, Python, NumPy and the backend draw from ``random_state``.

    ``keras.utils.set_random_seed`` seeds Python's ``random``, NumPy's global
    generator, TensorFlow's global seed and, on the torch backend, torch's
    generator; that covers weight initialisation, dropout seeds and
    ``Model.fit``'s shuffling on every backend. Python's, NumPy's and torch's
    generator states are put back on exit; TensorFlow's global seed and the
    Keras global seed stay as ``set_random_seed`` left them.
    """
    if random_state is None:
        yield
        return
    (seed,) = draw_seeds(random_state, 1)
    python_state = random.getstate()
    numpy_state = np.random.get_state()  # noqa: NPY002 - restored below
    torch_state = _torch_state()
    try:
        keras.utils.set_random_seed(seed)
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)  # noqa: NPY002
        _restore_torch_state(torch_state)


def _torch_state():
    if keras.backend.backend() != "torch":
        return None
    import torch

    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    return torch.get_rng_state(), cuda


def _restore_torch_state(state):
    if state is None:
        return
    import torch

    cpu, cuda = state
    torch.set_rng_state(cpu)
    if cuda is not None:
        torch.cuda.set_rng_state_all(cuda)


def initialize(wrapper, X, codes, n_classes):
    """Build and compile the model of ``wrapper`` for ``n_classes`` fixed classes."""
    # scikeras infers the classes from y unless classes_ is set beforehand;
    # with it set, the build function's meta holds n_classes_ == n_classes.
    wrapper.classes_ = np.arange(n_classes)
    wrapper._initialize(X, codes)
    wrapper._ensure_compiled_model()


def train(wrapper, X, codes, sample_weight, epochs):
    """Train ``epochs`` epochs from the current weights and optimizer state."""
    wrapper._fit(
        X,
        codes,
        sample_weight=sample_weight,
        warm_start=True,
        epochs=epochs,
        initial_epoch=wrapper.current_epoch,
    )
