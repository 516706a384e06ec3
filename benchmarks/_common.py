"""Timing and memory helpers shared by the benchmark scripts."""

import statistics
import time
import tracemalloc


def measure(function, repeats):
    """Run ``function`` ``repeats`` times; return (result, median seconds, peak bytes).

    The peak is the largest Python-heap allocation seen by tracemalloc during a run
    (NumPy and SciPy buffers included), above what was allocated before it.
    """
    times, peaks, result = [], [], None
    for _ in range(repeats):
        tracemalloc.start()
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    return result, statistics.median(times), max(peaks)


def print_table(header, rows):
    """Print rows of strings as an aligned plain-text table."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        print(
            "  ".join(str(cell).rjust(w) for cell, w in zip(row, widths, strict=True))
        )
