"""How many rows a TorchAdapter's module scores per forward pass.

On a GPU, large passes fill the device. On a CPU the best size depends on the
load: on idle cores, passes whose activations fit the caches are the fastest;
on cores shared with other work, the threads of each operation wait for each
other, and fewer, larger passes win. On the benchmark's MLP either choice is
about twice as slow as the other in the wrong regime, so on a CPU the adapter
times both now and then (:class:`SliceSizes`).
"""

import numbers
import time

import numpy as np

#: Bytes of input rows per forward pass when ``predict_batch_size`` is None.
CPU_BATCH_BYTES = 2**18
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

    Every ``period`` calls over at least ``2 * FACTOR`` cache-sized slices, the
    call scores its first rows in cache-sized slices, the next as many rows in
    one large slice, and keeps the size that was faster; the other calls use it.
    Both sizes are timed back to back, under the same load. Only the speed
    depends on the choice: every row is scored the same way.

    Parameters
    ----------
    period : int, default=32
        Calls between two measurements.
    """

    FACTOR = 8

    def __init__(self, period=32):
        self.period = period
        self.calls = 0
        self.best = 1

    def tune(self, run, n_rows, small):
        """Score the first rows at both sizes when due; return ``(done, rows)``.

        Parameters
        ----------
        run : callable
            ``run(start, stop, rows)`` scores rows ``start:stop`` in slices of
            ``rows``.
        n_rows : int
            Rows in this call.
        small : int
            The cache-sized slice, in rows.

        Returns
        -------
        done : int
            Rows already scored (from the start).
        rows : int
            Rows per pass for the rest.
        """
        large = min(small * self.FACTOR, MAX_BATCH_ROWS)
        if large == small or n_rows < 2 * large:
            return 0, small if self.best == 1 else large
        self.calls += 1
        if self.calls % self.period != 1 % self.period:
            return 0, small if self.best == 1 else large
        start = time.perf_counter()
        run(0, large, small)
        middle = time.perf_counter()
        run(large, 2 * large, large)
        faster = (middle - start) <= (time.perf_counter() - middle)
        self.best = 1 if faster else self.FACTOR
        return 2 * large, small if self.best == 1 else large
