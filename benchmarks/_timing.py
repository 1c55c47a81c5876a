"""Timing helper shared by the benchmark scripts: medians over interleaved repeats."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from tqdm import tqdm


def time_interleaved(fns: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    """Median wall time (seconds) of each function over ``repeats`` calls, after one warm-up call each.

    The candidates alternate within every repeat, so that machine noise (the other core busy, frequency
    changes) hits all of them alike instead of favouring whichever ran first.
    """
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in tqdm(range(repeats), desc="repeats", leave=False):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}
