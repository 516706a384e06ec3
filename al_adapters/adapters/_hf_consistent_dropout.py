"""Consistent MC dropout for Hugging Face models: one mask per sample, every row.

The semantics of :mod:`._consistent_dropout` (sample ``t`` of every row comes
from the same draw of the model, seeded by ``(seed, t, layer)`` alone), for
models whose dropout is not only ``nn.Dropout`` modules: attention modules
pass their probability to an attention function, which drops attention
weights with ``torch.nn.functional.dropout`` (eager attention) or inside
``scaled_dot_product_attention`` (``dropout_p``, the SDPA attention).

A :class:`~torch.overrides.TorchFunctionMode` catches both calls while the
model runs in train mode, so every dropout of the forward pass goes through
here: ``nn.Dropout`` modules (they call ``functional.dropout``), functional
dropout in the model's code, and SDPA's ``dropout_p``, which is then computed
as SDPA's reference formula with the mask applied to the attention weights.
"Layer" is the rank of the dropout call within one forward pass, which is the
same for every pass of a model.

Masks are counter-based: the mask value at coordinate ``(i1, i2, ...)`` of the
input without its rows (for a hidden state ``(token, feature)``, for attention
weights ``(head, query token, key token)``) is a hash of ``(seed, t, layer,
i1, i2, ...)``, so it does not depend on the shape of the pass. Rows cut to
another length (each pass is cut to its longest text) keep the mask of every
token they have, and a row's samples do not depend on which rows share its
pass. Tokens keep their coordinates under right padding (BERT's default); a
left-padded pass shifts them with its width.
"""

import math

import numpy as np
import torch
from torch.nn import functional as F
from torch.overrides import TorchFunctionMode

# splitmix64 (Steele, Lea and Flood, 2014): its increment and finaliser
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))
_UNSUPPORTED = (
    F.alpha_dropout,
    F.feature_alpha_dropout,
    F.dropout1d,
    F.dropout2d,
    F.dropout3d,
)


def _mixed(z):
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * _MIX[0]
        z = (z ^ (z >> np.uint64(27))) * _MIX[1]
    return z ^ (z >> np.uint64(31))


def keep_mask(seed, t, layer, shape, p):
    """Return the mask (1 keeps, 0 drops) of sample ``t`` at ``layer``, float32.

    Element ``(i1, i2, ...)`` is kept with probability ``1 - p``, decided by a
    hash of ``(seed, t, layer, i1, i2, ...)`` alone.
    """
    h = np.array(0, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for value in (seed % 2**64, t, layer):
            h = _mixed(h + np.uint64(value) + _GOLDEN)
        for size in shape:  # (), (s1,), (s1, s2)...: one coordinate more each time
            coordinate = np.arange(size, dtype=np.uint64)
            h = _mixed(h[..., None] + coordinate + _GOLDEN)
    uniform = (h >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return torch.from_numpy((uniform >= p).astype(np.float32))


class ConsistentDropout(TorchFunctionMode):
    """Within the block, every dropout of the model uses a shared mask.

    Parameters
    ----------
    seed : int
        Seed of the masks.

    Set :attr:`sample` (the sample index ``t``) before each forward pass; the
    pass's dropout calls are numbered from 0 again (:meth:`start`).
    """

    def __init__(self, seed):
        super().__init__()
        self.seed = int(seed)
        self.sample = 0
        self._calls = 0
        self._masks = {}

    def start(self, sample):
        """Begin the forward pass of sample ``sample``."""
        self.sample, self._calls = int(sample), 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.dropout:
            return self._dropout(*args, **kwargs)
        if func is F.scaled_dot_product_attention:
            return self._attention(*args, **kwargs)
        if func in _UNSUPPORTED and _training(args, kwargs):
            raise TypeError(
                f"consistent=True covers torch.nn.functional.dropout (nn.Dropout) and "
                f"the dropout of scaled_dot_product_attention; the model calls "
                f"{func.__name__}, whose masks cannot be shared across rows"
            )
        return func(*args, **kwargs)

    def _mask(self, x, p):
        layer, self._calls = self._calls, self._calls + 1
        if x.ndim < 2:
            raise ValueError(
                "consistent dropout needs rows on the first dimension of the input "
                f"of each dropout; got shape {tuple(x.shape)}"
            )
        key = (layer, tuple(x.shape[1:]), float(p), x.device, x.dtype)
        mask = self._masks.get((self.sample, key))
        if mask is None:
            mask = keep_mask(self.seed, self.sample, layer, x.shape[1:], p)
            mask = (mask / (1.0 - p)).to(device=x.device, dtype=x.dtype)
            self._masks[(self.sample, key)] = mask
        return mask

    def _dropout(self, input, p=0.5, training=True, inplace=False):
        if not training or p == 0:
            return input
        if p >= 1:
            return input * 0
        return input * self._mask(input, p)

    def _attention(
        self,
        query,
        key,
        value,
        attn_mask=None,
        dropout_p=0.0,
        is_causal=False,
        scale=None,
        enable_gqa=False,
    ):
        if dropout_p == 0:
            return F.scaled_dot_product_attention(
                query,
                key,
                value,
                attn_mask=attn_mask,
                is_causal=is_causal,
                scale=scale,
                enable_gqa=enable_gqa,
            )
        # SDPA's reference formula (torch's documentation), masks applied
        n_query, n_key = query.shape[-2], key.shape[-2]
        if enable_gqa:
            key = key.repeat_interleave(query.shape[-3] // key.shape[-3], -3)
            value = value.repeat_interleave(query.shape[-3] // value.shape[-3], -3)
        scale = 1 / math.sqrt(query.shape[-1]) if scale is None else scale
        weights = query @ key.transpose(-2, -1) * scale
        if is_causal:
            allowed = torch.ones(
                n_query, n_key, dtype=torch.bool, device=query.device
            ).tril()
            weights = weights.masked_fill(~allowed, float("-inf"))
        if attn_mask is not None:
            if attn_mask.dtype == torch.bool:
                weights = weights.masked_fill(~attn_mask, float("-inf"))
            else:
                weights = weights + attn_mask
        weights = torch.softmax(weights, dim=-1)
        return self._dropout(weights, dropout_p) @ value


def _training(args, kwargs):
    p = kwargs.get("p", args[1] if len(args) > 1 else 0.5)
    training = kwargs.get("training", args[2] if len(args) > 2 else True)
    return bool(training) and p > 0
