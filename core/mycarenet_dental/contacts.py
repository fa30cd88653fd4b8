"""Patient contacts and the exchange log.

A contact is a patient actually being treated by the dentist (R29): consultations are attached to
one. Results of consultations are recorded in the exchange log, on the contact, so that "only once
at the contact" (R34, R35) can be enforced and billing can prove that a tariff was consulted (R36)
without importing another plugin. Results marked ``retention="contact"`` are erased when the
contact closes (confidentiality, R28).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Mapping
from datetime import datetime, timezone
from typing import Any

import attrs

from .errors import NoContactError, UsageError
from .registrations import TableSpec
from .storage import Storage
from .timeutil import utc_ms

TABLES = TableSpec(
    name="core.contacts",
    migrations=[
        """
        CREATE TABLE contact (
            id TEXT PRIMARY KEY,
            patient TEXT NOT NULL,
            dentist TEXT NOT NULL,
            user_id TEXT NOT NULL,
            opened_at TEXT NOT NULL,
            closed_at TEXT
        );
        CREATE INDEX contact_patient ON contact(patient, closed_at);
        CREATE TABLE exchange_result (
            id INTEGER PRIMARY KEY,
            exchange_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            service TEXT NOT NULL,
            patient TEXT,
            contact_id TEXT,
            status TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            retention TEXT NOT NULL DEFAULT 'keep',
            data TEXT NOT NULL
        );
        CREATE INDEX result_contact ON exchange_result(contact_id, service);
        CREATE INDEX result_kind_patient ON exchange_result(kind, patient)
        """,
    ],
)


@attrs.frozen
class Contact:
    id: str
    patient: str
    dentist: str
    user_id: str
    opened_at: str
    closed_at: str | None = None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


@attrs.frozen
class RecordedResult:
    """A result kept in the exchange log."""

    id: int
    exchange_id: str
    kind: str
    service: str
    patient: str | None
    contact_id: str | None
    status: str
    recorded_at: str
    retention: str
    data: Mapping[str, Any]


def _contact(row: Any) -> Contact:
    return Contact(id=row["id"], patient=row["patient"], dentist=row["dentist"], user_id=row["user_id"],
                   opened_at=row["opened_at"], closed_at=row["closed_at"])


def _result(row: Any) -> RecordedResult:
    return RecordedResult(
        id=row["id"], exchange_id=row["exchange_id"], kind=row["kind"], service=row["service"],
        patient=row["patient"], contact_id=row["contact_id"], status=row["status"],
        recorded_at=row["recorded_at"], retention=row["retention"], data=json.loads(row["data"]),
    )


class Contacts:
    """Open, close and look up patient contacts."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def open(self, patient: str, *, dentist: str, user_id: str, at: datetime | None = None) -> Contact:
        contact = Contact(id=uuid.uuid4().hex[:12], patient=patient, dentist=dentist, user_id=user_id,
                          opened_at=utc_ms(at))
        self.storage.execute(
            "INSERT INTO contact(id, patient, dentist, user_id, opened_at) VALUES (?,?,?,?,?)",
            (contact.id, patient, dentist, user_id, contact.opened_at),
        )
        return contact

    def get(self, contact_id: str) -> Contact:
        row = self.storage.query_one("SELECT * FROM contact WHERE id = ?", (contact_id,))
        if row is None:
            raise UsageError(f"contact {contact_id!r} does not exist", code="UNKNOWN_CONTACT",
                             location="--contact", hint="see `mycarenet-dental contact list`")
        return _contact(row)

    def close(self, contact_id: str, *, at: datetime | None = None) -> Contact:
        contact = self.get(contact_id)
        if not contact.is_open:
            raise UsageError(f"contact {contact_id} is already closed", code="CONTACT_CLOSED")
        with self.storage.transaction() as conn:
            conn.execute("UPDATE contact SET closed_at = ? WHERE id = ?", (utc_ms(at), contact_id))
            conn.execute("DELETE FROM exchange_result WHERE contact_id = ? AND retention = 'contact'",
                         (contact_id,))
        return self.get(contact_id)

    def list(self, *, open_only: bool = False, patient: str | None = None) -> list[Contact]:
        sql, params = "SELECT * FROM contact WHERE 1=1", []
        if open_only:
            sql += " AND closed_at IS NULL"
        if patient:
            sql += " AND patient = ?"
            params.append(patient)
        return [_contact(r) for r in self.storage.query(sql + " ORDER BY opened_at", params)]

    def find_open(self, patient: str, *, user_id: str | None = None) -> Contact | None:
        sql, params = "SELECT * FROM contact WHERE patient = ? AND closed_at IS NULL", [patient]
        if user_id is not None:
            sql += " AND user_id = ?"
            params.append(user_id)
        row = self.storage.query_one(sql + " ORDER BY opened_at DESC LIMIT 1", params)
        return _contact(row) if row else None

    def resolve(self, patient: str, contact_id: str | None, *, user_id: str) -> Contact:
        """The contact a service command works in: the given one, or the patient's open contact."""
        if contact_id:
            contact = self.get(contact_id)
            if contact.patient != patient:
                raise UsageError(f"contact {contact_id} is for another patient", code="CONTACT_PATIENT",
                                 location="--contact")
            if not contact.is_open:
                raise NoContactError(f"contact {contact_id} is closed",
                                     hint=f"open one: mycarenet-dental contact open --patient {patient}")
            return contact
        found = self.find_open(patient, user_id=user_id)
        if found is None:
            raise NoContactError(
                f"no open contact for patient {patient}: consultations are only for patients being treated (R29)",
                hint=f"open one first: mycarenet-dental contact open --patient {patient}",
            )
        return found


class ExchangeLog:
    """Results of exchanges that rules and other plugins read back through the core."""

    def __init__(self, storage: Storage, *, kinds: Collection[str] | None = None) -> None:
        self.storage = storage
        self.kinds = kinds  # the kinds plugins declare (``mycarenet_dental_result_kinds``); None: not checked

    def record(self, *, exchange_id: str, kind: str, service: str, status: str, data: Mapping[str, Any],
               patient: str | None = None, contact_id: str | None = None, retention: str = "keep",
               at: datetime | None = None) -> int:
        """Record one result; returns its row id. Code performing an exchange uses
        :meth:`ExchangeRun.keep <mycarenet_dental.exchange.ExchangeRun.keep>` instead."""
        if retention not in ("keep", "contact"):
            raise ValueError("retention must be 'keep' or 'contact'")
        if self.kinds is not None and kind not in self.kinds:
            from .plugins import UndeclaredResultKindError

            raise UndeclaredResultKindError(f"result kind {kind!r} is not declared by any loaded plugin",
                                            hint="declare it with the mycarenet_dental_result_kinds hook")
        cur = self.storage.execute(
            "INSERT INTO exchange_result(exchange_id, kind, service, patient, contact_id, status, recorded_at, "
            "retention, data) VALUES (?,?,?,?,?,?,?,?,?)",
            (exchange_id, kind, service, patient, contact_id, status, utc_ms(at), retention,
             json.dumps(dict(data), ensure_ascii=False, sort_keys=True, default=str)),
        )
        return int(cur.lastrowid or 0)

    def find(self, *, kind: str | None = None, service: str | None = None, patient: str | None = None,
             contact_id: str | None = None, status: str | None = None,
             since: datetime | None = None) -> list[RecordedResult]:
        where, params = [], []
        for column, value in (("kind", kind), ("service", service), ("patient", patient),
                              ("contact_id", contact_id), ("status", status)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            where.append("recorded_at >= ?")
            params.append(utc_ms(since.astimezone(timezone.utc)))
        sql = "SELECT * FROM exchange_result" + (" WHERE " + " AND ".join(where) if where else "")
        return [_result(r) for r in self.storage.query(sql + " ORDER BY id", params)]
