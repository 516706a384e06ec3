"""Scoring of a LightningAdapter: the module's forward, no Trainer.

``predict_proba``, ``sample_proba`` and ``embed`` run the fitted module on
slices of the rows in eval mode under ``torch.inference_mode`` on its device,
through the same :class:`~al_adapters.adapters._torch_inference.Scorer` as
TorchAdapter: no DataLoader, no predict loop, no hooks.
"""

from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from al_adapters import _chunking
from al_adapters.adapters import _consistent_dropout as consistent_dropout
from al_adapters.adapters import _torch_data as data
from al_adapters.adapters import _torch_inference as inference
from al_adapters.adapters import base

#: Lightning's precision names -> the autocast dtype scoring uses.
_SCORING_PRECISION = {
    "bf16": "bfloat16",
    "bf16-mixed": "bfloat16",
    "bf16-true": "bfloat16",
    "16": "float16",
    "16-mixed": "float16",
    "16-true": "float16",
}


class LightningScoringMixin:
    """Scoring methods of a LightningAdapter (``module_`` and ``device_`` fitted)."""

    module_: Any
    device_: Any
    classes_: Any
    predict_batch_size: Any
    embed_layer: Any
    _routed_params: dict[str, Any]

    def _scorer(self, batch_size=None):
        check_is_fitted(self)
        return inference.Scorer(
            self.module_,
            _softmax,
            len(self.classes_),
            _scoring_precision(self._routed_params.get("precision")),
            batch_size or self.predict_batch_size,
            vars(self).setdefault("_slice_sizes", _chunking.CpuPassTuner()),
        )

    def _device(self):
        if self.__sklearn_is_fitted__():
            return self.device_
        accelerator = str(self._routed_params.get("accelerator", "auto"))
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

    def sample_proba(
        self,
        X: Any,
        n_samples: int,
        random_state: Any = None,
        consistent: bool = False,
    ) -> Any:
        """Return MC-dropout samples of the class probabilities.

        Only the dropout layers (``nn.Dropout*``) run in train mode; BatchNorm
        uses its running statistics, no gradient is recorded, and weights and
        train/eval modes are unchanged afterwards. Without dropout layers every
        sample equals ``predict_proba(X)``, with a UserWarning.

        Parameters
        ----------
        X : array-like, sparse matrix or tensor of shape (n_samples_X, ...)
            Rows to score.
        n_samples : int
            Number of stochastic forward passes per row, T.
        random_state : int, RandomState instance, Generator or None, default=None
            Seeds the dropout masks (torch's generators are restored
            afterwards): the same value gives the same samples.
        consistent : bool, default=False
            If True, sample ``t`` of every row uses the same dropout masks
            ("consistent MC dropout", as BatchBALD needs), drawn from
            ``random_state``, the sample and the layer alone, as
            :meth:`TorchAdapter.sample_proba <al_adapters.TorchAdapter.sample_proba>`
            does.

        Returns
        -------
        samples : ndarray or tensor of shape (n_samples, n_samples_X, n_classes)
            float32; NumPy for host input, a tensor on the module's device for a
            tensor.
        """
        n_samples = base.check_count(n_samples, "n_samples")
        check_is_fitted(self)
        if not inference.has_dropout(self.module_):
            base.warn_not_stochastic("module")
        seed = consistent_dropout.call_seed(random_state) if consistent else None
        with inference.seeded(None if consistent else random_state, self.device_):
            return self._score(
                X, lambda scorer, rows: scorer.sample(rows, n_samples, seed)
            )

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


def _softmax(output):
    return torch.softmax(output, dim=-1)


def _scoring_precision(precision):
    return _SCORING_PRECISION.get(str(precision)) if precision is not None else None
