"""LightningAdapter: a LightningModule as a scikit-learn classifier."""

try:
    import torch

    try:
        import lightning.pytorch  # noqa: F401
    except ImportError:
        import pytorch_lightning  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "LightningAdapter needs torch and lightning; install them with "
        'pip install "al-adapters[lightning]"'
    ) from exc

import contextlib
import copy
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from al_adapters import _chunking
from al_adapters.adapters import _lightning_state as states
from al_adapters.adapters import _lightning_training as training
from al_adapters.adapters import _torch_data as data
from al_adapters.adapters import _torch_inference as inference
from al_adapters.adapters import base
from al_adapters.protocol import ModelState

__all__ = ["LightningAdapter"]

_OWN_PARAMS = (
    "module",
    "classes",
    "batch_size",
    "shuffle",
    "random_state",
    "predict_batch_size",
    "embed_layer",
    "verbose",
)

#: Lightning's precision names -> the autocast dtype scoring uses.
_SCORING_PRECISION = {
    "bf16": "bfloat16",
    "bf16-mixed": "bfloat16",
    "bf16-true": "bfloat16",
    "16": "float16",
    "16-mixed": "float16",
    "16-true": "float16",
}

_FITTED = ("module_", "classes_", "n_features_in_", "_row_shape", "_states")


class LightningAdapter(ClassifierMixin, BaseEstimator):
    """A LightningModule, trained by a Lightning ``Trainer``, as a classifier.

    The module's own ``training_step`` and ``configure_optimizers`` train it;
    each ``fit`` and ``partial_fit`` runs a new ``Trainer`` built from the
    adapter's Trainer arguments. ``fit`` is always a cold start and
    ``partial_fit`` a warm one that carries the optimizer and learning-rate
    scheduler state over from the previous call. Scoring calls the module's
    ``forward`` directly, in eval mode under ``torch.inference_mode`` on the
    module's device, without the Trainer's predict loop.

    Parameters
    ----------
    module : LightningModule
        The network, from ``lightning.pytorch`` or ``pytorch_lightning``. Its
        ``forward(X)`` returns one logit per class; its ``training_step(batch,
        batch_idx)`` gets ``batch = (X, y)``, ``y`` holding the positions of the
        labels in ``classes`` (int64), and returns the loss. The instance is
        never trained itself: each cold start trains a fresh copy of it as it
        was given (a pretrained module is where every cold start begins).
    classes : array-like of shape (n_classes,)
        The labels, in the order of the module's outputs: output ``i`` is
        ``classes[i]``. Labels may be ints or strings.
    batch_size : int, default=32
        Rows per training step.
    shuffle : bool, default=True
        Whether each epoch visits the labelled rows in a new random order
        (drawn from torch's generator).
    random_state : int or None, default=None
        Seeds torch's generator (weight-independent randomness: shuffling,
        dropout) at the start of each ``fit`` and ``partial_fit``; the global
        generators are put back afterwards. None draws from torch's global
        generator, as Lightning does.
    predict_batch_size : int, default=None
        Rows per forward pass when scoring; None picks one from the device and
        the row size, as :class:`~al_adapters.TorchAdapter` does.
    embed_layer : str, default=None
        Name of the submodule (``module.get_submodule`` path, e.g. ``"head"``)
        whose input :meth:`embed` returns. None: the module's last registered
        ``nn.Linear``.
    verbose : bool, default=False
        Let Lightning log its messages ("GPU available: ...") during training.
    **trainer_params
        ``lightning.pytorch.Trainer`` arguments: ``max_epochs`` (epochs per
        call), ``accelerator``, ``precision``, ``gradient_clip_val``,
        ``callbacks``, ``accumulate_grad_batches``, ``deterministic``... The
        adapter's defaults: ``max_epochs=10``, ``devices=1``, ``logger=False``,
        ``enable_checkpointing=False``, ``enable_progress_bar=False``,
        ``enable_model_summary=False``, ``num_sanity_val_steps=0`` and
        ``limit_val_batches=0``, so that nothing is written or printed and no
        validation loop runs unless asked for. A mixed or half ``precision``
        (``"bf16-mixed"``, ``"16-mixed"``...) also makes scoring autocast to
        that dtype; results are float32 either way.

    Attributes
    ----------
    module_ : LightningModule
        The fitted module, in eval mode on the device it trained on.
    classes_ : ndarray of shape (n_classes,)
        ``np.asarray(classes)``, whatever labels one call's ``y`` holds.
    n_features_in_ : int
        Number of features (size of the second axis) seen at the first fit.
    device_ : torch.device
        The device the module trained on, where scoring runs.

    Notes
    -----
    **What a warm start keeps.** ``partial_fit`` continues from the current
    weights, and from the state of every optimizer and scheduler that
    ``configure_optimizers`` returns (Adam's step count and moments, the
    scheduler's position), loaded into the new Trainer's ones before its first
    step. The Trainer's own counters (``current_epoch``, ``global_step``) start
    at zero in each call; a mixed-precision gradient scaler starts afresh.

    **Scoring.** ``predict_proba``, ``sample_proba`` and ``embed`` run the
    module's ``forward`` on slices of the rows and never build a Trainer, which
    costs its setup and a DataLoader per call; see the "Lightning" page of the
    documentation for the measured difference.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> import lightning.pytorch as pl
    >>> from al_adapters import LightningAdapter
    >>> class Net(pl.LightningModule):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.layer = torch.nn.Linear(4, 2)
    ...     def forward(self, X):
    ...         return self.layer(X)
    ...     def training_step(self, batch, batch_idx):
    ...         X, y = batch
    ...         return torch.nn.functional.cross_entropy(self(X), y)
    ...     def configure_optimizers(self):
    ...         return torch.optim.Adam(self.parameters(), lr=0.1)
    >>> _ = torch.manual_seed(0)
    >>> X = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
    >>> y = np.where(X[:, 0] > 0, "pos", "neg")
    >>> adapter = LightningAdapter(Net(), classes=["neg", "pos"], max_epochs=20)
    >>> adapter.fit(X, y).predict_proba(X[:3]).shape
    (3, 2)
    >>> adapter.partial_fit(X[:5], y[:5], epochs=1).predict(X[:3]).tolist()
    ['pos', 'neg', 'neg']
    """

    _states: Any
    _row_shape: tuple[int, ...]

    def __init__(
        self,
        module: Any,
        *,
        classes: Any,
        batch_size: int = 32,
        shuffle: bool = True,
        random_state: int | None = None,
        predict_batch_size: int | None = None,
        embed_layer: str | None = None,
        verbose: bool = False,
        **trainer_params: Any,
    ) -> None:
        self.module = module
        self.classes = classes
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.random_state = random_state
        self.predict_batch_size = predict_batch_size
        self.embed_layer = embed_layer
        self.verbose = verbose
        self._trainer_params = trainer_params

    # -- parameters -----------------------------------------------------------

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Return the adapter's parameters, the Trainer's included.

        Parameters
        ----------
        deep : bool, default=True
            Ignored: the module is one parameter.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        params = {name: getattr(self, name) for name in _OWN_PARAMS}
        return {**params, **self._trainer_params}

    def set_params(self, **params: Any) -> "LightningAdapter":
        """Set parameters; they apply from the next ``fit`` or ``partial_fit``.

        Parameters
        ----------
        **params
            Parameter names and values (the adapter's and the Trainer's).

        Returns
        -------
        self : LightningAdapter
            The adapter.
        """
        for name in _OWN_PARAMS:
            if name in params:
                setattr(self, name, params.pop(name))
        self._trainer_params.update(params)
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = True
        tags.input_tags.sparse = True
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        return "module_" in vars(self)

    # -- fitting --------------------------------------------------------------

    def fit(self, X: Any, y: Any, **fit_params: Any) -> "LightningAdapter":
        """Train a fresh copy of ``module`` on ``(X, y)`` (cold start).

        The copy has the weights the module had when it was given to the
        adapter, and ``configure_optimizers`` gives it a new optimizer. If
        training fails (``KeyboardInterrupt`` included), the adapter is left as
        it was.

        Parameters
        ----------
        X : array-like, sparse matrix or tensor of shape (n_samples, ...)
            Training rows (cast to float32).
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            Labels, all in ``classes``; any subset of them, or their one-hot
            rows.
        **fit_params
            ``epochs``: the number of epochs of this call (``max_epochs`` by
            default).

        Returns
        -------
        self : LightningAdapter
            The fitted adapter.
        """
        epochs = fit_params.pop("epochs", None)
        base.check_keywords(fit_params, (), "fit")
        epochs = base.check_count(epochs, "epochs", allow_none=True)
        with base.unchanged_on_error(self, in_place=False):
            X, codes = self._training_data(X, y, reset=True)
            self._start(X, codes, epochs)
        return self

    def partial_fit(
        self,
        X: Any,
        y: Any,
        classes: Any = None,
        epochs: int | None = None,
        **fit_params: Any,
    ) -> "LightningAdapter":
        """Continue training on ``(X, y)`` from the current state (warm start).

        The first call initialises, as :meth:`fit` does. Later calls train the
        fitted module on, with its optimizers and schedulers in the state the
        previous call left them in. If training raises, the adapter is put
        back as it was, from its :meth:`state_dict`.

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
            None are taken; an unknown keyword raises a TypeError naming it.

        Returns
        -------
        self : LightningAdapter
            The adapter.
        """
        base.check_keywords(fit_params, (), "partial_fit")
        declared = _classes(self.classes)
        base.check_same_classes(classes, declared)
        epochs = base.check_count(epochs, "epochs", allow_none=True)
        if not self.__sklearn_is_fitted__():
            with base.unchanged_on_error(self, in_place=False):
                X, codes = self._training_data(X, y, reset=True)
                self._start(X, codes, epochs)
            return self
        if not np.array_equal(declared, self.classes_):
            raise ValueError(
                f"classes changed from {self.classes_.tolist()} to "
                f"{declared.tolist()} since the last fit; call fit to start again"
            )
        X, codes = self._training_data(X, y, reset=False)
        with base.unchanged_on_error(self, in_place=True):
            self._states, self.device_ = self._train(
                self.module_, X, codes, epochs, self._states
            )
        return self

    def _training_data(self, X, y, *, reset):
        classes = _classes(self.classes)
        X = data.check_rows(self, X, reset=reset, for_training=True)
        return X, base.encode_labels(y, classes, X.shape[0])

    def _start(self, X, codes, epochs):
        """Train a fresh copy of the module, and only then make it ``module_``."""
        classes = _classes(self.classes)
        module = _fresh_copy(self.module)
        _check_outputs(module, X, len(classes))
        states_, device = self._train(module, X, codes, epochs, None)
        self.module_, self.classes_, self._states, self.device_ = (
            module,
            classes,
            states_,
            device,
        )

    def _train(self, module, X, codes, epochs, carried):
        batch_size = base.check_count(self.batch_size, "batch_size")
        seeded = self.random_state is not None
        # unseeded training draws from torch's generator, as Lightning does
        with base.restoring_global_generators() if seeded else contextlib.nullcontext():
            if seeded:
                torch.manual_seed(inference.seed_from(self.random_state))
            loader = training.loader(
                X, codes, batch_size=batch_size, shuffle=bool(self.shuffle)
            )
            return training.train(
                module,
                loader,
                params=self._trainer_params,
                epochs=epochs,
                states=carried,
                verbose=self.verbose,
            )

    # -- scoring --------------------------------------------------------------

    def _scorer(self, batch_size=None):
        check_is_fitted(self)
        return inference.Scorer(
            self.module_,
            _softmax,
            len(self.classes_),
            _scoring_precision(self._trainer_params.get("precision")),
            batch_size or self.predict_batch_size,
            vars(self).setdefault("_slice_sizes", _chunking.CpuPassTuner()),
        )

    def _device(self):
        if self.__sklearn_is_fitted__():
            return self.device_
        accelerator = str(self._trainer_params.get("accelerator", "auto"))
        wants_gpu = accelerator in ("gpu", "cuda") or accelerator == "auto"
        return torch.device(
            "cuda" if wants_gpu and torch.cuda.is_available() else "cpu"
        )

    def to_device(self, X: Any) -> "torch.Tensor":
        """Return rows ``X`` as a float32 tensor on the module's device.

        Parameters
        ----------
        X : array-like, sparse matrix or tensor of shape (n_samples, ...)
            Rows.

        Returns
        -------
        rows : torch.Tensor of shape (n_samples, ...)
            float32, on the device the module trained on (before fitting: the
            one the ``accelerator`` argument names, CUDA for ``"auto"`` when
            there is one).
        """
        return inference.to_device(X, self._device())

    def _score(self, X, score, batch_size=None):
        """Run ``score(scorer, rows) -> tensor`` on ``X``: tensor or host chunks."""
        scorer = self._scorer(batch_size)
        X = data.check_rows(self, X, reset=False, for_training=False)
        device = self.device_
        if isinstance(X, torch.Tensor):
            return score(scorer, X.to(device))
        row_bytes = _chunking.row_bytes_of(X.shape[1:])
        step = _chunking.chunk_rows(row_bytes, outputs_per_row=len(self.classes_))
        parts = [
            score(scorer, inference.to_device(X[start : start + step], device))
            for start in range(0, X.shape[0], step)
        ]
        out = parts[0] if len(parts) == 1 else torch.cat(parts, dim=-2)
        return out.cpu().numpy()

    def predict_proba(self, X: Any, **kwargs: Any) -> Any:
        """Return class probabilities (softmax of ``forward``), ordered as ``classes_``.

        Parameters
        ----------
        X : array-like, sparse matrix or tensor of shape (n_samples, ...)
            Rows to score.
        **kwargs
            ``batch_size`` (rows per forward pass for this call) and
            ``verbose`` (ignored).

        Returns
        -------
        proba : ndarray or tensor of shape (n_samples, n_classes)
            float32. NumPy for host input; for a tensor, a tensor on the module's
            device (nothing is copied to the host).
        """
        batch_size = base.prediction_batch_size(kwargs, "predict_proba")
        return self._score(X, lambda scorer, rows: scorer.predict(rows), batch_size)

    def sample_proba(self, X: Any, n_samples: int, random_state: Any = None) -> Any:
        """Return MC-dropout samples of the class probabilities.

        Only the dropout layers (``nn.Dropout*``) run in train mode; BatchNorm
        uses its running statistics, no gradient is recorded, and weights and
        train/eval modes are unchanged afterwards.

        Parameters
        ----------
        X : array-like, sparse matrix or tensor of shape (n_samples_X, ...)
            Rows to score.
        n_samples : int
            Number of stochastic forward passes per row, T.
        random_state : int, RandomState instance, Generator or None, default=None
            Seeds the dropout masks (torch's generators are restored
            afterwards): the same value gives the same samples.

        Returns
        -------
        samples : ndarray or tensor of shape (n_samples, n_samples_X, n_classes)
            float32; NumPy for host input, a tensor on the module's device for a
            tensor.
        """
        n_samples = base.check_count(n_samples, "n_samples")
        check_is_fitted(self)
        with inference.seeded(random_state, self.device_):
            return self._score(X, lambda scorer, rows: scorer.sample(rows, n_samples))

    def embed(self, X: Any) -> Any:
        """Return the input of the final linear layer (or ``embed_layer``) per row.

        Parameters
        ----------
        X : array-like, sparse matrix or tensor of shape (n_samples, ...)
            Rows to embed.

        Returns
        -------
        features : ndarray or tensor of shape (n_samples, n_features_out)
            float32; NumPy for host input, a tensor on the module's device for a
            tensor.
        """
        check_is_fitted(self)
        layer = None
        if self.embed_layer is not None:
            layer = self.module_.get_submodule(self.embed_layer)
        return self._score(
            X,
            lambda scorer, rows: inference.embed_rows(
                scorer.module, rows, self.predict_batch_size, layer=layer
            ),
        )

    def predict(self, X: Any, **kwargs: Any) -> np.ndarray:
        """Return the most probable label of each row, from ``classes_``.

        Parameters
        ----------
        X : array-like, sparse matrix or tensor of shape (n_samples, ...)
            Rows to classify.
        **kwargs
            As for :meth:`predict_proba`.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        proba = self.predict_proba(X, **kwargs)
        if isinstance(proba, torch.Tensor):
            return self.classes_[proba.argmax(dim=1).cpu().numpy()]
        return self.classes_[np.argmax(proba, axis=1)]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Return the accuracy on ``(X, y)``; ``y`` may be one-hot."""
        return base.accuracy(self, X, y, sample_weight)

    # -- state ----------------------------------------------------------------

    def state_dict(self) -> ModelState:
        """Return the adapter's state: host arrays plus JSON-able metadata.

        Arrays: ``module.*`` (weights and buffers) and
        ``optimizer.<k>.state.<i>.<name>`` (optimizer ``k``'s state tensors),
        each copied to the host. Metadata: the format, ``fitted``, ``classes``,
        ``row_shape``, the optimizers' parameter groups and scalar state, and
        the schedulers' states.

        Returns
        -------
        state : ModelState
            See :mod:`al_adapters.protocol` for the format.
        """
        if not self.__sklearn_is_fitted__():
            return states.unfitted_state()
        return states.model_state(
            self.module_, self._states, self.classes_, self._row_shape
        )

    def load_state_dict(self, state: ModelState) -> "LightningAdapter":
        """Put the adapter back in ``state``, a :meth:`state_dict` of it.

        An unfitted adapter first makes its fresh copy of ``module``, as
        ``fit`` would. A state of an unfitted adapter makes the adapter
        unfitted.

        Parameters
        ----------
        state : ModelState
            What :meth:`state_dict` returned, for the same ``classes``.

        Returns
        -------
        self : LightningAdapter
            The adapter.
        """
        classes = _classes(self.classes)
        meta = states.check_format(state, classes)
        if not meta["fitted"]:
            for name in (*_FITTED, "device_"):
                self.__dict__.pop(name, None)
            return self
        if self.__sklearn_is_fitted__():
            module, device = self.module_, self.device_
        else:
            module, device = _fresh_copy(self.module), self._device()
        module.load_state_dict(states.weights(state))
        module.to(device).eval()
        self.module_, self.classes_, self.device_ = module, classes, device
        self._states = states.optimizer_states(state)
        self._row_shape = tuple(meta["row_shape"])
        self.n_features_in_ = self._row_shape[0]
        return self


def _classes(classes):
    return base.check_classes(classes, "LightningAdapter")


def _fresh_copy(module):
    training.framework_of(module)
    return copy.deepcopy(module)


def _softmax(output):
    return torch.softmax(output, dim=-1)


def _scoring_precision(precision):
    return _SCORING_PRECISION.get(str(precision)) if precision is not None else None


def _check_outputs(module, X, n_classes):
    """Raise ValueError unless ``forward`` gives one column per class."""
    rows = inference.to_device(X[:2], inference.module_device(module))
    with inference.scoring_mode(module), torch.inference_mode():
        output = inference.first_output(module(rows))
    if output.ndim != 2 or output.shape[1] != n_classes:
        raise ValueError(
            f"the module's forward returns shape {tuple(output.shape)} for "
            f"{rows.shape[0]} rows, but there are {n_classes} classes: it must "
            f"return ({rows.shape[0]}, {n_classes}) logits"
        )
