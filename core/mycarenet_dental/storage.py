"""The one storage interface of the core: SQLite in WAL mode by default.

Audit, contacts, the exchange log and every table a plugin declares (``mycarenet_dental_tables``)
live in one database file. Several processes of one practice may use it at once: WAL lets
readers run beside one writer, ``busy_timeout`` makes writers wait their turn, and writes that
read-then-write (the audit chain, sending numbers) use ``BEGIN IMMEDIATE`` so they serialise.
A PostgreSQL server replaces it behind the same small interface for processes on several
machines (:mod:`.storage_pg`, chosen by ``[storage] url``; :func:`open_storage`).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .registrations import TableSpec

_SCHEMA_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (name TEXT PRIMARY KEY, version INTEGER NOT NULL)"


class Storage:
    """A SQLite database shared by the core and the plugins."""

    dialect = "sqlite"
    integrity_errors: tuple[type[BaseException], ...] = (sqlite3.IntegrityError,)

    def __init__(self, path: Path | str, *, busy_timeout_ms: int = 15000) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            _private_dir(Path(self.path).parent)
            _private_files(self.path)  # tighten a database created by an older version
        try:
            with _private_umask():  # the database and its -wal/-shm are born 0600
                self._conn = sqlite3.connect(self.path, timeout=busy_timeout_ms / 1000,
                                             isolation_level=None, check_same_thread=False)
                self._conn.row_factory = sqlite3.Row
                self._lock = threading.RLock()
                self._depth = 0
                self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
                if self.path != ":memory:":
                    self._conn.execute("PRAGMA journal_mode = WAL")
                self._conn.execute("PRAGMA synchronous = NORMAL")
                self._conn.execute("PRAGMA foreign_keys = ON")
                self._conn.execute(_SCHEMA_TABLE)
        except sqlite3.Error as exc:  # "file is not a database", a directory, a read-only file...
            conn = getattr(self, "_conn", None)
            if conn is not None:
                conn.close()
            raise ConfigError(f"cannot open the storage {self.path}: {exc}", location="[storage] path",
                              hint="[storage] path must name a SQLite database file (created if absent)") from exc
        if self.path != ":memory:":
            _private_files(self.path)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def transaction(self, *, immediate: bool = True, snapshot: bool = False) -> _Transaction:
        """A transaction; nested calls join the outer one. ``immediate`` takes the write lock at once;
        a deferred one reads one snapshot anyway (``snapshot`` matters on PostgreSQL)."""
        return _Transaction(self, "BEGIN IMMEDIATE" if immediate else "BEGIN")

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
            with self.transaction() as conn:
                current = self.schema_version(spec.name)  # re-read under the write lock
                if current > spec.version:
                    raise ConfigError(f"storage schema {spec.name!r} is at version {current}, newer than "
                                      f"this software ({spec.version})", hint="upgrade the plugin")
                for step in spec.migrations[current:]:
                    for statement in _statements(step):
                        conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_version(name, version) VALUES (?, ?) "
                    "ON CONFLICT(name) DO UPDATE SET version = excluded.version",
                    (spec.name, spec.version),
                )

    def pending(self, specs: Iterable[TableSpec]) -> list[tuple[str, int, int]]:
        """(schema, version in the store, version of this software) for every declared schema."""
        return [(spec.name, self.schema_version(spec.name), spec.version) for spec in specs]

    def tables(self) -> list[str]:
        """The tables of the store (``storage copy`` moves them all)."""
        return [r[0] for r in self.query("SELECT name FROM sqlite_master WHERE type = 'table' "
                                         "AND name NOT LIKE 'sqlite_%' ORDER BY name")]


class _Transaction:
    """:meth:`Storage.transaction` as a plain context manager (entered a dozen times per exchange, most of
    them nested: a generator-based one cost more than the statements it wraps). Holds the store's lock
    from enter to exit; the outermost one begins, then commits, or rolls back on any exception."""

    __slots__ = ("_storage", "_begin", "_outermost")

    def __init__(self, storage: Storage, begin: str) -> None:
        self._storage = storage
        self._begin = begin
        self._outermost = False

    def __enter__(self) -> sqlite3.Connection:
        storage = self._storage
        storage._lock.acquire()
        if storage._depth:
            storage._depth += 1
            return storage._conn
        try:
            storage._conn.execute(self._begin)
        except BaseException:
            storage._lock.release()
            raise
        storage._depth = 1
        self._outermost = True
        return storage._conn

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        storage = self._storage
        try:
            if not self._outermost:
                storage._depth -= 1
                return
            try:
                storage._conn.execute("ROLLBACK" if exc_type is not None else "COMMIT")
            finally:
                storage._depth = 0
        finally:
            storage._lock.release()


def is_url(target: str) -> bool:
    return "://" in target


def sqlite_path(url: str) -> str:
    """``sqlite:///data.db`` is relative, ``sqlite:////srv/data.db`` absolute (the usual URL reading)."""
    return url[len("sqlite:///"):]


_COMMIT_MODES = ("on", "off", "local", "remote_write", "remote_apply")


def open_storage(target: Path | str, options: Mapping[str, Any] | None = None) -> Storage:
    """The store a path or URL names: a SQLite file (``path``, ``sqlite:///path``) or ``postgresql://``.

    ``options`` is the ``[storage]`` table: ``pool_size`` and ``synchronous_commit`` for PostgreSQL.
    """
    text = str(target)
    if text.startswith(("postgresql://", "postgres://")):
        from .storage_pg import PgStorage

        opts = options or {}
        pool = opts.get("pool_size", 10)
        if isinstance(pool, bool) or not isinstance(pool, int) or not 1 <= pool <= 100:
            raise ConfigError("[storage] pool_size must be a whole number from 1 to 100",
                              location="[storage] pool_size")
        # UNSURE: "off" matches the SQLite store's synchronous=NORMAL (a power cut may lose the last
        # commits, never the database's consistency nor the chain's order); "on" for full durability.
        commit = opts.get("synchronous_commit", "off")
        if commit not in _COMMIT_MODES:
            raise ConfigError(f"[storage] synchronous_commit must be one of {', '.join(_COMMIT_MODES)}",
                              location="[storage] synchronous_commit")
        return PgStorage(text, pool_size=pool, synchronous_commit=commit)
    if text.startswith("sqlite:///"):
        return Storage(sqlite_path(text))
    if is_url(text):
        raise ConfigError(f"unknown storage URL scheme in {text.split('://')[0]}://…", location="[storage] url",
                          hint="use postgresql://host/database or sqlite:///path/to/file.db")
    return Storage(text)


# -- file modes: the database holds SSINs, insurance results and eFact files -----------------------

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def _private_dir(folder: Path) -> None:
    """Create the data folder 0700; an existing one we own is tightened to 0700 too.

    UNSURE: the user's home folder itself is never tightened (a database put directly in ~ keeps ~
    as it is; the files are 0600 anyway).
    """
    try:
        with _private_umask():
            folder.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the storage folder {folder}: {exc.strerror}",
                          location="[storage] path", hint="set [storage] path in the configuration") from exc
    if not folder.is_dir():
        raise ConfigError(f"the storage folder {folder} is not a directory", location="[storage] path")
    if folder.resolve() != Path.home().resolve():
        _chmod_own(folder, PRIVATE_DIR_MODE)


def _private_files(db_path: str) -> None:
    """The database and its WAL/SHM/journal siblings: 0600 (also files left by an older version)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        path = Path(db_path + suffix)
        if path.is_file():
            _chmod_own(path, PRIVATE_FILE_MODE)


def _chmod_own(path: Path, mode: int) -> None:
    """chmod when we own the path and its mode is wider; a shared folder owned by someone else is left."""
    try:
        st = path.stat()
        if st.st_uid == os.getuid() and (st.st_mode & 0o777) & ~mode:
            os.chmod(path, (st.st_mode & 0o777) & mode)
    except (OSError, AttributeError):  # no getuid (Windows) or a race with a delete: nothing to tighten
        pass


@contextmanager
def _private_umask() -> Iterator[None]:
    """Files SQLite creates while this is active get no group/other bits.

    UNSURE: umask is process-wide; the window is the connect + first statements (which create the
    -wal/-shm files), and _private_files() re-checks afterwards for any file born outside it.
    """
    try:
        old = os.umask(0o077)
    except AttributeError:  # pragma: no cover - no umask on this platform
        yield
        return
    try:
        yield
    finally:
        os.umask(old)


def private_write_text(path: Path, text: str) -> None:
    """Write an export/checkpoint file holding patient data: created 0600, tightened if it existed."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        _chmod_own(path, PRIVATE_FILE_MODE)
        fh.write(text)


def _statements(script: str) -> list[str]:
    """Split a migration script on ';' (scripts hold no semicolons inside literals)."""
    return [s.strip() for s in script.split(";") if s.strip()]
