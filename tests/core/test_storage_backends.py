"""The storage interface, the same tests on both backends: SQLite (a file) and PostgreSQL (a
throwaway cluster, ``postgres_url``). What the core and the plugins rely on: migrations, rows by
name, automatic keys, ``INSERT OR IGNORE``, constraint errors, nested transactions, the audit chain,
reservations, and the writers' lock across connections."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from mycarenet_dental import reservations
from mycarenet_dental.audit import TABLES as AUDIT_TABLES
from mycarenet_dental.audit import AuditLog
from mycarenet_dental.errors import ConfigError
from mycarenet_dental.exchange_log import ExchangeLog
from mycarenet_dental.registrations import TableSpec
from mycarenet_dental.storage import Storage, open_storage

ITEMS = TableSpec(name="plugin.items", migrations=[
    "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, qty INTEGER NOT NULL DEFAULT 0, "
    "blob BLOB, flag INTEGER NOT NULL DEFAULT 0)",
    "ALTER TABLE item ADD COLUMN note TEXT; UPDATE item SET note = 'v2'",
])


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a store lives: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "store.sqlite")
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(target: str) -> Any:
    storage = open_storage(target)
    storage.migrate([AUDIT_TABLES, reservations.TABLES, ITEMS])
    yield storage
    storage.close()


def test_migrations_apply_once_and_record_their_version(target: str) -> None:
    storage = open_storage(target)
    storage.migrate([TableSpec(name="plugin.items", migrations=ITEMS.migrations[:1])])
    storage.execute("INSERT INTO item(name) VALUES (?)", ("first",))
    storage.migrate([ITEMS])
    storage.migrate([ITEMS])  # idempotent
    assert storage.schema_version("plugin.items") == 2
    assert storage.pending([ITEMS]) == [("plugin.items", 2, 2)]
    assert storage.query_one("SELECT note FROM item WHERE name = ?", ("first",))["note"] == "v2"
    assert "item" in storage.tables() and "schema_version" in storage.tables()


def test_failed_migration_rolls_back(target: str) -> None:
    storage = open_storage(target)
    bad = TableSpec(name="plugin.bad", migrations=["CREATE TABLE y (id INTEGER); CREATE TABLE y (id INTEGER)"])
    with pytest.raises(Exception, match="(?i)already exists"):
        storage.migrate([bad])
    assert storage.schema_version("plugin.bad") == 0
    assert "y" not in storage.tables()


def test_rows_keys_types_and_automatic_ids(store: Any) -> None:
    store.execute("INSERT INTO item(name, qty, blob, flag) VALUES (?,?,?,?)", ("a", 3, b"\x00\xffbytes", True))
    store.execute("INSERT INTO item(name, qty) VALUES (?,?)", ("b", 2**40))
    a, b = store.query("SELECT * FROM item ORDER BY id")
    assert (a["id"], b["id"]) == (1, 2)  # INTEGER PRIMARY KEY: an automatic key on both
    assert a["name"] == a[1] == "a" and bytes(a["blob"]) == b"\x00\xffbytes" and a["flag"] == 1
    assert b["qty"] == 2**40  # 64-bit integers
    assert dict(a)["qty"] == 3 and "note" in a.keys()
    assert store.query_one("SELECT name FROM item WHERE name LIKE 'a%'")["name"] == "a"
    assert store.query_one("SELECT name FROM item WHERE id = ?", (99,)) is None
    assert [r["name"] for r in store.iterate("SELECT name FROM item ORDER BY id", batch=1)] == ["a", "b"]


def test_insert_or_ignore_and_constraint_errors(store: Any) -> None:
    store.execute("INSERT INTO item(name) VALUES (?)", ("x",))
    cur = store.execute("INSERT OR IGNORE INTO item(name) VALUES (?)", ("x",))
    assert cur.rowcount == 0
    with pytest.raises(store.integrity_errors):
        store.execute("INSERT INTO item(name) VALUES (?)", ("x",))
    assert store.query_one("SELECT COUNT(*) AS n FROM item")["n"] == 1


def test_nested_transactions_join_and_roll_back_together(store: Any) -> None:
    with pytest.raises(RuntimeError):
        with store.transaction() as conn:
            conn.execute("INSERT INTO item(name) VALUES (?)", ("outer",))
            with store.transaction() as inner:
                inner.execute("INSERT INTO item(name) VALUES (?)", ("inner",))
            store.execute("INSERT INTO item(name) VALUES (?)", ("same transaction",))
            raise RuntimeError("abort")
    assert store.query("SELECT * FROM item") == []
    with store.transaction() as conn:
        conn.executemany("INSERT INTO item(name, qty) VALUES (?, ?)", [("p", 1), ("q", 2)])
    assert store.query_one("SELECT SUM(qty) AS s FROM item")["s"] == 3


def test_audit_chain_appends_verifies_and_detects_an_edit(store: Any) -> None:
    log = AuditLog(store)
    for i in range(12):
        log.append("exchange", exchange_id=f"x{i}", service="tariff", patient="85073003328",
                   message="é, ü — unicode", detail={"n": i, "text": "ça"})
    result = log.verify()
    assert result.ok and result.rows == 12
    assert [e.seq for e in log.entries(kind="exchange")][-1] == 12
    store.execute("UPDATE audit SET message = ? WHERE seq = ?", ("rewritten", 5))
    broken = log.verify()
    assert not broken.ok and broken.problem == "ENTRY_CHANGED" and broken.first_broken == 5


def test_exchange_log_returns_the_new_row_id(store: Any) -> None:
    from mycarenet_dental import contacts

    store.migrate([contacts.TABLES])
    log = ExchangeLog(store)
    first = log.record(exchange_id="e1", kind="k", service="s", status="ok", data={"a": 1})
    second = log.record(exchange_id="e2", kind="k", service="s", status="ok", data={"a": 2})
    assert second == first + 1
    assert [r.exchange_id for r in log.find(kind="k")] == ["e1", "e2"]


def test_reservation_is_one_holder_and_a_dead_one_is_taken_over(store: Any) -> None:
    now = datetime(2026, 5, 4, 10, 0, tzinfo=timezone.utc)
    ttl = timedelta(seconds=120)
    with store.transaction() as conn:
        assert reservations.take(conn, "R34", "c1", "ex-a", now=now, ttl=ttl) is None
        assert reservations.take(conn, "R34", "c1", "ex-a", now=now, ttl=ttl) is None  # its own: fine
        holder = reservations.take(conn, "R34", "c1", "ex-b", now=now + timedelta(seconds=5), ttl=ttl)
    assert holder is not None and holder.exchange_id == "ex-a"
    with store.transaction() as conn:  # ex-a's process died: after the ttl ex-b takes over
        assert reservations.take(conn, "R34", "c1", "ex-b", now=now + timedelta(seconds=121), ttl=ttl) is None
        reservations.release(conn, "ex-b")
    assert store.query("SELECT * FROM rule_reservation") == []


def test_write_transactions_exclude_each_other_across_connections(target: str, store: Any) -> None:
    """Two connections (two workstations): a read-then-write under ``transaction()`` never interleaves."""
    other = open_storage(target)
    store.execute("INSERT INTO item(name, qty) VALUES ('counter', 0)")
    errors: list[BaseException] = []

    def bump(storage: Any) -> None:
        try:
            for _ in range(15):
                with storage.transaction() as conn:
                    qty = conn.execute("SELECT qty FROM item WHERE name = 'counter'").fetchone()[0]
                    time.sleep(0.001)
                    conn.execute("UPDATE item SET qty = ? WHERE name = 'counter'", (qty + 1,))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=bump, args=(s,)) for s in (store, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    other.close()
    assert not errors
    assert store.query_one("SELECT qty FROM item WHERE name = 'counter'")["qty"] == 30


def test_a_sqlite_url_and_a_plain_path_name_the_same_store(tmp_path: Path) -> None:
    path = tmp_path / "via-url.sqlite"
    open_storage(f"sqlite:///{path}").migrate([ITEMS])
    assert Storage(path).schema_version("plugin.items") == 2
    with pytest.raises(ConfigError, match="unknown storage URL"):
        open_storage("mysql://host/db")


def test_threads_come_and_go_without_exhausting_the_pool(postgres_url: str) -> None:
    """Each thread keeps one pooled connection while it lives; an ended thread's goes back."""
    import gc

    storage = open_storage(postgres_url, {"pool_size": 2})
    storage.migrate([ITEMS])
    for k in range(6):
        t = threading.Thread(target=storage.execute, args=("INSERT INTO item(name) VALUES (?)", (f"t{k}",)))
        t.start()
        t.join(20)
        gc.collect()
    assert storage.query_one("SELECT COUNT(*) AS n FROM item")["n"] == 6
    storage.close()


@pytest.mark.parametrize(("sqlite", "postgres"), [
    ("SELECT * FROM t WHERE a = ? AND b LIKE 'x%'", "SELECT * FROM t WHERE a = %s AND b LIKE 'x%%'"),
    ("SELECT '?' FROM t WHERE a = ?", "SELECT '?' FROM t WHERE a = %s"),
    ("INSERT OR IGNORE INTO t(a) VALUES (?)", "INSERT INTO t(a) VALUES (%s) ON CONFLICT DO NOTHING"),
    ("CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB, n INTEGER, x REAL)",
     "CREATE TABLE t (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, blob BYTEA, n BIGINT, x DOUBLE PRECISION)"),
    ("ALTER TABLE t ADD COLUMN n INTEGER", "ALTER TABLE t ADD COLUMN n BIGINT"),
    ("UPDATE t SET integer_count = ? WHERE id = ?", "UPDATE t SET integer_count = %s WHERE id = %s"),
])
def test_the_dialect_layer_translates(sqlite: str, postgres: str) -> None:
    from mycarenet_dental.sql_dialect import to_postgres

    assert to_postgres(sqlite) == postgres


def test_sqlite_only_statements_are_refused_by_name() -> None:
    from mycarenet_dental.sql_dialect import DialectError, to_postgres

    for sql in ("INSERT OR REPLACE INTO t VALUES (1)", "PRAGMA table_info(t)"):
        with pytest.raises(DialectError, match="no PostgreSQL translation"):
            to_postgres(sql)
