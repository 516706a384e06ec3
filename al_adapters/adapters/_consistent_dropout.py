"""Consistent MC dropout: one mask per sample, shared by every row.

Sample ``t`` of every row comes from the same draw of the model (Kirsch et al.,
2019, "BatchBALD"): each dropout layer uses, for sample ``t``, one mask over the
features of its input, broadcast over the rows. The mask comes from a generator
seeded by ``(seed, t, layer index)`` alone, so it does not depend on how the
pool is chunked, on the order of the rows or on the device.

The dropout layers stay in eval mode (the identity) and a forward hook applies
the mask to their output; a forward pass of ``k * rows`` rows holds the ``k``
samples set in :attr:`ConsistentMasks.samples`, sample-major (the layout of
``X.repeat``).
"""

import numpy as np
import torch
from torch import nn

#: Layers whose mask covers every feature (``input.shape[1:]``).
ELEMENT_LAYERS = (nn.Dropout, nn.AlphaDropout)
#: Layers whose mask covers the channels (``input.shape[1]``), with the number
#: of spatial dimensions after the channels (None: any).
CHANNEL_LAYERS = {nn.Dropout1d: 1, nn.Dropout2d: 2, nn.Dropout3d: 3}
CHANNEL_ALPHA_LAYERS = (nn.FeatureAlphaDropout,)
SUPPORTED = (*ELEMENT_LAYERS, *CHANNEL_LAYERS, *CHANNEL_ALPHA_LAYERS)

# SELU's negative saturation, the value AlphaDropout drops to
_ALPHA = -1.7580993408473766


def call_seed(random_state):
    """Return the int seed of one consistent ``sample_proba`` call.

    None draws one from torch's global generator, so the samples follow
    ``torch.manual_seed`` as ordinary dropout does.
    """
    if random_state is None:
        return int(torch.randint(0, 2**62, (), dtype=torch.int64))
    from al_adapters.adapters._torch_inference import seed_from

    return seed_from(random_state)


def dropout_layers(module):
    """Return the dropout layers of ``module`` that drop anything, in order.

    Raises TypeError for a dropout subclass whose forward pass may differ from
    the layer it derives from.
    """
    from al_adapters.adapters._torch_inference import DROPOUT_LAYERS

    layers = []
    for name, layer in module.named_modules():
        if not isinstance(layer, DROPOUT_LAYERS) or layer.p == 0:
            continue
        if type(layer) not in SUPPORTED:
            raise TypeError(
                f"consistent=True supports the layers "
                f"{', '.join(t.__name__ for t in SUPPORTED)}; layer {name!r} is a "
                f"{type(layer).__name__}, whose masks cannot be shared across rows"
            )
        layers.append(layer)
    return layers


class ConsistentMasks:
    """Context manager: the dropout layers of ``module`` use shared masks.

    Parameters
    ----------
    module : torch.nn.Module
        The module, in eval mode (dropout layers included) while the context
        is active.
    seed : int
        Seed of the masks: sample ``t`` of layer ``i`` uses a generator seeded
        by ``(seed, t, i)``.
    """

    def __init__(self, module, seed):
        self.layers = dropout_layers(module)
        self.seed = int(seed) % 2**64
        #: Sample indices of the next forward passes: an int or a range.
        self.samples = range(0)
        self._masks = {}
        self._handles = []

    def __enter__(self):
        for index, layer in enumerate(self.layers):
            self._handles.append(layer.register_forward_hook(self._hook(index)))
        return self

    def __exit__(self, *exc_info):
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._masks.clear()

    def _hook(self, index):
        def apply(layer, args, output):
            return self._apply(index, layer, args[0])

        return apply

    def _apply(self, index, layer, x):
        samples = (
            range(self.samples, self.samples + 1)
            if isinstance(self.samples, int)
            else self.samples
        )
        k = len(samples)
        if x.ndim < 2 or x.shape[0] % k:
            raise ValueError(
                f"consistent dropout needs rows on the first dimension of the input "
                f"of each dropout layer; got shape {tuple(x.shape)} for {k} samples"
            )
        shape = _mask_shape(layer, x)
        masks = torch.stack([self._mask(index, t, layer.p, shape, x) for t in samples])
        rows = x.reshape(k, x.shape[0] // k, *x.shape[1:])
        keep = masks.unsqueeze(1)  # (k, 1, *mask shape), broadcast over the rows
        if isinstance(layer, (nn.AlphaDropout, nn.FeatureAlphaDropout)):
            p = layer.p
            a = ((1 - p) * (1 + p * _ALPHA**2)) ** -0.5
            out = a * (rows * keep + _ALPHA * (1 - keep)) - a * _ALPHA * p
        else:
            out = rows * keep * (1 / (1 - layer.p) if layer.p < 1 else 0.0)
        return out.reshape(x.shape).to(x.dtype)

    def _mask(self, index, t, p, shape, like):
        key = (index, t, shape, like.device, like.dtype)
        mask = self._masks.get(key)
        if mask is None:
            words = np.random.SeedSequence([self.seed, t, index]).generate_state(2)
            generator = torch.Generator().manual_seed(
                int(words[0]) << 31 ^ int(words[1])
            )
            # drawn on the CPU, so a mask does not depend on the device
            probability = torch.full(shape, 1.0 - p, dtype=torch.float32)
            mask = torch.bernoulli(probability, generator=generator)
            mask = mask.to(device=like.device, dtype=like.dtype)
            self._masks[key] = mask
        return mask


def _mask_shape(layer, x):
    """Return the mask shape of ``layer`` for input ``x`` (without the rows)."""
    features = tuple(x.shape[1:])
    if isinstance(layer, ELEMENT_LAYERS):
        return features
    spatial = CHANNEL_LAYERS.get(type(layer))
    if spatial is not None and x.ndim != spatial + 2:
        raise ValueError(
            f"consistent dropout: {type(layer).__name__} needs batched input of "
            f"{spatial + 2} dimensions, got shape {tuple(x.shape)}"
        )
    return (features[0],) + (1,) * (len(features) - 1)
