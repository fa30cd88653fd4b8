"""Storage benchmarks on a throwaway PostgreSQL cluster (server defaults: fsync on), ratios in one run.

* ``storage.audit_append_8_processes``: entries per second appended by 8 processes together to one
  chain (target >= 2,000/s), chain verified after; with the store's default commit mode
  (``synchronous_commit = off``, the SQLite store's ``synchronous = NORMAL``) and with ``on``;
* ``storage.consultation_pg_vs_sqlite``: one insurability consultation (contact, rules, audit,
  ETEE, signature, TLS to the simulator in its own process) with the store on PostgreSQL divided by
  the same on SQLite (target <= 1.5);
* ``storage.statement_us``: one audit-append-path statement through this project's dialect layer,
  through psycopg directly, and through SQLAlchemy Core when installed (client CPU and wall): the
  measurement behind the choice of the thin layer (README).

Plain script, nothing asserted. Run: ``.venv/bin/python bench/bench_storage.py``.
"""

from __future__ import annotations

import multiprocessing as mp
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from consultations import measure
from mycarenet_dental.audit import TABLES, AuditLog
from mycarenet_dental.sim.pg_cluster import ClusterUnavailable, PgCluster
from mycarenet_dental.storage import open_storage

PROCESSES = 8
PER_PROCESS = 500


def _appender(url: str, commit: str, n: int, start: Any) -> None:
    storage = open_storage(url, {"synchronous_commit": commit})
    audit = AuditLog(storage)
    audit.append("bench", message="warm-up")
    start.wait()
    for i in range(n):
        audit.append("exchange", service="bench", operation="append", executor="31234592001", detail={"i": i})
    storage.close()


def audit_rate(url: str, commit: str) -> tuple[float, int]:
    """Entries per second appended by PROCESSES processes together; rows in the verified trail."""
    ctx = mp.get_context("fork")
    start = ctx.Event()
    procs = [ctx.Process(target=_appender, args=(url, commit, PER_PROCESS, start)) for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    time.sleep(3.0)  # every process connected and warmed up
    t0 = time.perf_counter()
    start.set()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - t0
    storage = open_storage(url)
    result = AuditLog(storage).verify()
    storage.close()
    if not result.ok:
        raise SystemExit(f"chain broken after the concurrent appends: {result.reason}")
    return PROCESSES * PER_PROCESS / elapsed, result.rows


def per_append(url: str, commit: str, n: int = 400) -> float:
    """Seconds per append of one process alone (the reference the 8 processes are compared with)."""
    storage = open_storage(url, {"synchronous_commit": commit})
    audit = AuditLog(storage)
    for _ in range(20):
        audit.append("warm")
    t0 = time.perf_counter()
    for i in range(n):
        audit.append("exchange", service="bench", executor="31234592001", detail={"i": i})
    storage.close()
    return (time.perf_counter() - t0) / n


def consultation_ratio(url: str, n: int) -> tuple[float, float]:
    """(consultations/s on SQLite, on PostgreSQL): the same client and simulator, alternated rounds."""
    from mycarenet_dental.sim.population import base_population
    from mycarenet_dental.sim.testing import SimEnv
    from mycarenet_dental_assurability import consult_insurability

    patient = base_population()[0].ssin
    with tempfile.TemporaryDirectory(prefix="bench-storage-") as tmp:
        env = SimEnv.start_process(Path(tmp))
        try:
            contexts = {"sqlite": env.context(storage=Path(tmp) / "practice.sqlite"),
                        "postgresql": env.context(storage=open_storage(url))}

            def once_on(ctx: Any) -> Callable[[], None]:
                def once() -> None:
                    assert consult_insurability(ctx, ctx.open_contact(patient), sealed=True).insured
                return once

            best = {name: 0.0 for name in contexts}
            for _ in range(2):  # alternate: the machine's other tenants weigh on both alike
                for name, ctx in contexts.items():
                    best[name] = max(best[name], measure(once_on(ctx), n, rounds=2)[0])
            for ctx in contexts.values():
                ctx.close()
        finally:
            env.stop()
    return best["sqlite"], best["postgresql"]


def statement_costs(url: str, n: int = 1000) -> dict[str, tuple[float, float]]:
    """(client CPU us, wall us) of one audit-path statement (the head row read) per access layer."""
    sql = "SELECT seq, hash FROM audit_head WHERE id = ?"
    storage = open_storage(url)
    out = {"dialect layer (Storage.query_one)": _cost(lambda: storage.query_one(sql, (1,)), n)}
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        out["psycopg directly"] = _cost(lambda: conn.execute("SELECT seq, hash FROM audit_head WHERE id = %s",
                                                             (1,)).fetchone(), n)
    try:
        import sqlalchemy as sa
    except ImportError:
        sa = None
    if sa is not None:
        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"), pool_size=2)
        head = sa.table("audit_head", sa.column("id"), sa.column("seq"), sa.column("hash"))
        query = sa.select(head.c.seq, head.c.hash).where(head.c.id == sa.bindparam("id"))
        with engine.connect() as conn:
            out["SQLAlchemy Core (select(), compiled cache)"] = _cost(lambda: conn.execute(query, {"id": 1}).fetchone(), n)
            text = sa.text("SELECT seq, hash FROM audit_head WHERE id = :id")
            out["SQLAlchemy Core (text())"] = _cost(lambda: conn.execute(text, {"id": 1}).fetchone(), n)
            conn.rollback()
        engine.dispose()
    storage.close()
    return out


def _cost(fn: Callable[[], Any], n: int) -> tuple[float, float]:
    for _ in range(50):
        fn()
    best_cpu, best_wall = float("inf"), float("inf")
    for _ in range(3):
        cpu, wall = time.thread_time(), time.perf_counter()
        for _ in range(n):
            fn()
        best_cpu = min(best_cpu, (time.thread_time() - cpu) / n)
        best_wall = min(best_wall, (time.perf_counter() - wall) / n)
    return best_cpu * 1e6, best_wall * 1e6


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    try:
        cluster = PgCluster.start(settings=())
    except ClusterUnavailable as exc:
        print(f"    skipped: {exc}")
        return 0
    try:
        for commit in ("off", "on"):
            url = cluster.create_database(f"audit_{commit}")
            open_storage(url).migrate([TABLES])
            rate, rows = audit_rate(url, commit)
            one = 1 / per_append(url, commit)
            print(f"storage.audit_append_8_processes[synchronous_commit={commit}]: {rate:,.0f} entries/s "
                  f"(target >= 2,000/s{'' if commit == 'off' else ', informative: every commit flushed'}); "
                  f"{rate / one:.1f}x one process alone ({one:,.0f}/s); {rows} rows, chain verifies")
        for layer, (cpu, wall) in statement_costs(url).items():
            print(f"storage.statement_us[{layer}]: client CPU {cpu:.0f} us, wall {wall:.0f} us")
        sqlite_rate, pg_rate = consultation_ratio(cluster.create_database("consult"), n)
        print(f"storage.consultation_pg_vs_sqlite: {sqlite_rate / pg_rate:.2f}x the SQLite time per consultation "
              f"(target <= 1.5x); {sqlite_rate:.1f}/s on SQLite, {pg_rate:.1f}/s on PostgreSQL")
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
