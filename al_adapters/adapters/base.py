"""The framework-free half of every adapter: one rule for each shared behaviour.

Public, so that an adapter of your own (see "Writing an adapter") follows the
same rules as TorchAdapter and KerasAdapter by calling the same functions:

- **Classes**: ``classes`` is a 1-D sequence of at least two distinct labels,
  fixed when the adapter is made; ``classes_`` is ``np.asarray(classes)`` in
  the given order. ``partial_fit(classes=...)`` must hold the same labels, in
  any order (scikit-learn passes ``np.unique(y)``).
- **Labels**: ``y`` has one label per row, 1-D or a single column ``(n, 1)``,
  or is one-hot ``(n, len(classes))`` (Keras' ``to_categorical``), read as
  ``classes[argmax]``; each label is encoded as its position in ``classes``
  (int64), and labels outside ``classes`` are refused by name.
- **Keywords**: per-call keywords outside a method's list raise a TypeError
  naming them (:func:`check_keywords`); prediction methods take ``verbose``
  (ignored: nothing prints) and ``batch_size`` (rows per model call)
  (:func:`prediction_batch_size`).
- **Counts**: ``epochs`` and ``n_samples`` are integers of at least 1 (not
  ``bool``), ``epochs=None`` meaning the adapter's own.
- **Seeding**: a ``random_state`` seeds only the call it is given to; every
  global generator is put back afterwards (:func:`restoring_global_generators`).
- **Rollback**: ``fit`` and ``partial_fit`` leave the adapter unchanged when
  they raise, ``KeyboardInterrupt`` included (:func:`unchanged_on_error`).
- **Devices**: ``device="auto"`` is the portable choice (a GPU when there is
  one, else the CPU); a device that is not there raises a ValueError naming
  it and the devices available (:func:`check_device`), when the adapter is
  first fitted or used, never a silent fall-back to another device.
- **Precision**: ``precision`` is None, ``"bfloat16"`` or ``"float16"``, the
  values the strategies' ``mixed_precision`` takes; ``"bf16"`` and ``"fp16"``
  are read with a DeprecationWarning.
- **Parameters**: an adapter's own parameters are those of its ``__init__``
  signature; every other keyword is routed to the framework object it builds
  (skorch's ``lr``, scikeras' ``model__*``...) and is a parameter too, for
  ``get_params``, ``set_params`` and ``clone`` (:class:`RoutedParams`).
"""

import contextlib
import contextvars
import numbers
import random
import sys
import warnings

import numpy as np
from sklearn.metrics import accuracy_score

from al_adapters import _backend
from al_adapters.adapters._routed_params import RoutedParams

__all__ = [
    "PRECISIONS",
    "RoutedParams",
    "accuracy",
    "caller_restores",
    "check_classes",
    "check_count",
    "check_device",
    "check_keywords",
    "check_precision",
    "check_same_classes",
    "warn_not_stochastic",
    "decode_one_hot",
    "encode_labels",
    "is_restored_by_caller",
    "prediction_batch_size",
    "restoring_global_generators",
    "unchanged_on_error",
]

#: ids of the estimators whose caller restores them after a failed call.
_RESTORED_BY_CALLER: contextvars.ContextVar[frozenset[int]] = contextvars.ContextVar(
    "restored_by_caller", default=frozenset()
)

#: The precision names, the same as the strategies' ``mixed_precision`` takes.
PRECISIONS = _backend.MIXED_PRECISION_DTYPES
_OLD_PRECISIONS = {"bf16": "bfloat16", "fp16": "float16"}


@contextlib.contextmanager
def caller_restores(estimator):
    """Scope in which ``estimator``'s caller restores it after a failure.

    A learner that holds the estimator's state (or was told to keep none, with
    ``rollback=False``) enters this scope, so that ``partial_fit`` does not take
    a second copy of the weights for its own rollback.
    """
    token = _RESTORED_BY_CALLER.set(_RESTORED_BY_CALLER.get() | {id(estimator)})
    try:
        yield
    finally:
        _RESTORED_BY_CALLER.reset(token)


def is_restored_by_caller(estimator):
    """Tell whether a caller restores ``estimator`` after a failed call."""
    return id(estimator) in _RESTORED_BY_CALLER.get()


@contextlib.contextmanager
def unchanged_on_error(adapter, *, in_place):
    """Put the adapter back as it was if the block raises anything.

    The adapter's attributes are restored from a shallow copy. With
    ``in_place=True`` (training that changes the fitted weights themselves),
    its ``state_dict()`` is taken first and loaded back, unless a caller holds
    one already (:func:`caller_restores`).
    """
    saved = dict(vars(adapter))
    state = None
    if in_place and not is_restored_by_caller(adapter):
        state = adapter.state_dict()
    try:
        yield
    except BaseException:
        vars(adapter).clear()
        vars(adapter).update(saved)
        if state is not None:
            adapter.load_state_dict(state)
        raise


def check_classes(classes, adapter_name):
    """Return ``classes`` as a 1-D array of at least two distinct labels."""
    if classes is None:
        raise ValueError(
            "classes is required: pass every label the model will ever see, in the "
            f"order of its outputs, e.g. {adapter_name}(..., classes=[0, 1, 2])"
        )
    array = np.asarray(_backend.to_numpy(classes))
    if array.ndim != 1:
        raise ValueError(f"classes must be a 1-D sequence of labels, got {classes!r}")
    if array.shape[0] < 2:
        raise ValueError(
            f"classes must hold at least two labels (one output per class), got "
            f"{classes!r}"
        )
    values, counts = np.unique(array, return_counts=True)
    if (counts > 1).any():
        raise ValueError(
            f"classes must be distinct, but {values[counts > 1].tolist()} appear "
            "more than once"
        )
    return array


def check_same_classes(classes, declared):
    """Check ``partial_fit``'s ``classes`` argument: the declared labels, any order."""
    if classes is None:
        return
    given = np.asarray(_backend.to_numpy(classes))
    same = given.ndim == 1 and given.shape == declared.shape
    if same:
        same = set(given.tolist()) == set(declared.tolist())
    if not same:
        raise ValueError(
            f"partial_fit got classes {given.tolist()}, but the adapter's classes "
            f"are {declared.tolist()}; the classes are fixed when the adapter is made"
        )


def decode_one_hot(y, classes):
    """Return the labels of a one-hot ``y``; any other ``y`` comes back as is.

    A 2-D ``y`` of more than one column is read as one-hot: it must have one
    column per class, and each row must hold a single 1 and zeros; its labels
    are ``classes[argmax]``. A 2-D ``y`` that is not one-hot is refused.

    Examples
    --------
    >>> import numpy as np
    >>> decode_one_hot(np.array([[0, 1, 0], [1, 0, 0]]), np.array(["a", "b", "c"]))
    array(['b', 'a'], dtype='<U1')
    """
    labels = np.asarray(_backend.to_numpy(y))
    if labels.ndim != 2 or labels.shape[1] == 1:
        return y
    classes = np.asarray(classes)
    if labels.shape[1] != len(classes):
        raise ValueError(
            f"y must hold one label per row, or be one-hot with one column per "
            f"class: got shape {labels.shape} for the {len(classes)} classes "
            f"{classes.tolist()}"
        )
    try:
        values = labels.astype(np.float64)
    except (TypeError, ValueError):
        values = None
    if values is None or not (
        np.isin(values, (0.0, 1.0)).all() and (values.sum(axis=1) == 1).all()
    ):
        raise ValueError(
            "y is 2-D but not one-hot: a 2-D y must hold a single 1 and zeros in "
            "each row (one column per class); pass 1-D labels otherwise"
        )
    return classes[np.argmax(values, axis=1)]


def encode_labels(y, classes, n_rows):
    """Return ``y`` as int64 positions in ``classes``, one per row.

    ``y`` may be 1-D, one column ``(n, 1)`` or one-hot ``(n, len(classes))``
    (:func:`decode_one_hot`); a label outside ``classes`` is refused by name.
    """
    if y is None:
        raise ValueError("y is None: a label is needed for every row of X")
    labels = np.asarray(_backend.to_numpy(decode_one_hot(y, classes)))
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise ValueError(
            f"y must hold one label per row (shape (n,), (n, 1) or one-hot "
            f"(n, {len(classes)})), got shape {labels.shape}"
        )
    if labels.shape[0] != n_rows:
        raise ValueError(f"X has {n_rows} rows but y has {labels.shape[0]} labels")
    position = {label: i for i, label in enumerate(classes.tolist())}
    codes = np.fromiter(
        (position.get(label, -1) for label in labels.tolist()),
        dtype=np.int64,
        count=labels.shape[0],
    )
    unknown = labels[codes < 0]
    if unknown.size:
        raise ValueError(
            f"y contains labels {_distinct(unknown)} that are not in classes "
            f"{classes.tolist()}"
        )
    return codes


def accuracy(adapter, X, y, sample_weight=None, predict_params=None):
    """Return the accuracy of ``adapter.predict`` on ``(X, y)``, y one-hot or not."""
    predicted = adapter.predict(X, **(predict_params or {}))
    labels = decode_one_hot(y, adapter.classes_)
    return float(accuracy_score(labels, predicted, sample_weight=sample_weight))


def _distinct(labels):
    seen = []
    for label in labels.tolist():
        if label not in seen:
            seen.append(label)
    return seen


def check_device(asked, available):
    """Raise a ValueError unless the device ``asked`` is one of ``available``.

    Parameters
    ----------
    asked : str
        The device as the user gave it, normalised by the adapter
        (``"cuda:0"``, ``"gpu:1"``...).
    available : sequence of str
        The devices there are, in the same spelling.

    Examples
    --------
    >>> check_device("cpu", ["cpu"])
    >>> check_device("cuda:0", ["cpu"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: device 'cuda:0' is not available here: the devices are ['cpu']. ...
    """
    if asked in available:
        return
    raise ValueError(
        f"device {asked!r} is not available here: the devices are "
        f"{list(available)}. Pass one of them, or device='auto' for a GPU when "
        "there is one and the CPU otherwise."
    )


def warn_not_stochastic(model_name):
    """Warn that MC samples of a model without dropout are all the same.

    ``sample_proba`` calls it when the model has no dropout (or other noise)
    layer that draws anything: every sample equals ``predict_proba``, so an MC
    measure (BALD, mean STD, variation ratios) scores about zero for every row
    and a query picks rows by rounding noise.
    """
    warnings.warn(
        f"sample_proba found no dropout layer with a positive rate in the "
        f"{model_name}: every MC sample equals predict_proba, so MC-dropout "
        "measures (BALD, mean STD, variation ratios) score about 0 for every "
        "row. Add dropout to the model, or query with a strategy on "
        "predict_proba (uncertainty, margin, entropy).",
        UserWarning,
        stacklevel=3,
    )


def check_count(value, name, *, allow_none=False):
    """Return ``value`` as an int of at least 1 (None passes with ``allow_none``)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return int(value)


def check_keywords(given, allowed, method):
    """Raise a TypeError naming the keywords of ``given`` not in ``allowed``."""
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise TypeError(
            f"{method} got unexpected keyword arguments {unknown}; it takes "
            f"{sorted(allowed)}"
        )


def prediction_batch_size(keywords, method):
    """Return the ``batch_size`` of a prediction call's keywords (None if unset).

    A prediction method takes ``verbose`` (accepted and ignored, as nothing
    prints) and ``batch_size`` (rows per model call), the keywords Keras users
    pass to ``predict``; anything else raises a TypeError naming it.
    """
    check_keywords(keywords, ("batch_size", "verbose"), method)
    return check_count(keywords.get("batch_size"), "batch_size", allow_none=True)


def check_precision(precision):
    """Return the precision name (``"bfloat16"``, ``"float16"`` or None)."""
    if precision is None:
        return None
    if isinstance(precision, str) and precision in _OLD_PRECISIONS:
        new = _OLD_PRECISIONS[precision]
        warnings.warn(
            f"precision={precision!r} is deprecated; use precision={new!r}",
            DeprecationWarning,
            stacklevel=3,
        )
        return new
    if isinstance(precision, str) and precision in PRECISIONS:
        return precision
    raise ValueError(
        f"precision must be None, 'bfloat16' or 'float16', got {precision!r}"
    )


@contextlib.contextmanager
def restoring_global_generators():
    """Put the global generators of Python, NumPy and torch (if imported) back."""
    python_state = random.getstate()
    numpy_state = np.random.get_state()  # noqa: NPY002 - restored below
    torch = sys.modules.get("torch")
    torch_state = None
    if torch is not None:
        cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
        torch_state = (torch.get_rng_state(), cuda)
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)  # noqa: NPY002
        if torch_state is not None:
            torch.set_rng_state(torch_state[0])
            if torch_state[1] is not None:
                torch.cuda.set_rng_state_all(torch_state[1])
