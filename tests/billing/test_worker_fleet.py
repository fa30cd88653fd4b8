"""A billing office's workers under fire (issue 16): 4 ``billing worker`` processes share one store and
bill 2,000 invoices for 200 dentists while workers and the simulated insurer are killed with ``kill -9``
at random moments. What must hold is counted where it matters, in the insurer's durable journal:
every sending posted exactly once (no re-post, not even one the platform would recognise), every
invoice taken in exactly once, and every sending settled in the office's store.

The random schedule is seeded (``WORKER_CHAOS_SEED``; printed on failure) so a red run can be replayed.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

from tests.billing.worker_fleet import prepare

DENTISTS = 200
INVOICES = 10  # per dentist: 2,000 in all
WORKERS = 4
DEADLINE_S = 120.0  # a hang guard only (speed is measured in make bench, not asserted): ~25-50 s here


def _chaos(office, rng: random.Random, log: list[str]) -> None:
    """Two kills of the insurer and three of a worker, 0.5-1.5 s apart, each replaced at once (a worker
    process costs ~1.5 s of CPU to start: the kills are bounded so the test stays within its budget)."""
    events = ["sim", "sim"] + ["worker"] * 3
    rng.shuffle(events)
    for what in events:
        time.sleep(rng.uniform(0.5, 1.5))
        alive = [w for w in office.workers if w.poll() is None]
        if not alive:
            return
        if what == "sim":
            office.kill_sim()
            log.append(f"{time.monotonic():.1f} kill -9 insurer")
            time.sleep(rng.uniform(0.1, 0.6))
            office.start_sim()
        else:
            victim = rng.choice(alive)
            victim.kill()
            victim.wait()
            log.append(f"{time.monotonic():.1f} kill -9 worker pid {victim.pid}")
            office.start_worker(concurrency=4)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The office's shared store: a SQLite file, or a PostgreSQL database (skipped where none starts)."""
    if request.param == "sqlite":
        return str(tmp_path / "office.sqlite")
    return str(request.getfixturevalue("postgres_url"))


def test_workers_and_insurer_killed_every_invoice_settled_once(tmp_path: Path, store: str) -> None:
    seed = int(os.environ.get("WORKER_CHAOS_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    office = prepare(tmp_path, dentists=DENTISTS, invoices=INVOICES, store=store,
                     worker={"worker_lease_seconds": 4.0, "worker_poll_seconds": 0.2,
                             "worker_poll_max_seconds": 0.5, "worker_idle_seconds": 0.2})
    log: list[str] = [f"seed {seed}"]
    try:
        office.start_sim()
        for _ in range(WORKERS):
            office.start_worker(concurrency=4)
        start = time.monotonic()
        _chaos(office, rng, log)
        for proc in office.workers:
            if proc.returncode is None:
                proc.wait(timeout=max(1.0, DEADLINE_S - (time.monotonic() - start)))
    except Exception:
        print("\n".join(log))
        raise
    finally:
        office.stop()
    killed = [p for p in office.workers if p.returncode == -9]
    codes = [p.returncode for p in office.workers if p not in killed]
    failed = {n: office.worker_log(n, "err").read_text()[-1500:] + office.worker_log(n).read_text()[-1500:]
              for n, p in enumerate(office.workers) if p.returncode not in (0, -9)}
    assert codes and set(codes) == {0}, (codes, log, failed)
    assert office.states() == {"settled": DENTISTS}, log
    posts, reposts, invoices = office.insurer()
    assert len(posts) == DENTISTS and set(posts.values()) == {1}, ([k for k, v in posts.items() if v != 1], log)
    assert reposts == 0, log
    assert len(invoices) == DENTISTS * INVOICES and set(invoices.values()) == {1}, log


@pytest.fixture(autouse=True)
def _no_stray_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The harness exports the test PKI's passwords for the set-up; they do not outlive the test."""
    for name in ("MYCARENET_DENTAL_KEYSTORE_PASSWORD", "MYCARENET_DENTAL_LICENCE_PASSWORD"):
        monkeypatch.setenv(name, os.environ.get(name, ""))
