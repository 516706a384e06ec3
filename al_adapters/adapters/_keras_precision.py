"""Scoring a float32 Keras model in bfloat16 or float16, for one call.

A Keras 3 layer's dtype policy is fixed when it is made, and ``model.predict``
has no precision of its own, so the scope here switches the policies of the
model's float32 layers to the matching mixed policy and puts them back.
"""

import contextlib

import keras

from al_adapters.adapters import _keras_inference as inference
from al_adapters.adapters import base

#: The adapters' precision names -> the Keras dtype policies scoring runs under.
POLICIES = {"bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


@contextlib.contextmanager
def scoring_scope(model, device, precision):
    """Scope for scoring ``model`` on ``device`` in ``precision``.

    With a precision, every layer of ``model`` whose dtype policy is
    ``"float32"`` runs under the matching mixed policy for the scope: it casts
    its inputs and weights to ``precision`` and computes in it, while the
    weights themselves stay float32. Layers built with another policy keep it.
    The policies are put back on exit, so training is unaffected.

    Parameters
    ----------
    model : keras.Model
        The model about to be called (layers it shares with another model,
        such as an ``inference.embedder(model)``, run in ``precision`` too).
    device : str or None
        As ``inference.device_scope`` takes it.
    precision : {None, 'bfloat16', 'float16'}
        Checked by :func:`al_adapters.adapters.base.check_precision`.
    """
    precision = base.check_precision(precision)
    switched = []
    if precision is not None:
        policy = keras.DTypePolicy(POLICIES[precision])
        switched = [
            (layer, layer.dtype_policy)
            for layer in inference._layers(model)
            if layer.dtype_policy.name == "float32"
        ]
    try:
        for layer, _ in switched:
            layer.dtype_policy = policy
        with inference.device_scope(device):
            yield
    finally:
        for layer, own in switched:
            layer.dtype_policy = own
