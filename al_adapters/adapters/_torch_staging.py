"""Host rows to a CUDA device through reused pinned buffers on a copy stream.

Allocating pinned memory is slow (it locks pages), so each CUDA device keeps two
pinned staging buffers, used in turn and grown to the largest chunk seen (at
most two query chunks, 2 x 64 MiB under the chunk policy). A chunk is copied into
the free buffer on the host, then to the device on a separate copy stream; the
compute stream waits for that copy only when it reaches the chunk, so the copy
of chunk n + 1 runs while the model computes on chunk n.
"""

import threading

import numpy as np
import scipy.sparse as sp
import torch

_local = threading.local()


class PinnedStaging:
    """Two pinned host buffers and a copy stream for one CUDA device."""

    def __init__(self, device):
        self.device = device
        self.stream = torch.cuda.Stream(device)
        self.buffers = [None, None]
        self.copied = [None, None]  # event: the last copy out of each buffer ended
        self.turn = 0

    def to_device(self, X):
        """Return host rows ``X`` as a float32 tensor on the device."""
        if sp.issparse(X):
            X = X.toarray()
        X = np.asarray(X)
        turn, self.turn = self.turn, 1 - self.turn
        if self.copied[turn] is not None:
            self.copied[turn].synchronize()  # the buffer's last copy has left it
        buffer = self.buffers[turn]
        if buffer is None or buffer.numel() < X.size:
            buffer = torch.empty(X.size, dtype=torch.float32, pin_memory=True)
            self.buffers[turn] = buffer
        staged = buffer[: X.size].view(X.shape)
        np.copyto(staged.numpy(), X, casting="unsafe")
        compute = torch.cuda.current_stream(self.device)
        with torch.cuda.stream(self.stream):
            rows = staged.to(self.device, non_blocking=True)
            event = torch.cuda.Event()
            event.record(self.stream)
        self.copied[turn] = event
        compute.wait_stream(self.stream)
        rows.record_stream(compute)  # allocated on the copy stream, used on compute
        return rows


def staging_for(device):
    """Return this thread's :class:`PinnedStaging` for CUDA ``device``."""
    if device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    stagings = vars(_local).setdefault("stagings", {})
    if device not in stagings:
        stagings[device] = PinnedStaging(device)
    return stagings[device]
