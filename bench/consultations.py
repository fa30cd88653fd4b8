"""The measuring loop the consultation benchmarks share: warm-up, then wall rate and client CPU."""

from __future__ import annotations

import time
from collections.abc import Callable


def measure(once: Callable[[], None], n: int, *, warmup: int = 3, rounds: int = 3) -> tuple[float, float]:
    """Run ``once`` ``n`` times per round after a warm-up (token, ETKs, schemas, TLS session); return
    (consultations per second, client thread CPU seconds per consultation), each the best of ``rounds``.

    Best of several rounds, as ``timeit`` does: on a shared machine the other tenants only ever add
    time, so the fastest round is the closest to what the code itself costs.
    """
    for _ in range(warmup):
        once()
    best_rate, best_cpu = 0.0, float("inf")
    for _ in range(rounds):
        wall = time.perf_counter()
        cpu = time.thread_time()
        for _ in range(n):
            once()
        best_cpu = min(best_cpu, (time.thread_time() - cpu) / n)
        best_rate = max(best_rate, n / (time.perf_counter() - wall))
    return best_rate, best_cpu


def cpu_per_call(fn: Callable[[], None], n: int, *, rounds: int = 3) -> float:
    """Thread CPU seconds of one ``fn()`` call (a floor), best of ``rounds`` batches of ``n`` after one warm-up."""
    fn()
    best = float("inf")
    for _ in range(rounds):
        start = time.thread_time()
        for _ in range(n):
            fn()
        best = min(best, (time.thread_time() - start) / n)
    return best
