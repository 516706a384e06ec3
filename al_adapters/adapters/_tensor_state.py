"""Host arrays and JSON metadata of a ``ModelState``, for torch-based adapters.

Shared by TorchAdapter and LightningAdapter; it imports torch only (no skorch),
so an adapter without skorch installed can use it.
"""

import numpy as np
import torch


def host_array(tensor, name, bfloat16):
    """Return a host NumPy copy of ``tensor`` (bfloat16 kept as its int16 bits).

    ``name`` is appended to the list ``bfloat16`` when the tensor was bfloat16,
    so that loading can view the bits as bfloat16 again.
    """
    tensor = tensor.detach()
    if tensor.dtype == torch.bfloat16:
        bfloat16.append(name)
        tensor = tensor.view(torch.int16)
    return tensor.to("cpu", copy=True).numpy()


def jsonable(value):
    """Return ``value`` with tuples as lists and scalar arrays as Python numbers."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    return value
