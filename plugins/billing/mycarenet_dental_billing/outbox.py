"""The persistent eFact outbox: every sending's life, kept in the core storage (``efact.md`` §4).

State machine of a sending (one 920000 file for one insurer union)::

    built ─validate─► validated ─post─► posting ─TAck─► posted ─931000─► received
      │                  ▲                │  (answer lost: stays "posting", reconciled by get)
      ▼                  └── failed ◄─────┘  (TAck failure / SOAP fault: may be posted again)
    invalid                                   received ─920098─► accepted | partly
                                              received ─920099/920999─► refused (final)
                                              accepted | partly ─920900─► settled (final)

Why it is safe to crash anywhere:

* ``posting`` is written *before* the post leaves; after a crash or a lost answer the next
  ``send``/``poll`` first asks ``get`` whether MyCareNet knows the InputReference (async TAck or any
  insurer message) and re-posts only when nothing came back — with the same InputReference and
  the same bytes, which the server treats as the same file (idempotency key).
* every received message or TAck is stored and applied to its sending in one transaction, keyed by
  its hash, before it is confirmed; a message delivered again (confirm lost, "answer twice") is
  recognised by its hash and never applied twice; stored but unconfirmed items are confirmed again.
* sending numbers come from a counter per third-party payer and year taken under the write lock,
  so they are unique and never reused, even for refused sendings.

An invoice counts as received only when the insurer's 931000 (or a later answer for the sending)
came back over the network — never on the strength of the post's TAck (protocol R39).
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
from mycarenet_dental.errors import (
    ConfigError,
    MalformedResponseError,
    Messages,
    RemoteError,
    RuleRefusal,
    SecurityError,
    SoapFaultError,
    UsageError,
)
from mycarenet_dental.registrations import TableSpec
from mycarenet_dental.timeutil import parse_datetime, utc_ms_offset, xs_date

if TYPE_CHECKING:  # pragma: no cover
    from mycarenet_dental.context import Context

    from .efact.model import Invoice, Sending
    from .genasync import GenAsyncClient, ReceivedMessage, TAck

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


# --- the outbox -----------------------------------------------------------------------------------


class Outbox:
    """Build, send and follow eFact sendings; state in the core storage, safe to restart anywhere."""

    def __init__(self, ctx: Context, *, client: GenAsyncClient | None = None,
                 crash_hook: Callable[[str], None] | None = None) -> None:
        self.ctx = ctx
        self._client = client
        self.crash_hook = crash_hook
        self.throttle_wait = 30.0  # seconds to wait after a "Not enough time" fault

    @property
    def client(self) -> GenAsyncClient:
        if self._client is None:
            from .genasync import GenAsyncClient

            self._client = GenAsyncClient(self.ctx)
        return self._client

    @property
    def storage(self) -> Any:
        return self.ctx.storage

    def _crash(self, point: str) -> None:
        if self.crash_hook is not None:
            self.crash_hook(point)

    # -- reading -----------------------------------------------------------------------------------

    def get(self, sending_id: str) -> SendingStatus:
        row = self.storage.query_one("SELECT * FROM billing_sending WHERE id = ? OR input_reference = ?",
                                     (sending_id, sending_id))
        if row is None:
            raise UsageError(f"no sending {sending_id!r} in the outbox", code="UNKNOWN_SENDING",
                             hint="see `mycarenet-dental billing status`")
        return _status(row)

    def list(self, *, states: Iterable[SendingState] | None = None) -> list[SendingStatus]:
        rows = self.storage.query("SELECT * FROM billing_sending ORDER BY created_at, sending_number")
        wanted = set(states) if states is not None else None
        return [s for s in map(_status, rows) if wanted is None or s.state in wanted]

    def lines(self, sending_id: str) -> list[LineStatus]:
        sid = self.get(sending_id).id
        rows = self.storage.query("SELECT * FROM billing_line WHERE sending_id = ? ORDER BY invoice_number, line_no",
                                  (sid,))
        return [LineStatus(sending_id=r["sending_id"], invoice_number=r["invoice_number"], line_no=r["line_no"],
                           patient=r["patient"], code=r["code"], date=r["date"], tooth=r["tooth"],
                           reimbursement=r["reimbursement"], state=r["state"], paid=r["paid"],
                           errors=_errors_from_json(r["codes"])) for r in rows]

    def file(self, sending_id: str) -> bytes:
        sid = self.get(sending_id).id
        row = self.storage.query_one("SELECT file FROM billing_sending WHERE id = ?", (sid,))
        return bytes(row["file"])

    # -- build -------------------------------------------------------------------------------------

    def build(self, invoices: Iterable[Invoice], *, check_r36: bool = True,
              progress: Callable[[int, int], None] | None = None) -> BuildResult:
        """File the invoices as one sending per union (state ``built``), lines failing R36 left out.

        Refused lines are reported, never silently dropped; an invoice left without lines is not sent.
        An invoice number already in a sending that was not refused is refused (no double billing).
        """
        from .efact.model import split_by_federation
        from .rules import consultation_for, consulted_lines

        invoices = list(invoices)
        third_party = self.ctx.config.require_dentist().nihii
        refused: list[RefusedLine] = []
        kept: list[Invoice] = []
        consulted_cache: dict[str, Any] = {}
        for done, inv in enumerate(invoices, start=1):
            if progress is not None:
                progress(done, len(invoices))
            billed = self._billed_in(self.storage, third_party, inv.number)
            if billed is not None:
                refused.extend(_duplicate_lines(inv, billed))
                continue
            lines = list(inv.lines)
            if check_r36:
                index = consulted_cache.get(inv.patient_id)
                if index is None:
                    index = consulted_cache[inv.patient_id] = {}
                    for item in consulted_lines(self.ctx, inv.patient_id):
                        index.setdefault((item.code, item.date), [item])
                found = {id(ln): consultation_for(index.get((ln.code[-6:], ln.date), ()), ln) for ln in lines}
                missing = [ln for ln in lines if found[id(ln)] is None]
                for line in missing:
                    refused.append(RefusedLine(
                        "R36", inv.number, inv.patient_id, line.code[-6:], line.date,
                        f"no tariff consultation recorded for patient {inv.patient_id}, code {line.code[-6:]} on "
                        f"{line.date.isoformat()} (protocol R36, Annex 3)",
                        "ask the dentist to consult the tariff for this patient (an explicit request, R37), "
                        "then build again"))
                lines = [_with_commitment(ln, found[id(ln)]) for ln in lines if found[id(ln)] is not None]
            if lines:
                kept.append(attrs.evolve(inv, lines=tuple(lines)))
        filed: list[SendingStatus] = []
        settings = BillingSettings.from_context(self.ctx) if kept else None
        for fed, group in split_by_federation(kept).items():
            assert settings is not None
            status = self._file_sending(fed, group, settings, refused)
            if status is not None:
                filed.append(status)
        return BuildResult(sendings=tuple(filed), refused_lines=tuple(refused))

    @staticmethod
    def _billed_in(db: Any, third_party: str, number: int) -> Any:
        """The live sending that holds this invoice (number, union, state...), or None."""
        return db.execute(
            "SELECT s.id, s.sending_number, s.oa, s.input_reference, s.state FROM billing_invoice b "
            "JOIN billing_sending s ON s.id = b.sending_id WHERE b.third_party = ? AND b.invoice_number = ? "
            f"AND s.state NOT IN {_RELEASING_STATES!r}", (third_party, number)).fetchone()

    def _claim(self, conn: Any, third_party: str, invoices: Sequence[Invoice],
               refused: list[RefusedLine]) -> list[Invoice]:
        """Inside the filing transaction: the invoices nobody else billed; the others are refused."""
        free = []
        for inv in invoices:
            billed = self._billed_in(conn, third_party, inv.number)
            if billed is not None:
                refused.extend(_duplicate_lines(inv, billed))
                continue
            # a claim left by a refused or invalid sending is given back
            conn.execute("DELETE FROM billing_invoice WHERE third_party = ? AND invoice_number = ?",
                         (third_party, inv.number))
            free.append(inv)
        return free

    def _file_sending(self, oa: str, invoices: Sequence[Invoice], settings: BillingSettings,
                      refused: list[RefusedLine]) -> SendingStatus | None:
        """One sending for one union, its invoices claimed atomically; None when all were billed meanwhile."""
        from .efact.model import Sending, SendingHeader
        from .efact.writer import to_bytes

        today = self.ctx.now().date()
        third_party = self.ctx.config.require_dentist().nihii
        year, month = invoicing_period(invoices, today)
        now = _now_text(self.ctx)
        sid = uuid.uuid4().hex[:16]
        with self.storage.transaction() as conn:
            invoices = self._claim(conn, third_party, invoices, refused)
            if not invoices:
                return None
            day_count = conn.execute(
                "SELECT COUNT(*) FROM billing_sending WHERE third_party = ? AND oa = ? AND day = ? "
                "AND state != 'invalid'", (third_party, oa, today.isoformat())).fetchone()[0]
            if day_count >= settings.max_files_per_union_per_day:
                raise UsageError(
                    f"already {day_count} eFact file(s) for union {oa} today; the insurers accept one per day "
                    "(error 100724)", code="EFACT_ONE_PER_DAY", location="[billing] max_files_per_union_per_day",
                    hint="send tomorrow, or raise [billing] max_files_per_union_per_day if your insurer allows it")
            row = conn.execute("SELECT last FROM billing_number WHERE third_party = ? AND year = ?",
                               (third_party, today.year)).fetchone()
            number = (row[0] if row else 0) + 1
            if number > 999:
                raise UsageError(f"no sending number left for {today.year} (999 used)", code="EFACT_NUMBERS")
            conn.execute("INSERT INTO billing_number(third_party, year, last) VALUES (?,?,?) "
                         "ON CONFLICT(third_party, year) DO UPDATE SET last = excluded.last",
                         (third_party, today.year, number))
            reference = input_reference_for(today, oa, number)
            header = SendingHeader(
                sending_number=number, third_party=third_party, invoicing_year=year, invoicing_month=month,
                creation_date=today, reference=int(reference), iban=settings.iban, bic=settings.bic,
                bce=settings.bce, test=self.ctx.config.profile != "production",
                contact_last_name=settings.contact_last_name, contact_first_name=settings.contact_first_name,
                contact_phone=settings.contact_phone, profession_code=settings.profession_code,
                sender_reference=sid)
            sending = Sending.build(header, invoices)
            data = to_bytes(sending)
            conn.execute(
                "INSERT INTO billing_sending(id, third_party, year, sending_number, oa, input_reference, state, day, "
                "period, invoices, lines, total_a, file, file_hash, created_at, updated_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (sid, third_party, today.year, number, oa, reference, SendingState.BUILT.value, today.isoformat(),
                 header.period, len(sending.invoices), sending.line_count,
                 sum(inv.total_a for inv in sending.invoices), data, hashlib.sha256(data).hexdigest(), now, now))
            self._file_lines(conn, sid, sending, data)
            # the unique key is the guarantee: a claim taken without this transaction's check still fails here
            conn.executemany("INSERT INTO billing_invoice(third_party, invoice_number, sending_id) VALUES (?,?,?)",
                             [(third_party, inv.number, sid) for inv in sending.invoices])
        return self.get(sid)

    def _file_lines(self, conn: Any, sid: str, sending: Sending, data: bytes) -> None:
        """Keep each line with the sequence number of its records, to read the answers back onto it."""
        from .efact.reader import iter_records

        by_number = {inv.number: inv for inv in sending.invoices}
        invoice: Invoice | None = None
        line_no = 0
        records = []
        lines = []
        for rec in iter_records(data):
            seq = rec.sequence
            if seq is None:
                continue
            if rec.kind == "20":
                invoice = by_number[int(rec.zone("24-25"))]
                line_no = 0
                records.append((sid, seq, "20", invoice.number, None))
            elif rec.kind == "50":
                assert invoice is not None
                line_no += 1
                line = invoice.lines[line_no - 1]
                records.append((sid, seq, "50", invoice.number, line_no))
                lines.append((sid, invoice.number, line_no, seq, invoice.patient_id, invoice.destination,
                              line.code[-6:], line.date.isoformat(), line.tooth, line.reimbursement))
            elif rec.kind in ("51", "52"):
                records.append((sid, seq, rec.kind, invoice.number if invoice else None, line_no))
            elif rec.kind == "80":
                records.append((sid, seq, "80", invoice.number if invoice else None, None))
            else:
                records.append((sid, seq, rec.kind, None, None))
        conn.executemany("INSERT INTO billing_record(sending_id, seq, record_type, invoice_number, line_no) "
                         "VALUES (?,?,?,?,?)", records)
        conn.executemany("INSERT INTO billing_line(sending_id, invoice_number, line_no, seq, patient, destination, "
                         "code, date, tooth, reimbursement) VALUES (?,?,?,?,?,?,?,?,?,?)", lines)

    # -- validate ----------------------------------------------------------------------------------

    def validate(self, sending_id: str) -> SendingStatus:
        """Run the insurer's checks locally; ``validated`` or ``invalid`` (nothing leaves the machine)."""
        from .efact.validator import ValidationOptions, validate

        status = self.get(sending_id)
        if status.state not in (SendingState.BUILT, SendingState.VALIDATED):
            return status
        findings = validate(self.file(status.id), ValidationOptions(today=self.ctx.now().date()))
        refusing = [f for f in findings if f.letter in ("B", "F", "R")]
        if refusing:
            errors = [RecordError(code=f.code, letter=f.letter, messages=f.messages, record_type=f.record_type,
                                  sequence=f.sequence) for f in refusing]
            self._update(status.id, state=SendingState.INVALID, sending_errors=_errors_json(errors),
                         last_error=f"{len(refusing)} problem(s) found locally; first: {refusing[0]}")
        else:
            self._update(status.id, state=SendingState.VALIDATED, validated_at=_now_text(self.ctx))
        return self.get(status.id)

    def _update(self, sid: str, **values: Any) -> None:
        values["updated_at"] = _now_text(self.ctx)
        if isinstance(values.get("state"), SendingState):
            values["state"] = values["state"].value
        cols = ", ".join(f"{k} = ?" for k in values)
        self.storage.execute(f"UPDATE billing_sending SET {cols} WHERE id = ?", (*values.values(), sid))

    # -- send --------------------------------------------------------------------------------------

    def send(self, sending_id: str) -> SendingStatus:
        """Post a validated sending; a sending whose post answer was lost is reconciled first.

        Returns the sending's status; a transport failure leaves it ``posting`` (reconciled at the
        next ``send``/``poll``), a TAck failure or SOAP fault makes it ``failed`` (may be sent again).
        """
        status = self.get(sending_id)
        if status.state is SendingState.BUILT:
            status = self.validate(status.id)
        if status.state is SendingState.INVALID:
            raise UsageError(f"sending {status.sending_number:03d} was refused locally: {status.last_error}",
                             code="EFACT_INVALID", hint="correct the invoices and build again")
        if status.state is SendingState.POSTING:
            self.poll()  # did MyCareNet take the file? (async TAck / insurer answer on its InputReference)
            status = self.get(status.id)
            if status.state is not SendingState.POSTING:
                return status
            wait = _repost_after(self.ctx)
            last = parse_datetime(status.updated_at)
            if wait and self.ctx.now() - last < wait:
                return status  # too early to conclude the file never arrived; poll again later
        if status.state not in (SendingState.VALIDATED, SendingState.FAILED, SendingState.POSTING):
            return status  # already on its way or final: never post twice
        if status.post_attempts >= MAX_POST_ATTEMPTS:
            # R20: no request loops; a file the platform keeps refusing needs a person
            raise UsageError(f"sending {status.sending_number:03d} was posted {status.post_attempts} times without "
                             f"success; last error: {status.last_error}", code="EFACT_GAVE_UP",
                             hint="check the file and the configuration, then build the invoices again")
        return self._post(status)

    def _post(self, status: SendingStatus) -> SendingStatus:
        from mycarenet_dental.errors import TransportError

        data = self.file(status.id)
        with self.storage.transaction() as conn:
            # claim the post atomically: another process of the practice may be sending the same sending
            claimed = conn.execute(
                "UPDATE billing_sending SET state = ?, post_attempts = post_attempts + 1, updated_at = ? "
                "WHERE id = ? AND state = ? AND post_attempts = ?",
                (SendingState.POSTING.value, _now_text(self.ctx), status.id, status.state.value,
                 status.post_attempts)).rowcount
        if not claimed:
            return self.get(status.id)
        exchange = self.ctx.new_exchange(SERVICE, "post", purpose="eFact third-party-payment invoices",
                                         details={"sending_id": status.id, "oa": status.oa,
                                                  "input_reference": status.input_reference,
                                                  "sending_number": status.sending_number,
                                                  "lines": status.lines})
        try:
            with self.ctx.exchange(exchange) as run:
                tack = self.client.post(status.input_reference, data, oa=status.oa, run=run)
                self._crash("after_post")
                if not tack.success:
                    run.mark("business_error")
        except RuleRefusal:
            self.storage.execute("UPDATE billing_sending SET state = ?, post_attempts = post_attempts - 1 WHERE id = ?",
                                 (SendingState.VALIDATED.value, status.id))
            raise
        except TransportError as exc:
            # the file may or may not have arrived: stay "posting", reconcile through get
            self._update(status.id, last_error=f"post answer lost: {exc.message}")
            raise
        except (SoapFaultError, MalformedResponseError, SecurityError, RemoteError) as exc:
            self._update(status.id, state=SendingState.FAILED, last_error=f"{exc.code}: {exc.message}")
            raise
        if tack.success:
            self._advance(status.id, SendingState.POSTED, posted_at=_now_text(self.ctx),
                          tack_reference=tack.reference, last_error=None)
        else:
            self._update(status.id, state=SendingState.FAILED,
                         last_error=f"TAck failure {tack.result_minor or ''} {tack.result_message or ''}".strip())
        return self.get(status.id)

    def _advance(self, sid: str, state: SendingState, **values: Any) -> None:
        """Move forward only (answers may arrive out of order, and twice)."""
        current = SendingState(self.storage.query_one("SELECT state FROM billing_sending WHERE id = ?",
                                                      (sid,))["state"])
        if _RANK[state] > _RANK[current] or (current is SendingState.POSTING and state is SendingState.POSTED):
            values["state"] = state
        self._update(sid, **values)

    def send_all(self) -> list[SendingStatus]:
        """Validate and post every built/validated/failed sending, and reconcile lost posts."""
        out = []
        for status in self.list(states=[SendingState.BUILT, SendingState.VALIDATED, SendingState.FAILED,
                                        SendingState.POSTING]):
            out.append(self.send(status.id))
        return out

    # -- poll --------------------------------------------------------------------------------------

    def poll(self) -> PollResult:
        """One ``get``: store and apply every new message/TAck, then confirm everything stored."""
        exchange = self.ctx.new_exchange(SERVICE, "get", purpose="eFact answers")
        with self.ctx.exchange(exchange) as run:
            result = self.client.get(run=run, max_messages=_poll_max(self.ctx),
                                     max_tacks=_poll_max(self.ctx))
        self._crash("after_get")
        new_messages = new_tacks = duplicates = 0
        applied: list[tuple[str, str]] = []
        for message in result.messages:
            outcome = self._store_message(message)
            if outcome is None:
                duplicates += 1
            else:
                new_messages += 1
                if outcome[0]:
                    applied.append(outcome)
        for tack in result.tacks:
            if self._store_tack(tack):
                new_tacks += 1
            else:
                duplicates += 1
        self._crash("after_store")
        confirmed = self._confirm_pending()
        open_count = len(self.list(states=OPEN_STATES))
        return PollResult(new_messages=new_messages, new_tacks=new_tacks, duplicates=duplicates,
                          confirmed=confirmed, applied=tuple(applied), open_sendings=open_count)

    def _find_sending(self, input_reference: str | None, content: bytes | None) -> str | None:
        keys = [input_reference] if input_reference else []
        if content and len(content) >= 34 and content[20:34].isdigit():
            keys.append(content[20:34].decode("ascii"))  # S200 zone 204 echo
        for key in keys:
            row = self.storage.query_one("SELECT id FROM billing_sending WHERE input_reference = ?", (key,))
            if row is not None:
                return str(row["id"])
        return None

    def _store_message(self, message: ReceivedMessage) -> tuple[str, str] | None:
        key = "msg:" + message.hash_value
        sid = self._find_sending(message.input_reference, message.content)
        with self.storage.transaction() as conn:
            if conn.execute("SELECT 1 FROM billing_message WHERE key = ?", (key,)).fetchone():
                return None
            conn.execute(
                "INSERT INTO billing_message(key, kind, sending_id, input_reference, message_type, message_name, "
                "reference, confirm_value, content, received_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (key, "message", sid, message.input_reference, message.message_type, message.message_name,
                 message.reference, message.hash_value, message.content, _now_text(self.ctx)))
            if sid is None:
                return ("", message.message_type)
            self._apply(sid, message.message_type, message.content)
        return (sid, message.message_type)

    def _store_tack(self, tack: TAck) -> bool:
        key = "tack:" + (tack.value or tack.reference or tack.applies_to)
        sid = self._find_sending(tack.input_reference, None)
        with self.storage.transaction() as conn:
            if conn.execute("SELECT 1 FROM billing_message WHERE key = ?", (key,)).fetchone():
                return False
            conn.execute(
                "INSERT INTO billing_message(key, kind, sending_id, input_reference, message_type, reference, "
                "confirm_value, received_at) VALUES (?,?,?,?,?,?,?,?)",
                (key, "tack", sid, tack.input_reference, "tack:" + ("ok" if tack.success else "failure"),
                 tack.reference, tack.value or f"ref:{tack.reference or ''}", _now_text(self.ctx)))
            if sid is not None:
                state = SendingState(conn.execute("SELECT state FROM billing_sending WHERE id = ?",
                                                  (sid,)).fetchone()[0])
                if tack.success and state is SendingState.POSTING:
                    self._advance(sid, SendingState.POSTED, posted_at=_now_text(self.ctx),
                                  tack_reference=tack.reference, last_error=None)
                elif not tack.success and state in (SendingState.POSTING, SendingState.POSTED):
                    # delivery failed (efact.md §4.2 NOT_DELIVERED): the same file may be posted again
                    self._update(sid, state=SendingState.FAILED,
                                 last_error=f"asynchronous TAck failure: {tack.result_message or tack.result_minor}")
        return True

    def _confirm_pending(self) -> int:
        from .genasync import ReceivedMessage, TAck

        # Only what belongs to one of our sendings is confirmed: the mailbox is the care provider's, and
        # another installation (the practice vs its billing office) may be waiting for the rest.
        # UNSURE: whether MyCareNet splits mailboxes per package; foreign items are kept, not confirmed.
        rows = self.storage.query("SELECT * FROM billing_message WHERE confirmed_at IS NULL AND sending_id IS NOT NULL "
                                  "ORDER BY id")
        if not rows:
            return 0
        messages = [ReceivedMessage(input_reference=r["input_reference"], nip_reference=None, output_reference=None,
                                    message_name=r["message_name"] or "", hash_value=r["confirm_value"],
                                    reference=r["reference"], content=b"") for r in rows if r["kind"] == "message"]
        tacks = [TAck(issuer="", applies_to=r["input_reference"] or "", result_major="",
                      value="" if r["confirm_value"].startswith("ref:") else r["confirm_value"],
                      reference=r["reference"]) for r in rows if r["kind"] == "tack"]
        exchange = self.ctx.new_exchange(SERVICE, "confirm", purpose="eFact answers stored")
        with self.ctx.exchange(exchange) as run:
            self.client.confirm(messages=messages, tacks=tacks, run=run)
        self._crash("after_confirm")
        now = _now_text(self.ctx)
        with self.storage.transaction() as conn:
            conn.executemany("UPDATE billing_message SET confirmed_at = ? WHERE id = ?", [(now, r["id"]) for r in rows])
        return len(rows)

    # -- applying an insurer answer ----------------------------------------------------------------

    def _apply(self, sid: str, message_type: str, content: bytes) -> None:
        """Apply one insurer message to its sending (inside the storing transaction)."""
        now = _now_text(self.ctx)
        answer = read_answer(content)
        row = self.storage.query_one("SELECT received_at FROM billing_sending WHERE id = ?", (sid,))
        received = {} if row["received_at"] else {"received_at": now}  # R39: 931000 or any later answer
        seq_map = {r["seq"]: (r["record_type"], r["invoice_number"], r["line_no"]) for r in self.storage.query(
            "SELECT seq, record_type, invoice_number, line_no FROM billing_record WHERE sending_id = ?", (sid,))}
        if answer.type == "931000":
            self._advance(sid, SendingState.RECEIVED, **received)
            return
        errors = [attrs.evolve(e, invoice_number=seq_map.get(e.sequence, (None, None, None))[1],
                               line_no=seq_map.get(e.sequence, (None, None, None))[2]) for e in answer.errors]
        posted = self.storage.query_one("SELECT post_attempts FROM billing_sending WHERE id = ?", (sid,))
        if (answer.type == "920999" and [e.code for e in errors] == ["3011/40"] and posted["post_attempts"] > 1):
            # our own re-post met the insurer's duplicate check: the first copy is being processed
            self._update(sid, last_error="a re-post was refused as a duplicate (3011/40): waiting for the answers "
                         "to the first copy", **received)
            return
        if answer.type in ("920999", "920099"):
            self.storage.execute("UPDATE billing_line SET state = 'refused' WHERE sending_id = ?", (sid,))
            self._attach_line_errors(sid, errors)
            sending_level = [e for e in errors if e.line_no is None]
            self._advance(sid, SendingState.REFUSED, answered_at=now, answer_type=answer.type,
                          refusal_type=answer.refusal_type, sending_errors=_errors_json(sending_level), **received)
            return
        if answer.type == "920098":
            refusing = [e for e in errors if e.letter in ("R", "F")]
            self._attach_line_errors(sid, errors)
            self._advance(sid, SendingState.PARTLY if refusing else SendingState.ACCEPTED, answered_at=now,
                          answer_type=answer.type, **received)
            return
        if answer.type == "920900":
            self._attach_line_errors(sid, errors)
            paid = answer.paid_by_sequence
            for seq, amount in paid.items():
                target = seq_map.get(seq)
                if target and target[0] == "50":
                    self.storage.execute(
                        "UPDATE billing_line SET paid = ?, state = CASE WHEN state = 'refused' THEN state ELSE 'paid' "
                        "END WHERE sending_id = ? AND invoice_number = ? AND line_no = ?",
                        (amount, sid, target[1], target[2]))
            self.storage.execute("UPDATE billing_line SET state = 'accepted' WHERE sending_id = ? AND state = "
                                 "'pending'", (sid,))
            self._advance(sid, SendingState.SETTLED, settled_at=now, answered_at=now,
                          accepted_amount=answer.accepted, refused_amount=answer.refused,
                          payment_references=json.dumps(list(answer.payment_references)), **received)
            return
        self._update(sid, last_error=f"unexpected message {message_type}")

    def _attach_line_errors(self, sid: str, errors: Sequence[RecordError]) -> None:
        per_line: dict[tuple[int, int], list[RecordError]] = {}
        for e in errors:
            if e.invoice_number is None:
                continue
            if e.line_no is None or e.letter == "F":  # an invoice-level refusal refuses every line
                for r in self.storage.query("SELECT line_no FROM billing_line WHERE sending_id = ? AND "
                                            "invoice_number = ?", (sid, e.invoice_number)):
                    per_line.setdefault((e.invoice_number, r["line_no"]), []).append(e)
            else:
                per_line.setdefault((e.invoice_number, e.line_no), []).append(e)
        for (inv, line_no), errs in per_line.items():
            row = self.storage.query_one("SELECT codes FROM billing_line WHERE sending_id = ? AND invoice_number = ? "
                                         "AND line_no = ?", (sid, inv, line_no))
            if row is None:
                continue
            existing = list(_errors_from_json(row["codes"]))
            known = {(x.code, x.letter) for x in existing}
            merged = existing + [e for e in errs if (e.code, e.letter) not in known]
            refused = any(e.letter in ("R", "F", "B") for e in merged)
            self.storage.execute(
                "UPDATE billing_line SET codes = ?, state = CASE WHEN ? THEN 'refused' ELSE state END "
                "WHERE sending_id = ? AND invoice_number = ? AND line_no = ?",
                (_errors_json(merged), int(refused), sid, inv, line_no))

    # -- follow until the end ----------------------------------------------------------------------

    def settle(self, *, max_polls: int = 20, interval: float = 0.0,
               progress: Callable[[int, int], None] | None = None) -> list[SendingStatus]:
        """Post what is ready, then poll until every sending is final (or ``max_polls`` is reached)."""
        import time

        def attempt(action: Callable[[], Any]) -> Any:
            """Transport trouble does not stop the follow-up: it is recorded and retried at the next round."""
            try:
                return action()
            except (RemoteError, UsageError) as exc:
                if isinstance(exc, UsageError) and exc.code != "EFACT_GAVE_UP":
                    raise
                if THROTTLE_TEXT.lower() in exc.messages.en.lower():
                    time.sleep(max(interval, self.throttle_wait))
                return None

        for status in self.list(states=[SendingState.BUILT, SendingState.VALIDATED, SendingState.FAILED,
                                        SendingState.POSTING]):
            attempt(lambda sid=status.id: self.send(sid))
        for i in range(max_polls):
            result = attempt(self.poll)
            if progress is not None:
                progress(i + 1, result.open_sendings if result else -1)
            for status in self.list(states=[SendingState.POSTING, SendingState.FAILED]):
                if status.post_attempts < MAX_POST_ATTEMPTS:
                    attempt(lambda sid=status.id: self.send(sid))
            waiting = [s for s in self.list(states=OPEN_STATES | {SendingState.FAILED})
                       if not (s.state is SendingState.FAILED and s.post_attempts >= MAX_POST_ATTEMPTS)]
            if not waiting:
                break
            if interval:
                time.sleep(interval)
        return self.list()


def _with_commitment(line: Any, consulted: Any) -> Any:
    """Record 51 from the tariff consultation's payment commitment when the line has none (R40), and
    the related service the consultation priced when the line names none (ET50/ET51 zones 17-18)."""
    from .efact.model import Commitment

    if consulted is not None and line.related_code is None and getattr(consulted, "related", None):
        line = attrs.evolve(line, related_code=consulted.related)
    if line.commitment is not None or consulted is None or not consulted.commitment:
        return line
    communicated = xs_date(str(consulted.consulted_at))
    return attrs.evolve(line, commitment=Commitment(number=str(consulted.commitment)[:48],
                                                    communicated=communicated))


def _repost_after(ctx: Context) -> dt.timedelta:
    """How long a post without any answer is given before it is posted again.

    UNSURE: whether MyCareNet always queues an asynchronous TAck for a post (the simulator does);
    without one, a too early re-post could meet the insurer's duplicate check. Default 0 on the
    simulator, 15 minutes otherwise (``[billing] repost_after_minutes``).
    """
    default = 0 if ctx.config.profile == "simulator" else 15
    try:
        minutes = float(ctx.config.section(SERVICE).get("repost_after_minutes", default))
    except (TypeError, ValueError):
        minutes = default
    return dt.timedelta(minutes=max(0.0, minutes))


def _poll_max(ctx: Context) -> int:
    try:
        return max(1, int(ctx.config.section(SERVICE).get("poll_max", 100)))
    except (TypeError, ValueError):
        return 100



# --- reading an insurer answer (record codes, amounts, payment references) -------------------------


@attrs.frozen
class Answer:
    """What the outbox needs from an insurer message (``efact.md`` §3)."""

    type: str
    reference: str
    errors: tuple[RecordError, ...] = ()
    refusal_type: str | None = None
    paid: tuple[tuple[int, int], ...] = ()  # (record sequence of an ET50, paid amount in cents)
    accepted: int | None = None
    refused: int | None = None
    payment_references: tuple[str, ...] = ()

    @property
    def paid_by_sequence(self) -> Mapping[int, int]:
        return dict(self.paid)


def read_answer(content: bytes) -> Answer:
    """Read a 931000/920098/920099/920999/920900 into an :class:`Answer` (tolerant of insurer fillers)."""
    from .efact.catalogue import describe
    from .efact.reader import EfactReader

    reader = EfactReader(content)
    kind = reader.message_name
    errors: list[RecordError] = []
    refusal_type = None
    paid: dict[int, int] = {}
    refs: list[str] = []
    accepted = refused = None
    reference = ""
    for rec in reader:
        if rec.kind == "200":
            reference = rec.zone("204")
        if rec.kind in ("200", "300", "95", "96", "91", "92"):
            if rec.kind == "300" and kind in ("920098", "920099", "920900"):
                value = rec.zone("311")
                refusal_type = value if value.strip("0 ") else None
            for zone in rec.layout.zones:
                if zone.label == "error":
                    two = rec.text[zone.start - 1:zone.end]
                    if two.strip("0 ") and two.isdigit():
                        entry = describe(f"{zone.name}/{two}")
                        errors.append(RecordError(code=entry.code, letter="B", messages=entry.messages,
                                                  record_type=rec.kind))
            if rec.kind == "91":
                ref = rec.zone("423").strip()
                if ref:
                    refs.append(ref)
            if rec.kind == "92":
                accepted = _signed(rec.zone("519-520"))
                refused = _signed(rec.zone("521-522"))
            continue
        tail = rec.tail
        if tail is None:
            continue
        seq = rec.sequence
        for letter_zone, code_zone in (("111a", "111b"), ("112a", "112b"), ("113a", "113b")):
            letter, code = tail[letter_zone].strip(), tail[code_zone].strip()
            if not code or code.strip("0") == "" or letter not in "BFRES" or not letter:
                continue
            entry = describe(code, letter)
            errors.append(RecordError(code=code, letter=letter, messages=entry.messages, record_type=rec.kind,
                                      sequence=seq))
        if kind == "920900" and rec.kind == "50" and seq is not None:
            amount = _signed(tail["114"])
            if amount is not None:
                paid[seq] = amount
    return Answer(type=kind, reference=reference, errors=tuple(errors), refusal_type=refusal_type,
                  paid=tuple(sorted(paid.items())), accepted=accepted, refused=refused, payment_references=tuple(refs))


def _signed(text: str) -> int | None:
    text = text.strip()
    if len(text) < 2 or text[0] not in "+-" or not text[1:].isdigit():
        return None
    value = int(text[1:])
    return -value if text[0] == "-" else value
