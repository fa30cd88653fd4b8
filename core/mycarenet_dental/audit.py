"""Audit trail of every transmission (protocol Art. 3, rules R5–R9).

Append-only and hash-chained: each row's hash covers its sequence number, every field and the
previous row's hash, and a one-row ``audit_head`` keeps the last sequence and hash, so an edited,
deleted, inserted or reordered row — including the last one — breaks ``verify``. Rows hold
identifiers, codes and message references, never a clinical payload (R28): ``detail`` must be
non-clinical metadata, and callers keep payloads out of it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator, Mapping
from datetime import datetime
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
    ],
)

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
    """Outcome of ``verify``: ``ok`` or the first broken sequence number and why."""

    ok: bool
    rows: int
    first_broken: int | None = None
    reason: str = ""


def _row_hash(prev: str, values: tuple[Any, ...]) -> str:
    payload = json.dumps(values, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev + payload).encode("utf-8")).hexdigest()


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
        detail_json = json.dumps(dict(detail or {}), sort_keys=True, separators=(",", ":"),
                                 ensure_ascii=False, default=str)
        ts = utc_ms(at)
        with self.storage.transaction() as conn:
            head = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
            seq = int(head[0]) + 1
            values = (seq, ts, kind, exchange_id, service, operation, responsible, executor, patient,
                      contact_id, trigger, outcome, code, message, detail_json)
            digest = _row_hash(head[1], values)
            conn.execute(
                "INSERT INTO audit(seq, ts, kind, exchange_id, service, operation, responsible, executor, "
                "patient, contact_id, trigger_, outcome, code, message, detail, prev_hash, hash) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (*values, head[1], digest),
            )
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

    def verify(self) -> VerifyResult:
        """Recompute the chain; report the first row edited, deleted, inserted or reordered."""
        prev = GENESIS
        expected_seq = 1
        count = 0
        cols = ", ".join(FIELDS)
        for row in self.storage.iterate(f"SELECT {cols}, prev_hash, hash FROM audit ORDER BY seq", batch=20000):
            seq = row[0]
            if seq != expected_seq:
                return VerifyResult(False, count, expected_seq,
                                    f"entry {expected_seq} is missing (next entry is {seq})")
            values = tuple(row[: len(FIELDS)])
            if row[len(FIELDS)] != prev:
                return VerifyResult(False, count, seq, f"entry {seq} does not follow entry {seq - 1}")
            if _row_hash(prev, values) != row[len(FIELDS) + 1]:
                return VerifyResult(False, count, seq, f"entry {seq} was changed after it was written")
            prev = row[len(FIELDS) + 1]
            expected_seq += 1
            count += 1
        head = self.storage.query_one("SELECT seq, hash FROM audit_head WHERE id = 1")
        if head is not None and (int(head["seq"]) != count or head["hash"] != prev):
            return VerifyResult(False, count, count + 1 if int(head["seq"]) > count else int(head["seq"]),
                                f"the trail ends at entry {count} but {head['seq']} were written "
                                "(entries were deleted at the end, or the head was edited)")
        return VerifyResult(True, count)

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
