"""How many rows a TorchAdapter's module scores per forward pass.

The sizes come from the library's chunk policy (:mod:`al_adapters._chunking`):
cache-sized passes on a CPU (or larger ones when the cores are busy, as
:class:`~al_adapters._chunking.CpuPassTuner` measures), large ones on a GPU.
"""

from al_adapters import _chunking

#: Chooses between cache-sized and large passes on a CPU.
SliceSizes = _chunking.CpuPassTuner


def batch_rows(X, predict_batch_size):
    """Return the number of rows per forward pass for the rows of tensor ``X``."""
    row_bytes = X[0].numel() * X.element_size() if X.shape[0] else 4
    where = "cpu" if X.device.type == "cpu" else "accelerator"
    return _chunking.pass_rows(row_bytes, where, predict_batch_size)
