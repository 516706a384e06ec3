"""TorchAdapter: a PyTorch module as a scikit-learn classifier, through skorch."""

try:
    import skorch  # noqa: F401
    import torch
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "TorchAdapter needs torch and skorch; install them with "
        'pip install "al-adapters[torch]"'
    ) from exc

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from al_adapters.adapters import _torch_data as data
from al_adapters.adapters import _torch_net as nets
from al_adapters.adapters import base
from al_adapters.adapters._torch_scoring import TorchScoringMixin
from al_adapters.adapters._torch_state import TorchStateMixin

__all__ = ["TorchAdapter"]


class TorchAdapter(
    TorchScoringMixin,
    TorchStateMixin,
    ClassifierMixin,
    base.RoutedParams,
    BaseEstimator,
):
    """A PyTorch classifier, trained by skorch, with warm starts and device scoring.

    The adapter builds a skorch :class:`~skorch.classifier.NeuralNetClassifier`
    (``net_``) and fixes what active learning needs from it: the classes are
    declared once, ``fit`` is always a cold start and ``partial_fit`` always a
    warm one, tiny labelled sets train without a validation split, and scoring
    runs on the module's device without skorch's DataLoader.

    Parameters
    ----------
    module : torch.nn.Module class, torch.nn.Module instance or NeuralNetClassifier
        The network. A class is built with the ``module__*`` arguments. An
        instance is never trained itself: each cold start trains a fresh copy of
        it as it was given (so ``clone`` copies its initial weights, too). An
        unfitted skorch net contributes its class and parameters; those given to
        the adapter win.
    classes : array-like of shape (n_classes,)
        The labels, in the order of the module's outputs: output ``i`` is
        ``classes[i]``. Labels may be ints or strings.
    precision : {None, 'bfloat16', 'float16'}, default=None
        Autocast dtype for scoring (``predict_proba``, ``sample_proba``,
        ``embed``), meant for GPUs; results are returned in float32 either way.
        The strategies' ``mixed_precision`` takes the same values. The old
        spellings ``'bf16'`` and ``'fp16'`` still work, with a
        DeprecationWarning.
    predict_batch_size : int, default=None
        Rows per forward pass when scoring. None picks about 64 MiB of input rows
        per pass on a GPU; on a CPU, about 256 KiB (cache-sized, the fastest on idle
        cores) or 8 times that (faster on busy cores), whichever it timed faster
        lately. Within 64 to 65536 rows either way.
    **kwargs
        skorch's parameters: ``max_epochs``, ``lr``, ``batch_size``,
        ``optimizer``, ``optimizer__*``, ``criterion``, ``device``, ``callbacks``,
        ``module__*``, ``iterator_train__*``, ``compile``... The adapter's own
        defaults are ``train_split=None`` (skorch holds out 20% of the labelled
        rows, and fails below 5 rows per class), ``verbose=0`` and
        ``iterator_train__shuffle=True``. ``device`` takes torch device strings
        or ``"auto"`` (CUDA when available). skorch's criterion rule holds: with
        its default ``NLLLoss`` the module returns probabilities; with
        ``CrossEntropyLoss`` it returns logits and the adapter applies the
        softmax.

    Attributes
    ----------
    net_ : NeuralNetClassifier
        The fitted skorch net (trained on label codes ``0..n_classes-1``).
    module_ : torch.nn.Module
        The fitted network (compiled when ``compile=True``).
    classes_ : ndarray of shape (n_classes,)
        ``np.asarray(classes)``, whatever labels one call's ``y`` holds.
    n_features_in_ : int
        Number of features (size of the second axis) seen at the first fit.
    history_ : skorch.history.History
        The training history, growing with each ``partial_fit``.

    Notes
    -----
    **Cold or warm.** ``fit(X, y)`` starts from fresh weights and optimizer
    state and trains on ``(X, y)``; ``partial_fit(X, y)`` continues from the
    current weights and optimizer state (Adam's moments included). So
    ``ActiveLearner.teach(X, y)`` retrains from scratch on all labelled rows and
    ``teach(X, y, only_new=True)`` keeps training on the new rows only. Retraining
    from scratch is the safer default: DISTIL's warm-start benchmark found that
    resetting the model each round beats warm starts, by a wide margin with Adam
    and no augmentation, and baal's documentation advises resetting too. Pick
    ``only_new=True`` for fine-tuning loops where a full retrain per round costs
    too much (a large pretrained network, many rounds), and retrain from scratch
    from time to time.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from torch import nn
    >>> from al_adapters import TorchAdapter
    >>> _ = torch.manual_seed(0)
    >>> X = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
    >>> y = np.where(X[:, 0] > 0, "pos", "neg")
    >>> adapter = TorchAdapter(
    ...     nn.Linear, module__in_features=4, module__out_features=2,
    ...     classes=["neg", "pos"], criterion=nn.CrossEntropyLoss, lr=0.5,
    ... )
    >>> adapter.fit(X, y).predict_proba(X[:3]).shape
    (3, 2)
    >>> adapter.partial_fit(X[:5], y[:5], epochs=1).predict(X[:3]).tolist()
    ['pos', 'neg', 'neg']
    """

    def __init__(
        self,
        module: Any,
        *,
        classes: Any,
        precision: str | None = None,
        predict_batch_size: int | None = None,
        **kwargs: Any,
    ) -> None:
        self.module = module
        self.classes = classes
        self.precision = precision
        self.predict_batch_size = predict_batch_size
        self._routed_params = kwargs

    # -- parameters -----------------------------------------------------------

    def set_params(self, **params: Any) -> "TorchAdapter":
        """Set parameters; on a fitted adapter, skorch's apply to the live net.

        Training settings apply to the fitted net at once: ``lr`` and
        ``optimizer__*`` update the optimizer in place, and ``max_epochs``,
        ``batch_size``, ``iterator_train__*`` and the like apply from the next
        ``partial_fit``. What defines the network, its criterion or its optimizer
        (``module``, ``module__*``, ``classes``, ``criterion*``, ``optimizer``,
        ``callbacks*``, ``compile*``, ``device``) takes effect at the next
        ``fit``.

        Parameters
        ----------
        **params
            Parameter names and values.

        Returns
        -------
        self : TorchAdapter
            The adapter.
        """
        named = self._param_names()
        net_params = {k: v for k, v in params.items() if k not in named}
        if net_params and "net_" in vars(self):
            nets.live_params(self.net_, net_params)
        return super().set_params(**params)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = True
        tags.input_tags.sparse = True
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        if "net_" not in vars(self) and self._is_pretrained():
            self._start_pretrained()
        return "net_" in vars(self)

    def _is_pretrained(self):
        """Tell whether ``module`` is an instance whose weights are the start."""
        return isinstance(self.module, torch.nn.Module) and not any(
            key.startswith("module__") for key in self._routed_params
        )

    def _start_pretrained(self):
        """Make ``net_`` from the module instance as given, untrained."""
        classes = _classes(self.classes)
        self.net_ = nets.build_net(self.module, self._routed_params, len(classes))
        self.classes_ = classes

    # -- fitting --------------------------------------------------------------

    def fit(self, X: Any, y: Any, **fit_params: Any) -> "TorchAdapter":
        """Train from fresh weights and optimizer state on ``(X, y)`` (cold start).

        A module class gets new random weights; a module instance gets back the
        weights it had when it was given to the adapter. If training fails, the
        adapter is left as it was.

        Parameters
        ----------
        X : array-like, sparse matrix or tensor of shape (n_samples, ...)
            Training rows (cast to float32).
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            Labels, all in ``classes``; any subset of them. One-hot rows, one
            column per class, are read as their labels.
        **fit_params
            ``epochs`` (for this call only; ``max_epochs`` by default); the
            rest are passed to skorch's ``partial_fit`` (and so to the module's
            forward).

        Returns
        -------
        self : TorchAdapter
            The fitted adapter.
        """
        epochs = base.check_count(
            fit_params.pop("epochs", None), "epochs", allow_none=True
        )
        with base.unchanged_on_error(self, in_place=False):
            X, codes = self._training_data(X, y, reset=True)
            self._start(X, codes, fit_params, epochs=epochs)
        return self

    def partial_fit(
        self,
        X: Any,
        y: Any,
        classes: Any = None,
        epochs: int | None = None,
        **fit_params: Any,
    ) -> "TorchAdapter":
        """Continue training on ``(X, y)`` from the current weights (warm start).

        The first call initialises the network. Each call runs ``epochs`` epochs
        (``max_epochs`` by default) over ``(X, y)`` and keeps the optimizer state.
        If training raises (``KeyboardInterrupt`` included, which skorch alone
        would swallow), the adapter is put back as it was, from its
        :meth:`state_dict`.

        Parameters
        ----------
        X : array-like, sparse matrix or tensor of shape (n_samples, ...)
            Training rows (cast to float32).
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            Labels, all in ``classes``; any subset of them, or their one-hot rows.
        classes : array-like, default=None
            scikit-learn's convention; when given it must hold the same labels as
            the adapter's ``classes``.
        epochs : int, default=None
            Epochs for this call; None means ``max_epochs``.
        **fit_params
            Passed to skorch's ``partial_fit`` (and so to the module's forward).

        Returns
        -------
        self : TorchAdapter
            The adapter.
        """
        declared = _classes(self.classes)
        base.check_same_classes(classes, declared)
        epochs = base.check_count(epochs, "epochs", allow_none=True)
        # a pretrained start that never trained takes the cold path (same weights)
        fitted = "_row_shape" in vars(self) and self.__sklearn_is_fitted__()
        if fitted and not np.array_equal(declared, self.classes_):
            raise ValueError(
                f"classes changed from {self.classes_.tolist()} to "
                f"{declared.tolist()} since the last fit; call fit to start again"
            )
        if not fitted:
            with base.unchanged_on_error(self, in_place=False):
                X, codes = self._training_data(X, y, reset=True)
                self._start(X, codes, fit_params, epochs=epochs)
            return self
        X, codes = self._training_data(X, y, reset=False)
        nets.check_trainable(self.net_, X.shape[0])
        with base.unchanged_on_error(self, in_place=True):
            nets.fit_net(self.net_, X, codes, epochs=epochs, **fit_params)
        return self

    def _training_data(self, X, y, *, reset):
        classes = _classes(self.classes)
        X = data.check_rows(self, X, reset=reset, for_training=True)
        return X, base.encode_labels(y, classes, X.shape[0])

    def _start(self, X, codes, fit_params, epochs=None):
        """Build a fresh net, check it, train it, and only then make it ``net_``."""
        classes = _classes(self.classes)
        base.check_precision(self.precision)
        net = nets.build_net(self.module, self._routed_params, len(classes))
        nets.check_outputs(net, X, len(classes))
        nets.check_trainable(net, X.shape[0])
        nets.fit_net(net, X, codes, epochs=epochs, **fit_params)
        self.net_ = net
        self.classes_ = classes

    # -- scoring --------------------------------------------------------------

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Return the accuracy on ``(X, y)``; ``y`` may be one-hot."""
        return base.accuracy(self, X, y, sample_weight)


def _classes(classes):
    return base.check_classes(classes, "TorchAdapter")
