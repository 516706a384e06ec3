"""How many rows are handled at once: the one chunk policy of the library.

Every size is a byte budget divided by the bytes of one row, clipped to a range
of rows, and every user override (``chunk_size=``, ``predict_batch_size=``,
``predict__batch_size=``) is checked the same way. Four budgets:

- a query's chunk (the engine, and an adapter's ``predict_proba`` over host
  rows, which it moves to the device a chunk at a time): 64 MiB counting the
  input bytes and 16 bytes per model output value, 16 to 65,536 rows. It bounds
  what a query holds at once; fewer chunks save per-call overhead.
- a torch forward pass on a CPU: 256 KiB of input, so activations stay in the
  caches;
- a torch forward pass on an accelerator: 64 MiB of input, to fill the device;
- a Keras model call, on any device: 16 MiB of input, because a call costs
  about a millisecond whatever its size.

Passes have 64 to 65,536 rows. A model's hidden activations are not in the
chunk budget (the engine cannot see them); the passes an adapter cuts each
chunk into bound them instead.

On a CPU the best torch pass size also depends on the load: on idle cores,
cache-sized passes are the fastest; on cores shared with other work, the
threads of each operation wait for each other and fewer, larger passes win.
:class:`CpuPassTuner` times both now and then and keeps the faster.
"""

import math
import numbers
import time

import numpy as np

MiB = 2**20

#: Bytes a query's chunk may take: its input rows, the model's outputs for them
#: and the measure's temporaries.
CHUNK_BYTES = 64 * MiB
#: Bytes per model output value: float32 values, about four live copies of them
#: (the probabilities, their logs, products, a reduction's input).
BYTES_PER_OUTPUT = 4 * 4
MIN_CHUNK_ROWS, MAX_CHUNK_ROWS = 16, 65536

#: Bytes of input rows per forward pass, by where the pass runs.
PASS_BYTES = {"cpu": 256 * 2**10, "accelerator": 64 * MiB, "keras": 16 * MiB}
MIN_PASS_ROWS, MAX_PASS_ROWS = 64, 65536

#: Classes assumed when the estimator does not tell (no ``classes_``).
DEFAULT_N_CLASSES = 100

#: Whether :class:`CpuPassTuner` measures; off, torch passes on a CPU stay
#: cache-sized.
TUNE_CPU_PASSES = True


def check_rows(value, name):
    """Check a user's rows-per-chunk option (None or an int >= 1); return it."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return int(value)


def rows_within(budget, row_bytes, min_rows, max_rows):
    """Return how many rows of ``row_bytes`` fit ``budget``, clipped to the range."""
    return int(np.clip(budget // max(1, int(row_bytes)), min_rows, max_rows))


def row_bytes_of(row_shape, itemsize=4):
    """Return the bytes of one row of ``row_shape`` (None: one value)."""
    return max(1, int(itemsize or 8) * math.prod(row_shape or (1,)))


def chunk_rows(row_bytes, outputs_per_row=0, chunk_size=None):
    """Return the rows of a query's chunk: ``chunk_size``, or from the budget.

    Parameters
    ----------
    row_bytes : int
        Input bytes of one row.
    outputs_per_row : int, default=0
        Model output values per row (``n_classes``, or ``n_samples * n_classes``
        for Monte Carlo sampling).
    chunk_size : int, default=None
        The user's override.
    """
    chunk_size = check_rows(chunk_size, "chunk_size")
    if chunk_size is not None:
        return chunk_size
    row_bytes += outputs_per_row * BYTES_PER_OUTPUT
    return rows_within(CHUNK_BYTES, row_bytes, MIN_CHUNK_ROWS, MAX_CHUNK_ROWS)


def pass_rows(row_bytes, where, override=None, name="predict_batch_size"):
    """Return the rows of one forward pass: ``override``, or from the budget.

    Parameters
    ----------
    row_bytes : int
        Input bytes of one row.
    where : {'cpu', 'accelerator', 'keras'}
        A torch pass on a CPU or on an accelerator, or a Keras model call.
    override : int, default=None
        The user's override.
    name : str, default='predict_batch_size'
        The override's name, for errors.
    """
    override = check_rows(override, name)
    if override is not None:
        return override
    return rows_within(PASS_BYTES[where], row_bytes, MIN_PASS_ROWS, MAX_PASS_ROWS)


class CpuPassTuner:
    """Rows per torch pass on a CPU: cache-sized, or ``FACTOR`` times that, as measured.

    Every ``period`` calls over at least ``2 * FACTOR`` cache-sized passes, the
    call scores its first rows in cache-sized passes, the next as many rows in
    one large pass, and keeps the size that was faster; the other calls use it.
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
            ``run(start, stop, rows)`` scores rows ``start:stop`` in passes of
            ``rows``.
        n_rows : int
            Rows in this call.
        small : int
            The cache-sized pass, in rows.

        Returns
        -------
        done : int
            Rows already scored (from the start).
        rows : int
            Rows per pass for the rest.
        """
        if not TUNE_CPU_PASSES:
            return 0, small
        large = min(small * self.FACTOR, MAX_PASS_ROWS)
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
