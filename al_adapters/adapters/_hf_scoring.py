"""Scoring of an HFAdapter: probabilities, MC-dropout samples, embeddings."""

from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from al_adapters.adapters import _consistent_dropout as consistent_dropout
from al_adapters.adapters import _hf_inference as inference
from al_adapters.adapters import _hf_inputs as inputs_of
from al_adapters.adapters import base
from al_adapters.adapters._hf_consistent_dropout import ConsistentDropout


class HFScoringMixin:
    """The scoring methods of :class:`~al_adapters.HFAdapter`.

    Needs the adapter's ``model_``, ``classes_``, ``_rows``, ``_encoder`` and
    ``_device``.
    """

    model_: Any
    classes_: Any
    embed_layer: Any
    predict_batch_size: Any
    precision: Any
    _rows: Any
    _encoder: Any
    _device: Any

    def to_device(self, X: Any) -> Any:
        """Return rows ``X`` marked for scoring on the model's device.

        A tensor, or a dict of tensors, is moved to the device. Rows that need
        tokenizing or collating are wrapped as they are and moved a forward pass
        at a time as they are scored, so a pool chunk never sits on the device
        whole. Scoring what this returns gives tensors on the device.

        Parameters
        ----------
        X : list of str, dict, Dataset, ndarray or tensor
            A chunk of pool rows.

        Returns
        -------
        rows : tensor, dict of tensors or DeviceRows
        """
        device = self._device()
        if isinstance(X, torch.Tensor):
            return X.to(device)
        if inputs_of.on_device(X):
            return {name: value.to(device) for name, value in X.items()}
        return inputs_of.DeviceRows(X)

    def _score(self, X, forward, keywords, method, *, dropout=False):
        batch_size = base.prediction_batch_size(keywords, method)
        check_is_fitted(self)
        tensor_out = inputs_of.on_device(X)
        X = self._rows(X, reset=False)
        if batch_size is None:
            batch_size = self.predict_batch_size or (
                64 if self._device().type == "cpu" else 256
            )
        with inference.modes(self.model_, dropout=dropout):
            out = inference.run(
                self.model_,
                self._encoder(),
                X,
                forward,
                batch_size=batch_size,
                precision=base.check_precision(self.precision),
            )
        return out if tensor_out else inference.to_host(out)

    def predict_proba(self, X: Any, **kwargs: Any) -> Any:
        """Return class probabilities, columns in the order of ``classes_``.

        The model runs in eval mode under ``torch.inference_mode`` on its
        device, ``predict_batch_size`` rows per pass; each pass is cut to its
        longest text.

        Parameters
        ----------
        X : list of str, dict, Dataset, ndarray or tensor
            Rows to score.
        **kwargs
            ``batch_size`` (rows per pass) and ``verbose`` (ignored).

        Returns
        -------
        proba : ndarray or tensor of shape (n_samples, n_classes)
            float32; a tensor on the model's device for tensor input.
        """
        model = getattr(self, "model_", None)
        return self._score(
            X,
            lambda inputs: inference.probabilities(model, inputs),
            kwargs,
            "predict_proba",
        )

    def sample_proba(
        self,
        X: Any,
        n_samples: int,
        random_state: Any = None,
        consistent: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Return MC-dropout samples of the class probabilities.

        The model's own dropout (its ``nn.Dropout`` layers and the attention
        dropout) is on: every submodule runs in train mode except BatchNorm and
        InstanceNorm layers, under ``torch.inference_mode``; modes and weights
        are as before afterwards.

        Parameters
        ----------
        X : list of str, dict, Dataset, ndarray or tensor
            Rows to score.
        n_samples : int
            Stochastic forward passes per row, T.
        random_state : int, RandomState instance, Generator or None, default=None
            Seeds the dropout masks (torch's generators are restored
            afterwards); None draws from torch's global generators.
        consistent : bool, default=False
            If True, sample ``t`` of every row uses the same dropout masks
            ("consistent MC dropout", as BatchBALD needs), drawn from
            ``random_state``, the sample and the dropout's rank in the forward
            pass alone, so a row's samples do not depend on the other rows,
            their order or the pass size. Covers ``nn.Dropout`` layers,
            ``functional.dropout`` (eager attention) and the ``dropout_p`` of
            ``scaled_dot_product_attention`` (SDPA attention); see
            :doc:`/hugging-face`.
        **kwargs
            ``batch_size`` and ``verbose``, as in :meth:`predict_proba`.

        Returns
        -------
        samples : ndarray or tensor of shape (n_samples, n_samples_X, n_classes)
        """
        n_samples = base.check_count(n_samples, "n_samples")
        check_is_fitted(self)
        if consistent:
            masks = ConsistentDropout(consistent_dropout.call_seed(random_state))
            with masks:
                return self._score(
                    X,
                    inference.sampler(self.model_, n_samples, masks),
                    kwargs,
                    "sample_proba",
                    dropout=True,
                )
        with inference.seeded(random_state, self._device()):
            return self._score(
                X,
                inference.sampler(self.model_, n_samples),
                kwargs,
                "sample_proba",
                dropout=True,
            )

    def embed(self, X: Any, **kwargs: Any) -> Any:
        """Return the representation the classification head reads, per row.

        The input of the head's final linear layer (for BERT, the pooler
        output), caught by a forward hook; see :doc:`/hugging-face` for how
        the layer is found for each architecture, and ``embed_layer``.

        Parameters
        ----------
        X : list of str, dict, Dataset, ndarray or tensor
            Rows to embed.
        **kwargs
            ``batch_size`` and ``verbose``, as in :meth:`predict_proba`.

        Returns
        -------
        features : ndarray or tensor of shape (n_samples, hidden_size)
            float32; a tensor on the model's device for tensor input.
        """
        check_is_fitted(self)
        head = inference.find_head(self.model_, self.embed_layer)
        return self._score(X, inference.embedder(self.model_, head), kwargs, "embed")

    def predict(self, X: Any, **kwargs: Any) -> np.ndarray:
        """Return the most probable label of each row, from ``classes_``."""
        proba = self.predict_proba(X, **kwargs)
        if isinstance(proba, torch.Tensor):
            return self.classes_[proba.argmax(dim=1).cpu().numpy()]
        return self.classes_[np.argmax(proba, axis=1)]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Return the accuracy on ``(X, y)``; ``y`` may be one-hot."""
        return base.accuracy(self, X, y, sample_weight)
