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
import hashlib
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import attrs
from mycarenet_dental.errors import (
    MalformedResponseError,
    RemoteError,
    RuleRefusal,
    SecurityError,
    SoapFaultError,
    UsageError,
)
from mycarenet_dental.timeutil import parse_datetime, xs_date

from .outbox_poll import Answer, OutboxPolling, read_answer
from .outbox_state import (
    _RANK,
    _RELEASING_STATES,
    CRASH_POINTS,
    FINAL_STATES,
    MAX_POST_ATTEMPTS,
    OPEN_STATES,
    SERVICE,
    TABLES,
    THROTTLE_TEXT,
    BillingSettings,
    BuildResult,
    LineStatus,
    PollResult,
    RecordError,
    RefusedLine,
    SendingState,
    SendingStatus,
    SimulatedCrash,
    _duplicate_lines,
    _errors_from_json,
    _errors_json,
    _now_text,
    _status,
    input_reference_for,
    invoicing_period,
)

if TYPE_CHECKING:  # pragma: no cover
    from mycarenet_dental.context import Context
    from mycarenet_dental.storage import Storage

    from .efact.model import Invoice, Sending
    from .genasync import GenAsyncClient

__all__ = [  # the outbox's public names, wherever they live (vendors and tests import them from here)
    "Answer",
    "BillingSettings",
    "BuildResult",
    "CRASH_POINTS",
    "FINAL_STATES",
    "LineStatus",
    "MAX_POST_ATTEMPTS",
    "OPEN_STATES",
    "Outbox",
    "OutboxPolling",
    "PollResult",
    "RecordError",
    "RefusedLine",
    "SERVICE",
    "SendingState",
    "SendingStatus",
    "SimulatedCrash",
    "TABLES",
    "THROTTLE_TEXT",
    "input_reference_for",
    "invoicing_period",
    "read_answer",
]

# --- the outbox -----------------------------------------------------------------------------------



class Outbox(OutboxPolling):
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
    def storage(self) -> Storage:
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


