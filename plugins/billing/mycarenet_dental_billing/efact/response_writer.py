"""Write the insurers' responses (931000, 920999, 920099, 920098, 920900) from the models of :mod:`.responses`.

Used by the offline insurer simulator and by tests; the layouts are the ones the reader uses, so
``read_response(write_response(r)).response == r`` for every model this module can write. Helpers
build the usual responses straight from a received 920000 (:func:`acknowledge`,
:func:`echo_records`, :func:`settle`), leaving the business decisions to the caller.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

from mycarenet_dental.errors import UsageError

from . import records as rl
from .controls import format_amount, mod97
from .reader import (
    MESSAGE_ACCEPTED,
    MESSAGE_ACK,
    MESSAGE_FILE_REFUSED,
    MESSAGE_REFUSED,
    MESSAGE_SETTLEMENT,
    Bordereau,
    EfactReader,
    RawRecord,
)
from .responses import (
    Acknowledgement,
    EchoedRecord,
    FileRefusal,
    MessageHeader,
    PreliminaryControl,
    Rejection,
    Response,
    ResponseSegment300,
    Settlement,
    SettlementTotal,
)


def _fmt(layout: rl.Layout, values: Mapping[str, object]) -> str:
    try:
        return layout.format(values)
    except ValueError as e:
        raise UsageError(f"response {layout.key}: {e}", location=layout.key) from e


def _with_errors(values: dict[str, object], errors: Mapping[str, str]) -> dict[str, object]:
    for zone, code in errors.items():
        values[zone] = code
    return values


def _date(d: dt.date | None) -> str:
    return "00000000" if d is None else f"{d.year:04d}{d.month:02d}{d.day:02d}"


def write_header(h: MessageHeader) -> str:
    return _fmt(rl.SEGMENT200, _with_errors({
        "200": h.message_name, "201": h.version, "202": 92 if h.test else 12, "203": h.status,
        "204": h.reference, "205": h.insurer_reference,
    }, h.errors))


def write_segment300(s: ResponseSegment300, *, extended: bool) -> str:
    values: dict[str, object] = {
        "300": s.period, "301": s.sending_number, "302": _date(s.creation_date), "303": s.file_reference,
        "304": s.instructions_version, "305": s.contact_last_name, "306": s.contact_first_name,
        "307": s.contact_phone, "308": s.invoice_kind, "309": s.invoicing_mode,
    }
    if extended:
        values["310"] = s.error_percentage or 0
        values["311"] = s.refusal_type or "00"
    return _fmt(rl.SEGMENT300_EXTENDED if extended else rl.SEGMENT300, _with_errors(values, s.errors))


def write_echoed(r: EchoedRecord) -> str:
    """The 800-character form: the record as received plus response zones 100–151."""
    if len(r.record) != rl.RECORD_LENGTH:
        raise UsageError(f"echoed record must be {rl.RECORD_LENGTH} characters, got {len(r.record)}")
    if len(r.rejections) > 3:
        raise UsageError("at most three rejection codes per record (zones 111–113)")
    values: dict[str, object] = {
        "100": r.sending_number or 0, "101": _date(r.created), "102": r.period, "103": r.mutuality,
        "149": r.comment, "151": r.index or 0,
    }
    for name, v in (("114", r.accepted_amount), ("115", r.amount_115), ("116", r.amount_116),
                    ("119", r.insurer_result)):
        values[name] = " " * 12 if v is None else format_amount(v, 12)
    for n, rej in zip(("111", "112", "113"), r.rejections, strict=False):
        values[f"{n}a"] = rej.letter or " "
        values[f"{n}b"] = rej.code
    for n in ("111", "112", "113")[len(r.rejections):]:
        values[f"{n}b"] = "000000"
    return r.record + _fmt(rl.RESPONSE_TAIL, values)


def write_bordereau(b: Bordereau) -> str:
    layout = rl.RECORD95 if b.record_type == "95" else rl.RECORD96
    names = [z.name for z in layout.zones]
    values: dict[str, object] = {
        names[0]: b.record_type, names[2]: b.mutuality, names[4]: b.number, names[6]: format_amount(b.total_a, 12),
        names[8]: format_amount(b.total_b, 12), names[10]: format_amount(b.total_ab, 12), names[12]: b.records,
        names[14]: b.control, names[16]: format_amount(b.total_c or 0, 12),
    }
    text = _fmt(layout, _with_errors(values, b.errors))
    if b.total_c is None:  # format version 01: no account C
        text = text[:79] + " " * 14 + text[93:]
    return text


def write_settlement_total(t: SettlementTotal) -> str:
    layout = rl.RECORD91 if t.record_type == "91" else rl.RECORD92
    f = 400 if t.record_type == "91" else 500

    def a(k: int) -> str:
        return f"{f + k}-{f + k + 1}"

    values: dict[str, object] = {
        str(f): t.record_type, str(f + 1): t.mutuality, a(3): format_amount(t.requested_a, 12),
        a(5): format_amount(t.requested_b, 12), a(7): format_amount(t.requested, 12), str(f + 9): t.records,
        str(f + 10): t.control, a(11): format_amount(t.accepted_a, 12), a(13): format_amount(t.refused_a, 12),
        a(15): format_amount(t.accepted_b, 12), a(17): format_amount(t.refused_b, 12),
        a(19): format_amount(t.accepted, 12), a(21): format_amount(t.refused, 12),
    }
    if t.record_type == "91":
        values["402"] = t.summary_number
        values["423"] = t.payment_reference_a
        values["424"] = t.payment_reference_b
    return _fmt(layout, _with_errors(values, t.errors))


def write_response(response: Response) -> str:
    """The flat text of a response, ready to be deflated into a GenericAsync ``Detail``."""
    if isinstance(response, Acknowledgement):
        stub = _fmt(rl.SEGMENT300_STUB, _with_errors({"300": response.acknowledged}, response.errors))
        return write_header(response.header) + stub
    if isinstance(response, FileRefusal):
        parts = [write_header(response.header), write_segment300(response.segment300, extended=False)]
        parts += [write_bordereau(b) for b in response.bordereaux]
        if response.file_total is not None:
            parts.append(write_bordereau(response.file_total))
        return "".join(parts)
    if isinstance(response, PreliminaryControl | Settlement):
        parts = [write_header(response.header), write_segment300(response.segment300, extended=True)]
        parts += [write_echoed(r) for r in response.records]
        if isinstance(response, Settlement):
            parts += [write_settlement_total(t) for t in response.mutualities]
            if response.total is not None:
                parts.append(write_settlement_total(response.total))
        return "".join(parts)
    raise UsageError(f"not a response model: {type(response).__name__}")


def response_to_bytes(response: Response) -> bytes:
    return write_response(response).encode("ascii")


# --- builders from a received 920000 (for the simulator) -----------------------------------------


def _head(reader_records: Iterable[RawRecord]) -> tuple[dict[str, str], dict[str, str]]:
    it = iter(reader_records)
    return next(it).zones(), next(it).zones()


def response_header(s200: Mapping[str, str], message_name: str, insurer_reference: int, *,
                    errors: Mapping[str, str] | None = None) -> MessageHeader:
    """Segment 200 of a response to a received 920000: echoes zone 204 and the test flag."""
    return MessageHeader(message_name=message_name, reference=int(s200["204"]), insurer_reference=insurer_reference,
                         test=s200["202"] == "92", version=int(s200["201"]), errors=dict(errors or {}))


def response_segment300(s300: Mapping[str, str], *, contact_last_name: str = "HELPDESK SIMULATOR",
                        contact_first_name: str = "", contact_phone: str = "0000000000",
                        error_percentage: int | None = None, refusal_type: str | None = None,
                        errors: Mapping[str, str] | None = None) -> ResponseSegment300:
    """Segment 300 of a response: the sending's zones 300–304/308/309 with the insurer's contact."""
    return ResponseSegment300(
        period=s300["300"], sending_number=int(s300["301"]),
        creation_date=dt.date(int(s300["302"][:4]), int(s300["302"][4:6]), int(s300["302"][6:8])),
        file_reference=s300["303"].rstrip(), instructions_version=s300["304"], contact_last_name=contact_last_name,
        contact_first_name=contact_first_name, contact_phone=contact_phone, invoice_kind=s300["308"],
        invoicing_mode=s300["309"], error_percentage=error_percentage, refusal_type=refusal_type,
        errors=dict(errors or {}),
    )


def acknowledge(sending: str | bytes, insurer_reference: int) -> Acknowledgement:
    """The 931000 for a received 920000."""
    s200, _ = _head(EfactReader(sending))
    return Acknowledgement(response_header(s200, MESSAGE_ACK, insurer_reference))


def echo_records(sending: str | bytes, rejections: Mapping[int, Sequence[Rejection]] | None = None, *,
                 only_rejected: bool = False, accepted_amounts: Mapping[int, int] | None = None,
                 created: dt.date | None = None) -> list[EchoedRecord]:
    """Echo the numbered records of a 920000 (keyed by sequence number) with their rejection codes.

    ``only_rejected`` keeps ET10, ET90 and the records with codes (the 920098/920099 form);
    ``accepted_amounts`` sets zone 114 (the 920900 form).
    """
    rejections = rejections or {}
    accepted_amounts = accepted_amounts or {}
    out: list[EchoedRecord] = []
    sending_number = None
    for rec in EfactReader(sending):
        if rec.kind not in rl.SEQUENCED_TYPES:
            continue
        seq = rec.sequence or 0
        if rec.kind == "10":
            sending_number = int(rec.zone("7"))
        rej = tuple(rejections.get(seq, ()))
        if only_rejected and not rej and rec.kind not in ("10", "90"):
            continue
        period = mutuality = None
        if rec.kind in ("50", "51"):
            d = rec.zone("5")
            period = d[:6]
            mutuality = rec.zone("7") if rec.kind == "50" else None
        out.append(EchoedRecord(
            record=rec.text[:rl.RECORD_LENGTH], rejections=rej, sending_number=sending_number, created=created,
            period=period or "000000", mutuality=mutuality or "000", accepted_amount=accepted_amounts.get(seq),
        ))
    return out


def settle(sending: str | bytes, insurer_reference: int, *, refused: Mapping[int, Sequence[Rejection]] | None = None,
           payment_reference: str = "", created: dt.date | None = None,
           contact_last_name: str = "HELPDESK SIMULATOR") -> Settlement:
    """A 920900 for a received 920000: every ET50 accepted at its billed amount unless listed in ``refused``.

    Records 91 (per destination mutuality, with ``payment_reference``) and 92 are computed.
    """
    refused = refused or {}
    reader = EfactReader(sending)
    records = list(reader)
    s200, s300 = records[0].zones(), records[1].zones()
    accepted: dict[int, int] = {}
    per_mut: dict[str, list[int]] = {}  # mutuality → requested A, B, accepted A, B, records, codes
    dest = "000"
    order: list[str] = []
    for rec in records[2:]:
        if rec.kind == "20":
            dest = rec.zone("18")
            if dest not in per_mut:
                per_mut[dest] = [0, 0, 0, 0, 0, 0]
                order.append(dest)
        if rec.kind in ("20", "50", "51", "52", "80"):
            per_mut[dest][4] += 1
        if rec.kind in ("50", "51", "52"):
            per_mut[dest][5] += int(rec.zone("4"))
        if rec.kind == "50":
            seq = rec.sequence or 0
            amount = int(rec.zone("19"))
            b = rec.zone("11") == "1"
            per_mut[dest][1 if b else 0] += amount
            if seq not in refused:
                accepted[seq] = amount
                per_mut[dest][3 if b else 2] += amount
    echoed = echo_records(sending, refused, accepted_amounts=accepted, created=created)
    fed = order[0][0] + "99" if order else "000"
    totals = []
    for m in order:
        ra, rb, aa, ab, n, codes = per_mut[m]
        totals.append(SettlementTotal("91", m, ra, rb, aa, ra - aa, ab, rb - ab, summary_number=0, records=n,
                                      control=mod97(codes), payment_reference_a=payment_reference))
    total = SettlementTotal(
        "92", fed, sum(t.requested_a for t in totals), sum(t.requested_b for t in totals),
        sum(t.accepted_a for t in totals), sum(t.refused_a for t in totals), sum(t.accepted_b for t in totals),
        sum(t.refused_b for t in totals), records=sum(t.records for t in totals),
        control=mod97(sum(per_mut[m][5] for m in order)))
    return Settlement(response_header(s200, MESSAGE_SETTLEMENT, insurer_reference),
                      response_segment300(s300, contact_last_name=contact_last_name, error_percentage=0), tuple(echoed), tuple(totals),
                      total)


def preliminary(sending: str | bytes, insurer_reference: int, rejections: Mapping[int, Sequence[Rejection]],
                *, refused: bool, refusal_type: str | None = None, error_percentage: int = 0,
                contact_last_name: str = "HELPDESK SIMULATOR") -> PreliminaryControl:
    """A 920098 (``refused=False``) or 920099 (``refused=True``) echoing ET10, ET90 and the records in error."""
    it = EfactReader(sending)
    s200, s300 = _head(it)
    name = MESSAGE_REFUSED if refused else MESSAGE_ACCEPTED
    return PreliminaryControl(
        response_header(s200, name, insurer_reference),
        response_segment300(s300, contact_last_name=contact_last_name, error_percentage=error_percentage,
                            refusal_type=refusal_type or ("01" if refused else None)),
        tuple(echo_records(sending, rejections, only_rejected=True)),
    )


def refuse_file(sending: str | bytes, insurer_reference: int, *, header_errors: Mapping[str, str] | None = None,
                segment300_errors: Mapping[str, str] | None = None,
                bordereau_errors: Mapping[str, Mapping[str, str]] | None = None) -> FileRefusal:
    """A 920999 echoing S200, S300 and the records 95/96 of the file with the given 2-digit error codes.

    ``bordereau_errors`` is keyed by the mutuality of a 95 (or ``"96"`` for the file total).
    """
    bordereau_errors = bordereau_errors or {}
    reader = EfactReader(sending)
    records = list(reader)
    s200, s300 = records[0].zones(), records[1].zones()
    b95: list[Bordereau] = []
    b96 = None
    for rec in records[2:]:
        if rec.kind in ("95", "96"):
            b = Bordereau.from_record(rec)
            errs = bordereau_errors.get("96" if rec.kind == "96" else b.mutuality, {})
            b = Bordereau(b.record_type, b.mutuality, b.number, b.total_a, b.total_b, b.total_ab, b.records,
                          b.control, b.total_c, {**b.errors, **errs})
            if rec.kind == "95":
                b95.append(b)
            else:
                b96 = b
    return FileRefusal(response_header(s200, MESSAGE_FILE_REFUSED, insurer_reference, errors=header_errors),
                       response_segment300(s300, errors=segment300_errors), tuple(b95), b96)
