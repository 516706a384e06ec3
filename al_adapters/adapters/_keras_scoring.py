"""KerasAdapter's scoring half: probabilities, MC-dropout samples, embeddings.

The model is called directly in large chunks on its device
(``_keras_inference``), under the adapter's precision (``_keras_precision``);
NumPy-like rows give NumPy results, backend tensors give tensors.
"""

from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted, validate_data

from al_adapters import _backend
from al_adapters.adapters import _keras_consistent_dropout as consistent_dropout
from al_adapters.adapters import _keras_inference as inference
from al_adapters.adapters import _keras_precision as precisions
from al_adapters.adapters import _keras_training as training
from al_adapters.adapters import base


class KerasScoringMixin:
    """Scoring methods of a KerasAdapter: ``predict_proba`` to ``to_device``."""

    # The adapter's own parameters and fitted parts this mixin reads.
    device: Any
    precision: Any
    classes_: Any
    model_: Any
    _logits: bool
    _routed_params: dict[str, Any]
    __sklearn_is_fitted__: Any

    def _rows(self, X):
        """Return ``X`` as float32 NumPy rows, or as a float32 backend tensor."""
        if inference.is_backend_tensor(X):
            X = inference.as_float32(X)
            inference.check_finite(X)
        else:
            X = validate_data(
                self, X, reset=False, dtype=np.float32, allow_nd=True, ensure_2d=True
            )
        self._check_row_shape(X.shape)
        return X

    def _check_row_shape(self, shape):
        expected = getattr(self, "_row_shape", None)
        if expected is not None and (len(shape) < 2 or tuple(shape[1:]) != expected):
            raise ValueError(
                f"X has rows of shape {tuple(shape[1:])}, but the model was fitted "
                f"on rows of shape {expected}"
            )

    def _scoring(self, model):
        return precisions.scoring_scope(model, self.device, self.precision)

    def _chunk_rows(self, batch_size=None):
        if batch_size is not None:
            return batch_size
        return self._routed_params.get("predict__batch_size")

    def predict_proba(self, X: Any, **predict_params: Any) -> Any:
        """Return the class probabilities of each row, columns ordered as ``classes_``.

        Parameters
        ----------
        X : array-like or backend tensor of shape (n_samples, ...)
            Rows to score. A tensor of the Keras backend (a ``tf.Tensor`` on
            TensorFlow, a ``torch.Tensor`` on torch) is scored where it is.
        **predict_params
            ``batch_size`` (rows per model call, for this call only) and
            ``verbose`` (accepted and ignored: nothing prints), as Keras users
            pass them; any other keyword raises a TypeError.

        Returns
        -------
        proba : ndarray or tensor of shape (n_samples, n_classes)
            float32; NumPy for NumPy-like input, else a backend tensor on the
            model's device.
        """
        batch_size = base.prediction_batch_size(predict_params, "predict_proba")
        check_is_fitted(self)
        X = self._rows(X)
        with self._scoring(self.model_):
            return inference.forward(
                self.model_, X, logits=self._logits, rows=self._chunk_rows(batch_size)
            )

    def predict(self, X: Any, **predict_params: Any) -> np.ndarray:
        """Return the most probable label of each row.

        Parameters
        ----------
        X : array-like or backend tensor of shape (n_samples, ...)
            Rows to classify.
        **predict_params
            ``batch_size`` and ``verbose``, as :meth:`predict_proba` takes them.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        proba = _backend.to_numpy(self.predict_proba(X, **predict_params))
        return self.classes_[np.argmax(proba, axis=1)]

    def sample_proba(
        self,
        X: Any,
        n_samples: int,
        random_state: Any = None,
        consistent: bool = False,
    ) -> Any:
        """Return MC-dropout samples of the class probabilities.

        Dropout (and other noise layers) are active; BatchNormalization runs in
        inference mode on its moving statistics; weights, statistics and the
        random state of later training are unchanged afterwards. A model
        without any gives identical samples, with a UserWarning.

        Parameters
        ----------
        X : array-like or backend tensor of shape (n, ...)
            Rows to score.
        n_samples : int
            Number of stochastic passes T.
        random_state : int, Generator, RandomState or None, default=None
            Seeds the model's dropout generators for this call only; the same
            seed gives the same samples. None continues the generators (with
            ``consistent=True``: draws a seed from Python's global generator,
            which ``keras.utils.set_random_seed`` seeds).
        consistent : bool, default=False
            If True, sample ``t`` of every row uses the same dropout masks
            ("consistent MC dropout", as BatchBALD needs): each ``Dropout``
            layer draws one mask per sample over the features of its input
            (over the channels for ``SpatialDropout1D/2D/3D``), from
            ``random_state``, the sample and the layer alone, so the samples
            of a row do not depend on the other rows, on chunking or on the
            backend. Other noise layers (``GaussianNoise``, ``AlphaDropout``,
            subclasses...) raise TypeError.

        Returns
        -------
        samples : ndarray or tensor of shape (n_samples, n, n_classes)
            float32; NumPy for NumPy-like input, else a backend tensor.
        """
        check_is_fitted(self)
        n_samples = base.check_count(n_samples, "n_samples")
        X = self._rows(X)
        model = self.model_
        if not inference.is_stochastic(model):
            base.warn_not_stochastic("model")
        scope: Any
        if consistent:
            seed = consistent_dropout.call_seed(random_state)
            scope = consistent_dropout.ConsistentMasks(model, seed)
        else:
            seeds = None
            if random_state is not None:
                seeds = training.draw_seeds(random_state, inference.seed_count(model))
            scope = inference.mc_dropout(model, seeds)
        with self._scoring(model), scope as masks:
            return inference.forward(
                model,
                X,
                n_samples=int(n_samples),
                training=not consistent,
                logits=self._logits,
                rows=self._chunk_rows(),
                masks=masks,
            )

    def embed(self, X: Any) -> Any:
        """Return the input of the model's final Dense layer for each row.

        The features that diversity strategies (k-center, BADGE) work on,
        computed in inference mode in the same chunks as ``predict_proba``.
        Needs a functional or Sequential model (one with defined inputs).

        Parameters
        ----------
        X : array-like or backend tensor of shape (n_samples, ...)
            Rows to embed.

        Returns
        -------
        features : ndarray or tensor of shape (n_samples, n_features_out)
            float32; NumPy for NumPy-like input, else a backend tensor.
        """
        check_is_fitted(self)
        X = self._rows(X)
        embedder = inference.embedder(self.model_)
        with self._scoring(self.model_):
            return inference.forward(embedder, X, rows=self._chunk_rows())

    def to_device(self, X: Any) -> Any:
        """Return rows as float32 on the model's device, for streaming strategies.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            A chunk of pool rows.

        Returns
        -------
        rows : backend tensor or ndarray
            A backend tensor on the model's device when the built-in strategies
            can score that backend's tensors; float32 NumPy otherwise (and
            before the adapter is fitted).
        """
        if inference.is_backend_tensor(X):
            return inference.as_float32(X)
        rows = np.asarray(X, dtype=np.float32)
        if not self.__sklearn_is_fitted__() or not inference.strategies_score_tensors():
            return rows
        with inference.device_scope(self.device):
            return inference.to_tensor(rows, self.model_)
