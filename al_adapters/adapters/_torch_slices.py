"""How many rows a TorchAdapter's module scores per forward pass.

On a GPU, large passes fill the device. On a CPU the best size depends on the
load: on idle cores, passes whose activations fit the caches are the fastest;
on cores shared with other work, the threads of each operation wait for each
other, and fewer, larger passes win. On the benchmark's MLP either choice is
about twice as slow as the other in the wrong regime, so on a CPU the adapter
measures both now and then (:class:`SliceSizes`).
"""

import contextlib
import numbers
import time

import numpy as np

#: Bytes of input rows per forward pass when ``predict_batch_size`` is None.
CPU_BATCH_BYTES = 2**20
GPU_BATCH_BYTES = 64 * 2**20
MIN_BATCH_ROWS, MAX_BATCH_ROWS = 64, 65536


def batch_rows(X, predict_batch_size):
    """Return the number of rows per forward pass for the rows of tensor ``X``."""
    if predict_batch_size is not None:
        if isinstance(predict_batch_size, bool) or not isinstance(
            predict_batch_size, numbers.Integral
        ):
            raise TypeError(
                f"predict_batch_size must be an integer, got {predict_batch_size!r}"
            )
        if predict_batch_size < 1:
            raise ValueError(
                f"predict_batch_size must be at least 1, got {predict_batch_size}"
            )
        return int(predict_batch_size)
    budget = GPU_BATCH_BYTES if X.device.type == "cuda" else CPU_BATCH_BYTES
    row_bytes = max(1, X[0].numel() * X.element_size()) if X.shape[0] else 4
    return int(np.clip(budget // row_bytes, MIN_BATCH_ROWS, MAX_BATCH_ROWS))


class SliceSizes:
    """Rows per pass on a CPU: cache-sized, or ``FACTOR`` times that, as measured.

    Out of every ``period`` calls over at least the larger size, the first runs
    at the cache size and the second at the larger one; the other calls use
    whichever was faster per row. Only the speed depends on the choice: every
    row is scored the same way.

    Parameters
    ----------
    period : int, default=32
        Calls between two measurements (at least 3).
    """

    FACTOR = 16

    def __init__(self, period=32):
        self.period = period
        self.calls = 0
        self.seconds_per_row = {}
        self.best = 1

    @contextlib.contextmanager
    def choose(self, small, n_rows):
        """Yield the rows per pass for a call over ``n_rows``; time trial calls."""
        large = min(small * self.FACTOR, MAX_BATCH_ROWS)
        factor = self._trial(n_rows) if large > small and n_rows >= large else None
        if factor is None:
            yield small if self.best == 1 else large
            return
        start = time.perf_counter()
        yield small if factor == 1 else large
        self.seconds_per_row[factor] = (time.perf_counter() - start) / n_rows
        if len(self.seconds_per_row) == 2:
            self.best = min(self.seconds_per_row, key=self.seconds_per_row.__getitem__)

    def _trial(self, n_rows):
        """Return the factor this call tries (1 or FACTOR), or None."""
        self.calls += 1
        phase = self.calls % self.period
        if phase == 1:
            self.seconds_per_row = {}
            return 1
        return self.FACTOR if phase == 2 else None
