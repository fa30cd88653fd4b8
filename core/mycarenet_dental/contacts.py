"""Patient contacts (the exchange log, kept on them, is :mod:`.exchange_log`).

A contact is a patient actually being treated by the dentist (R29): consultations are attached to
one. Results of consultations are recorded in the exchange log, on the contact, so that "only once
at the contact" (R34, R35) can be enforced and billing can prove that a tariff was consulted (R36)
without importing another plugin. Results marked ``retention="contact"`` are erased when the
contact closes (confidentiality, R28).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import attrs

from .errors import NoContactError, UsageError
from .exchange_log import ExchangeLog, RecordedResult  # noqa: F401  (re-exported: their old home)
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


def _contact(row: Any) -> Contact:
    return Contact(id=row["id"], patient=row["patient"], dentist=row["dentist"], user_id=row["user_id"],
                   opened_at=row["opened_at"], closed_at=row["closed_at"])


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

    def resolve(self, patient: str, contact_id: str | None, *, user_id: str,
                get: Callable[[str], Contact] | None = None) -> Contact:
        """The contact a service command works in: the given one, or the patient's open contact.
        ``get`` reads it (``Context.contact``: once per exchange's first transaction)."""
        if contact_id:
            contact = (get or self.get)(contact_id)
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
