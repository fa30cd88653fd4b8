"""Audit trail: append-only hash chain, verify detects edits, deletions, reordering; export."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest
from mycarenet_dental.audit import TABLES, AuditLog
from mycarenet_dental.storage import Storage


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    storage = Storage(tmp_path / "a.sqlite")
    storage.migrate([TABLES])
    audit = AuditLog(storage)
    for i in range(20):
        audit.append("exchange", exchange_id=f"x{i}", service="tariff", operation="op", responsible="dentist:1",
                     executor="user:alice", patient="85073003328", outcome="sent", detail={"n": i})
    return audit


def _db(log: AuditLog) -> sqlite3.Connection:
    return sqlite3.connect(log.storage.path)


def test_intact_chain_verifies(log: AuditLog) -> None:
    result = log.verify()
    assert result.ok and result.rows == 20


def test_timestamps_are_utc_with_milliseconds(log: AuditLog) -> None:
    entry = next(log.entries())
    assert entry.ts.endswith("Z") and len(entry.ts.split(".")[1]) == 4  # "mmmZ"


def test_edited_row_is_detected(log: AuditLog) -> None:
    with _db(log) as db:
        db.execute("UPDATE audit SET outcome = 'ok' WHERE seq = 7")
    result = log.verify()
    assert not result.ok and result.first_broken == 7 and "changed" in result.reason


def test_deleted_row_is_detected(log: AuditLog) -> None:
    with _db(log) as db:
        db.execute("DELETE FROM audit WHERE seq = 5")
    result = log.verify()
    assert not result.ok and result.first_broken == 5


def test_deleted_last_row_is_detected(log: AuditLog) -> None:
    with _db(log) as db:
        db.execute("DELETE FROM audit WHERE seq = 20")
    result = log.verify()
    assert not result.ok


def test_reordered_rows_are_detected(log: AuditLog) -> None:
    with _db(log) as db:
        a = db.execute("SELECT exchange_id, detail FROM audit WHERE seq = 3").fetchone()
        b = db.execute("SELECT exchange_id, detail FROM audit WHERE seq = 4").fetchone()
        db.execute("UPDATE audit SET exchange_id = ?, detail = ? WHERE seq = 3", b)
        db.execute("UPDATE audit SET exchange_id = ?, detail = ? WHERE seq = 4", a)
    assert log.verify().first_broken == 3


def test_rehashed_row_still_breaks_the_chain(log: AuditLog) -> None:
    """Recomputing one row's own hash after an edit does not help: the next row no longer follows."""
    from mycarenet_dental.audit import FIELDS, _row_hash

    with _db(log) as db:
        db.execute("UPDATE audit SET outcome = 'ok' WHERE seq = 9")
        row = db.execute(f"SELECT {', '.join(FIELDS)}, prev_hash FROM audit WHERE seq = 9").fetchone()
        db.execute("UPDATE audit SET hash = ? WHERE seq = 9", (_row_hash(row[-1], tuple(row[:-1])),))
    assert log.verify().first_broken == 10


def test_export_json_and_csv(log: AuditLog) -> None:
    lines = log.export("json").splitlines()
    assert len(lines) == 20 and json.loads(lines[0])["exchange_id"] == "x0"
    csv_text = log.export("csv")
    assert csv_text.splitlines()[0].startswith("seq,ts,kind") and len(csv_text.splitlines()) == 21


def test_concurrent_processes_keep_one_chain(tmp_path: Path) -> None:
    import multiprocessing as mp

    path = tmp_path / "shared.sqlite"
    storage = Storage(path)
    storage.migrate([TABLES])
    storage.close()
    procs = [mp.get_context("fork").Process(target=_writer, args=(str(path), k)) for k in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    log = AuditLog(Storage(path))
    result = log.verify()
    assert result.ok and result.rows == 150


def _writer(path: str, k: int) -> None:
    log = AuditLog(Storage(path))
    for i in range(50):
        log.append("exchange", exchange_id=f"p{k}-{i}")
        if i % 10 == 0:
            time.sleep(0.001)
