"""TorchAdapter's scoring half: probabilities, MC-dropout samples, embeddings.

The module runs on its device without skorch's DataLoader, host pools in
chunks of the library's chunk policy (``_chunking``), passes sized by the
``Scorer`` of ``_torch_inference``; host rows give NumPy results, tensors give
tensors on the module's device.
"""

from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from al_adapters import _chunking
from al_adapters.adapters import _consistent_dropout as consistent_dropout
from al_adapters.adapters import _torch_data as data
from al_adapters.adapters import _torch_inference as inference
from al_adapters.adapters import _torch_net as nets
from al_adapters.adapters import base


class TorchScoringMixin:
    """Scoring methods of a TorchAdapter: ``to_device`` to ``predict``."""

    # The adapter's own parameters and fitted parts this mixin reads.
    module: Any
    precision: Any
    predict_batch_size: Any
    net_: Any
    classes_: Any
    _routed_params: dict[str, Any]
    __sklearn_is_fitted__: Any

    def _scorer(self):
        check_is_fitted(self)
        return inference.Scorer(
            self.net_.module_,
            inference.output_nonlinearity(self.net_),
            len(self.classes_),
            self.precision,
            self.predict_batch_size,
            vars(self).setdefault("_slice_sizes", _chunking.CpuPassTuner()),
        )

    def _device(self):
        if self.__sklearn_is_fitted__():
            return inference.module_device(self.net_.module_)
        _, params = nets.net_class_and_params(self.module, self._routed_params)
        return torch.device(params["device"] or "cpu")

    def to_device(self, X: Any) -> "torch.Tensor":
        """Return rows ``X`` as a float32 tensor on the module's device.

        Host rows bound for a GPU go through pinned memory (an asynchronous
        copy); a tensor already there is returned as it is.

        Parameters
        ----------
        X : array-like, sparse matrix or tensor of shape (n_samples, ...)
            Rows.

        Returns
        -------
        rows : torch.Tensor of shape (n_samples, ...)
            float32, on the device of the fitted module (before fitting: of the
            ``device`` parameter).
        """
        return inference.to_device(X, self._device())

    def _score(self, X, score):
        """Run ``score(scorer, rows) -> tensor`` on ``X``: tensor or host chunks."""
        scorer = self._scorer()
        X = data.check_rows(self, X, reset=False, for_training=False)
        device = inference.module_device(self.net_.module_)
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

    def predict_proba(self, X: Any) -> Any:
        """Return class probabilities, columns in the order of ``classes_``.

        Runs the module in eval mode under ``torch.inference_mode`` on the
        module's device, in slices of ``predict_batch_size`` rows, and leaves the
        train/eval mode of every submodule as it found it.

        Parameters
        ----------
        X : array-like, sparse matrix or tensor of shape (n_samples, ...)
            Rows to score.

        Returns
        -------
        proba : ndarray or tensor of shape (n_samples, n_classes)
            float32. NumPy for host input; for a tensor, a tensor on the module's
            device (nothing is copied to the host).
        """
        return self._score(X, lambda scorer, rows: scorer.predict(rows))

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
            Seeds the dropout masks (through torch's generators, which are
            restored afterwards): the same value gives the same samples. None
            draws from torch's global generators, as dropout does in training.
        consistent : bool, default=False
            If True, sample ``t`` of every row uses the same dropout masks
            ("consistent MC dropout", as BatchBALD needs): each dropout layer
            draws one mask per sample over the features of its input (the
            channels for ``Dropout1d/2d/3d`` and ``FeatureAlphaDropout``),
            from ``random_state``, the sample and the layer alone, so the
            samples of a row do not depend on the other rows or on chunking.
            Other dropout subclasses raise TypeError.

        Returns
        -------
        samples : ndarray or tensor of shape (n_samples, n_samples_X, n_classes)
            float32; NumPy for host input, a tensor on the module's device for a
            tensor.
        """
        n_samples = base.check_count(n_samples, "n_samples")
        check_is_fitted(self)
        if not inference.has_dropout(self.net_.module_):
            base.warn_not_stochastic("module")
        seed = consistent_dropout.call_seed(random_state) if consistent else None
        with inference.seeded(None if consistent else random_state, self._device()):
            return self._score(
                X, lambda scorer, rows: scorer.sample(rows, n_samples, seed)
            )

    def embed(self, X: Any) -> Any:
        """Return the input of the module's final linear layer for each row.

        The features that diversity strategies (k-center, BADGE) work on: the
        module runs in eval mode, in slices of ``predict_batch_size`` rows, and
        each forward pass stops at its last ``nn.Linear`` layer (the last one
        registered).

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
        return self._score(
            X,
            lambda scorer, rows: inference.embed_rows(
                scorer.module, rows, self.predict_batch_size
            ),
        )

    def predict(self, X: Any) -> np.ndarray:
        """Return the most probable label of each row, from ``classes_``.

        Parameters
        ----------
        X : array-like, sparse matrix or tensor of shape (n_samples, ...)
            Rows to classify.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        proba = self.predict_proba(X)
        if isinstance(proba, torch.Tensor):
            proba = proba.argmax(dim=1).cpu().numpy()
            return self.classes_[proba]
        return self.classes_[np.argmax(proba, axis=1)]
