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
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from al_adapters.adapters import _lightning_training as training
from al_adapters.adapters import _torch_data as data
from al_adapters.adapters import _torch_inference as inference
from al_adapters.adapters import base
from al_adapters.adapters._lightning_scoring import LightningScoringMixin
from al_adapters.adapters._lightning_state import LightningStateMixin

__all__ = ["LightningAdapter"]

_FITTED = ("module_", "classes_", "n_features_in_", "_row_shape", "_states")


class LightningAdapter(
    LightningScoringMixin,
    LightningStateMixin,
    base.RoutedParams,
    ClassifierMixin,
    BaseEstimator,
):
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
        self._routed_params = trainer_params

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
        module = training.fresh_copy(self.module)
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
                params=self._routed_params,
                epochs=epochs,
                states=carried,
                verbose=self.verbose,
            )


def _classes(classes):
    return base.check_classes(classes, "LightningAdapter")


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
