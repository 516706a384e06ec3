"""Consistent MC dropout for Keras models: one mask per sample, shared by every row.

As for TorchAdapter (``_consistent_dropout``), sample ``t`` of every row comes
from the same draw of the model (Kirsch et al., 2019, "BatchBALD"): each
dropout layer uses, for sample ``t``, one mask over the features of its input
(over the channels for ``SpatialDropout1D/2D/3D``), broadcast over the rows.
The mask is drawn on the host by a NumPy generator seeded by
``(seed, t, layer index)`` alone, so it does not depend on how the pool is
chunked, on the order of the rows, on the device or on the Keras backend.

The model runs in inference mode (``training=False``: BatchNormalization on its
moving statistics, no seed generator advanced); for the length of the scope the
``call`` of each dropout layer is replaced by one that multiplies its input by
the mask of the current sample, :attr:`ConsistentMasks.sample`. On JAX these
passes run eagerly: a compiled call would keep the masks it was traced with.
"""

import random

import keras
import numpy as np

from al_adapters.adapters import _keras_inference as inference
from al_adapters.adapters import _keras_training as training

#: Layers whose mask covers every feature (or ``noise_shape``).
ELEMENT_LAYERS = (keras.layers.Dropout,)
#: Layers whose mask covers the channels, by number of spatial dimensions.
CHANNEL_LAYERS = {
    keras.layers.SpatialDropout1D: 1,
    keras.layers.SpatialDropout2D: 2,
    keras.layers.SpatialDropout3D: 3,
}
SUPPORTED = (*ELEMENT_LAYERS, *CHANNEL_LAYERS)


def call_seed(random_state):
    """Return the int seed of one consistent ``sample_proba`` call.

    None draws one from Python's global generator, which
    ``keras.utils.set_random_seed`` seeds, so the samples follow it.
    """
    if random_state is None:
        return random.getrandbits(63)
    return training.draw_seeds(random_state, 1)[0]


def dropout_layers(model):
    """Return the layers of ``model`` that draw noise, in order.

    Raises TypeError for any of them that is not a supported dropout layer
    (noise layers, subclasses, custom layers with a seed generator): their
    draws cannot be shared across rows.
    """
    layers = inference.stochastic_layers(model)
    for layer in layers:
        if type(layer) not in SUPPORTED:
            raise TypeError(
                f"consistent=True supports the layers "
                f"{', '.join(t.__name__ for t in SUPPORTED)}; layer "
                f"{layer.name!r} is a {type(layer).__name__}, whose draws cannot "
                "be shared across rows"
            )
    return layers


class ConsistentMasks:
    """Context manager: the dropout layers of ``model`` apply shared masks.

    Call the model with ``training=False`` inside it, once per sample, with
    :attr:`sample` set to the sample's index.

    Parameters
    ----------
    model : keras.Model
        The model.
    seed : int
        Seed of the masks: sample ``t`` of layer ``i`` uses a generator seeded
        by ``(seed, t, i)``.
    """

    def __init__(self, model, seed):
        self.layers = dropout_layers(model)
        self.seed = int(seed) % 2**64
        #: Index of the sample the next forward pass computes.
        self.sample = 0
        self._masks = {}

    def __enter__(self):
        for index, layer in enumerate(self.layers):
            # an instance attribute: Layer.__call__ looks ``call`` up on the layer
            object.__setattr__(layer, "call", self._call(index, layer))
        return self

    def __exit__(self, *exc_info):
        for layer in self.layers:
            object.__delattr__(layer, "call")
        self._masks.clear()

    def _call(self, index, layer):
        def call(inputs, *args, **kwargs):
            return inputs * self._mask(index, layer, inputs)

        return call

    def _mask(self, index, layer, x):
        shape = mask_shape(layer, tuple(x.shape))
        key = (index, self.sample, shape, keras.backend.standardize_dtype(x.dtype))
        mask = self._masks.get(key)
        if mask is None:
            mask = _like(draw(self.seed, self.sample, index, layer.rate, shape), x)
            self._masks[key] = mask
        return mask


def draw(seed, sample, index, rate, shape):
    """Return the scaled keep mask of layer ``index`` for ``sample``, float32.

    Each value is 0 with probability ``rate`` and ``1 / (1 - rate)`` otherwise,
    as Keras' dropout scales what it keeps.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, sample, index]))
    keep = rng.random(shape, dtype=np.float32) >= rate
    scale = 1.0 / (1.0 - rate) if rate < 1 else 0.0
    return keep.astype(np.float32) * np.float32(scale)


def mask_shape(layer, input_shape):
    """Return the mask shape of ``layer`` for inputs of ``input_shape`` (no rows)."""
    features = tuple(int(d) for d in input_shape[1:])
    spatial = CHANNEL_LAYERS.get(type(layer))
    if spatial is None:
        noise_shape = layer.noise_shape
        if noise_shape is None:
            return features
        return tuple(
            size if want is None else int(want)
            for size, want in zip(features, noise_shape[1:], strict=True)
        )
    if len(features) != spatial + 1:
        raise ValueError(
            f"consistent dropout: {type(layer).__name__} needs batched input of "
            f"{spatial + 2} dimensions, got shape {tuple(input_shape)}"
        )
    if getattr(layer, "data_format", "channels_last") == "channels_first":
        return (features[0],) + (1,) * spatial
    return (1,) * spatial + (features[-1],)


def _like(mask, x):
    """Return the NumPy ``mask`` as a tensor of ``x``'s dtype, where ``x`` is."""
    if keras.backend.backend() == "torch":
        import torch

        return torch.as_tensor(mask, device=x.device).to(x.dtype)
    return keras.ops.cast(keras.ops.convert_to_tensor(mask), x.dtype)
