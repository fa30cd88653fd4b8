"""The PostgreSQL backend of :class:`~mycarenet_dental.storage.Storage` (psycopg 3 + psycopg_pool).

Same interface and the same guarantees as the SQLite store, for a practice or billing office whose
processes run on several machines:

* a write transaction (``transaction()``, the default) takes one transaction-level advisory lock,
  exactly what ``BEGIN IMMEDIATE`` is on SQLite: every read-then-write the core and the plugins do
  under it (the audit chain head, rule checks and their reservations, burst counts, the mandate
  register) is serialised across processes and machines, and released at COMMIT/ROLLBACK, also when
  the process dies (the server ends its session);
* ``transaction(immediate=False)`` is a plain READ COMMITTED transaction (row locks, ``FOR UPDATE
  SKIP LOCKED``); ``snapshot=True`` a REPEATABLE READ one (``audit verify`` reads rows and head of one
  moment);
* SQL is written once, SQLite-flavoured; :mod:`.sql_dialect` translates it; rows answer by index and
  by column name like ``sqlite3.Row``.

The password never comes from the configuration file: libpq reads ``PGPASSWORD``, ``~/.pgpass``
(``PGPASSFILE``) or a service file (``PGSERVICE``); URLs are masked in every message.
"""

from __future__ import annotations

import itertools
import re
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .errors import ConfigError
from .sql_dialect import to_postgres
from .storage import Storage

#: The advisory lock key of write transactions ("mcn-writer" as a 63-bit number).
WRITER_LOCK = 0x6D636E2D7772


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (for messages and logs)."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


class Row(tuple):
    """A result row readable by position and by column name, like ``sqlite3.Row``."""

    __slots__ = ()
    _index: dict[str, int] = {}

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


_CURSORS = itertools.count(1)
_ROW_CLASSES: dict[tuple[str, ...], type[Row]] = {}


def _row_factory(cursor: Any) -> Any:
    """One Row subclass per column list (cached): building a row is then one tuple construction."""
    names = tuple(d.name for d in cursor.description or ())
    cls = _ROW_CLASSES.get(names)
    if cls is None:
        index = {n: i for i, n in enumerate(names)}
        cls = _ROW_CLASSES[names] = type("Row", (Row,), {"__slots__": (), "_index": index})
    return cls


class Connection:
    """What ``transaction()`` yields: ``execute``/``executemany`` taking SQLite-flavoured SQL."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] | None = ()) -> Any:
        return self.raw.execute(to_postgres(sql), tuple(params or ()))

    def executemany(self, sql: str, rows: Any) -> Any:
        cur = self.raw.cursor()
        cur.executemany(to_postgres(sql), [tuple(r) for r in rows])
        return cur


class PgStorage(Storage):
    """A PostgreSQL database shared by every workstation and worker of a practice or office."""

    dialect = "postgresql"

    def __init__(self, url: str, *, pool_size: int = 10, connect_timeout: float = 10.0,
                 synchronous_commit: str = "off") -> None:
        try:
            import psycopg
            from psycopg_pool import ConnectionPool
        except ImportError as exc:
            raise ConfigError("a PostgreSQL storage needs the 'postgresql' extra",
                              location="[storage] url",
                              hint="pip install 'mycarenet-dental[postgresql]'") from exc
        self.url = url
        self.path = mask_url(url)
        self.integrity_errors = (psycopg.errors.IntegrityError,)
        self._local = threading.local()
        self._pool = ConnectionPool(url, min_size=1, max_size=pool_size, open=False, configure=_configure,
                                    kwargs={"autocommit": True, "connect_timeout": int(connect_timeout),
                                            "options": f"-c synchronous_commit={synchronous_commit}"},
                                    timeout=connect_timeout + 5, name="mycarenet-dental")
        try:  # one direct connection first: a wrong URL fails at once (the pool would retry until its timeout)
            with psycopg.connect(url, autocommit=True, connect_timeout=int(connect_timeout)) as first:
                first.execute("CREATE TABLE IF NOT EXISTS schema_version (name TEXT PRIMARY KEY, version BIGINT NOT NULL)")
            self._pool.open(wait=True, timeout=connect_timeout)
        except Exception as exc:  # no server, bad credentials, no database...
            self._pool.close()
            raise ConfigError(f"cannot open the storage {self.path}: {_clean(exc, url)}", location="[storage] url",
                              hint="check the server, the database name, and PGPASSWORD / ~/.pgpass / "
                                   "PGSERVICE for the password") from None

    def close(self) -> None:
        self._pool.close()

    @contextmanager
    def transaction(self, *, immediate: bool = True, snapshot: bool = False) -> Iterator[Connection]:
        """A transaction; nested calls join the outer one. ``immediate`` serialises writers (advisory lock)."""
        local = self._local
        if getattr(local, "depth", 0):
            local.depth += 1
            try:
                yield local.conn
            finally:
                local.depth -= 1
            return
        conn = self._thread_connection()
        raw = conn.raw
        begin = "BEGIN ISOLATION LEVEL REPEATABLE READ" if snapshot else "BEGIN"
        local.depth = 1
        try:
            # the writers' lock goes with BEGIN in one round trip (one simple-protocol message)
            raw.execute(f"{begin}; SELECT pg_advisory_xact_lock({WRITER_LOCK})" if immediate else begin)
            yield conn
        except BaseException:
            if not (raw.closed or raw.broken):  # a lost connection ended its transaction on the server
                raw.execute("ROLLBACK")
            raise
        else:
            raw.execute("COMMIT")
        finally:
            local.depth = 0

    def _thread_connection(self) -> Connection:
        """This thread's connection, taken from the pool once and kept (as the SQLite store keeps its
        one connection): no check-out per statement. A broken one goes back and a fresh one is taken."""
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is not None and (conn.raw.closed or conn.raw.broken):
            self._pool.putconn(conn.raw)
            conn = None
        if conn is None:
            raw = self._pool.getconn()
            conn = local.conn = Connection(raw)
            weakref.finalize(conn, self._give_back, raw)  # the thread ended: its connection returns
        return conn

    def _give_back(self, raw: Any) -> None:
        if not self._pool.closed:
            self._pool.putconn(raw)

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        return self._thread_connection().execute(sql, params)  # type: ignore[arg-type]

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        return self._thread_connection().execute(sql, params).fetchall()  # type: ignore[arg-type, no-any-return]

    def query_one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        return self._thread_connection().execute(sql, params).fetchone()  # type: ignore[arg-type]

    def iterate(self, sql: str, params: Sequence[Any] = (), *, batch: int = 5000) -> Iterator[Any]:
        """Stream rows through a server-side cursor (inside a transaction, opened if needed)."""
        with self.transaction(immediate=False) as conn:
            with conn.raw.cursor(name=f"mcn_iter_{next(_CURSORS)}", row_factory=_row_factory) as cur:
                cur.execute(to_postgres(sql), tuple(params))
                while True:
                    rows = cur.fetchmany(batch)
                    if not rows:
                        return
                    yield from rows

    def tables(self) -> list[str]:
        return [r[0] for r in self.query("SELECT table_name FROM information_schema.tables "
                                         "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")]


def _configure(conn: Any) -> None:
    """Each pooled connection: rows like sqlite3.Row, ints and bools typed by the server as SQLite does."""
    from psycopg.adapt import Dumper

    class _AsUnknown(Dumper):  # SQLite compares 1 with an INTEGER or TEXT column alike; so does this
        def dump(self, obj: Any) -> bytes:
            return str(int(obj)).encode()

        def quote(self, obj: Any) -> bytes:  # psycopg's own literals (FETCH FORWARD n) stay numbers
            return self.dump(obj)

    conn.row_factory = _row_factory
    conn.adapters.register_dumper(int, _AsUnknown)
    conn.adapters.register_dumper(bool, _AsUnknown)


def _clean(exc: BaseException, url: str) -> str:
    """An exception's text without the URL's password (libpq may echo the connection string)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return mask_url(text.replace(url, mask_url(url)))
