"""Timing helper shared by the benchmark scripts (run them as ``python benchmarks/NAME.py``)."""
from __future__ import annotations

import statistics
import time


def median_us(fn, repeat: int) -> float:
    """Median wall time of ``fn()`` in microseconds over ``repeat`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6
