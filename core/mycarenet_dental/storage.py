"""The one storage interface of the core: SQLite in WAL mode by default.

Audit, contacts, the exchange log and every table a plugin declares (``mycarenet_dental_tables``)
live in one database file. Several processes of one practice may use it at once: WAL lets
readers run beside one writer, ``busy_timeout`` makes writers wait their turn, and writes that
read-then-write (the audit chain, sending numbers) use ``BEGIN IMMEDIATE`` so they serialise.
A server database can later replace this class behind the same small interface.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .registrations import TableSpec

_SCHEMA_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (name TEXT PRIMARY KEY, version INTEGER NOT NULL)"


class Storage:
    """A SQLite database shared by the core and the plugins."""

    def __init__(self, path: Path | str, *, busy_timeout_ms: int = 15000) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(f"cannot create the storage folder for {self.path}: {exc.strerror}",
                                  hint="set [storage] path in the configuration") from exc
        try:
            self._conn = sqlite3.connect(self.path, timeout=busy_timeout_ms / 1000,
                                         isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot open the storage {self.path}: {exc}") from exc
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._depth = 0
        self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        if self.path != ":memory:":
            self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._conn.execute(_SCHEMA_TABLE)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self, *, immediate: bool = True) -> Iterator[sqlite3.Connection]:
        """A transaction; nested calls join the outer one. ``immediate`` takes the write lock at once."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._conn
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            self._depth = 1
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")
            finally:
                self._depth = 0

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._conn.execute(sql, params)

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Row | None:
        with self._lock:
            return self._conn.execute(sql, params).fetchone()

    def iterate(self, sql: str, params: Sequence[Any] = (), *, batch: int = 5000) -> Iterator[sqlite3.Row]:
        """Stream rows of a large query without loading them all."""
        with self._lock:
            cur = self._conn.execute(sql, params)
            while True:
                rows = cur.fetchmany(batch)
                if not rows:
                    return
                yield from rows

    def schema_version(self, name: str) -> int:
        row = self.query_one("SELECT version FROM schema_version WHERE name = ?", (name,))
        return int(row["version"]) if row else 0

    def migrate(self, specs: Iterable[TableSpec]) -> None:
        """Bring every declared schema to its current version; each step runs once, atomically."""
        for spec in specs:
            if self.schema_version(spec.name) >= spec.version:
                continue
            with self.transaction():
                current = self.schema_version(spec.name)  # re-read under the write lock
                if current > spec.version:
                    raise ConfigError(f"storage schema {spec.name!r} is at version {current}, newer than "
                                      f"this software ({spec.version})", hint="upgrade the plugin")
                for step in spec.migrations[current:]:
                    for statement in _statements(step):
                        self._conn.execute(statement)
                self._conn.execute(
                    "INSERT INTO schema_version(name, version) VALUES (?, ?) "
                    "ON CONFLICT(name) DO UPDATE SET version = excluded.version",
                    (spec.name, spec.version),
                )


def _statements(script: str) -> list[str]:
    """Split a migration script on ';' (scripts hold no semicolons inside literals)."""
    return [s.strip() for s in script.split(";") if s.strip()]
