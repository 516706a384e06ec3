"""Training a KerasAdapter's model through a scikeras ``KerasClassifier``.

The adapter keeps its own parameters and hands each cold start a fresh scikeras
wrapper built from them: scikeras routes ``model__*``, ``optimizer__*``,
``fit__*``... parameters, calls the build function, compiles, and runs
``Model.fit``. The adapter does the rest itself: it encodes labels against the
declared classes (so the output width never depends on one call's ``y``),
chooses the epochs of every call, and seeds every framework from
``random_state``.

The private steps of scikeras that build and train live in
:mod:`al_adapters.adapters._scikeras_shim`.
"""

import contextlib
import copy
import functools
import logging
import warnings

import keras
import numpy as np
from scikeras.wrappers import KerasClassifier
from sklearn.base import clone

from al_adapters.adapters import _keras_shim as keras_shim
from al_adapters.adapters import base

#: Parameters of the adapter that scikeras does not take.
ADAPTER_ONLY = ("model", "classes", "device", "precision", "random_state")


#: Keras ``fit`` keywords a call may set for itself.
FIT_KEYWORDS = (
    "batch_size",
    "callbacks",
    "epochs",
    "shuffle",
    "validation_split",
    "verbose",
)


def fit_keywords(fit_params, method):
    """Return the per-call ``fit`` keywords of ``method``; others raise TypeError."""
    base.check_keywords(fit_params, FIT_KEYWORDS, method)
    return dict(fit_params)


def default_epochs(wrapper):
    """Return the epochs per call of ``wrapper`` (``fit__epochs`` wins)."""
    return base.check_count(getattr(wrapper, "fit__epochs", wrapper.epochs), "epochs")


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


#: What an uncompiled model is compiled with when ``optimizer`` / ``loss`` is None.
DEFAULT_COMPILE = {"optimizer": "rmsprop", "loss": "sparse_categorical_crossentropy"}


def check_compile_settings(adapter, model, came_compiled):
    """Refuse ``optimizer`` / ``loss`` given for a model that comes compiled.

    Keras trains with the model's own compile settings then, so the adapter's
    would be ignored (and ``get_params`` would report what does not train).
    """
    given = {k: getattr(adapter, k) for k in DEFAULT_COMPILE}
    given = {k: v for k, v in given.items() if v is not None}
    if came_compiled and given:
        own = {
            "optimizer": type(model.optimizer).__name__,
            "loss": getattr(model.loss, "name", model.loss),
        }
        raise ValueError(
            f"the model comes compiled (optimizer {own['optimizer']}, loss "
            f"{own['loss']}), so {sorted(given)} given to the adapter would be "
            "ignored: leave them None to train with the model's own compile "
            "settings, or pass an uncompiled model"
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
        overrides = {k: v for k, v in overrides.items() if v is not None}
        if wrapper.loss is None:
            overrides.setdefault("loss", DEFAULT_COMPILE["loss"])
        wrapper.set_params(**overrides)
        model = wrapper.model if wrapper.model is not None else wrapper.build_fn
    else:
        for name, default in DEFAULT_COMPILE.items():
            if scikeras_params[name] is None:
                scikeras_params[name] = default
        wrapper = KerasClassifier(model=None, **scikeras_params)
    # What scikeras hands the build function: model__* and non-routed extras.
    build_params = {k for k in wrapper.get_params() if k.startswith("model__")}
    build_params |= {k for k in getattr(wrapper, "_user_params", ()) if "__" not in k}
    if model is not None or not hasattr(wrapper, "_keras_build_fn"):
        wrapper.set_params(model=_build_function(model, build_params), build_fn=None)
    wrapper.set_params(warm_start=False, random_state=None)
    return wrapper


def pretrained_row_shape(adapter):
    """Return the row shape of a model instance to start from, else None.

    A ``keras.Model`` instance with a fully defined input shape predicts with
    the weights it was given before any training; a build function, or an
    instance whose input shape is open, needs a first fit.
    """
    model = adapter.model
    if not isinstance(model, keras.Model) or not getattr(model, "inputs", None):
        return None
    if len(model.inputs) != 1:
        return None
    shape = tuple(model.inputs[0].shape[1:])
    if any(d is None for d in shape):
        return None
    return tuple(int(d) for d in shape)


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
    ``Model.fit``'s shuffling on every backend. On exit every one of them is
    put back as it was, Keras' and TensorFlow's global seeds included.
    """
    if random_state is None:
        yield
        return
    (seed,) = draw_seeds(random_state, 1)
    seeds = keras_shim.global_seeds()
    try:
        with base.restoring_global_generators():
            keras.utils.set_random_seed(seed)
            yield
    finally:
        keras_shim.restore_global_seeds(seeds)


#: Keras' warning when a copy of a compiled, untrained model is loaded: its
#: optimizer has no state to load, and a cold start wants fresh state anyway.
_OPTIMIZER_LOADING = "Skipping variable loading for optimizer"


class _NoRetracingWarning(logging.Filter):
    """Drops TensorFlow's warning that a training function was traced again.

    Every cold start trains a new model, whose training function is traced
    once; TensorFlow counts those traces together and warns after five.
    """

    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


@contextlib.contextmanager
def quiet():
    """Scope without the framework messages the adapter's own copies trigger.

    Keras' warning about skipped optimizer variables when a model instance is
    copied (its optimizer is untrained), and TensorFlow's retracing warning
    when successive cold starts trace their new models' functions.
    """
    logger = logging.getLogger("tensorflow")
    no_retracing = _NoRetracingWarning()
    logger.addFilter(no_retracing)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_OPTIMIZER_LOADING)
            yield
    finally:
        logger.removeFilter(no_retracing)
