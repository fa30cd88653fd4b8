"""The measuring loop the consultation benchmarks share: warm-up, then wall rate and client CPU."""

from __future__ import annotations

import time
from collections.abc import Callable


def measure(once: Callable[[], None], n: int, *, warmup: int = 3) -> tuple[float, float]:
    """Run ``once`` ``n`` times after a warm-up (token, ETKs, schemas, TLS session); return
    (consultations per second, client thread CPU seconds per consultation)."""
    for _ in range(warmup):
        once()
    wall = time.perf_counter()
    cpu = time.thread_time()
    for _ in range(n):
        once()
    cpu_per = (time.thread_time() - cpu) / n
    return n / (time.perf_counter() - wall), cpu_per
