"""Core benchmarks: CLI cold start, audit append and verify rates.

Targets (issue 2): cold start with all plugins <= 300 ms, reported with its ratio to
``python -c pass`` in the same run; audit append >= 2,000 exchanges/s with the chain;
verify >= 50,000 rows/s.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _median_run(cmd: list[str], env: dict[str, str], n: int = 7) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cold_start() -> None:
    """Start-up as installed (bytecode cached, as a wheel install leaves it) and, for reference,
    with PYTHONDONTWRITEBYTECODE set (every module compiled from source at each start)."""
    import compileall
    import os

    root = Path(__file__).resolve().parents[1]
    for folder in [root / "core", *sorted((root / "plugins").glob("*"))]:
        compileall.compile_dir(str(folder), quiet=2)
    import click  # noqa: F401 - make sure the dependencies' bytecode exists too
    cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    uncached = {**cached, "PYTHONDONTWRITEBYTECODE": "1"}
    for env in (cached,):  # warm the dependencies' caches once
        subprocess.run([sys.executable, "-m", "mycarenet_dental", "plugins", "--json"], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    floor = _median_run([sys.executable, "-c", "pass"], cached)
    for label, env in (("", cached), (".no_bytecode_cache", uncached)):
        cli = _median_run([sys.executable, "-m", "mycarenet_dental", "--help"], env)
        plugins = _median_run([sys.executable, "-m", "mycarenet_dental", "plugins", "--json"], env)
        print(f"core.cli_cold_start{label}.help: {cli * 1000:.0f} ms = {cli / floor:.1f}x python -c pass "
              f"({floor * 1000:.0f} ms) (target <= 300 ms, all plugins installed)")
        print(f"core.cli_cold_start{label}.plugins: {plugins * 1000:.0f} ms = {plugins / floor:.1f}x python -c pass")


def audit_rates() -> None:
    from mycarenet_dental.audit import TABLES, AuditLog
    from mycarenet_dental.storage import Storage

    with tempfile.TemporaryDirectory() as tmp:
        storage = Storage(Path(tmp) / "bench.sqlite")
        storage.migrate([TABLES])
        log = AuditLog(storage)
        n = 5000
        start = time.perf_counter()
        for i in range(n):
            log.append("exchange", exchange_id=f"x{i}", service="tariff", operation="TarificationConsultation",
                       responsible="dentist:31234592001", executor="user:alice", patient="85073003328",
                       trigger="user", outcome="sent", detail={"purpose": "bench"})
        append = n / (time.perf_counter() - start)
        # a larger trail for verify
        with storage.transaction():
            for i in range(45000):
                log.append("exchange", exchange_id=f"y{i}", service="tariff")
        start = time.perf_counter()
        result = log.verify()
        verify = result.rows / (time.perf_counter() - start)
        print(f"core.audit_append: {append:,.0f} exchanges/s, one transaction each (target >= 2,000) "
              f"= {append / 2000:.1f}x target")
        print(f"core.audit_verify: {verify:,.0f} rows/s over {result.rows:,} rows (target >= 50,000) "
              f"= {verify / 50000:.1f}x target; chain ok={result.ok}")
        storage.close()


if __name__ == "__main__":
    cold_start()
    audit_rates()
