"""``storage copy``: move a practice's SQLite store into a (new, empty) PostgreSQL database.

Every table is copied row for row in one transaction on the target (all or nothing), parents before
the tables whose foreign keys point at them; automatic keys continue after the copied ones; then the
audit trail is verified on the target against the practice's signed checkpoints — the chain and the
checkpoints must verify unchanged, since not one byte of a row may differ.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from .errors import UsageError
from .registrations import TableSpec
from .storage import Storage

#: Bookkeeping the target keeps for itself (its own schema versions; SQLite's sequence table).
_SKIP = frozenset({"schema_version", "sqlite_sequence"})
_BATCH = 2000


@attrs.frozen
class CopyReport:
    """What was copied: rows per table, in copy order."""

    tables: tuple[tuple[str, int], ...]

    @property
    def rows(self) -> int:
        return sum(n for _, n in self.tables)


def copy_store(source: Storage, target: Storage, specs: Sequence[TableSpec]) -> CopyReport:
    """Copy every table of ``source`` (migrated to ``specs``) into ``target``, which must hold no data."""
    if source.dialect != "sqlite":
        raise UsageError("storage copy reads a SQLite store (the one [storage] path names)")
    source.migrate(specs)
    target.migrate(specs)
    tables = _in_dependency_order(source, [t for t in source.tables() if t not in _SKIP])
    absent = [t for t in tables if t not in set(target.tables())]
    if absent:
        raise UsageError(f"the target has no table {', '.join(absent)}: is every plugin of the source installed?")
    for table in tables:
        if table != "audit_head" and target.query_one(f"SELECT 1 FROM {table} LIMIT 1") is not None:
            raise UsageError(f"the target already holds data (table {table}): copy into a new, empty database",
                             hint="create one with: createdb NAME")
    copied = []
    with target.transaction() as conn:
        conn.execute("DELETE FROM audit_head")  # the target's genesis head: replaced by the source's
        for table in tables:
            copied.append((table, _copy_table(source, conn, table)))
        if target.dialect == "postgresql":
            _continue_identities(conn)
    return CopyReport(tuple(copied))


def _copy_table(source: Storage, conn: Any, table: str) -> int:
    columns = [r[1] for r in source.query(f"PRAGMA table_info({table})")]
    names = ", ".join(columns)
    insert = f"INSERT INTO {table}({names}) VALUES ({', '.join('?' * len(columns))})"
    count = 0
    batch: list[tuple[Any, ...]] = []
    for row in source.iterate(f"SELECT {names} FROM {table} ORDER BY rowid", batch=_BATCH):
        batch.append(tuple(row))
        if len(batch) >= _BATCH:
            conn.executemany(insert, batch)
            count, batch = count + len(batch), []
    if batch:
        conn.executemany(insert, batch)
        count += len(batch)
    return count


def _in_dependency_order(source: Storage, tables: Iterable[str]) -> list[str]:
    """Tables sorted so that a table comes after every table its foreign keys reference."""
    pending = {t: {r[2] for r in source.query(f"PRAGMA foreign_key_list({t})")} - {t} for t in tables}
    ordered: list[str] = []
    while pending:
        ready = sorted(t for t, deps in pending.items() if not deps - set(ordered))
        if not ready:  # a cycle: keep the remaining order (no such schema in the project)
            ready = sorted(pending)
        ordered += ready
        for t in ready:
            del pending[t]
    return ordered


def _continue_identities(conn: Any) -> None:
    """PostgreSQL identity columns: the next automatic key follows the copied ones."""
    rows = conn.execute("SELECT table_name, column_name FROM information_schema.columns "
                        "WHERE table_schema = current_schema() AND is_identity = 'YES'").fetchall()
    for table, column in rows:
        conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                     f"COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)")
