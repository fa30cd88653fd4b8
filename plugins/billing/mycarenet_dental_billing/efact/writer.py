"""Write the 920000 flat file (``efact.md`` §2): S200 S300 R10 {R20 {R50 [R51] [R52]}+ R80}+ R90 R95+ R96.

Streaming: :class:`EfactWriter` takes invoices one at a time and writes records as it goes, keeping
only running totals, so memory stays flat whatever the size of the sending. The per-record
formats are compiled once from :mod:`.records` into ``str.format`` templates (reserved zones
pre-filled), so writing a record is one C-level format call plus the checksum; record 50, the
hot one, is joined from small lookup tables and remembered amounts instead (same text, tested).
A ``tap`` can receive every record as written (used to validate while writing).

Strict on what we write: the model is validated at construction, and any value that would not fit
its zone (e.g. an overflowing total) raises :class:`~mycarenet_dental.errors.UsageError` naming
the record and zone. Nothing partial should be sent: write to a buffer or temporary file.
"""

from __future__ import annotations

import datetime as dt
import enum
import io
import re
import zlib
from collections.abc import Callable, Iterable, Sequence
from typing import BinaryIO, TextIO

import attrs
from mycarenet_dental.errors import UsageError

from . import records as rl
from .controls import _VALUES, format_amount, mod97, value_sum
from .model import EFACT_SEX, Invoice, Sending, SendingHeader, check_destination_order, federation_of

_CONTROL = ["97"] + [f"{i:02d}" for i in range(1, 97)]  # remainder → control digits (0 → 97)
_REMAINDER = {text: i for i, text in enumerate(_CONTROL)}  # and back

#: Receives records as they are written: ``(index of the first, texts, Σ(positions 1–348) mod 97 of
#: each)``, indexes as the reader counts them (0 = S200, 1 = S300, 2 = ET10 …); see ``write_and_validate``.
RecordTap = Callable[[int, list[str], list[int | None]], None]
_TAP_BATCH = 1024  # records per call of a tap


class CountRule(enum.Enum):
    """How record counts of ET95 Z409 / ET96 Z509 are computed. UNSURE (``efact.md`` §2.13)."""

    TAKTIK = "taktik"  # 95: records 20…80 of the mutuality; 96: all records 10…90
    CIN = "cin"  # 95: records 20…80 of the mutuality + 2; 96: Σ(95 counts) + 2 (CIN files, [PB])


# UNSURE: default chosen as the production writer used by [TK]; the insurers are not known to check it.
DEFAULT_COUNT_RULE = CountRule.TAKTIK


def _compile(layout: rl.Layout, fields: Sequence[str], constants: dict[str, str] | None = None,
             *, preformatted_signs: bool = False, upto: int = 348) -> str:
    """A ``%``-format template for positions 1…``upto`` with one conversion per field, in layout order.

    A field is ``"<zone>:d"`` (an int, zero-padded by the template) or ``"<zone>:s"`` (a string the
    caller already made exactly as wide as a numeric zone; at most as wide for an ``A`` zone,
    which the template blank-pads). Signed zones take an int (``%+0Nd``) unless
    ``preformatted_signs`` (credit notes write ``-`` even for zero). Reserved and unlisted zones
    are baked into the template as zeros/blanks. ``%``-formatting is used because it is ~3× faster
    than ``str.format`` for 30 fields.
    """
    constants = constants or {}
    kinds = dict(f.split(":") for f in fields)
    order = [z.name for z in layout.zones if z.name in kinds]
    if order != [f.split(":")[0] for f in fields]:
        raise ValueError(f"{layout.key}: fields must follow the layout order: {order}")
    parts: list[str] = []
    for z in layout.zones:
        if z.end > upto:
            break
        if z.name in constants:
            text = constants[z.name]
            if len(text) != z.length:
                raise ValueError(f"{layout.key}/{z.name}: constant of wrong length")
            parts.append(text.replace("%", "%%"))
        elif z.name in kinds:
            k = kinds[z.name]
            if z.kind == "S":
                parts.append("%s" if preformatted_signs or k == "s" else f"%+0{z.length}d")
            elif z.kind == "N":
                parts.append(f"%0{z.length}d" if k == "d" else "%s")
            else:
                parts.append(f"%-{z.length}s")
        else:
            parts.append(z.blank)
    return "".join(parts)


_R20_FIELDS = ("2:d", "7:s", "8a-8b:s", "9:d", "10:d", "11:d", "14:s", "16:d", "17:d", "18:s", "24-25:d", "27:s",
               "28:s", "29-31:d", "32:d", "34-36:d", "37:s", "41:s")
_R50_FIELDS = ("2:d", "3:d", "4:s", "5:s", "6a-6b:s", "7:s", "8a-8b:s", "9:d", "11:d", "12:d", "14:s", "15:s",
               "16:d", "17-18:s", "19:d", "20-21:s", "22:d", "23:d", "24-25:s", "26:d", "27:d", "28:s", "29:d",
               "30-31:d", "32:s", "33:d", "34:d", "35:d", "36-37:s", "49:s")
_R51_FIELDS = ("2:d", "4:s", "5:s", "8a-8b:s", "15:s", "17-18:s", "19:d", "27:s", "42-45:s", "55:s")
_R52_FIELDS = ("2:d", "3:d", "4:s", "5:s", "6a-6b:s", "8a-8b:s", "9:s", "10:s", "11:d", "12-13:s", "15:s",
               "16:s", "17:d", "18:d")
_R80_FIELDS = ("2:d", "7:s", "8a-8b:s", "9:d", "10:d", "14:s", "15:s", "17:d", "18:s", "19:s", "20-21:s",
               "24-25:d", "27:s", "28:s", "30-31:s", "32:d", "38:s", "98:d")

_T20 = _compile(rl.RECORD20, _R20_FIELDS, {"1": "20"})
_T50 = _compile(rl.RECORD50, _R50_FIELDS, {"1": "50", "13": "990", "47": "+0000000"})
_T50_NEG = _compile(rl.RECORD50, _R50_FIELDS, {"1": "50", "13": "990", "47": "+0000000"},
                    preformatted_signs=True)
_T51 = _compile(rl.RECORD51, _R51_FIELDS, {"1": "51"})
_T51_NEG = _compile(rl.RECORD51, _R51_FIELDS, {"1": "51"}, preformatted_signs=True)
_T52 = _compile(rl.RECORD52, _R52_FIELDS, {"1": "52"})
_T80 = _compile(rl.RECORD80, _R80_FIELDS, {"1": "80"}, preformatted_signs=True)
# not a credit note: the signed totals are formatted by the template (``%+0Nd`` = ``format_amount``)
_T80_POS = _compile(rl.RECORD80, tuple(f.replace(":s", ":d") if rl.RECORD80.by_name[f.split(":")[0]].kind == "S"
                                        else f for f in _R80_FIELDS if f != "38:s"), {"1": "80", "38": "+00000000000"})
_ZERO12 = "0" * 12
_ZERO7 = "0" * 7

# Record 50 by ``str.join`` (no credit note): cheaper than the 30 ``%`` conversions of ``_T50``
# (~2× alone, a few % of a whole write), small ints coming from tables and amounts from memos.
# Any value outside a table raises (KeyError/TypeError/AttributeError) and the line goes through
# ``_T50``, so the text is always what ``_T50 % values`` gives (tested); its literal pieces:
_T50_PIECES = re.split(r"%[-+0-9]*[sd]", _T50)
_T50_MID, _T50_END = _T50_PIECES[-2], _T50_PIECES[-1]  # zones 38…48, zones 50…99 (before control)
_D1 = {i: str(i) for i in range(10)}  # %01d
_D2 = {i: f"{i:02d}" for i in range(100)}  # %02d
_AMOUNT_MEMO_LIMIT = 20_000


def _signed(memo: dict[int, str], value: int, spec: str) -> str:
    """``spec % value`` (a signed zone), remembered: the same amounts come back line after line."""
    text = memo.get(value)
    if text is None:
        if len(memo) >= _AMOUNT_MEMO_LIMIT:
            memo.clear()
        text = memo[value] = spec % value
    return text


_S12: dict[int, str] = {}
_S10: dict[int, str] = {}
_S5: dict[int, str] = {}

ZERO_DATE = "00000000"


@attrs.frozen
class GroupTotals:
    """What a record 95 says about one destination mutuality."""

    destination: str
    total_a: int
    total_b: int
    records: int
    control: int
    invoices: int
    lines: int


@attrs.frozen
class WriteSummary:
    """What was written: enough for the outbox to file the sending and check responses against it."""

    reference: int
    sending_number: int
    federation: str
    records: int  # numbered records 10…90
    invoices: int
    lines: int
    total_a: int
    total_b: int
    total_patient_share: int
    total_supplement: int
    control: int  # sending/file control (ET90 Z98, ET96 Z510)
    groups: tuple[GroupTotals, ...]
    length: int  # characters written


def _date(d: dt.date | None, cache: dict) -> str:
    if d is None:
        return ZERO_DATE
    s = cache.get(d)
    if s is None:
        s = cache[d] = f"{d.year:04d}{d.month:02d}{d.day:02d}"
    return s


class EfactWriter:
    """Streaming 920000 writer. Call :meth:`write_invoice` per invoice (ordered by destination), then :meth:`close`.

    ``out`` is a text stream or a binary stream (ASCII is written). Nothing is written for the
    invoices until they are complete; records are buffered and flushed in chunks. ``tap``, if
    given, also receives every record as written (see :data:`RecordTap`).
    """

    def __init__(self, header: SendingHeader, out: TextIO | BinaryIO, *,
                 count_rule: CountRule = DEFAULT_COUNT_RULE, chunk: int = 2048, tap: RecordTap | None = None) -> None:
        self.header = header
        self._out = out
        self._binary = not isinstance(out, io.TextIOBase) and (
            isinstance(out, io.BufferedIOBase | io.RawIOBase) or "b" in str(getattr(out, "mode", "")))
        self._count_rule = count_rule
        self._chunk = chunk
        self._buf: list[str] = []
        self._dates: dict[dt.date | None, str] = {None: ZERO_DATE}  # None: a date zone left empty
        self._seq = 0
        self._length = 0
        self._tp = "0" + header.third_party
        self._groups: list[GroupTotals] = []
        self._dest: str | None = None
        self._g = [0, 0, 0, 0, 0, 0]  # total A, total B, records, code sum, invoices, lines
        self._total_a = self._total_b = self._share = self._supp = 0
        self._codes = 0
        self._invoices = self._lines = 0
        self._closed = False
        self._tap = tap
        # records not yet handed to ``tap`` (it gets them in batches, at each flush): first index, texts, Σ
        self._tap_index = 0
        self._tap_texts: list[str] = []
        self._tap_rems: list[int | None] = []
        segments = self._segments()
        if tap is not None:
            self._tap_texts += (segments[:rl.SEGMENT200_LENGTH], segments[rl.SEGMENT200_LENGTH:])
            self._tap_rems += (None, None)
        self._emit(segments)
        self._record(self._record10())

    # -- plumbing --------------------------------------------------------------------------------

    def _emit(self, text: str) -> None:
        self._buf.append(text)
        self._length += len(text)
        if len(self._buf) >= self._chunk:
            self._flush()

    def _flush(self) -> None:
        if self._buf:
            data = "".join(self._buf)
            self._buf.clear()
            self._out.write(data.encode("ascii") if self._binary else data)  # type: ignore[arg-type]
        self._hand_over()

    def _hand_over(self) -> None:
        """Give ``tap`` the records written since the last time (in batches: fewer calls, memory bounded)."""
        if self._tap is not None and self._tap_texts:
            texts, rems = self._tap_texts, self._tap_rems
            self._tap_texts, self._tap_rems = [], []
            self._tap(self._tap_index, texts, rems)
            self._tap_index += len(texts)

    def _record(self, body: str, layout: rl.Layout | None = None, values: Sequence[object] = ()) -> None:
        """Append the control digits to a 348-character body and emit it."""
        if len(body) != 348 or not body.isascii():
            self._diagnose(body, layout, values)
        remainder = value_sum(body.encode("ascii")) % 97
        text = body + _CONTROL[remainder]
        if self._tap is not None:
            self._tap_texts.append(text)
            self._tap_rems.append(remainder)
        self._emit(text)

    def _diagnose(self, body: str, layout: rl.Layout | None, values: Sequence[object]) -> None:
        key = layout.key if layout else body[:2]
        if layout is not None:
            fields = {"20": _R20_FIELDS, "50": _R50_FIELDS, "51": _R51_FIELDS, "52": _R52_FIELDS,
                      "80": _R80_FIELDS}.get(layout.key, ())
            for field, v in zip(fields, values, strict=False):
                name = field.split(":")[0]
                z = layout.by_name[name]
                text = str(v) if not isinstance(v, int) or z.kind != "S" else format_amount(v, z.length)
                if len(text) > z.length or not text.isascii():
                    raise UsageError(f"record {key} (sequence {self._seq}) zone {name}: value {v!r} does not fit "
                                     f"in {z.length} characters", location=f"ET{key} Z{name}")
        raise UsageError(f"record {key} (sequence {self._seq}) has length {len(body)}, expected 348 before the "
                         "control digits", location=f"ET{key}")

    # -- fixed parts -----------------------------------------------------------------------------

    def _segments(self) -> str:
        h = self.header
        s200 = rl.SEGMENT200.format({
            "200": "920000", "201": h.format_version, "202": 92 if h.test else 12, "204": h.reference,
        })
        s300 = rl.SEGMENT300.format({
            "300": h.period, "301": h.sending_number, "302": _date(h.creation_date, self._dates),
            "303": h.file_reference, "304": h.instructions_version, "305": h.contact_last_name,
            "306": h.contact_first_name, "307": h.contact_phone or 0, "308": h.invoice_kind,
            "309": h.invoicing_mode,
        })
        return s200 + s300

    def _record10(self) -> str:
        h = self.header
        self._seq = 1
        return rl.RECORD10.format({
            "1": "10", "2": 1, "3": h.code_indice, "4": h.instructions_version, "7": h.sending_number,
            "13": h.billing_content, "14": self._tp, "18": h.profession_code, "22": h.invoicing_year,
            "23": h.invoicing_month, "25-26": _date(h.creation_date, self._dates), "27": h.bce or 0,
            "28": h.sender_reference, "31-34": h.bic, "36-41": h.iban, "43a": h.bic_b, "49-52": h.iban_b,
        })[:348]

    # -- invoices --------------------------------------------------------------------------------

    def write_invoice(self, inv: Invoice) -> None:
        """Write records 20, 50/51/52… and 80 of one invoice.

        Long because: it is the hot path of the write half of bench/bench_efact.py; records 20, 50-52 and 80
        of one invoice are built from the same locals (amounts, counters, control digits per block) in one
        pass, which splitting would turn into per-record calls and attribute traffic.
        """
        if self._closed:
            raise UsageError("writer already closed")
        dest = inv.destination
        if self._dest != dest:
            if self._dest is not None:
                check_destination_order((self._dest, dest))
                self._end_group()
            self._dest = dest
        dates = self._dates
        credit = inv.invoicing_type == 3
        pid = inv.patient_id.rjust(13, "0")
        aff, sex = inv.mutuality, EFACT_SEX[inv.sex]
        seq = self._seq + 1
        prev = inv.previous
        ct = "0000" + inv.ct1 + inv.ct2
        flag = 1 if inv.id_is_ssin else 0
        v20 = (seq, aff, pid, sex, 3, inv.invoicing_type, self._tp, 1 if inv.lifting_prescription else 0,
               inv.treatment_cause, dest, inv.number, ct, inv.reference,
               prev.number if prev else 0, flag, prev.sending_number if prev else 0,
               prev.mutuality if prev else "000", prev.year_month if prev else "000000")
        out: list[str] = []
        put = out.append
        control = _CONTROL
        values = _VALUES
        adler = zlib.adler32
        body = _T20 % v20
        if len(body) != 348 or not body.isascii():
            self._diagnose(body, rl.RECORD20, v20)
        put(body)
        put(control[((adler(body.encode().translate(values)) & 0xFFFF) - 1) % 97])
        codes = 0
        n_records = 2
        ta = tb = share = supp = 0
        t50 = _T50_NEG if credit else _T50
        t51 = _T51_NEG if credit else _T51
        join = "".join
        d1, d2, s12, s10, s5 = _D1, _D2, _S12, _S10, _S5
        patient50 = f"{aff}{pid}{sex:01d}0"  # zones 7, 8a-8b, 9, 10 of every record 50
        for ln in inv.lines:
            seq += 1
            code = ln.code
            sdate = dates.get(ln.date) or _date(ln.date, dates)
            reimb = ln.reimbursement
            if ln.account_b:
                tb += reimb
            else:
                ta += reimb
            share += ln.patient_share
            supp += ln.supplement
            if credit:
                r19 = format_amount(reimb, 12, negative_zero=True)
                r22 = format_amount(ln.units, 5, negative_zero=True)
                r27 = format_amount(ln.patient_share, 10, negative_zero=True)
                r30 = format_amount(ln.supplement, 10, negative_zero=True)
            else:
                r19, r22, r27, r30 = reimb, ln.units, ln.patient_share, ln.supplement
            prov = "0" + ln.provider
            body = None
            if not credit:
                units, line_share, line_supp, pdate = ln.units, ln.patient_share, ln.supplement, ln.prescription_date
                try:
                    body = join((
                        f"50{seq:06d}", d1[ln.norm], code, sdate, _date(ln.end_date, dates) if ln.end_date else sdate,
                        patient50, "1" if ln.account_b else "0", d1[ln.time_code], "990",
                        "0" + ln.place if ln.place else _ZERO12, prov, d1[ln.provider_norm],
                        ln.related_code or _ZERO7, s12.get(reimb) or _signed(s12, reimb, "%+012d"),
                        dates.get(pdate) or _date(pdate, dates), s5.get(units) or _signed(s5, units, "%+05d"),
                        d2[ln.derogation], "0" + ln.prescriber if ln.prescriber else _ZERO12,
                        d1[ln.prescriber_norm], s10.get(line_share) or _signed(s10, line_share, "%+010d"),
                        ln.reference.ljust(25), d2[ln.tooth or 0], s10.get(line_supp) or _signed(s10, line_supp, "%+010d"),
                        ln.third_party_exception.ljust(1), d1[ln.billing_code], d1[ln.side], d1[ln.convention],
                        ln.service_time or "0000", _T50_MID, "0" + ln.trainee if ln.trainee else _ZERO12, _T50_END))
                except (KeyError, TypeError, AttributeError):  # a value outside the tables: the template decides
                    body = None
            if body is None or len(body) != 348 or not body.isascii():
                v50 = (seq, ln.norm, code, sdate, _date(ln.end_date, dates) if ln.end_date else sdate, aff, pid, sex,
                       1 if ln.account_b else 0, ln.time_code, "0" + ln.place if ln.place else _ZERO12, prov,
                       ln.provider_norm, ln.related_code or _ZERO7, r19, _date(ln.prescription_date, dates), r22,
                       ln.derogation, "0" + ln.prescriber if ln.prescriber else _ZERO12, ln.prescriber_norm, r27,
                       ln.reference, ln.tooth or 0, r30, ln.third_party_exception, ln.billing_code, ln.side,
                       ln.convention, ln.service_time or "0000", "0" + ln.trainee if ln.trainee else _ZERO12)
                body = t50 % v50
                if len(body) != 348 or not body.isascii():
                    self._diagnose(body, rl.RECORD50, v50)
            put(body)
            put(control[((adler(body.encode().translate(values)) & 0xFFFF) - 1) % 97])
            icode = int(code)
            codes += icode
            c = ln.commitment
            if c is not None:
                seq += 1
                n_records += 1
                codes += icode
                v51 = (seq, code, sdate, pid, prov, ln.related_code or _ZERO7, r19, ct, c.number,
                       _date(c.communicated, dates))
                body = t51 % v51
                if len(body) != 348 or not body.isascii():
                    self._diagnose(body, rl.RECORD51, v51)
                put(body)
                put(control[((adler(body.encode().translate(values)) & 0xFFFF) - 1) % 97])
            idc = ln.identity_check
            if idc is not None:
                seq += 1
                n_records += 1
                codes += icode
                v52 = (seq, idc.manual_reason, code, sdate, _date(idc.read_date, dates), pid, idc.input_type,
                       idc.support_type, idc.vignette_reason, idc.read_time or "0000", "0" + idc.reader, idc.serial,
                       idc.justification or 0, idc.device or 0)
                body = _T52 % v52
                if len(body) != 348 or not body.isascii():
                    self._diagnose(body, rl.RECORD52, v52)
                put(body)
                put(control[((adler(body.encode().translate(values)) & 0xFFFF) - 1) % 97])
        n_lines = len(inv.lines)
        n_records += n_lines
        seq += 1
        neg = credit
        if neg:
            body = None
        else:
            body = _T80_POS % (seq, aff, pid, sex, 3, self._tp, tb, inv.treatment_cause, dest, ta,
                               _date(self.header.creation_date, dates), inv.number, share, inv.reference, supp,
                               flag, codes % 97 or 97)
        if body is None or len(body) != 348 or not body.isascii():
            v80 = (seq, aff, pid, sex, 3, self._tp, format_amount(tb, 12, negative_zero=neg), inv.treatment_cause,
                   dest, format_amount(ta, 12, negative_zero=neg), _date(self.header.creation_date, dates),
                   inv.number, format_amount(share, 10, negative_zero=neg), inv.reference,
                   format_amount(supp, 10, negative_zero=neg), flag, format_amount(0, 12, negative_zero=neg),
                   mod97(codes))
            body = _T80 % v80
            if len(body) != 348 or not body.isascii():
                self._diagnose(body, rl.RECORD80, v80)
        put(body)
        put(control[((adler(body.encode().translate(values)) & 0xFFFF) - 1) % 97])
        if self._tap is not None:  # ``out`` alternates record bodies and their control digits
            self._tap_texts += map(str.__add__, out[::2], out[1::2])
            self._tap_rems += map(_REMAINDER.__getitem__, out[1::2])
            if len(self._tap_texts) >= _TAP_BATCH:
                self._hand_over()
        self._buf.append("".join(out))
        self._length += n_records * 350
        if len(self._buf) >= self._chunk:
            self._flush()
        self._seq = seq
        g = self._g
        g[0] += ta
        g[1] += tb
        g[2] += n_records
        g[3] += codes
        g[4] += 1
        g[5] += n_lines
        self._total_a += ta
        self._total_b += tb
        self._share += share
        self._supp += supp
        self._codes += codes
        self._invoices += 1
        self._lines += n_lines

    def _end_group(self) -> None:
        g = self._g
        assert self._dest is not None
        self._groups.append(GroupTotals(self._dest, g[0], g[1], g[2], mod97(g[3]), g[4], g[5]))
        self._g = [0, 0, 0, 0, 0, 0]

    # -- trailer ---------------------------------------------------------------------------------

    def close(self) -> WriteSummary:
        """Write records 90, 95 (one per destination) and 96; flush; return what was written."""
        if self._closed:
            raise UsageError("writer already closed")
        if self._dest is None:
            raise UsageError("sending has no invoice", location="invoices")
        self._end_group()
        self._closed = True
        h = self.header
        self._seq += 1
        control = mod97(self._codes)
        body = rl.RECORD90.format({
            "1": "90", "2": self._seq, "7": h.sending_number, "14": self._tp, "15": self._total_b,
            "19": self._total_a, "22": h.invoicing_year, "23": h.invoicing_month, "27": h.bce or 0,
            "28": h.sender_reference, "31-34": h.bic, "36-41": h.iban, "43a": h.bic_b, "49-52": h.iban_b,
            "98": control,
        })[:348]
        self._record(body)
        numbered = self._seq
        counts = []
        for g in self._groups:
            count = g.records if self._count_rule is CountRule.TAKTIK else g.records + 2
            counts.append(count)
            self._trailer(self._bordereau(rl.RECORD95, "95", g.destination, h.summary_number, g.total_a, g.total_b,
                                          count, g.control))
        total_count = numbered if self._count_rule is CountRule.TAKTIK else sum(counts) + 2
        fed = federation_of(self._groups[0].destination)
        self._trailer(self._bordereau(rl.RECORD96, "96", fed[0] + "99", 0, self._total_a, self._total_b,
                                      total_count, control))
        self._flush()
        return WriteSummary(
            reference=h.reference, sending_number=h.sending_number, federation=fed, records=numbered,
            invoices=self._invoices, lines=self._lines, total_a=self._total_a, total_b=self._total_b,
            total_patient_share=self._share, total_supplement=self._supp, control=control,
            groups=tuple(self._groups), length=self._length,
        )

    def _trailer(self, text: str) -> None:
        """Emit a record 95/96 (``tap`` gets its Σ too, as the reader would give it)."""
        if self._tap is not None:
            self._tap_texts.append(text)
            self._tap_rems.append(value_sum(text[:348].encode("ascii")) % 97)
        self._emit(text)

    def _bordereau(self, layout: rl.Layout, rtype: str, mutuality: str, number: int, a: int, b: int,
                   count: int, control: int) -> str:
        first = int(layout.zones[0].name)
        names = [z.name for z in layout.zones]
        values: dict[str, object] = {
            names[0]: rtype, names[2]: mutuality, names[4]: number, names[6]: a, names[8]: b, names[10]: a + b,
            names[12]: count, names[14]: control, names[16]: 0,
        }
        for z in layout.zones:
            if z.name.endswith("1") and z.label == "error":
                values[z.name] = 0
        try:
            text = layout.format(values)
        except ValueError as e:
            raise UsageError(f"record {rtype} ({mutuality}): {e}", location=f"ET{rtype}") from e
        if self.header.format_version == 1:  # version 01: positions 80–350 are reserve blanks
            text = text[:79] + " " * (rl.RECORD_LENGTH - 79)
        del first
        return text


def write_invoices(header: SendingHeader, invoices: Iterable[Invoice], out: TextIO | BinaryIO, *,
                   count_rule: CountRule = DEFAULT_COUNT_RULE, tap: RecordTap | None = None) -> WriteSummary:
    """Stream a sending from any iterable of invoices (e.g. a generator reading a database)."""
    w = EfactWriter(header, out, count_rule=count_rule, tap=tap)
    for inv in invoices:
        w.write_invoice(inv)
    return w.close()


def write_sending(sending: Sending, out: TextIO | BinaryIO, *,
                  count_rule: CountRule = DEFAULT_COUNT_RULE) -> WriteSummary:
    """Write one 920000 file to a text or binary stream."""
    return write_invoices(sending.header, sending.invoices, out, count_rule=count_rule)


def to_bytes(sending: Sending, *, count_rule: CountRule = DEFAULT_COUNT_RULE) -> bytes:
    """The 920000 file as ASCII bytes (what goes, deflated, into the GenericAsync Blob)."""
    buf = io.BytesIO()
    write_sending(sending, buf, count_rule=count_rule)
    return buf.getvalue()


def to_text(sending: Sending, *, count_rule: CountRule = DEFAULT_COUNT_RULE) -> str:
    return to_bytes(sending, count_rule=count_rule).decode("ascii")
