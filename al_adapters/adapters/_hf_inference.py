"""Forward passes of a Hugging Face classifier: probabilities, MC samples, embeddings.

Every pass runs under ``torch.inference_mode`` (and ``torch.autocast`` in the
adapter's precision) on the model's device, a pass of ``batch_size`` rows at a
time; the outputs of the passes are joined on the device.

**Embeddings.** The features a classification head reads are the input of its
final linear layer, caught by a forward pre-hook on that layer. The head is
found by name: ``embed_layer`` when given, else the first of the model's
``classifier`` (BERT, RoBERTa, DistilBERT, ViT, Wav2Vec2...), ``score`` (GPT-2,
Llama) or ``head`` submodules, and in it the last ``nn.Linear`` registered
(RoBERTa's ``classifier.out_proj``, a PEFT model's trained copy of the head).
For BERT that is the pooler output (the [CLS] state after the pooler's dense
layer and tanh); for RoBERTa, the head's dense layer after its tanh; for
DistilBERT, ``pre_classifier`` after its ReLU; for ViT, the [CLS] state after
the final layer norm; for Wav2Vec2, the mean of the projected frames.
"""

import contextlib
import sys

import torch
from torch import nn

from al_adapters.adapters import _hf_inputs as inputs_of
from al_adapters.adapters._torch_inference import seeded  # noqa: F401 - re-exported

_HEAD_NAMES = ("classifier", "score", "head")
_RUNNING_STATS = (
    nn.modules.batchnorm._BatchNorm,
    nn.modules.instancenorm._InstanceNorm,
)


def model_device(model):
    """Return the device of the model's first parameter (CPU if none)."""
    for tensor in model.parameters():
        return tensor.device
    return torch.device("cpu")


def autocast(device, precision):
    """Return ``torch.autocast`` in ``precision`` on ``device`` (None: nothing)."""
    if precision is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=getattr(torch, precision))


def run(model, encode, X, forward, *, batch_size, precision):
    """Return ``forward(inputs)`` for every pass of ``X``, joined on ``dim=-2``."""
    device = model_device(model)
    n = inputs_of.n_rows(X)
    if n == 0:
        raise ValueError("X is empty: it has 0 rows")
    out = None
    with torch.inference_mode(), autocast(device, precision):
        for start in range(0, n, batch_size):
            stop = min(n, start + batch_size)
            batch = inputs_of.take(X, slice(start, stop))
            part = forward(inputs_of.trim_padding(encode(batch, device)))
            if out is None:
                # one block for every pass's rows, allocated once: a list of
                # small per-pass results between the passes' large temporaries
                # would keep glibc from returning their memory to the system
                shape = (*part.shape[:-2], n, part.shape[-1])
                out = torch.empty(shape, dtype=part.dtype, device=part.device)
            out[..., start:stop, :] = part
    return out


def logits(model, model_inputs):
    """Return the model's logits as float32."""
    return model(**model_inputs).logits.float()


def probabilities(model, model_inputs):
    """Return the softmax of the logits, float32."""
    return logits(model, model_inputs).softmax(dim=-1)


@contextlib.contextmanager
def modes(model, *, dropout):
    """Run the model in eval mode, or with dropout on (``dropout=True``).

    With dropout on every submodule is in train mode, so the model's own dropout
    layers and the attention dropout that reads ``self.training`` draw masks,
    except the layers with running statistics (BatchNorm, InstanceNorm), which
    stay in eval mode. Every submodule's mode is put back afterwards.
    """
    saved = [(module, module.training) for module in model.modules()]
    try:
        model.train(dropout)
        if dropout:
            for module in model.modules():
                if isinstance(module, _RUNNING_STATS):
                    module.eval()
        yield
    finally:
        for module, training in saved:
            module.training = training


def sampler(model, n_samples, masks=None):
    """Return a forward function giving ``(n_samples, rows, classes)``.

    With ``masks`` (a :class:`ConsistentDropout` in effect), pass ``t`` runs
    with the masks of sample ``t``.
    """

    def sample(model_inputs):
        samples = []
        for t in range(n_samples):
            if masks is not None:
                masks.start(t)
            samples.append(probabilities(model, model_inputs))
        return torch.stack(samples)

    return sample


def find_head(model, embed_layer=None):
    """Return the final linear layer of the classification head (module notes)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    if embed_layer is not None:
        try:
            return base.get_submodule(embed_layer)
        except AttributeError as exc:
            raise ValueError(
                f"embed_layer={embed_layer!r} names no submodule of the model"
            ) from exc
    for name in _HEAD_NAMES:
        head = getattr(base, name, None)
        if isinstance(head, nn.Module):
            linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
            if linears:
                return linears[-1]
    linears = [m for m in base.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(
            "the model has no nn.Linear layer whose input could be the embedding; "
            "pass embed_layer='<name of the head's final layer>'"
        )
    return linears[-1]


def embedder(model, head):
    """Return a forward function giving the input of ``head`` for each row."""

    def embed(model_inputs):
        caught = []
        hook = head.register_forward_pre_hook(lambda _, args: caught.append(args[0]))
        try:
            model(**model_inputs)
        finally:
            hook.remove()
        if not caught:
            raise ValueError(
                f"the head layer {type(head).__name__} did not run in the forward "
                "pass; pass embed_layer='<name of the head's final layer>'"
            )
        features = caught[-1].float()
        if features.ndim != 2:
            raise ValueError(
                f"the head's input has shape {tuple(features.shape)}, not one "
                "vector per row: this head runs on every token and the model "
                "pools its outputs afterwards (GPT-2 and Llama do). Pass "
                "embed_layer='<name of a layer that reads one vector per row>'"
            )
        return features

    return embed


def check_finite(tensor):
    """Raise ValueError if a float tensor holds NaN or infinity."""
    if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
        raise ValueError("Input X contains NaN or infinity.")


def to_host(tensor):
    """Return a tensor as a float32 NumPy array."""
    return tensor.detach().to("cpu", torch.float32).numpy()


def is_peft(model):
    """Tell whether ``model`` is a ``peft`` PEFT model (without importing peft)."""
    peft = sys.modules.get("peft")
    return peft is not None and isinstance(model, peft.PeftModel)
