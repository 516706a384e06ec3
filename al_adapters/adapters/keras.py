"""KerasAdapter: a Keras 3 model as a scikit-learn classifier, through scikeras.

The Keras backend is the one ``KERAS_BACKEND`` names when Keras is first
imported (TensorFlow when unset); set it before importing Keras, scikeras or
this module.
"""

try:
    import keras  # noqa: F401
    import scikeras  # noqa: F401
except ImportError as exc:
    raise ImportError(
        'KerasAdapter needs Keras 3 and scikeras: pip install "al-adapters[keras]"'
    ) from exc

import contextlib
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_array
from sklearn.utils.validation import validate_data

from al_adapters.adapters import _keras_inference as inference
from al_adapters.adapters import _keras_training as training
from al_adapters.adapters import _scikeras_shim as scikeras_shim
from al_adapters.adapters import base
from al_adapters.adapters._keras_scoring import KerasScoringMixin
from al_adapters.adapters._keras_state import KerasStateMixin

__all__ = ["KerasAdapter"]


class KerasAdapter(
    KerasScoringMixin,
    KerasStateMixin,
    ClassifierMixin,
    base.RoutedParams,
    BaseEstimator,
):
    """A Keras 3 classifier with fixed classes, warm training and MC dropout.

    Built on scikeras' ``KerasClassifier``, which builds, compiles and trains the
    model; every scikeras parameter passes through (``epochs``, ``batch_size``,
    ``optimizer``, ``loss``, ``model__*``, ``optimizer__*``, ``fit__*``,
    ``callbacks``...). The classes are fixed up front, :meth:`fit` is a cold
    start and :meth:`partial_fit` a warm one, scoring calls the model directly
    in large chunks, and it is a scikit-learn classifier on every supported
    scikit-learn (scikeras' own tags are broken from 1.6 on).

    Parameters
    ----------
    model : callable, keras.Model or KerasClassifier
        A function that returns the model (it receives the ``model__*``
        parameters, and scikeras' ``meta`` and ``compile_kwargs`` if it asks for
        them); a ``keras.Model`` instance, which is never trained itself (each
        cold start trains a copy of it as it was given); or an unfitted scikeras
        ``KerasClassifier``, whose settings are used unless given to the
        adapter. An uncompiled model is compiled with ``optimizer`` and
        ``loss``. The model must output ``len(classes)`` probabilities (end in a
        softmax) unless the loss has ``from_logits=True``, in which case the
        adapter applies the softmax.
    classes : array-like of shape (n_classes,)
        Every label, in the order of the model's output units. Ints or strings.
    device : str or None, default="auto"
        A Keras device string (``"cpu"``, ``"gpu:0"``) used as a
        ``keras.device`` scope for building, training and scoring; ``"auto"``
        or None leaves placement to Keras.
    precision : {None, 'bfloat16', 'float16'}, default=None
        Precision for scoring (``predict_proba``, ``sample_proba``, ``embed``):
        the model's float32 layers run under Keras' ``"mixed_bfloat16"`` or
        ``"mixed_float16"`` dtype policy for the call, computing in that dtype
        on float32 weights; results are returned in float32 either way, and
        training is unaffected. Meant for GPUs. The same values as
        TorchAdapter's ``precision`` and the strategies' ``mixed_precision``.
    optimizer : str, keras.optimizers.Optimizer or class, default=None
        Optimizer for an uncompiled model; None means RMSprop (scikeras'
        default). A model that comes compiled (a compiled instance, or a build
        function that compiles) trains with its own optimizer and loss: leave
        ``optimizer`` and ``loss`` None then (giving them raises a
        ValueError), and ``get_params`` reports None, "the model's own".
    loss : str, keras.losses.Loss or callable, default=None
        Loss for an uncompiled model; None means
        ``"sparse_categorical_crossentropy"``. Labels reach Keras as integer
        positions in ``classes`` (one-hot for ``"categorical_crossentropy"``).
    metrics : list or None, default=None
        Keras metrics to compile with.
    epochs : int, default=1
        Epochs per :meth:`fit` and per :meth:`partial_fit` call.
    batch_size : int or None, default=None
        Training batch size (Keras' 32 when None). Scoring chunks are set by
        ``predict__batch_size`` instead, or by a 16 MiB input budget.
    validation_batch_size : int or None, default=None
        Passed to ``Model.fit``.
    validation_split : float, default=0.0
        Share of each training call held out for validation (none by default,
        so sets of one or two rows train).
    shuffle : bool, default=True
        Shuffle the training rows every epoch.
    class_weight : dict, "balanced" or None, default=None
        Class weights, as in scikeras.
    callbacks : list or None, default=None
        Keras callbacks for training.
    run_eagerly : bool, default=False
        Compile the model to run eagerly.
    random_state : int, RandomState, Generator or None, default=None
        Seeds weight initialisation, dropout and shuffling of every
        :meth:`fit` and :meth:`partial_fit` call (see Notes).
    verbose : int, default=0
        Keras' verbosity for training; 0 prints nothing.
    **kwargs
        Routed scikeras parameters (``model__hidden=64``,
        ``optimizer__learning_rate=1e-3``, ``predict__batch_size=8192``...).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        ``np.asarray(classes)``, after every fit.
    model_ : keras.Model
        The trained model.
    wrapper_ : scikeras.wrappers.KerasClassifier
        The scikeras wrapper that trains ``model_``.
    history_ : dict
        Keras' training history (loss per epoch), over all warm calls.
    n_features_in_ : int
        Number of features seen at the last cold start.

    Notes
    -----
    Which to use in active learning: ``ActiveLearner.teach(only_new=True)``
    calls :meth:`partial_fit` on the new rows, continuing training, which is
    cheap; plain ``teach`` calls :meth:`fit` on all labelled rows, a cold start
    that forgets the current weights. Warm training on only the newest rows
    drifts towards them, so retrain cold from time to time.

    With ``random_state`` set, training runs inside
    ``keras.utils.set_random_seed``; every global generator it sets (Python's,
    NumPy's, torch's, TensorFlow's and Keras' global seeds) is put back
    afterwards, as every adapter does with a ``random_state``.

    Examples
    --------
    >>> import keras
    >>> import numpy as np
    >>> from al_adapters import KerasAdapter
    >>> def build(meta):
    ...     return keras.Sequential([
    ...         keras.Input((meta["n_features_in_"],)),
    ...         keras.layers.Dense(8, activation="relu"),
    ...         keras.layers.Dropout(0.5),
    ...         keras.layers.Dense(meta["n_classes_"], activation="softmax"),
    ...     ])
    >>> X = np.random.default_rng(0).normal(size=(20, 4))
    >>> y = np.array(["cat", "dog"] * 10)
    >>> adapter = KerasAdapter(build, classes=["dog", "cat", "fox"], epochs=2)
    >>> adapter.fit(X, y).predict_proba(X[:1]).shape
    (1, 3)
    >>> adapter.partial_fit(X[:2], ["fox", "fox"], epochs=3).classes_
    array(['dog', 'cat', 'fox'], dtype='<U3')
    >>> adapter.sample_proba(X, n_samples=5, random_state=0).shape
    (5, 20, 3)
    """

    def __init__(
        self,
        model: Any,
        *,
        classes: Any,
        device: str | None = "auto",
        precision: str | None = None,
        optimizer: Any = None,
        loss: Any = None,
        metrics: Any = None,
        epochs: int = 1,
        batch_size: int | None = None,
        validation_batch_size: int | None = None,
        validation_split: float = 0.0,
        shuffle: bool = True,
        class_weight: Any = None,
        callbacks: Any = None,
        run_eagerly: bool = False,
        random_state: Any = None,
        verbose: int = 0,
        **kwargs: Any,
    ) -> None:
        self.model = model
        self.classes = classes
        self.device = device
        self.precision = precision
        self.optimizer = optimizer
        self.loss = loss
        self.metrics = metrics
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_batch_size = validation_batch_size
        self.validation_split = validation_split
        self.shuffle = shuffle
        self.class_weight = class_weight
        self.callbacks = callbacks
        self.run_eagerly = run_eagerly
        self.random_state = random_state
        self.verbose = verbose
        self._routed_params = kwargs

    # -- training -------------------------------------------------------------

    def fit(
        self, X: Any, y: Any, sample_weight: Any = None, **fit_params: Any
    ) -> "KerasAdapter":
        """Train from fresh weights and optimizer state on ``(X, y)``.

        A build function builds a new model; a model instance starts again from
        the weights it had when given. ``epochs`` epochs are trained.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Training rows; cast to float32.
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            Labels, each one of ``classes`` (not all need to occur), or their
            one-hot rows, one column per class.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each row.
        **fit_params
            Keras' ``fit`` keywords for this call only: ``epochs``,
            ``batch_size``, ``verbose``, ``callbacks`` (added to the adapter's
            own), ``validation_split`` and ``shuffle``. ``get_params()`` is
            unchanged. Any other keyword raises a TypeError.

        Returns
        -------
        self : KerasAdapter
            The fitted adapter. On error it is unchanged.
        """
        fit_params = training.fit_keywords(fit_params, "fit")
        epochs = base.check_count(
            fit_params.pop("epochs", None), "epochs", allow_none=True
        )
        return self._cold_start(X, y, sample_weight, epochs, fit_params)

    def partial_fit(
        self,
        X: Any,
        y: Any,
        classes: Any = None,
        epochs: int | None = None,
        sample_weight: Any = None,
        **fit_params: Any,
    ) -> "KerasAdapter":
        """Continue training from the current weights and optimizer state.

        The first call initialises the model as :meth:`fit` would. If training
        raises (``KeyboardInterrupt`` included), the adapter is put back as it
        was, from its :meth:`state_dict`.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Training rows; cast to float32.
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            Labels, each one of ``classes``, or their one-hot rows.
        classes : array-like of shape (n_classes,), default=None
            scikit-learn's ``partial_fit`` convention; if given, it must equal
            the adapter's ``classes``.
        epochs : int, default=None
            Epochs for this call; None uses ``epochs``.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each row.
        **fit_params
            Keras' ``fit`` keywords for this call only, as :meth:`fit` takes.

        Returns
        -------
        self : KerasAdapter
            The adapter. Invalid input raises before any training.
        """
        fit_params = training.fit_keywords(fit_params, "partial_fit")
        base.check_same_classes(classes, _classes(self.classes))
        epochs = base.check_count(epochs, "epochs", allow_none=True)
        if not self.__sklearn_is_fitted__():
            return self._cold_start(X, y, sample_weight, epochs, fit_params)
        X32, codes = self._training_data(X, y, first=False)
        wrapper = self.wrapper_
        with base.unchanged_on_error(self, in_place=True), self._scope():
            epochs = epochs or training.default_epochs(wrapper)
            scikeras_shim.train(wrapper, X32, codes, sample_weight, epochs, fit_params)
        return self

    def _cold_start(self, X, y, sample_weight, epochs, fit_params):
        base.check_precision(self.precision)
        X32, codes = self._training_data(X, y, first=True)
        with base.unchanged_on_error(self, in_place=False):
            with self._scope():
                wrapper = self._build(X32, codes)
                epochs = epochs or training.default_epochs(wrapper)
                scikeras_shim.train(
                    wrapper, X32, codes, sample_weight, epochs, fit_params
                )
            self._set_fitted(wrapper, X, X32.shape[1:])
        return self

    def _build(self, X32, codes):
        """Return a new wrapper whose model is built and compiled, untrained."""
        n_classes = len(_classes(self.classes))
        wrapper = training.make_wrapper(self, self._defaults())
        came_compiled = scikeras_shim.initialize(wrapper, X32, codes, n_classes)
        training.check_compile_settings(self, wrapper.model_, came_compiled)
        inference.check_outputs(wrapper.model_, X32[:8], n_classes)
        return wrapper

    def _set_fitted(self, wrapper, X, row_shape):
        self.wrapper_ = wrapper
        self.classes_ = np.asarray(self.classes)
        self._row_shape = tuple(int(d) for d in row_shape)
        self._logits = inference.uses_logits(wrapper.model_)
        validate_data(self, X, reset=True, skip_check_array=True)

    def _training_data(self, X, y, *, first):
        classes = _classes(self.classes)
        X32 = check_array(X, dtype=np.float32, allow_nd=True, input_name="X")
        if not first:
            validate_data(self, X, reset=False, skip_check_array=True)
            self._check_row_shape(X32.shape)
        return X32, base.encode_labels(y, classes, len(X32))

    @contextlib.contextmanager
    def _scope(self):
        random_state = training.random_state_of(self)
        with (
            training.quiet(),
            inference.device_scope(self.device),
            training.seeded(random_state),
        ):
            yield

    # -- the fitted model -----------------------------------------------------

    @property
    def model_(self) -> Any:
        """The trained ``keras.Model``."""
        if "wrapper_" not in vars(self):
            raise AttributeError("KerasAdapter has no model_ before it is fitted")
        return self.wrapper_.model_

    @property
    def history_(self) -> Any:
        """Keras' training history over all warm calls since the last cold start."""
        if "wrapper_" not in vars(self):
            raise AttributeError("KerasAdapter has no history_ before it is fitted")
        return self.wrapper_.history_

    def __sklearn_is_fitted__(self) -> bool:
        if "wrapper_" not in vars(self):
            row_shape = training.pretrained_row_shape(self)
            if row_shape is not None:
                self._start_pretrained(row_shape)
        return "wrapper_" in vars(self)

    def _start_pretrained(self, row_shape):
        """Make ``wrapper_`` from the model instance as given, untrained."""
        X32 = np.zeros((1, *row_shape), dtype=np.float32)
        with self._scope():
            wrapper = self._build(X32, np.zeros(1, dtype=np.int64))
        self._set_fitted(wrapper, X32, row_shape)

    def score(
        self, X: Any, y: Any, sample_weight: Any = None, **predict_params: Any
    ) -> float:
        """Return the accuracy on ``(X, y)``; ``y`` may be one-hot.

        ``predict_params`` (``batch_size``, ``verbose``) are as :meth:`predict`
        takes them.
        """
        return base.accuracy(self, X, y, sample_weight, predict_params)

    # -- scikit-learn ---------------------------------------------------------

    #: Only ``prefix__name`` keywords are routed to scikeras by ``set_params``.
    _routes_any_name = False

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = True
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        tags.input_tags.three_d_array = True
        tags.classifier_tags.poor_score = True
        return tags


def _classes(classes):
    return base.check_classes(classes, "KerasAdapter")
