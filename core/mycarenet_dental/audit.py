"""Audit trail of every transmission (protocol Art. 3, rules R5–R9).

Append-only and hash-chained: each row's hash covers its sequence number, every field and the
previous row's hash, and a one-row ``audit_head`` keeps the last sequence and hash, so an edited,
deleted, inserted or reordered row — including the last one — breaks ``verify``. The chain alone
does not stop someone who rewrites rows and recomputes it: signed checkpoints kept outside the
database (:mod:`mycarenet_dental.audit_checkpoint`) do, for everything up to the latest one. Rows hold
identifiers, codes and message references, never a clinical payload (R28): ``detail`` must be
non-clinical metadata, and callers keep payloads out of it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from .registrations import TableSpec
from .storage import Storage
from .timeutil import utc_ms

GENESIS = "0" * 64

TABLES = TableSpec(
    name="core.audit",
    migrations=[
        """
        CREATE TABLE audit (
            seq INTEGER PRIMARY KEY,
            ts TEXT NOT NULL,
            kind TEXT NOT NULL,
            exchange_id TEXT,
            service TEXT,
            operation TEXT,
            responsible TEXT,
            executor TEXT,
            patient TEXT,
            contact_id TEXT,
            trigger_ TEXT,
            outcome TEXT,
            code TEXT,
            message TEXT,
            detail TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        );
        CREATE INDEX audit_ts ON audit(ts);
        CREATE INDEX audit_exchange ON audit(exchange_id);
        CREATE TABLE audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL);
        INSERT INTO audit_head(id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000')
        """,
        # the burst rules (R37, R42) count one executor's recent exchanges of a service before every call
        "CREATE INDEX audit_burst ON audit(service, executor, ts) WHERE kind = 'exchange'",
        # PostgreSQL's one-statement append keeps the previous head hash here (unused on SQLite)
        "ALTER TABLE audit_head ADD COLUMN prev_hash TEXT",
    ],
)

# PostgreSQL appends in one statement: appenders from every machine queue on an advisory lock
# (granted one at a time, in order: a row lock would wake every waiter at each commit), then the
# UPDATE of the head row re-reads the head the previous one committed, computes the row hash
# server-side over exactly the bytes ``_row_hash`` hashes ('[' + seq + the JSON tail the client
# sends) and keeps the old hash as ``prev_hash``; the lock is held for no client round trip.
AUDIT_LOCK = 0x6D636E2D6175  # "mcn-au"
_PG_APPEND = (
    "WITH queue AS (SELECT pg_advisory_xact_lock(?) AS held), "
    "head AS (UPDATE audit_head SET seq = seq + 1, prev_hash = hash, "
    "hash = encode(sha256(convert_to(hash || '[' || (seq + 1) || ?, 'UTF8')), 'hex') "
    "WHERE id = 1 AND (SELECT true FROM queue) RETURNING seq, prev_hash, hash) "
    "INSERT INTO audit(seq, ts, kind, exchange_id, service, operation, responsible, executor, patient, "
    "contact_id, trigger_, outcome, code, message, detail, prev_hash, hash) "
    "SELECT head.seq, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, head.prev_hash, head.hash FROM head RETURNING seq"
)

_SQLITE_ROW = ("INSERT INTO audit(seq, ts, kind, exchange_id, service, operation, responsible, executor, patient, "
               "contact_id, trigger_, outcome, code, message, detail, prev_hash, hash) "
               "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
# built once: json.dumps with options builds a new encoder at every call
_ROW_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_DETAIL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode

FIELDS = ("seq", "ts", "kind", "exchange_id", "service", "operation", "responsible", "executor",
          "patient", "contact_id", "trigger_", "outcome", "code", "message", "detail")


@attrs.frozen
class AuditEntry:
    """One row of the audit trail."""

    seq: int
    ts: str
    kind: str
    exchange_id: str | None = None
    service: str | None = None
    operation: str | None = None
    responsible: str | None = None
    executor: str | None = None
    patient: str | None = None
    contact_id: str | None = None
    trigger: str | None = None
    outcome: str | None = None
    code: str | None = None
    message: str | None = None
    detail: Mapping[str, Any] = attrs.field(factory=dict)
    hash: str = ""

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class VerifyResult:
    """Outcome of ``verify``: ``ok``, or the first broken sequence number, what is wrong and why.

    ``problem`` names the failure for scripts: EMPTY, MISSING, NOT_A_DATABASE, TRUNCATED, CORRUPT,
    DROPPED, ENTRY_CHANGED, ENTRY_MISSING, CHAIN_BROKEN, HEAD_MISMATCH, ROWS_REMOVED, CHAIN_REWRITTEN,
    BAD_CHECKPOINT_FILE, BAD_CHECKPOINT_SIGNATURE, UNKNOWN_SIGNER.
    """

    ok: bool
    rows: int
    first_broken: int | None = None
    reason: str = ""
    problem: str = ""
    head: str = ""
    checkpoint: Mapping[str, Any] | None = None  # the latest checkpoint the trail was checked against
    signed: Mapping[str, Any] | None = None  # the checkpoint this verification wrote
    warnings: tuple[str, ...] = ()


def _failed(problem: str, reason: str, rows: int = 0, first_broken: int | None = None) -> VerifyResult:
    return VerifyResult(False, rows, first_broken, reason, problem=problem)


def _tail(values: tuple[Any, ...]) -> str:
    """The hashed row after its sequence number: ``,`` + the JSON of the other values + ``]``."""
    return "," + _ROW_JSON(values)[1:]


def _chained(prev: str, seq: int, tail: str) -> str:
    """A row's hash: SHA-256 of the previous hash + the row's JSON array (``[seq`` + :func:`_tail`); the same
    bytes PostgreSQL hashes server-side in ``_PG_APPEND``."""
    return hashlib.sha256(f"{prev}[{seq}{tail}".encode()).hexdigest()


def _row_hash(prev: str, values: tuple[Any, ...]) -> str:
    return _chained(prev, values[0], _tail(values[1:]))


class AuditLog:
    """Append-only, hash-chained audit trail stored in the core storage."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def append(
        self,
        kind: str,
        *,
        exchange_id: str | None = None,
        service: str | None = None,
        operation: str | None = None,
        responsible: str | None = None,
        executor: str | None = None,
        patient: str | None = None,
        contact_id: str | None = None,
        trigger: str | None = None,
        outcome: str | None = None,
        code: str | None = None,
        message: str | None = None,
        detail: Mapping[str, Any] | None = None,
        at: datetime | None = None,
    ) -> int:
        """Append one record; returns its sequence number. Safe across processes (BEGIN IMMEDIATE)."""
        detail_json = _DETAIL_JSON(dict(detail)) if detail else "{}"
        values = (utc_ms(at), kind, exchange_id, service, operation, responsible, executor, patient, contact_id,
                  trigger, outcome, code, message, detail_json)
        tail = _tail(values)  # encoded before the lock is taken; the sequence number comes with the head
        if self.storage.dialect == "postgresql":
            row = self.storage.query_one(_PG_APPEND, (AUDIT_LOCK, tail, *values))
            return int(row[0])
        with self.storage.transaction() as conn:
            head = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
            seq = int(head[0]) + 1
            digest = _chained(head[1], seq, tail)
            conn.execute(_SQLITE_ROW, (seq, *values, head[1], digest))
            conn.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (seq, digest))
        return seq

    def entries(self, *, since: str | None = None, until: str | None = None, kind: str | None = None,
                exchange_id: str | None = None, service: str | None = None) -> Iterator[AuditEntry]:
        """Entries in sequence order, optionally limited by ISO timestamps (inclusive) and filters."""
        where, params = [], []
        for column, value, op in (("ts", since, ">="), ("ts", until, "<="), ("kind", kind, "="),
                                  ("exchange_id", exchange_id, "="), ("service", service, "=")):
            if value is not None:
                where.append(f"{column} {op} ?")
                params.append(value)
        sql = "SELECT * FROM audit" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY seq"
        for row in self.storage.iterate(sql, params):
            yield AuditEntry(
                seq=row["seq"], ts=row["ts"], kind=row["kind"], exchange_id=row["exchange_id"],
                service=row["service"], operation=row["operation"], responsible=row["responsible"],
                executor=row["executor"], patient=row["patient"], contact_id=row["contact_id"],
                trigger=row["trigger_"], outcome=row["outcome"], code=row["code"], message=row["message"],
                detail=json.loads(row["detail"]), hash=row["hash"],
            )

    def verify(self, checkpoints: Sequence[Any] = ()) -> VerifyResult:
        """Recompute the chain; report the first row edited, deleted, inserted or reordered, and any
        difference with the signed ``checkpoints`` (see :mod:`mycarenet_dental.audit_checkpoint`)."""
        cols = ", ".join(FIELDS)
        with self.storage.transaction(immediate=False, snapshot=True):  # one snapshot: rows and head seen at the same moment
            rows = self.storage.iterate(f"SELECT {cols}, prev_hash, hash FROM audit ORDER BY seq", batch=20000)
            return verify_rows(rows, lambda: self.storage.query_one("SELECT seq, hash FROM audit_head WHERE id = 1"),
                               checkpoints)

    def export(self, fmt: str = "json", **filters: Any) -> str:
        """Export entries as JSON lines or CSV (for inspections, R10/R12)."""
        entries = self.entries(**filters)
        if fmt == "json":
            return "".join(json.dumps(e.to_dict(), ensure_ascii=False) + "\n" for e in entries)
        buf = io.StringIO()
        names = [f.name for f in attrs.fields(AuditEntry)]
        writer = csv.DictWriter(buf, fieldnames=names)
        writer.writeheader()
        for entry in entries:
            row = entry.to_dict()
            row["detail"] = json.dumps(row["detail"], ensure_ascii=False, sort_keys=True)
            writer.writerow(row)
        return buf.getvalue()


def verify_rows(rows: Iterable[Sequence[Any]], head_of: Callable[[], Any], checkpoints: Sequence[Any] = ()) -> VerifyResult:
    """The chain check itself, over (FIELDS..., prev_hash, hash) rows in sequence order."""
    want = {int(cp.seq) for cp in checkpoints}
    hash_at: dict[int, str] = {0: GENESIS}
    prev = GENESIS
    expected_seq = 1
    count = 0
    n = len(FIELDS)
    for row in rows:
        seq = row[0]
        if seq != expected_seq:
            return _failed("ENTRY_MISSING", f"entry {expected_seq} is missing (next entry is {seq})", count,
                           expected_seq)
        if row[n] != prev:
            return _failed("CHAIN_BROKEN", f"entry {seq} does not follow entry {seq - 1}", count, seq)
        if _row_hash(prev, tuple(row[:n])) != row[n + 1]:
            return _failed("ENTRY_CHANGED", f"entry {seq} was changed after it was written", count, seq)
        prev = row[n + 1]
        if seq in want:
            hash_at[seq] = prev
        expected_seq += 1
        count += 1
    latest = None
    if checkpoints:
        ordered = sorted(checkpoints, key=lambda cp: (cp.seq, cp.line))
        latest = ordered[-1]
        if count < latest.seq:
            what = "emptied" if count == 0 else f"cut after entry {count}"
            return _failed("ROWS_REMOVED", f"the trail has {count} entries but the checkpoint signed {latest.at} covers "
                           f"{latest.seq}: entries {count + 1}-{latest.seq} were removed (the trail was {what}, "
                           "or the store replaced)", count, count + 1)
        matched = 0
        for cp in ordered:
            if hash_at.get(cp.seq) == cp.hash:
                matched = max(matched, cp.seq)
                continue
            return _failed("CHAIN_REWRITTEN", f"entry {cp.seq} does not match the checkpoint signed {cp.at}: entries "
                           f"{matched + 1}-{cp.seq} were rewritten, removed or inserted and the chain recomputed",
                           count, matched + 1)
    head = head_of()
    if head is None or int(head["seq"]) != count or head["hash"] != prev:
        written = "no" if head is None else head["seq"]
        return _failed("HEAD_MISMATCH", f"the trail ends at entry {count} but {written} were written "
                       "(entries were deleted at the end, or the head was edited)", count,
                       count + 1 if head is None or int(head["seq"]) > count else int(head["seq"]))
    if count == 0:
        return _failed("EMPTY", "the audit trail holds no entry: a practice that exchanged anything has been emptied "
                       "(a brand-new installation has nothing to verify yet)")
    warnings: tuple[str, ...] = ()
    if latest is not None and count > latest.seq:
        warnings = (f"entries {latest.seq + 1}-{count} were written after the latest checkpoint ({latest.at}): "
                    "until the next one they are protected by the hash chain only",)
    return VerifyResult(True, count, head=prev, checkpoint=latest.summary() if latest is not None else None,
                        warnings=warnings)


def verify_store(path: Path | str, checkpoints: Sequence[Any] = ()) -> VerifyResult:
    """Verify the trail in the database file at ``path`` without creating or migrating anything.

    An empty, truncated, garbage or audit-less file is a named failure, never "intact". A
    ``postgresql://`` URL is verified on the server (:func:`verify_server_store`).
    """
    import sqlite3

    if str(path).startswith(("postgresql://", "postgres://")):
        return verify_server_store(str(path), checkpoints)
    p = Path(path)
    if not p.exists():
        return _failed("MISSING", f"there is no database at {p}")
    try:
        size = p.stat().st_size
        with open(p, "rb") as fh:
            header = fh.read(100)
    except OSError as exc:
        return _failed("MISSING", f"cannot read {p}: {exc.strerror}")
    if size == 0:
        return _failed("EMPTY", f"{p} is empty (0 bytes): the store was truncated or replaced")
    if not header.startswith(b"SQLite format 3\x00"):
        return _failed("NOT_A_DATABASE", f"{p} is not a database (garbage or another kind of file)")
    if len(header) < 100:
        return _failed("TRUNCATED", f"{p} is truncated ({size} bytes, shorter than a database header)")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    wal = Path(str(p) + "-wal")
    no_wal = not wal.exists() or wal.stat().st_size == 0
    if page_size < 512 or size % page_size or (no_wal and pages * page_size > size):
        return _failed("TRUNCATED", f"{p} is truncated: {size} bytes, but its header announces {pages} pages of "
                       f"{page_size} bytes")
    try:
        conn = sqlite3.connect(str(p), timeout=15, isolation_level=None)
    except sqlite3.Error as exc:
        return _failed("CORRUPT", f"cannot open {p}: {exc}")
    try:
        conn.execute("BEGIN")  # one read snapshot: the rows and the head of the same moment, writers go on
        check = conn.execute("PRAGMA quick_check").fetchall()
        if [tuple(r) for r in check] != [("ok",)]:
            return _failed("CORRUPT", f"{p} is damaged: {check[0][0]}")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        missing = [t for t in ("audit", "audit_head") if t not in tables]
        if missing:
            return _failed("DROPPED", f"the audit table{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                           f"{'are' if len(missing) > 1 else 'is'} missing from {p}: the trail was dropped")
        conn.row_factory = sqlite3.Row
        cols = ", ".join(FIELDS)
        rows = conn.execute(f"SELECT {cols}, prev_hash, hash FROM audit ORDER BY seq")
        return verify_rows(rows, lambda: conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone(),
                           checkpoints)
    except sqlite3.DatabaseError as exc:
        text = str(exc)
        if "not a database" in text:
            return _failed("NOT_A_DATABASE", f"{p} is not a database: {text}")
        return _failed("CORRUPT", f"{p} is damaged or truncated: {text}")
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()


def verify_server_store(url: str, checkpoints: Sequence[Any] = ()) -> VerifyResult:
    """Verify the trail of a PostgreSQL store without creating or migrating anything."""
    from .errors import ConfigError
    from .storage_pg import PgStorage

    try:
        storage = PgStorage(url)
    except ConfigError as exc:
        return _failed("MISSING", str(exc))
    try:
        missing = [t for t in ("audit", "audit_head") if t not in storage.tables()]
        if missing:
            return _failed("DROPPED", f"the audit table{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                           f"{'are' if len(missing) > 1 else 'is'} missing from {storage.path}: the trail was dropped")
        return AuditLog(storage).verify(checkpoints)
    finally:
        storage.close()
