"""Following sendings after the post: polling GenericAsync, storing and applying each insurer message and
TAck exactly once, confirming, and reading an insurer answer (record codes, amounts, payment references).
:class:`OutboxPolling` is the part of :class:`~.outbox.Outbox` that runs after the post."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
from mycarenet_dental.errors import RemoteError, UsageError

from .outbox_state import (
    MAX_POST_ATTEMPTS,
    OPEN_STATES,
    SERVICE,
    THROTTLE_TEXT,
    PollResult,
    RecordError,
    SendingState,
    SendingStatus,
    _errors_from_json,
    _errors_json,
    _now_text,
)

if TYPE_CHECKING:  # pragma: no cover
    from mycarenet_dental.context import Context

    from .genasync import ReceivedMessage, TAck

class OutboxPolling:
    """The outbox after the post: ``poll`` (one GenericAsync ``get``, each message and TAck stored and applied
    once, then confirmed) and ``settle`` (post what is ready, poll until every sending is final). A base of
    :class:`~.outbox.Outbox`, which provides ``ctx``, ``client``, ``storage``, ``get``, ``list``, ``send``,
    ``_crash``, ``_update`` and ``_advance``."""

    ctx: Context
    throttle_wait: float
    _third_party: Callable[[], str | None]

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
        for key in keys:  # in this dentist's mailbox: an InputReference is unique per care provider only
            row = self.storage.query_one("SELECT id FROM billing_sending WHERE input_reference = ? AND "
                                         "third_party = COALESCE(?, third_party)", (key, self._third_party()))
            if row is not None:
                return str(row["id"])
        return None

    def _store_message(self, message: ReceivedMessage) -> tuple[str, str] | None:
        key = "msg:" + message.hash_value
        sid = self._find_sending(message.input_reference, message.content)
        with self.storage.transaction() as conn:
            # the unique key decides, not a read before the write: two workers may store the same message
            if not conn.execute(
                    "INSERT INTO billing_message(key, kind, sending_id, input_reference, message_type, message_name, "
                    "reference, confirm_value, content, received_at) VALUES (?,?,?,?,?,?,?,?,?,?) "
                    "ON CONFLICT(key) DO NOTHING",
                    (key, "message", sid, message.input_reference, message.message_type, message.message_name,
                     message.reference, message.hash_value, message.content, _now_text(self.ctx))).rowcount:
                return None
            if sid is None:
                return ("", message.message_type)
            self._apply(sid, message.message_type, message.content)
        return (sid, message.message_type)

    def _store_tack(self, tack: TAck) -> bool:
        key = "tack:" + (tack.value or tack.reference or tack.applies_to)
        sid = self._find_sending(tack.input_reference, None)
        with self.storage.transaction() as conn:
            if not conn.execute(
                    "INSERT INTO billing_message(key, kind, sending_id, input_reference, message_type, reference, "
                    "confirm_value, received_at) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(key) DO NOTHING",
                    (key, "tack", sid, tack.input_reference, "tack:" + ("ok" if tack.success else "failure"),
                     tack.reference, tack.value or f"ref:{tack.reference or ''}", _now_text(self.ctx))).rowcount:
                return False
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
        rows = self.storage.query(
            "SELECT m.* FROM billing_message m JOIN billing_sending s ON s.id = m.sending_id WHERE m.confirmed_at IS "
            "NULL AND s.third_party = COALESCE(?, s.third_party) ORDER BY m.id", (self._third_party(),))
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
