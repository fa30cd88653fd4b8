"""Typed model of the insurers' eFact responses (``efact.md`` §3) and how to read them.

==========  ==================================================================================
931000      :class:`Acknowledgement` — the insurer received the 920000 (protocol R39: from now on
            the invoice counts as received)
920999      :class:`FileRefusal` — the whole file refused at reception (error zones in S200/S300,
            records 95/96)
920099      :class:`PreliminaryControl` with ``accepted = False`` — the sending refused (blocking
            errors, or more than 5 % of the lines in error; zone 311)
920098      :class:`PreliminaryControl` with ``accepted = True`` — accepted; records in error listed
920900      :class:`Settlement` — per line accepted/refused with the paid amount, per-mutuality
            totals and payment references (records 91), file totals (record 92)
==========  ==================================================================================

Echoed records are 800 characters: the 350-character record as sent plus 450 characters of
response zones 100–151 (:class:`EchoedRecord`), with up to three ``letter + RRZZNN`` rejection
codes (:class:`Rejection`). Parsing is lenient where insurers are known to put fillers (unused
response zones filled with the record-type digit): an unreadable optional zone becomes ``None``.
:func:`read_response` dispatches on the first six characters.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import BinaryIO, TextIO, Union

import attrs
from mycarenet_dental.errors import Messages

from . import records as rl
from .catalogue import SEVERITY_LETTERS, CatalogueEntry, describe
from .controls import parse_amount
from .reader import (
    MESSAGE_ACCEPTED,
    MESSAGE_ACK,
    MESSAGE_FILE_REFUSED,
    MESSAGE_REFUSED,
    MESSAGE_SETTLEMENT,
    Bordereau,
    EfactFormatError,
    EfactReader,
    RawRecord,
    ReadWarning,
)


def _errors(layout: rl.Layout, z: dict[str, str]) -> dict[str, str]:
    """Non-zero 2-digit error zones, by error zone name."""
    return {x.name: z[x.name] for x in layout.zones if x.label == "error" and z[x.name].strip("0 ")}


def _opt_int(text: str) -> int | None:
    return int(text) if text.isdigit() and text.isascii() else None


def _opt_date(text: str) -> dt.date | None:
    if not text.isdigit() or text == "00000000":
        return None
    try:
        d = dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None
    return d if d.year >= 1900 else None  # e.g. '11111111': an insurer filler, not a date


@attrs.frozen
class MessageHeader:
    """Segment 200 of a response: message name, references (204 = ours echoed, 205 = insurer's)."""

    message_name: str
    reference: int  # zone 204: the provider reference of the 920000 answered
    insurer_reference: int = 0  # zone 205
    test: bool = True  # zone 202: 92 test / 12 production
    version: int = 2  # zone 201
    status: int = 0  # zone 203
    errors: dict[str, str] = attrs.field(factory=dict)  # error zone → 2-digit code

    @classmethod
    def from_record(cls, rec: RawRecord) -> MessageHeader:
        z = rec.zones()
        return cls(message_name=z["200"], reference=_opt_int(z["204"]) or 0,
                   insurer_reference=_opt_int(z["205"]) or 0, test=z["202"] == "92",
                   version=_opt_int(z["201"]) or 0, status=_opt_int(z["203"]) or 0,
                   errors=_errors(rl.SEGMENT200, z))


@attrs.frozen
class ResponseSegment300:
    """Segment 300 of a response (160 characters in a 920999, 610 in 920098/920099/920900)."""

    period: str = "000000"
    sending_number: int = 0
    creation_date: dt.date | None = None
    file_reference: str = ""
    instructions_version: str = "0000000"
    contact_last_name: str = ""
    contact_first_name: str = ""
    contact_phone: str = "0000000000"
    invoice_kind: str = "03"
    invoicing_mode: str = "01"
    error_percentage: int | None = None  # zone 310, hundredths of a percent (extended form only)
    refusal_type: str | None = None  # zone 311: 01 blocking errors, 02 more than 5 % errors
    errors: dict[str, str] = attrs.field(factory=dict)

    @classmethod
    def from_record(cls, rec: RawRecord) -> ResponseSegment300:
        z = rec.zones()
        extended = rec.layout is rl.SEGMENT300_EXTENDED
        return cls(
            period=z["300"], sending_number=_opt_int(z["301"]) or 0, creation_date=_opt_date(z["302"]),
            file_reference=z["303"].rstrip(), instructions_version=z["304"], contact_last_name=z["305"].rstrip(),
            contact_first_name=z["306"].rstrip(), contact_phone=z["307"], invoice_kind=z["308"],
            invoicing_mode=z["309"], error_percentage=_opt_int(z["310"]) if extended else None,
            refusal_type=z["311"] if extended and z["311"] != "00" else None, errors=_errors(rec.layout, z),
        )


class RefusalType(enum.Enum):
    """Zone 311 of a 920099."""

    BLOCKING = "01"
    TOO_MANY_ERRORS = "02"  # more than 5 % of the lines in error


@attrs.frozen
class Rejection:
    """One ``letter + RRZZNN`` code of response zones 111–113."""

    letter: str
    code: str

    @property
    def entry(self) -> CatalogueEntry:
        return describe(self.code, self.letter)

    @property
    def messages(self) -> Messages:
        return self.entry.messages

    @property
    def blocking(self) -> bool:
        return self.letter == "B"

    @property
    def record_type(self) -> str:
        return self.code[:2]

    @property
    def zone(self) -> str:
        return self.code[2:4]

    def __str__(self) -> str:
        return f"{self.letter}{self.code}: {self.messages.en}"

    @staticmethod
    def parse(letter: str, code: str) -> Rejection | None:
        """``None`` for 'no error' (blank/``000000``) and for insurer fillers (e.g. ``1111111``)."""
        if not code.strip("0 ") or len(code) != 6 or not code.isalnum():
            return None
        if letter not in SEVERITY_LETTERS and letter != " ":
            return None
        return Rejection(letter.strip(), code)


@attrs.frozen
class EchoedRecord:
    """A record of our 920000 as the insurer sends it back, with its response zones 100–151."""

    record: str  # the 350 characters as echoed (control digits may differ from what we sent)
    rejections: tuple[Rejection, ...] = ()
    sending_number: int | None = None  # zone 100
    created: dt.date | None = None  # zone 101
    period: str = ""  # zone 102 (ET50/51: invoiced YYYYMM)
    mutuality: str = ""  # zone 103 (ET50/51)
    accepted_amount: int | None = None  # zone 114 (ET50 in a 920900: accepted/paid amount, cents)
    amount_115: int | None = None  # UNSURE meaning
    amount_116: int | None = None  # UNSURE meaning
    insurer_result: int | None = None  # zone 119
    comment: str = ""  # zone 149
    index: int | None = None  # zone 151

    @property
    def record_type(self) -> str:
        return self.record[:2]

    @property
    def sequence(self) -> int | None:
        return _opt_int(self.record[2:8])

    @property
    def layout(self) -> rl.Layout:
        return rl.RECORD_LAYOUTS[self.record_type]

    def zone(self, name: str) -> str:
        return self.record[self.layout.slices[name]]

    @property
    def code(self) -> str | None:
        """Nomenclature code of an echoed 50/51/52."""
        return self.zone("4") if self.record_type in ("50", "51", "52") else None

    @property
    def line_reference(self) -> str | None:
        """Our line reference (ET50 Z28), to match the line back."""
        return self.zone("28").rstrip() if self.record_type == "50" else None

    @property
    def invoice_number(self) -> int | None:
        return _opt_int(self.zone("24-25")) if self.record_type in ("20", "80") else None

    @property
    def refused(self) -> bool:
        """Refused when it carries a code other than a signal (E/S)."""
        return any(r.letter not in ("E", "S") for r in self.rejections)

    @classmethod
    def from_record(cls, rec: RawRecord) -> EchoedRecord:
        tail = rec.tail or {}
        rejections = tuple(r for r in (Rejection.parse(tail[f"{n}a"], tail[f"{n}b"]) for n in ("111", "112", "113"))
                           if r is not None)
        return cls(
            record=rec.text[:rl.RECORD_LENGTH], rejections=rejections, sending_number=_opt_int(tail["100"]) or None,
            created=_opt_date(tail["101"]), period=tail["102"], mutuality=tail["103"],
            accepted_amount=parse_amount(tail["114"]), amount_115=parse_amount(tail["115"]),
            amount_116=parse_amount(tail["116"]), insurer_result=parse_amount(tail["119"]),
            comment=tail["149"].rstrip(), index=_opt_int(tail["151"]) or None,
        )


@attrs.frozen
class SettlementTotal:
    """Record 91 (per mutuality) or 92 (per file) of a 920900."""

    record_type: str  # "91" or "92"
    mutuality: str  # 91: mutuality; 92: federation code + 99
    requested_a: int
    requested_b: int = 0
    accepted_a: int = 0
    refused_a: int = 0
    accepted_b: int = 0
    refused_b: int = 0
    summary_number: int = 0
    records: int = 0
    control: int = 0
    payment_reference_a: str = ""  # 91 only: structured communication of the transfer
    payment_reference_b: str = ""
    errors: dict[str, str] = attrs.field(factory=dict)

    @property
    def requested(self) -> int:
        return self.requested_a + self.requested_b

    @property
    def accepted(self) -> int:
        return self.accepted_a + self.accepted_b

    @property
    def refused(self) -> int:
        return self.refused_a + self.refused_b

    @classmethod
    def from_record(cls, rec: RawRecord) -> SettlementTotal:
        z = rec.zones()
        f = int(rec.layout.zones[0].name)  # 400 or 500

        def amt(a: int) -> int:
            return parse_amount(z[f"{f + a}-{f + a + 1}"]) or 0

        is91 = rec.kind == "91"
        return cls(
            record_type=rec.kind, mutuality=z[str(f + 1)], requested_a=amt(3), requested_b=amt(5),
            accepted_a=amt(11), refused_a=amt(13), accepted_b=amt(15), refused_b=amt(17),
            summary_number=_opt_int(z[str(f + 2)]) or 0, records=_opt_int(z[str(f + 9)]) or 0,
            control=_opt_int(z[str(f + 10)]) or 0,
            payment_reference_a=z["423"].rstrip() if is91 else "", payment_reference_b=z["424"].rstrip() if is91 else "",
            errors=_errors(rec.layout, z),
        )


@attrs.frozen
class Acknowledgement:
    """931000: the insurer received the file (protocol R39)."""

    header: MessageHeader
    acknowledged: str = "920000"  # name of the message acknowledged
    errors: dict[str, str] = attrs.field(factory=dict)

    message_name = MESSAGE_ACK


@attrs.frozen
class FileRefusal:
    """920999: the file was refused at reception; the 2-digit error zones say why."""

    header: MessageHeader
    segment300: ResponseSegment300
    bordereaux: tuple[Bordereau, ...] = ()
    file_total: Bordereau | None = None

    message_name = MESSAGE_FILE_REFUSED

    @property
    def errors(self) -> list[tuple[str, str, Messages]]:
        """Every non-zero error zone as (where, ``zone/code``, text)."""
        out = []
        for where, errs in (("S200", self.header.errors), ("S300", self.segment300.errors),
                            *((f"ET95 {b.mutuality}", b.errors) for b in self.bordereaux),
                            *((("ET96", self.file_total.errors),) if self.file_total else ())):
            for zone, code in errs.items():
                key = f"{zone}/{code}"
                out.append((where, key, describe(key).messages))
        return out


@attrs.frozen
class PreliminaryControl:
    """920098 (accepted, records in error listed) or 920099 (sending refused)."""

    header: MessageHeader
    segment300: ResponseSegment300
    records: tuple[EchoedRecord, ...] = ()

    @property
    def message_name(self) -> str:
        return self.header.message_name

    @property
    def accepted(self) -> bool:
        return self.header.message_name == MESSAGE_ACCEPTED

    @property
    def refusal_type(self) -> RefusalType | None:
        rt = self.segment300.refusal_type
        try:
            return RefusalType(rt) if rt else None
        except ValueError:
            return None

    @property
    def rejected(self) -> tuple[EchoedRecord, ...]:
        return tuple(r for r in self.records if r.rejections)


@attrs.frozen
class Settlement:
    """920900: final per-line result, amounts and payment references."""

    header: MessageHeader
    segment300: ResponseSegment300
    records: tuple[EchoedRecord, ...] = ()
    mutualities: tuple[SettlementTotal, ...] = ()  # records 91
    total: SettlementTotal | None = None  # record 92

    message_name = MESSAGE_SETTLEMENT

    @property
    def lines(self) -> tuple[EchoedRecord, ...]:
        return tuple(r for r in self.records if r.record_type == "50")

    @property
    def fully_accepted(self) -> bool:
        return not any(r.refused for r in self.records)


Response = Union[Acknowledgement, FileRefusal, PreliminaryControl, Settlement]


class SendingStatus(enum.Enum):
    """Where a sending stands after a response (``efact.md`` §4.2)."""

    RECEIVED = "received"  # 931000 — the invoice counts as received (R39)
    REJECTED = "rejected"  # 920999 — file refused
    REFUSED = "refused"  # 920099 — sending refused
    ACCEPTED = "accepted"  # 920098
    SETTLED_FULL = "settled_full"  # 920900 without refused line
    SETTLED_PARTIAL = "settled_partial"  # 920900 with refused lines


def status_of(response: Response) -> SendingStatus:
    if isinstance(response, Acknowledgement):
        return SendingStatus.RECEIVED
    if isinstance(response, FileRefusal):
        return SendingStatus.REJECTED
    if isinstance(response, PreliminaryControl):
        return SendingStatus.ACCEPTED if response.accepted else SendingStatus.REFUSED
    return SendingStatus.SETTLED_FULL if response.fully_accepted else SendingStatus.SETTLED_PARTIAL


@attrs.frozen
class ReadResponse:
    """A response plus what the reader noticed (e.g. echoed control digits off by n)."""

    response: Response
    warnings: tuple[ReadWarning, ...]


def read_response(source: str | bytes | TextIO | BinaryIO) -> ReadResponse:
    """Read any eFact response (931000, 920999, 920099, 920098, 920900) into its typed model."""
    reader = EfactReader(source)
    it = iter(reader)
    header = MessageHeader.from_record(next(it))
    name = reader.message_name
    s300_rec = next(it, None)
    if name == MESSAGE_ACK:
        ack = "920000"
        errors: dict[str, str] = {}
        if s300_rec is not None:
            z = s300_rec.zones()
            ack = z["300"].strip()
            errors = _errors(rl.SEGMENT300_STUB, z)
        for rec in it:
            raise EfactFormatError(f"unexpected record {rec.kind} in a 931000", location=f"record {rec.index}")
        return ReadResponse(Acknowledgement(header, ack, errors), tuple(reader.warnings))
    if name not in (MESSAGE_FILE_REFUSED, MESSAGE_ACCEPTED, MESSAGE_REFUSED, MESSAGE_SETTLEMENT):
        # e.g. a 920000 (or a damaged name): its records carry no response tail to read
        raise EfactFormatError(f"message {name!r} is not an eFact response", location="segment 200 zone 200")
    if s300_rec is None:
        raise EfactFormatError(f"{name} without segment 300")
    s300 = ResponseSegment300.from_record(s300_rec)
    if name == MESSAGE_FILE_REFUSED:
        b95: list[Bordereau] = []
        b96: Bordereau | None = None
        for rec in it:
            if rec.kind == "95":
                b95.append(Bordereau.from_record(rec))
            elif rec.kind == "96":
                b96 = Bordereau.from_record(rec)
            else:
                raise EfactFormatError(f"unexpected record {rec.kind} in a 920999", location=f"record {rec.index}")
        return ReadResponse(FileRefusal(header, s300, tuple(b95), b96), tuple(reader.warnings))
    echoed: list[EchoedRecord] = []
    totals: list[SettlementTotal] = []
    total: SettlementTotal | None = None
    for rec in it:
        if rec.kind == "91":
            totals.append(SettlementTotal.from_record(rec))
        elif rec.kind == "92":
            total = SettlementTotal.from_record(rec)
        elif rec.kind in rl.SEQUENCED_TYPES:
            echoed.append(EchoedRecord.from_record(rec))
        else:
            raise EfactFormatError(f"unexpected record {rec.kind} in a {name}", location=f"record {rec.index}")
    if name in (MESSAGE_ACCEPTED, MESSAGE_REFUSED):
        return ReadResponse(PreliminaryControl(header, s300, tuple(echoed)), tuple(reader.warnings))
    return ReadResponse(Settlement(header, s300, tuple(echoed), tuple(totals), total), tuple(reader.warnings))
