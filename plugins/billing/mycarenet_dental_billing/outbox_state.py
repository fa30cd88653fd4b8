"""The outbox's records: its tables, the states of a sending, the typed results it hands out
(:class:`SendingStatus`, :class:`LineStatus`, :class:`PollResult`...), the billing settings and the small
helpers both halves of the outbox (:mod:`.outbox`, :mod:`.outbox_poll`) share."""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import attrs
from mycarenet_dental.errors import (
    ConfigError,
    Messages,
    UsageError,
)
from mycarenet_dental.registrations import TableSpec
from mycarenet_dental.timeutil import utc_ms_offset

if TYPE_CHECKING:  # pragma: no cover
    from mycarenet_dental.context import Context

    from .efact.model import Invoice


SERVICE = "billing"

TABLES = TableSpec(
    name="billing.outbox",
    migrations=[
        """
        CREATE TABLE billing_sending (
            id TEXT PRIMARY KEY,
            third_party TEXT NOT NULL,
            year INTEGER NOT NULL,
            sending_number INTEGER NOT NULL,
            oa TEXT NOT NULL,
            input_reference TEXT NOT NULL UNIQUE,
            state TEXT NOT NULL,
            day TEXT NOT NULL,
            period TEXT NOT NULL,
            invoices INTEGER NOT NULL,
            lines INTEGER NOT NULL,
            total_a INTEGER NOT NULL,
            file BLOB NOT NULL,
            file_hash TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            validated_at TEXT,
            posted_at TEXT,
            received_at TEXT,
            answered_at TEXT,
            settled_at TEXT,
            post_attempts INTEGER NOT NULL DEFAULT 0,
            tack_reference TEXT,
            answer_type TEXT,
            refusal_type TEXT,
            accepted_amount INTEGER,
            refused_amount INTEGER,
            payment_references TEXT NOT NULL DEFAULT '[]',
            sending_errors TEXT NOT NULL DEFAULT '[]',
            last_error TEXT,
            UNIQUE (third_party, year, sending_number)
        );
        CREATE INDEX billing_sending_state ON billing_sending(state);
        CREATE INDEX billing_sending_day ON billing_sending(third_party, oa, day);
        CREATE TABLE billing_number (
            third_party TEXT NOT NULL,
            year INTEGER NOT NULL,
            last INTEGER NOT NULL,
            PRIMARY KEY (third_party, year)
        );
        CREATE TABLE billing_line (
            sending_id TEXT NOT NULL REFERENCES billing_sending(id),
            invoice_number INTEGER NOT NULL,
            line_no INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            patient TEXT NOT NULL,
            destination TEXT NOT NULL,
            code TEXT NOT NULL,
            date TEXT NOT NULL,
            tooth INTEGER,
            reimbursement INTEGER NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending',
            paid INTEGER,
            codes TEXT NOT NULL DEFAULT '[]',
            PRIMARY KEY (sending_id, invoice_number, line_no)
        );
        CREATE INDEX billing_line_patient ON billing_line(patient, date);
        CREATE TABLE billing_record (
            sending_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            record_type TEXT NOT NULL,
            invoice_number INTEGER,
            line_no INTEGER,
            PRIMARY KEY (sending_id, seq)
        );
        CREATE TABLE billing_message (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            sending_id TEXT,
            input_reference TEXT,
            message_type TEXT,
            message_name TEXT,
            reference TEXT,
            confirm_value TEXT NOT NULL,
            content BLOB,
            received_at TEXT NOT NULL,
            confirmed_at TEXT
        );
        CREATE INDEX billing_message_unconfirmed ON billing_message(confirmed_at)
        """,
        # 15.13: the invoice's identity is claimed under a unique key in the transaction that files
        # the sending, so two processes billing the same invoice cannot both file it. Existing
        # databases: every invoice of a live sending is claimed by its first sending.
        """
        CREATE TABLE billing_invoice (
            third_party TEXT NOT NULL,
            invoice_number INTEGER NOT NULL,
            sending_id TEXT NOT NULL REFERENCES billing_sending(id),
            PRIMARY KEY (third_party, invoice_number)
        );
        CREATE INDEX billing_invoice_sending ON billing_invoice(sending_id);
        INSERT OR IGNORE INTO billing_invoice(third_party, invoice_number, sending_id)
            SELECT s.third_party, l.invoice_number, l.sending_id
            FROM billing_line l JOIN billing_sending s ON s.id = l.sending_id
            WHERE s.state NOT IN ('refused', 'invalid')
            GROUP BY s.third_party, l.invoice_number, l.sending_id
            ORDER BY MIN(s.created_at), MIN(s.sending_number)
        """,
        # 16: a billing office keeps the sendings of many dentists in one store. An InputReference
        # (date + union + sending number) is unique in one care provider's mailbox only, so the key
        # becomes (third party, InputReference); the old unique column keeps "third party:reference".
        # billing_lease: which worker holds a dentist's outbox, until when, and when to look again.
        """
        ALTER TABLE billing_sending RENAME COLUMN input_reference TO sending_key;
        ALTER TABLE billing_sending ADD COLUMN input_reference TEXT NOT NULL DEFAULT '';
        UPDATE billing_sending SET input_reference = sending_key, sending_key = third_party || ':' || sending_key;
        CREATE UNIQUE INDEX billing_sending_reference ON billing_sending(third_party, input_reference);
        CREATE TABLE billing_lease (
            third_party TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            next_at TEXT NOT NULL DEFAULT '',
            idle_polls INTEGER NOT NULL DEFAULT 0
        )
        """,
    ],
)

# UNSURE: the insurer's uniqueness scope of an invoice number (error 202420) is not spelled out; an
# invoice is identified here by (third-party payer, invoice number) — stricter than per insurer or per
# period, and the same key the duplicate check always used. A sending refused by the insurer or
# found invalid locally gives its invoices back (they may be billed again).
_RELEASING_STATES = ("refused", "invalid")


class SendingState(str, enum.Enum):
    BUILT = "built"
    INVALID = "invalid"
    VALIDATED = "validated"
    POSTING = "posting"
    FAILED = "failed"
    POSTED = "posted"
    RECEIVED = "received"
    ACCEPTED = "accepted"
    PARTLY = "partly"
    REFUSED = "refused"
    SETTLED = "settled"


_RANK = {
    SendingState.BUILT: 0, SendingState.INVALID: 0, SendingState.VALIDATED: 1, SendingState.FAILED: 1,
    SendingState.POSTING: 2, SendingState.POSTED: 3, SendingState.RECEIVED: 4, SendingState.ACCEPTED: 5,
    SendingState.PARTLY: 5, SendingState.REFUSED: 6, SendingState.SETTLED: 6,
}
FINAL_STATES = frozenset({SendingState.REFUSED, SendingState.SETTLED, SendingState.INVALID})
#: states in which the sending is on its way and the outbox keeps polling for it
OPEN_STATES = frozenset({SendingState.POSTING, SendingState.POSTED, SendingState.RECEIVED,
                         SendingState.ACCEPTED, SendingState.PARTLY})

MAX_POST_ATTEMPTS = 3
THROTTLE_TEXT = "Not enough time"  # GenericAsync throttling fault (efact.md §1.6): wait, then retry
CRASH_POINTS = ("after_post", "after_get", "after_store", "after_confirm")


class SimulatedCrash(BaseException):
    """Raised by a test's crash hook to stop the outbox at a step boundary, as a killed process would."""


# --- typed results --------------------------------------------------------------------------------


@attrs.frozen
class RecordError:
    """An insurer error code attached to a record of a sending (or the sending itself)."""

    code: str
    letter: str
    messages: Messages
    record_type: str = ""
    sequence: int | None = None
    invoice_number: int | None = None
    line_no: int | None = None

    def __str__(self) -> str:
        where = f"ET{self.record_type}" + (f" seq {self.sequence}" if self.sequence is not None else "")
        return f"{self.letter}{self.code} {where}: {self.messages.en}"


@attrs.frozen
class RefusedLine:
    """A service line kept out of a sending before anything was sent (e.g. protocol R36)."""

    rule: str
    invoice_number: int
    patient: str
    code: str
    date: dt.date
    reason: str
    hint: str = ""


@attrs.frozen
class LineStatus:
    """One service line of a sending and what the insurer made of it."""

    sending_id: str
    invoice_number: int
    line_no: int
    patient: str
    code: str
    date: str
    tooth: int | None
    reimbursement: int
    state: str  # pending | accepted | refused | paid
    paid: int | None
    errors: tuple[RecordError, ...]


@attrs.frozen
class SendingStatus:
    """A sending as the outbox knows it (R40: when posted, acknowledged, answered, settled)."""

    id: str
    oa: str
    year: int
    sending_number: int
    input_reference: str
    state: SendingState = attrs.field(converter=SendingState)
    period: str
    invoices: int
    lines: int
    total_a: int
    created_at: str
    posted_at: str | None
    received_at: str | None
    answered_at: str | None
    settled_at: str | None
    post_attempts: int
    answer_type: str | None
    refusal_type: str | None
    accepted_amount: int | None
    refused_amount: int | None
    payment_references: tuple[str, ...]
    errors: tuple[RecordError, ...]
    last_error: str | None
    updated_at: str = ""

    @property
    def received(self) -> bool:
        """R39: the insurer's acknowledgement of receipt (931000 or a later answer) came back."""
        return self.received_at is not None

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


@attrs.frozen
class BuildResult:
    """What ``build`` filed: one sending per union, and the lines refused before sending."""

    sendings: tuple[SendingStatus, ...]
    refused_lines: tuple[RefusedLine, ...]


@attrs.frozen
class PollResult:
    """What one ``poll`` did: new items stored and applied, items confirmed, sendings still open."""

    new_messages: int
    new_tacks: int
    duplicates: int
    confirmed: int
    applied: tuple[tuple[str, str], ...]  # (sending id, message type)
    open_sendings: int


@attrs.frozen
class BillingSettings:
    """``[billing]`` settings; bank data are required outside the simulator profile."""

    iban: str
    bic: str
    bce: str | None = None
    contact_last_name: str = ""
    contact_first_name: str = ""
    contact_phone: str | None = None
    profession_code: str | None = None  # ET10 Z18; None: the third party's qualification code
    max_files_per_union_per_day: int = 1

    @classmethod
    def from_context(cls, ctx: Context) -> BillingSettings:
        section = ctx.config.section(SERVICE)
        simulator = ctx.config.profile == "simulator"
        iban = section.get("iban") or ("BE68539007547034" if simulator else None)
        bic = section.get("bic") or ("GEBABEBB" if simulator else None)
        if not iban or not bic:
            raise ConfigError("the practice's bank account is not configured", location="[billing] iban, bic",
                              hint="add iban = \"BE..\" and bic = \"....\" to [billing]")
        try:
            limit = int(section.get("max_files_per_union_per_day", 1))
        except (TypeError, ValueError):
            raise ConfigError("[billing] max_files_per_union_per_day must be an integer") from None
        phone = section.get("contact_phone")
        bce = section.get("bce") or (_SIM_BCE if simulator else None)
        if not bce:
            raise ConfigError("the practice's enterprise number (BCE/KBO) is not configured (insurer error 102710)",
                              location="[billing] bce", hint="add bce = \"0123456789\" to [billing]")
        profession = _profession_code(ctx, section.get("profession_code"))
        return cls(iban=str(iban).replace(" ", ""), bic=str(bic), bce=str(bce).replace(".", "").replace(" ", ""),
                   contact_last_name=str(section.get("contact_last_name", "")),
                   contact_first_name=str(section.get("contact_first_name", "")),
                   contact_phone=str(phone) if phone else None,
                   profession_code=profession,
                   max_files_per_union_per_day=limit)


def _profession_code(ctx: Context, configured: object) -> str | None:
    """``[billing] profession_code`` (ET10 Z18): 3 digits, not 000; default the dentist's own code."""
    from .efact.model import check_profession_code, default_profession_code

    value = configured
    if value is None:
        if ctx.config.dentist is None:  # nothing to bill for yet; building requires the dentist anyway
            return None
        value = default_profession_code(ctx.config.dentist.nihii)
    try:
        return check_profession_code(value, where="[billing] profession_code")
    except UsageError as e:
        raise ConfigError(e.message, code="CONFIG", location="[billing] profession_code", hint=e.hint) from None


_SIM_BCE = f"{12345674:08d}{97 - 12345674 % 97:02d}"  # a test enterprise number (valid check digits)


# --- helpers --------------------------------------------------------------------------------------


def _now_text(ctx: Context) -> str:
    return utc_ms_offset(ctx.now())


def _errors_json(errors: Iterable[RecordError]) -> str:
    return json.dumps([{"code": e.code, "letter": e.letter, "en": e.messages.en, "fr": e.messages.fr,
                        "nl": e.messages.nl, "record_type": e.record_type, "sequence": e.sequence,
                        "invoice_number": e.invoice_number, "line_no": e.line_no} for e in errors],
                      ensure_ascii=False)


def _errors_from_json(text: str | None) -> tuple[RecordError, ...]:
    out = []
    for e in json.loads(text or "[]"):
        out.append(RecordError(code=e["code"], letter=e["letter"], messages=Messages(e["en"], e["fr"], e["nl"]),
                               record_type=e.get("record_type", ""), sequence=e.get("sequence"),
                               invoice_number=e.get("invoice_number"), line_no=e.get("line_no")))
    return tuple(out)


def _duplicate_lines(inv: Invoice, billed: Any) -> list[RefusedLine]:
    where = (f"sending {billed['sending_number']:03d} (union {billed['oa']}, InputReference "
             f"{billed['input_reference']}, {billed['state']})")
    return [RefusedLine("DUPLICATE", inv.number, inv.patient_id, line.code[-6:], line.date,
                        f"invoice {inv.number} is already billed in {where}: not sent again",
                        "a corrected invoice needs a new number; see `mycarenet-dental billing status`")
            for line in inv.lines]


def _status(row: Any) -> SendingStatus:
    return SendingStatus(
        id=row["id"], oa=row["oa"], year=row["year"], sending_number=row["sending_number"],
        input_reference=row["input_reference"], state=row["state"], period=row["period"],
        invoices=row["invoices"], lines=row["lines"], total_a=row["total_a"], created_at=row["created_at"],
        posted_at=row["posted_at"], received_at=row["received_at"], answered_at=row["answered_at"],
        settled_at=row["settled_at"], post_attempts=row["post_attempts"], answer_type=row["answer_type"],
        refusal_type=row["refusal_type"], accepted_amount=row["accepted_amount"],
        refused_amount=row["refused_amount"],
        payment_references=tuple(json.loads(row["payment_references"] or "[]")),
        errors=_errors_from_json(row["sending_errors"]), last_error=row["last_error"], updated_at=row["updated_at"],
    )


def input_reference_for(creation: dt.date, oa: str, sending_number: int) -> str:
    """14 digits: creation date YYYYMMDD + union + sending number (unique: numbers are unique per year).

    Also the S200 zone 204 reference, so answers correlate by either key (``efact.md`` §4.3).
    """
    return f"{creation:%Y%m%d}{oa}{sending_number:03d}"


def invoicing_period(invoices: Sequence[Invoice], today: dt.date) -> tuple[int, int]:
    """The invoiced month: the latest month of the service dates, never after today (102210)."""
    last = max(line.last_date for inv in invoices for line in inv.lines)
    last = min(last, today)
    return last.year, last.month


