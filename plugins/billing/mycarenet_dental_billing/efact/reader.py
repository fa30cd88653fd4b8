"""Read eFact flat files: the 920000 invoice file and the insurers' responses (``efact.md`` §2, §3).

Two levels:

* :class:`EfactReader` (in :mod:`.record_reader`, re-exported here) — a streaming iterator over the
  records of any eFact message. It checks record control digits and reports any discrepancy as a
  :class:`ReadWarning` with the offset (the CIN acceptance files are +10 off, insurers alter echoed
  records) — received files are never refused for that.
* :func:`read_sending` builds the typed :class:`~.model.Sending` back from a 920000;
  :func:`read_response` builds the typed response models of :mod:`.responses`.

Speed: a well-formed record 50/51/20 whose remaining checks (NIHII memo, tooth, dates …)
pass cheaply becomes a model object through a private trusted constructor (no validators run
twice); anything else goes through the validating constructors, which raise the precise error.
The zone groups of a record 50 that repeat from line to line are converted once per distinct
text (bounded memos of values already found valid). Why two paths (issue 13 asks for one unless one is
too slow): through the validating constructors alone, parsing ran 36,000–38,000 lines/s against
109,000–126,000 with the trusted path (``bench/bench_efact.py [--general] 30000``, CPU time), below the
benchmark issue's 60,000 lines/s; ``tests/billing/test_efact_fast_paths.py`` checks that both give the
same invoices and the same errors.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any, BinaryIO, TextIO

import attrs
from mycarenet_dental.errors import UsageError

from . import records as rl
from .controls import (
    ChecksumMode,
    parse_amount,
)
from .model import (
    _GOOD_NIHIIS,
    FDI_TEETH,
    SEX_OF_EFACT,
    THIRD_PARTY_EXCEPTIONS,
    Commitment,
    IdentityCheck,
    Invoice,
    PreviousInvoice,
    Sending,
    SendingHeader,
    ServiceLine,
    _trusted_commitment,
    _trusted_invoice,
    _trusted_service_line,
    check_destination_order,
    federation_of,
    ssin_is_valid,
)
from .record_reader import (  # noqa: F401  (the record level moved there; its names still import from here)
    _LONG_LAYOUTS,
    MESSAGE_ACCEPTED,
    MESSAGE_ACK,
    MESSAGE_FILE_REFUSED,
    MESSAGE_INVOICE,
    MESSAGE_REFUSED,
    MESSAGE_SETTLEMENT,
    MESSAGE_SHAPES,
    EfactFormatError,
    EfactReader,
    RawRecord,
    ReadWarning,
    iter_records,
)

# --- typed 920000 --------------------------------------------------------------------------------


def _date(text: str, where: str) -> dt.date:
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError as e:
        raise EfactFormatError(f"{where}: {text!r} is not a date YYYYMMDD", location=where) from e


_date_cache: dict[str, dt.date] = {}
_Z12 = "0" * 12
_DIGIT = {str(i): i for i in range(10)}  # one character → its value (cheaper than int() on the hot path)


def _cdate(text: str, where: str) -> dt.date:
    d = _date_cache.get(text)
    if d is None:
        d = _date(text, where)
        if len(_date_cache) < 10000:
            _date_cache[text] = d
    return d


def _valid_date(text: str) -> dt.date | None:
    """The date of a YYYYMMDD zone, or ``None`` when it is not one (cached like :func:`_cdate`)."""
    d = _date_cache.get(text)
    if d is None:
        try:
            d = _cdate(text, "")
        except EfactFormatError:
            return None
    return d


def _odate(text: str, where: str) -> dt.date | None:
    return None if text == "00000000" else _cdate(text, where)


def _nihii(text: str) -> str | None:
    """A 12-digit provider zone → 11-digit NIHII (None when zero)."""
    return None if not text.strip("0") else text[-11:]


def _amount(text: str, where: str) -> int:
    v = parse_amount(text)
    if v is None:
        raise EfactFormatError(f"{where}: {text!r} is not a signed amount", location=where)
    return v


@attrs.frozen
class Bordereau:
    """Record 95 (per destination mutuality) or 96 (per file), with their 2-digit error zones."""

    record_type: str
    mutuality: str
    number: int
    total_a: int
    total_b: int
    total_ab: int
    records: int
    control: int
    total_c: int | None
    errors: dict[str, str] = attrs.field(factory=dict)  # error zone → 2-digit code (non-zero only)

    @classmethod
    def from_record(cls, rec: RawRecord) -> Bordereau:
        z = rec.zones()
        names = [x.name for x in rec.layout.zones]
        errors = {n: z[n] for n in names if rec.layout.by_name[n].label == "error" and z[n].strip("0 ")}
        where = f"ET{rec.kind}"

        def num(name: str) -> int:
            v = z[name]
            if not v.isdigit():
                raise EfactFormatError(f"{where} zone {name}: {v!r} not numeric", location=f"{where} Z{name}")
            return int(v)

        return cls(
            record_type=rec.kind, mutuality=z[names[2]], number=num(names[4]),
            total_a=_amount(z[names[6]], where), total_b=_amount(z[names[8]], where),
            total_ab=_amount(z[names[10]], where), records=num(names[12]), control=num(names[14]),
            total_c=parse_amount(z[names[16]]), errors=errors,
        )


@attrs.frozen
class ParsedSending:
    """A 920000 read back: the typed sending plus what its trailer records claim."""

    sending: Sending
    bordereaux: tuple[Bordereau, ...]  # records 95
    file_total: Bordereau  # record 96
    invoice_controls: tuple[int, ...]  # ET80 Z98 as stored, in invoice order
    sending_control: int  # ET90 Z98 as stored
    total_a: int  # ET90 Z19
    total_b: int  # ET90 Z15
    warnings: tuple[ReadWarning, ...]
    records: int  # numbered records 10…90


class SendingReader:
    """Stream the invoices of a 920000 one at a time (memory stays flat), then its trailer.

    The headers (S200, S300, ET10) are read at construction; :meth:`invoices` yields each
    :class:`~.model.Invoice` when its record 80 is read; after it is exhausted, :attr:`r90`,
    :attr:`bordereaux`, :attr:`file_total` and :attr:`invoice_controls` are filled.
    """

    def __init__(self, source: str | bytes | TextIO | BinaryIO, *,
                 checksum_mode: ChecksumMode = ChecksumMode.TOLERANT) -> None:
        self.reader = EfactReader(source, checksum_mode=checksum_mode)
        if self.reader.message_name != MESSAGE_INVOICE:
            raise EfactFormatError(f"not an invoice file: message {self.reader.message_name}", location="S200 Z200")
        self._it = self.reader._iter_raw()  # (kind, index, text): no object per record
        self.s200 = rl.SEGMENT200.parse(next(self._it)[2])
        first = next(self._it, None)
        if first is None or first[0] != "300":
            raise EfactFormatError("920000 without segment 300")
        self.s300 = self.reader.segment300_layout.parse(first[2])
        r10 = next(self._it, None)
        if r10 is None or r10[0] != "10":
            raise EfactFormatError("920000: first record is not a record 10", location="record 2")
        self.r10 = rl.RECORD10.parse(r10[2])
        self.r90: dict[str, str] | None = None
        self.bordereaux: list[Bordereau] = []
        self.file_total: Bordereau | None = None
        self.invoice_controls: list[int] = []
        self.records = 1
        self._done = False

    @property
    def warnings(self) -> list[ReadWarning]:
        return self.reader.warnings

    def header(self) -> SendingHeader:
        """The sending header (the ET95 summary number is known only once the file is read)."""
        return _header(self.s200, self.s300, self.r10, self.bordereaux[0] if self.bordereaux else None)

    def invoices(self) -> Iterator[Invoice]:
        """Yield the typed invoices of the 920000 one at a time (memory stays flat).

        Long because: the record loop is the hot path of bench/bench_efact.py (parse target 100,000 lines/s).
        The state of the invoice being read (its head, the pending line, the fast-path line) lives in locals
        of one loop; one call per record or per zone group costs measurably, so the loop stays whole and the
        conversions it needs are the small memoised functions below.
        """
        if self._done:
            raise EfactFormatError("invoices() can be iterated only once")
        self._done = True
        inv_head: dict[str, str] | None = None
        lines: list[ServiceLine] = []
        pending: dict | None = None  # kwargs of the line being built (R51/R52 may follow)
        # or: the line built from already-checked values (fast path), already in ``lines``; a
        # following R51/R52 completes it before the invoice is yielded
        trusted: ServiceLine | None = None
        pending_where = ""
        s50 = rl.RECORD50.slices
        sequenced = rl.SEQUENCED_TYPES
        fast50 = _READ50.fullmatch
        full50 = rl.RECORD50.strict_regex.fullmatch
        fast20 = rl.RECORD20.strict_regex.fullmatch
        head_checked = False
        dates = _date_cache
        good_nihii = _GOOD_NIHIIS
        teeth = FDI_TEETH
        exceptions = THIRD_PARTY_EXCEPTIONS
        make_line = _trusted_service_line
        layouts = rl.RECORD_LAYOUTS
        digit = _DIGIT

        def flush_line() -> None:
            nonlocal pending, trusted
            trusted = None
            if pending is not None:
                try:
                    lines.append(ServiceLine(**pending))
                except UsageError as e:
                    raise EfactFormatError(f"{pending_where}: {e.message}", location=pending_where) from e
                pending = None

        line50 = _line50
        records = self.records
        for kind, index, t in self._it:
            if kind in sequenced:
                records += 1
                self.records = records
            ok50 = False
            if kind == "50" and fast50(t, 8, 182):
                if pending is not None:
                    flush_line()
                trusted = line50(t)
                if trusted is not None:
                    lines.append(trusted)
                    continue
                start, end, prescription = t[16:24], t[24:32], t[99:107]
                day = dates.get(start) or _valid_date(start)
                end_date = None if end == start else _valid_date(end)
                pdate = None if prescription == "00000000" else _valid_date(prescription)
                ok50 = not (day is None or (end_date is None and end != start)
                            or (pdate is None and prescription != "00000000"))
                if not ok50 and full50(t):  # a well-formed record with a bad date: name the zone, as always
                    _cdate(start, f"record {index} (ET50) Z5")
                    if end != start:
                        _cdate(end, f"record {index} (ET50) Z6")
                    _cdate(prescription, f"record {index} (ET50) Z20")
            if ok50:
                related = t[80:87]
                tooth = t[162:164]
                service_time = t[178:182]
                place, prescriber, trainee = t[55:67], t[114:126], t[270:282]
                code = t[9:16]
                provider = t[68:79]
                tooth_n = None if tooth == "00" else int(tooth)
                side = digit[t[176]]
                exception = t[174]
                place = None if place == _Z12 else place[1:]
                prescriber = None if prescriber == _Z12 else prescriber[1:]
                trainee = None if trainee == _Z12 else trainee[1:]
                service_time = None if service_time == "0000" else service_time
                # the whole-record pattern guaranteed digits and signs (so every amount, count and
                # 1–2 digit code is in range); what it cannot tell is checked here. Anything unusual
                # goes through the validating constructor, which raises the precise error.
                if (code != "0000000" and provider in good_nihii and (end_date is None or end_date > day)
                        and (tooth_n is None or tooth_n in teeth) and side <= 2 and exception in exceptions
                        and (place is None or place in good_nihii)
                        and (prescriber is None or prescriber in good_nihii)
                        and (trainee is None or trainee in good_nihii)
                        and (service_time is None or (service_time < "24" and service_time[2] < "6"))):
                    trusted = make_line(
                        code, day, int(t[87:99]), provider, int(t[127:137]), int(t[164:174]), tooth_n,
                        end_date, int(t[107:112]), None if related == "0000000" else related, t[50] == "1",
                        digit[t[8]], digit[t[51]], digit[t[79]], place, prescriber, digit[t[126]], pdate,
                        int(t[112:114]), t[137:162].rstrip(), exception, digit[t[175]], side, digit[t[177]],
                        service_time, trainee, None, None,
                    )
                    lines.append(trusted)
                    continue
                else:
                    pending = {
                        "code": code, "date": day, "end_date": end_date,
                        "reimbursement": int(t[87:99]), "provider": provider, "patient_share": int(t[127:137]),
                        "supplement": int(t[164:174]), "tooth": tooth_n,
                        "units": int(t[107:112]), "related_code": None if related == "0000000" else related,
                        "account_b": t[50] == "1", "norm": int(t[8]), "time_code": int(t[51]),
                        "provider_norm": int(t[79]), "place": place, "prescriber": prescriber,
                        "prescriber_norm": int(t[126]), "prescription_date": pdate,
                        "derogation": int(t[112:114]), "reference": t[137:162].rstrip(),
                        "third_party_exception": exception, "billing_code": int(t[175]), "side": side,
                        "convention": int(t[177]), "service_time": service_time, "trainee": trainee,
                    }
                pending_where = f"record {index} (ET50)"
                continue
            rec = RawRecord(kind, index, t, layouts[kind])
            if kind == "50":
                flush_line()
                where = f"record {rec.index} (ET50)"
                related = t[s50["17-18"]]
                tooth = t[s50["29"]]
                end = t[s50["6a-6b"]]
                start = t[s50["5"]]
                service_time = t[s50["36-37"]]
                pending = dict(
                    code=t[s50["4"]], date=_cdate(start, f"{where} Z5"),
                    end_date=None if end == start else _cdate(end, f"{where} Z6"),
                    reimbursement=_amount(t[s50["19"]], where), provider=t[s50["15"]][1:],
                    patient_share=_amount(t[s50["27"]], where), supplement=_amount(t[s50["30-31"]], where),
                    tooth=None if tooth == "00" else _int(tooth, where), units=_amount(t[s50["22"]], where),
                    related_code=None if related == "0000000" else related,
                    account_b=t[s50["11"]] == "1", norm=_int(t[s50["3"]], where),
                    time_code=_int(t[s50["12"]], where), provider_norm=_int(t[s50["16"]], where),
                    place=_nihii(t[s50["14"]]), prescriber=_nihii(t[s50["24-25"]]),
                    prescriber_norm=_int(t[s50["26"]], where), prescription_date=_odate(t[s50["20-21"]], f"{where} Z20"),
                    derogation=_int(t[s50["23"]], where), reference=t[s50["28"]],
                    third_party_exception=t[s50["32"]], billing_code=_int(t[s50["33"]], where),
                    side=_int(t[s50["34"]], where), convention=_int(t[s50["35"]], where),
                    service_time=None if service_time == "0000" else service_time,
                    trainee=_nihii(t[s50["49"]]),
                )
                pending_where = where
            elif kind == "51":
                if pending is None and trusted is None:
                    raise EfactFormatError("record 51 not preceded by a record 50", location=f"record {rec.index}")
                number = t[212:260].rstrip()
                communicated = _valid_date(t[320:328])
                # what Commitment checks: not empty, printable ASCII (at most 48 by the zone), a date
                if number and communicated is not None and number.isascii() and number.isprintable():
                    commitment = _trusted_commitment(number, communicated)
                else:
                    try:
                        commitment = Commitment(number=t[212:260],
                                                communicated=_date(t[320:328], f"record {rec.index} ET51 Z55"))
                    except UsageError as e:
                        raise EfactFormatError(f"record {rec.index} (ET51): {e.message}") from e
                related = t[80:87]  # zones 17-18: the dentist's related service, repeated from the record 50
                if related != "0000000":
                    line_related = trusted.related_code if trusted is not None else pending.get(  # type: ignore[union-attr]
                        "related_code")
                    if not (related.isdigit() and related.isascii()) or (
                            line_related is not None and line_related != related):
                        where = f"record {rec.index} (ET51) zone 17-18"
                        raise EfactFormatError(f"{where}: related service {related!r} is not the record 50's "
                                               f"{line_related or '0000000'!r}", location=where)
                    if trusted is not None:
                        object.__setattr__(trusted, "related_code", related)  # not yet handed out
                    else:
                        pending["related_code"] = related  # type: ignore[index]
                if trusted is not None:
                    object.__setattr__(trusted, "commitment", commitment)  # not yet handed out
                else:
                    pending["commitment"] = commitment  # type: ignore[index]
            elif kind == "52":
                if pending is None and trusted is None:
                    raise EfactFormatError("record 52 not preceded by a record 50", location=f"record {rec.index}")
                z = rec.zones()
                where = f"record {rec.index} (ET52)"
                try:
                    identity = IdentityCheck(
                        input_type=z["9"], support_type=z["10"], reader=z["15"][1:],
                        read_date=_odate(z["6a-6b"], where),
                        read_time=None if z["12-13"] == "0000" else z["12-13"], manual_reason=_int(z["3"], where),
                        vignette_reason=_int(z["11"], where), serial=z["16"],
                        justification=_int(z["17"], where) or None, device=_int(z["18"], where) or None,
                    )
                except UsageError as e:
                    raise EfactFormatError(f"{where}: {e.message}", location=where) from e
                if trusted is not None:
                    object.__setattr__(trusted, "identity_check", identity)  # not yet handed out
                else:
                    pending["identity_check"] = identity  # type: ignore[index]
            elif kind == "20":
                if inv_head is not None:
                    raise EfactFormatError("record 20 inside an invoice", location=f"record {rec.index}")
                inv_head = _PICK20(t)
                head_checked = fast20(t) is not None
                lines = []
            elif kind == "80":
                flush_line()
                if inv_head is None:
                    raise EfactFormatError("record 80 without record 20", location=f"record {rec.index}")
                self.invoice_controls.append(_int(t[346:348], f"record {rec.index} ET80 Z98"))
                invoice = (_checked_invoice(inv_head, lines) if head_checked else None) or _invoice(
                    inv_head, lines, rec.index)
                inv_head = None
                yield invoice
            elif kind == "90":
                self.r90 = rec.zones()
            elif kind == "95":
                self.bordereaux.append(Bordereau.from_record(rec))
            elif kind == "96":
                self.file_total = Bordereau.from_record(rec)
            else:
                raise EfactFormatError(f"unexpected record {kind}", location=f"record {rec.index}")
        if inv_head is not None or self.r90 is None or self.file_total is None or not self.bordereaux:
            raise EfactFormatError("incomplete 920000: missing one of ET80, ET90, ET95, ET96")


def iter_invoices(source: str | bytes | TextIO | BinaryIO, *,
                  checksum_mode: ChecksumMode = ChecksumMode.TOLERANT) -> Iterator[Invoice]:
    """Stream the invoices of a 920000 (see :class:`SendingReader` for headers and trailer)."""
    return SendingReader(source, checksum_mode=checksum_mode).invoices()


def read_sending(source: str | bytes | TextIO | BinaryIO, *,
                 checksum_mode: ChecksumMode = ChecksumMode.TOLERANT) -> ParsedSending:
    """Build the typed model back from a 920000 file (what :func:`.writer.write_sending` wrote).

    Zones the model does not carry (hospital zones, product label …) are not kept; use
    :func:`iter_records` for a lossless record-level view.
    """
    sr = SendingReader(source, checksum_mode=checksum_mode)
    invoices = list(sr.invoices())
    assert sr.r90 is not None and sr.file_total is not None
    try:
        sending = Sending(sr.header(), invoices)
    except UsageError as e:
        raise EfactFormatError(f"920000 does not form a valid sending: {e.message}", location=e.location) from e
    return ParsedSending(
        sending=sending, bordereaux=tuple(sr.bordereaux), file_total=sr.file_total,
        invoice_controls=tuple(sr.invoice_controls), sending_control=_int(sr.r90["98"], "ET90 Z98"),
        total_a=_amount(sr.r90["19"], "ET90 Z19"), total_b=_amount(sr.r90["15"], "ET90 Z15"),
        warnings=tuple(sr.warnings), records=sr.records,
    )


@attrs.frozen
class SendingScan:
    """What :func:`scan_sending` learns from a 920000 without keeping its invoices."""

    header: SendingHeader
    federation: str
    invoices: int
    lines: int
    total_a: int  # ET90 Z19
    total_b: int  # ET90 Z15
    sending_control: int  # ET90 Z98 as stored
    warnings: tuple[ReadWarning, ...]
    records: int  # numbered records 10…90


def scan_sending(source: str | bytes | TextIO | BinaryIO, *,
                 checksum_mode: ChecksumMode = ChecksumMode.TOLERANT) -> SendingScan:
    """Read a whole 920000 as :func:`read_sending` does (same checks, same errors), in flat memory.

    Each invoice is built, checked and dropped: only counts and the destination order are kept,
    so a file of any size reads in the memory of one invoice (``billing parse``).
    """
    sr = SendingReader(source, checksum_mode=checksum_mode)
    invoices = lines = 0
    first: str | None = None
    previous: str | None = None
    for invoice in sr.invoices():
        destination = invoice.destination
        if previous is not None and destination != previous:
            try:
                check_destination_order((previous, destination))
            except UsageError as e:
                raise EfactFormatError(f"920000 does not form a valid sending: {e.message}",
                                       location=e.location) from e
        first = first or destination
        previous = destination
        invoices += 1
        lines += len(invoice.lines)
    assert sr.r90 is not None and sr.file_total is not None
    if first is None:
        raise EfactFormatError("920000 does not form a valid sending: sending has no invoice", location="invoices")
    return SendingScan(
        header=sr.header(), federation=federation_of(first), invoices=invoices, lines=lines,
        total_a=_amount(sr.r90["19"], "ET90 Z19"), total_b=_amount(sr.r90["15"], "ET90 Z15"),
        sending_control=_int(sr.r90["98"], "ET90 Z98"), warnings=tuple(sr.warnings), records=sr.records,
    )


def _int(text: str, where: str) -> int:
    if not (text.isdigit() and text.isascii()):
        raise EfactFormatError(f"{where}: {text!r} is not numeric", location=where)
    return int(text)


def _zones_regex(layout: rl.Layout, first: str, last: str) -> re.Pattern[str]:
    """The whole-record pattern of ``layout`` restricted to zones ``first``…``last`` (match with pos/endpos)."""
    names = [z.name for z in layout.zones]
    zones = layout.zones[names.index(first):names.index(last) + 1]
    return rl.Layout(f"{layout.key}[{first}-{last}]", sum(z.length for z in zones), tuple(
        attrs.evolve(z, start=z.start - zones[0].start + 1) for z in zones)).strict_regex


#: Record 50 zones 3…36-37 (positions 9–182): every zone the reader turns into a model value but
#: zone 49 (a NIHII, checked by value). Zones it does not read do not matter to the result, so
#: they need not be well-formed for the fast path (the general path ignores them too).
_READ50 = _zones_regex(rl.RECORD50, "3", "36-37")


# Memos of the record 50 fast path: the text of a group of zones → their model values, for groups
# whose values are all fine (the whole-record pattern already matched, so digits are digits). The
# zones repeat from line to line (same provider, codes, dates), so most lines are a few lookups.
_MEMO_LIMIT = 20_000  # entries per memo (cleared when full)
_HEAD50: dict[str, tuple[int, str, dt.date, dt.date | None]] = {}  # positions 9–32: norm, code, dates
_MID50: dict[str, tuple[bool, int, str | None, str, int, str | None]] = {}  # 51–87: account … related
_RX50: dict[str, tuple[dt.date | None, int, int, str | None, int]] = {}  # 100–127: prescription … norm
_TAIL50: dict[str, tuple[str, int, int, int, str | None]] = {}  # 175–182: exception … service time
_TOOTH = {"00": None} | {f"{n:02d}": n for n in FDI_TEETH}
_NO_TOOTH = -1


def _nihii12(zone: str) -> str | None | bool:
    """A 12-digit NIHII zone → its 11 digits (None when zero), or False when not a known-good NIHII."""
    if zone == _Z12:
        return None
    return zone[1:] if zone[1:] in _GOOD_NIHIIS else False


def _remember(memo: dict[str, Any], key: str, value: Any) -> Any:
    if len(memo) >= _MEMO_LIMIT:  # bounded: start again rather than keep stale entries
        memo.clear()
    memo[key] = value
    return value


def _line50(t: str) -> ServiceLine | None:
    """The line of a record 50 whose zones 3…36-37 matched ``_READ50``, from memoised zone groups.

    ``None`` when any group is unusual (then the general code path decides and names the error).
    Each group is remembered only when all its values are what the validating constructor would
    accept and store, so the result equals what the slower path builds.
    """
    head = _HEAD50.get(t[8:32]) or _head50(t[8:32])
    mid = _MID50.get(t[50:87]) or _mid50(t[50:87])
    rx = _RX50.get(t[99:127]) or _rx50(t[99:127])
    tail = _TAIL50.get(t[174:182]) or _tail50(t[174:182])
    tooth = _TOOTH.get(t[162:164], _NO_TOOTH)
    trainee = t[270:282]
    trainee = None if trainee == _Z12 else trainee[1:]
    if (head is None or mid is None or rx is None or tail is None or tooth == _NO_TOOTH
            or (trainee is not None and trainee not in _GOOD_NIHIIS)):
        return None
    norm, code, day, end_date = head
    account_b, time_code, place, provider, provider_norm, related = mid
    pdate, units, derogation, prescriber, prescriber_norm = rx
    exception, billing_code, side, convention, service_time = tail
    return _trusted_service_line(
        code, day, int(t[87:99]), provider, int(t[127:137]), int(t[164:174]), tooth, end_date, units, related,
        account_b, norm, time_code, provider_norm, place, prescriber, prescriber_norm, pdate, derogation,
        t[137:162].rstrip(), exception, billing_code, side, convention, service_time, trainee, None, None)


def _head50(z: str) -> tuple[int, str, dt.date, dt.date | None] | None:
    code, start, end = z[1:8], z[8:16], z[16:24]
    day = _valid_date(start)
    end_date = None if end == start else _valid_date(end)
    if code == "0000000" or day is None or (end != start and (end_date is None or end_date <= day)):
        return None
    return _remember(_HEAD50, z, (_DIGIT[z[0]], code, day, end_date))


def _mid50(z: str) -> tuple[bool, int, str | None, str, int, str | None] | None:
    place, provider, related = _nihii12(z[5:17]), z[18:29], z[30:37]
    if place is False or provider not in _GOOD_NIHIIS:
        return None
    return _remember(_MID50, z, (z[0] == "1", _DIGIT[z[1]], place, provider, _DIGIT[z[29]],
                                 None if related == "0000000" else related))


def _rx50(z: str) -> tuple[dt.date | None, int, int, str | None, int] | None:
    prescription, prescriber = z[:8], _nihii12(z[15:27])
    pdate = None if prescription == "00000000" else _valid_date(prescription)
    if prescriber is False or (pdate is None and prescription != "00000000"):
        return None
    return _remember(_RX50, z, (pdate, int(z[8:13]), int(z[13:15]), prescriber, _DIGIT[z[27]]))


def _tail50(z: str) -> tuple[str, int, int, int, str | None] | None:
    side, service_time = _DIGIT[z[2]], z[4:8]
    if z[0] not in THIRD_PARTY_EXCEPTIONS or side > 2 or (
            service_time != "0000" and not (service_time < "24" and service_time[2] < "6")):
        return None
    return _remember(_TAIL50, z, (z[0], _DIGIT[z[1]], side, _DIGIT[z[3]],
                                  None if service_time == "0000" else service_time))


#: the zones of a record 20 that :func:`_invoice` reads
_PICK20 = rl.RECORD20.picker(("7", "8a-8b", "9", "11", "16", "17", "18", "24-25", "27", "28", "29-31", "32", "34-36",
                              "37", "41"))


def _checked_invoice(z: dict[str, str], lines: list[ServiceLine]) -> Invoice | None:
    """The common invoice (SSIN, no previous invoice) of a well-formed record 20, without re-validation.

    The whole-record pattern already guaranteed digits in every numeric zone and printable ASCII in
    the reference; what it cannot tell is checked here. ``None`` when anything is unusual: then
    :func:`_invoice` builds it through the validating constructor (and reports what is wrong).
    """
    number, kind, sex = int(z["24-25"]), z["11"], z["9"]
    pid = z["8a-8b"][2:]
    if (z["32"] != "1" or not lines or number < 1 or (sex != "1" and sex != "2") or kind not in _PLAIN_INVOICING
            or z["29-31"].strip("0") or z["18"] == "000" or not ssin_is_valid(pid)):
        return None
    ct = z["27"]
    return _trusted_invoice(number=number, patient_id=pid, sex=SEX_OF_EFACT[sex], mutuality=z["7"], ct1=ct[4:7],
                            ct2=ct[7:10], lines=tuple(lines), destination=z["18"], id_is_ssin=True,
                            reference=z["28"].rstrip(), invoicing_type=int(kind), lifting_prescription=z["16"] == "1",
                            treatment_cause=int(z["17"]), previous=None)


_PLAIN_INVOICING = frozenset("024")  # invoicing types that need no previous invoice


def _invoice(z: dict[str, str], lines: list[ServiceLine], index: int) -> Invoice:
    where = f"invoice ending at record {index}"
    for name in ("24-25", "9", "11", "17", "29-31", "34-36"):
        _int(z[name], f"{where} ET20 Z{name}")
    flag = z["32"] == "1"
    pid = z["8a-8b"]
    try:
        prev = None
        if z["29-31"].strip("0"):
            prev = PreviousInvoice(number=int(z["29-31"]), sending_number=int(z["34-36"]), mutuality=z["37"],
                                   year_month=z["41"])
        return Invoice(
            number=int(z["24-25"]), patient_id=pid[2:] if flag else pid.lstrip("0") or "0",
            sex=SEX_OF_EFACT.get(z["9"], z["9"]), mutuality=z["7"], destination=z["18"], ct1=z["27"][4:7], ct2=z["27"][7:10], lines=tuple(lines),
            id_is_ssin=flag, reference=z["28"], invoicing_type=int(z["11"]),
            lifting_prescription=z["16"] == "1", treatment_cause=int(z["17"]), previous=prev,
        )
    except UsageError as e:
        raise EfactFormatError(f"{where}: {e.message}", location=where) from e


def _header(s200: dict[str, str], s300: dict[str, str], r10: dict[str, str],
            first95: Bordereau | None) -> SendingHeader:
    reference = _int(s200["204"], "S200 Z204")
    try:
        h = SendingHeader(
            sending_number=_int(r10["7"], "ET10 Z7"), third_party=r10["14"][1:],
            invoicing_year=_int(r10["22"], "ET10 Z22"), invoicing_month=_int(r10["23"], "ET10 Z23"), creation_date=_date(r10["25-26"], "ET10 Z25-26"), reference=reference,
            bce=None if r10["27"] == "0000000000" else r10["27"], iban=r10["36-41"], bic=r10["31-34"], test=s200["202"] == "92",
            contact_last_name=s300["305"], contact_first_name=s300["306"],
            contact_phone=None if s300["307"] == "0000000000" else s300["307"],
            file_reference=s300["303"], sender_reference=r10["28"], iban_b=r10["49-52"], bic_b=r10["43a"],
            profession_code=r10["18"], billing_content=r10["13"], format_version=_int(s200["201"], "S200 Z201"),
            invoice_kind=s300["308"], invoicing_mode=s300["309"],
            summary_invoice_number=None if first95 is None or first95.number == reference % 10**12 else first95.number,
        )
    except UsageError as e:
        raise EfactFormatError(f"920000 header: {e.message}", location=e.location) from e
    return h
