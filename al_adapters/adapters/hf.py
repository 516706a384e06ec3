"""HFAdapter: a Hugging Face ``transformers`` classifier as an active-learning model."""

try:
    import torch
    import transformers  # noqa: F401 - the extra this adapter needs
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "HFAdapter needs PyTorch and Hugging Face transformers: "
        'pip install "al-adapters[hf]"'
    ) from exc

import copy
from collections.abc import Mapping
from typing import Any

from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import validate_data

from al_adapters.adapters import _hf_inference as inference
from al_adapters.adapters import _hf_inputs as inputs_of
from al_adapters.adapters import _hf_training, base
from al_adapters.adapters._hf_scoring import HFScoringMixin
from al_adapters.adapters._hf_state import HFStateMixin

__all__ = ["HFAdapter"]


class HFAdapter(HFScoringMixin, HFStateMixin, ClassifierMixin, BaseEstimator):
    """A ``transformers`` classification model, fine-tuned by a loop of its own.

    Wraps any ``PreTrainedModel`` whose output has ``logits`` of shape
    ``(rows, len(classes))``: ``AutoModelForSequenceClassification``,
    ``AutoModelForImageClassification``, ``AutoModelForAudioClassification``, a
    ``peft`` model around one, or a model of your own. The model is never
    trained itself: every ``fit`` trains a fresh copy of it as it was given.

    Parameters
    ----------
    model : transformers.PreTrainedModel or peft.PeftModel
        The network, e.g. ``AutoModelForSequenceClassification.from_pretrained(
        name, num_labels=len(classes))``. Its ``num_labels`` must equal the
        number of classes.
    classes : array-like of shape (n_classes,)
        The labels, in the order of the model's outputs (logit ``i`` is
        ``classes[i]``). Labels may be ints or strings.
    tokenizer : callable, default=None
        A tokenizer or processor, called as ``tokenizer(texts, padding=True,
        truncation=True, max_length=max_length, return_tensors="pt")`` on each
        batch of raw text, and whose ``pad`` pads pre-tokenized rows of unequal
        length.
    collate_fn : callable, default=None
        ``collate_fn(rows) -> dict`` of the model's keyword arguments (tensors)
        for a batch of rows as the pool holds them (a list of strings, of
        images, a dict of columns...). Wins over the tokenizer.
    max_length : int, default=None
        Longest text in tokens; longer ones are truncated. None: the
        tokenizer's ``model_max_length``.
    text_column : str, default="text"
        The column of raw text in a ``dict`` or ``datasets.Dataset`` pool
        that has no tokenized columns.
    epochs : int, default=3
        Epochs per ``fit`` and per ``partial_fit`` call.
    batch_size : int, default=16
        Rows per training step.
    lr : float, default=5e-5
        Learning rate.
    weight_decay : float, default=0.0
        The optimizer's weight decay.
    optimizer : torch.optim.Optimizer class, default=None
        Built as ``optimizer(trainable_params, lr=lr,
        weight_decay=weight_decay)``; None means ``torch.optim.AdamW``.
    lr_scheduler : callable, default=None
        ``lr_scheduler(optimizer) -> scheduler``, stepped after every
        optimizer step, e.g. ``functools.partial(
        transformers.get_linear_schedule_with_warmup, num_warmup_steps=10,
        num_training_steps=1000)``. Kept across ``partial_fit`` calls.
    max_grad_norm : float, default=1.0
        Gradients are clipped to this norm; None does not clip.
    shuffle : bool, default=True
        Whether each epoch visits the rows in a new order (drawn from torch's
        global generator).
    device : str, default=None
        Where the model trains and scores: a torch device string, ``"auto"``
        (CUDA when available) or None (where the given model is).
    precision : {None, 'bfloat16', 'float16'}, default=None
        Autocast dtype for scoring (``predict_proba``, ``sample_proba``,
        ``embed``); results are float32 either way.
    predict_batch_size : int, default=None
        Rows per forward pass when scoring; None: 64 on a CPU, 256 on an
        accelerator.
    embed_layer : str, default=None
        Name of the layer whose input :meth:`embed` returns; None finds the
        final linear layer of the classification head.
    callbacks : list of callable, default=None
        Each is called as ``callback(adapter, epoch)`` after every epoch.

    Attributes
    ----------
    model_ : torch.nn.Module
        The fine-tuned copy of ``model``.
    optimizer_ : torch.optim.Optimizer
        Its optimizer, kept across ``partial_fit`` calls.
    scheduler_ : object or None
        Its learning-rate scheduler.
    classes_ : ndarray of shape (n_classes,)
        ``np.asarray(classes)``.
    n_steps_ : int
        Optimizer steps taken since the last ``fit``.

    Notes
    -----
    Pools hold raw text (a list or array of strings), pre-tokenized columns (a
    ``dict``, ``BatchEncoding`` or ``datasets.Dataset``) or numbers (a NumPy
    array or torch tensor fed as the model's main input, e.g. ``input_ids``
    or ``pixel_values``). NumPy, lists, dicts of lists and datasets give NumPy
    out; a tensor, a dict of tensors or what :meth:`to_device` returns gives
    tensors on the model's device.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from transformers import BertConfig, BertForSequenceClassification
    >>> from al_adapters import HFAdapter
    >>> _ = torch.manual_seed(0)
    >>> config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
    ...                     num_attention_heads=2, intermediate_size=32,
    ...                     num_labels=2)
    >>> adapter = HFAdapter(BertForSequenceClassification(config),
    ...                     classes=["neg", "pos"], epochs=1)
    >>> input_ids = np.random.default_rng(0).integers(1, 50, size=(8, 6))
    >>> adapter.fit(input_ids, ["neg", "pos"] * 4).predict_proba(input_ids).shape
    (8, 2)
    >>> adapter.embed(input_ids).shape  # the pooler output the classifier reads
    (8, 16)
    """

    def __init__(
        self,
        model: Any,
        *,
        classes: Any,
        tokenizer: Any = None,
        collate_fn: Any = None,
        max_length: int | None = None,
        text_column: str = "text",
        epochs: int = 3,
        batch_size: int = 16,
        lr: float = 5e-5,
        weight_decay: float = 0.0,
        optimizer: Any = None,
        lr_scheduler: Any = None,
        max_grad_norm: float | None = 1.0,
        shuffle: bool = True,
        device: str | None = None,
        precision: str | None = None,
        predict_batch_size: int | None = None,
        embed_layer: str | None = None,
        callbacks: list | None = None,
    ) -> None:
        self.model = model
        self.classes = classes
        self.tokenizer = tokenizer
        self.collate_fn = collate_fn
        self.max_length = max_length
        self.text_column = text_column
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.optimizer = optimizer
        self.lr_scheduler = lr_scheduler
        self.max_grad_norm = max_grad_norm
        self.shuffle = shuffle
        self.device = device
        self.precision = precision
        self.predict_batch_size = predict_batch_size
        self.embed_layer = embed_layer
        self.callbacks = callbacks

    # -- training -------------------------------------------------------------

    def fit(self, X: Any, y: Any, **kwargs: Any) -> "HFAdapter":
        """Train a fresh copy of ``model`` on ``(X, y)`` (cold start).

        Parameters
        ----------
        X : list of str, dict, Dataset, ndarray or tensor
            Training rows (see the class notes).
        y : array-like of shape (n_samples,)
            Labels from ``classes`` (or one-hot).
        **kwargs
            ``epochs``: this call's epoch count.

        Returns
        -------
        self : HFAdapter
        """
        base.check_keywords(kwargs, ("epochs",), "fit")
        epochs = base.check_count(kwargs.get("epochs"), "epochs", allow_none=True)
        with base.unchanged_on_error(self, in_place=False):
            X, codes = self._training_data(X, y, reset=True)
            self._build(X)
            _hf_training.train(
                self, X, codes, epochs or base.check_count(self.epochs, "epochs")
            )
        return self

    def partial_fit(
        self, X: Any, y: Any, classes: Any = None, epochs: int | None = None
    ) -> "HFAdapter":
        """Continue training from the current weights, optimizer and scheduler.

        The first call initialises (as ``fit``).

        Parameters
        ----------
        X : list of str, dict, Dataset, ndarray or tensor
            Training rows.
        y : array-like of shape (n_samples,)
            Labels from ``classes``.
        classes : array-like, default=None
            If given, the adapter's classes in any order.
        epochs : int, default=None
            This call's epoch count; None: ``epochs``.

        Returns
        -------
        self : HFAdapter
        """
        base.check_same_classes(classes, self._classes())
        epochs = base.check_count(epochs, "epochs", allow_none=True)
        if not hasattr(self, "model_"):
            return self.fit(X, y) if epochs is None else self.fit(X, y, epochs=epochs)
        with base.unchanged_on_error(self, in_place=True):
            X, codes = self._training_data(X, y, reset=False)
            _hf_training.train(
                self, X, codes, epochs or base.check_count(self.epochs, "epochs")
            )
        return self

    def _classes(self):
        return base.check_classes(self.classes, "HFAdapter")

    def _training_data(self, X, y, *, reset):
        X = self._rows(X, reset=reset)
        return X, base.encode_labels(y, self._classes(), inputs_of.n_rows(X))

    def _build(self, X=None):
        """Make ``model_`` (a fresh copy of ``model``), its optimizer and scheduler.

        Lazy layers (``nn.LazyLinear``...) take their shapes from a first
        forward pass on a row of ``X``.
        """
        classes = self._classes()
        base.check_precision(self.precision)
        base.check_count(self.batch_size, "batch_size")
        n_labels = getattr(getattr(self.model, "config", None), "num_labels", None)
        if n_labels is not None and n_labels != len(classes):
            raise ValueError(
                f"the model has {n_labels} outputs (config.num_labels) but classes "
                f"holds {len(classes)} labels; build the model with "
                f"num_labels={len(classes)}"
            )
        model = copy.deepcopy(self.model).to(self._target_device()).eval()
        if X is not None and _hf_training.has_lazy_parameters(model):
            self.model_ = model
            with torch.no_grad():
                encode = self._encoder()
                model(**encode(inputs_of.take(X, slice(0, 2)), self._target_device()))
        optimizer = self.optimizer or torch.optim.AdamW
        self.model_ = model
        self.optimizer_ = _hf_training.build_optimizer(
            model, optimizer, self.lr, self.weight_decay
        )
        self.scheduler_ = (
            None if self.lr_scheduler is None else self.lr_scheduler(self.optimizer_)
        )
        self.n_steps_ = 0
        self.classes_ = classes

    def _target_device(self):
        if self.device is None:
            return inference.model_device(self.model)
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def _trainable_only(self):
        return inference.is_peft(self.model_)

    # -- rows -----------------------------------------------------------------

    def _rows(self, X, *, reset):
        """Check rows ``X``; numeric host rows go through ``validate_data``."""
        if isinstance(X, inputs_of.DeviceRows) or inputs_of.is_text(X):
            return X
        if isinstance(X, Mapping) or inputs_of.is_dataset(X):
            if inputs_of.n_rows(X) == 0:
                raise ValueError("X is empty: it has 0 rows")
            return X
        if isinstance(X, torch.Tensor):
            if X.ndim < 2 or X.shape[0] == 0:
                raise ValueError(
                    f"X must be a tensor of one row per sample, got shape "
                    f"{tuple(X.shape)}"
                )
            inference.check_finite(X)
            self._check_width(X.shape[1], reset)
            return X
        X = validate_data(
            self, X, reset=reset, dtype="numeric", allow_nd=True, ensure_all_finite=True
        )
        return X

    def _check_width(self, width, reset):
        if reset:
            self.n_features_in_ = int(width)
        elif hasattr(self, "n_features_in_") and width != self.n_features_in_:
            raise ValueError(
                f"X has {width} features, but HFAdapter is expecting "
                f"{self.n_features_in_} features as input."
            )

    def _encoder(self):
        return inputs_of.Encoder(
            self.model_,
            self.tokenizer,
            self.collate_fn,
            self.max_length,
            self.text_column,
        )

    def _device(self):
        if hasattr(self, "model_"):
            return inference.model_device(self.model_)
        return self._target_device()
