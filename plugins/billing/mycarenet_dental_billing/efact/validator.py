"""The insurer's checks on a 920000, run locally before sending (``efact.md`` §2.13–§2.16, §4.5, §5.2).

:func:`validate` streams over the file once and returns typed :class:`Finding` objects carrying
the insurer's catalogue code (``RRZZNN`` for records, ``"<error zone>/<code>"`` for segments and
records 95/96), the severity letter, where it is (record index, sequence number, record type,
zone) and the FR/NL/EN text. Any finding with letter ``B`` would make the insurer refuse the whole
sending (920999/920099); :func:`assert_sendable` raises before anything leaves the machine.

What is checked: envelope and header links (S200/S300 ↔ ET10), every zone's type (numeric,
reserved, sign, forbidden characters), record control digits (strict by default), record order
and sequence numbers, repeated zones against ET20/ET10, totals and control numbers of ET80, ET90,
ET95 and ET96, identifiers (SSIN, NIHII, IBAN, BCE check digits), dates (future, limitation
period, invoiced month), teeth (FDI, required for configured codes), sign rules and credit
notes, record 51/52 consistency (record 51 repeats its line's related service, 511712), the
third party's profession code (ET10 Z18 ``000`` refused from 2024-04-01, B101810). Business rules that need the insurer's files (insurability,
nomenclature entitlement, history) are the simulator's job, not this module's.

Speed: the records of an invoice (20, 50, 51, 80) first go through a fast path on the raw text
(``_Validator.fast20``/``fast50``/``fast51``/``fast80``: the whole-record pattern, precomputed
slices, control digits computed per block of records). It only answers "is this record free of
findings?" and changes no state unless it is; any doubt hands the record to the general path,
which re-checks everything and reports, so the findings are the same either way. Zones that
repeat from line to line (code and dates, account … provider, amounts … prescriber) are judged
once per distinct text: small bounded memos remember only "all fine" answers.
:func:`write_and_validate` feeds the writer's records straight to the same checks, so a sending
is written and validated in one pass without reading the file back.

Why two paths (issue 13 asks for one unless one is too slow): with the fast paths off, validating
alone ran 55,000–58,000 lines/s against 113,000–122,000 with them, and writing then validating
37,000–39,000 lines/s against ~56,000–67,000 (``bench/bench_efact.py [--general] 30000``, CPU time), below
the benchmark issue's 60,000 lines/s. ``tests/billing/test_efact_fast_paths.py`` checks that both paths
give the same findings, on clean files and on files with one zone spoiled anywhere.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import BinaryIO, TextIO

import attrs
from mycarenet_dental.errors import Messages, UsageError

from . import records as rl
from .catalogue import describe
from .controls import CIN_TEST_FILE_OFFSET, ChecksumMode, control_offset, mod97, parse_amount, value_sum
from .model import (
    FDI_TEETH,
    INPUT_TYPES,
    PROFESSION_CODE_REQUIRED_FROM,
    SUPPORT_TYPES,
    IdentityCheck,
    Invoice,
    SendingHeader,
    iban_is_valid,
    nihii_is_valid,
    ssin_is_valid,
)
from .reader import _LONG_LAYOUTS, EfactFormatError, EfactReader, RawRecord
from .writer import DEFAULT_COUNT_RULE, CountRule, WriteSummary, write_invoices


@attrs.frozen
class Finding:
    """One problem the insurer would report, found locally."""

    code: str
    letter: str
    record_index: int  # 0 = S200, 1 = S300, 2… = records in file order
    record_type: str
    zone: str
    messages: Messages
    sequence: int | None = None
    value: str = ""

    @property
    def blocking(self) -> bool:
        """A ``B`` finding makes the insurer refuse the whole sending."""
        return self.letter == "B"

    def __str__(self) -> str:
        seq = f" seq {self.sequence}" if self.sequence is not None else ""
        return f"{self.letter}{self.code} ET{self.record_type}{seq} Z{self.zone}: {self.messages.en}" + (
            f" (value {self.value!r})" if self.value else "")


@attrs.frozen
class ValidationOptions:
    """Knobs for the checks whose rule is UNSURE or installation-specific."""

    today: dt.date | None = None  # default: date.today()
    checksum_mode: ChecksumMode = ChecksumMode.STRICT
    # UNSURE: record counts of ET95/ET96 (efact.md §2.13) — not checked unless asked.
    check_counts: bool = False
    count_rule: CountRule = CountRule.TAKTIK
    # codes (7-digit zone form) whose zone 29 must carry a tooth (502940); data, not code.
    tooth_required_codes: frozenset[str] = frozenset()
    # UNSURE: date from which an ET52 is mandatory for dentists (efact.md §2.9); off by default.
    require_identity_check: bool = False
    allowed_third_party_exceptions: frozenset[str] = frozenset("0123456789N")
    # files created from this date on need a profession code in ET10 Z18 (B101810); None: never checked.
    profession_code_required_from: dt.date | None = PROFESSION_CODE_REQUIRED_FROM


class EfactRejectedLocally(UsageError):
    """The file would be refused by the insurer; it was not sent."""

    default_code = "EFACT_INVALID"

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        blocking = [f for f in findings if f.blocking]
        first = blocking[0] if blocking else findings[0]
        super().__init__(
            Messages(f"{len(findings)} problem(s) in the eFact file, first: {first}",
                     f"{len(findings)} problème(s) dans le fichier eFact, premier : {first.messages.fr}",
                     f"{len(findings)} probleem/problemen in het eFact-bestand, eerste: {first.messages.nl}"),
            code=first.code, location=f"ET{first.record_type} Z{first.zone}",
            hint="correct the invoices and build the sending again")


def _zone_number(name: str) -> str:
    """Zone name → the two digits used in RRZZNN codes: ``8a-8b`` → ``08``, ``31-34`` → ``31``."""
    head = name.split("-")[0].rstrip("ab")
    return head.zfill(2)[-2:] if head.isdigit() else "00"


_PREDECESSORS = {
    "10": (None,), "20": ("10", "80"), "50": ("20", "50", "51", "52"), "51": ("50",), "52": ("50", "51"),
    "80": ("50", "51", "52"), "90": ("80",),
}
_DATE_CACHE: dict[str, dt.date | None] = {}
_GOOD_PROVIDERS: set[str] = set()
_GOOD_MID50: set[str] = set()  # record 50 positions 51–87 (account … related code) found fine
_GOOD_AMOUNTS50: dict[str, tuple[int, int]] = {}  # record 50 positions 88–137 found fine → (A/B, share)
_MEMO_LIMIT = 20_000  # entries per memo of the fast paths (cleared when full)
_NO_SUPPLEMENT = "+000000000"
_FDI_TEXT = frozenset(f"{n:02d}" for n in FDI_TEETH)
_PICK20 = rl.RECORD20.picker(("7", "8a-8b", "9", "10", "11", "14", "16", "17", "18", "24-25", "27", "29-31",
                                 "32"))
_PICK51 = rl.RECORD51.picker(("4", "8a-8b", "27", "42-45", "55"))
_PICK80 = rl.RECORD80.picker(("7", "8a-8b", "9", "10", "14", "15", "17", "18", "19", "24-25", "27", "30-31", "32",
                              "98"))
_CONTROL_TEXT = ["97"] + [f"{i:02d}" for i in range(1, 97)]  # remainder → the 2 control characters  # 12-character provider zones already found valid
_S7, _S8, _S9 = slice(32, 35), slice(35, 48), slice(48, 49)
_S14, _S24, _S49 = slice(55, 67), slice(114, 126), slice(270, 282)
_ZERO12 = "0" * 12
_FAST50 = rl.RECORD50.strict_regex.fullmatch
_FAST51 = rl.RECORD51.strict_regex.fullmatch
_FAST20 = rl.RECORD20.strict_regex.fullmatch
_FAST80 = rl.RECORD80.strict_regex.fullmatch
_BEFORE_20 = frozenset(_PREDECESSORS["20"])
_BEFORE_80 = frozenset(_PREDECESSORS["80"])
_SEXES = frozenset("12")
_INVOICE_TYPES = frozenset("13")
_INVOICING_TYPES = frozenset("01234")
_CORRECTIONS = frozenset("13")
_BEFORE_50 = frozenset(_PREDECESSORS["50"])


def _date(text: str) -> dt.date | None:
    if text in _DATE_CACHE:
        return _DATE_CACHE[text]
    try:
        d: dt.date | None = dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        d = None
    if len(_DATE_CACHE) < 20000:
        _DATE_CACHE[text] = d
    return d


def _check_amounts50(zones: str) -> tuple[int, int] | None:
    """(reimbursement, patient share) of record 50 positions 88–137 if fast50's checks pass; memoised.

    Checks the signs of units and share against the reimbursement's, and the prescriber's NIHII;
    the text is known to be well-formed (whole-record pattern).
    """
    reimb, units, share = int(zones[:12]), int(zones[20:25]), int(zones[40:50])
    sign = zones[0]
    prescriber = zones[27:39]
    if ((units and zones[20] != sign) or (share and zones[40] != sign)
            or (prescriber != _ZERO12 and prescriber not in _GOOD_PROVIDERS)):
        return None
    if len(_GOOD_AMOUNTS50) >= _MEMO_LIMIT:
        _GOOD_AMOUNTS50.clear()
    _GOOD_AMOUNTS50[zones] = (reimb, share)
    return reimb, share


def _bce_valid(bce: str) -> bool:
    return len(bce) == 10 and bce.isdigit() and 97 - int(bce[:8]) % 97 == int(bce[8:])


def _add_months(year: int, month: int, n: int) -> tuple[int, int]:
    m = year * 12 + (month - 1) + n
    return m // 12, m % 12 + 1


class _Validator:
    def __init__(self, opts: ValidationOptions) -> None:
        self.o = opts
        self.today = opts.today or dt.date.today()
        self.findings: list[Finding] = []
        self.expected_offset = CIN_TEST_FILE_OFFSET if opts.checksum_mode is ChecksumMode.CIN else 0
        self.prev_kind: str | None = None
        self.prev_seq = 0
        self.s200: dict[str, str] | None = None
        self.s300: dict[str, str] | None = None
        self.r10: dict[str, str] | None = None
        self.r20_text: str | None = None  # the current record 20
        self._r20: dict[str, str] | None = None  # its zones, picked on demand (see r20)
        self._r50: RawRecord | None = None
        self._r50_raw: tuple[int, str] | None = None  # (index, text) of a line taken by the fast path
        self.creation: dt.date | None = None
        self.period: tuple[int, int] | None = None
        self.invoice_numbers: set[str] = set()
        self.dest_prev: str | None = None
        self.federation: str | None = None
        self.inv = [0, 0, 0, 0, 0]  # A, B, share, supplement, codes
        self.inv_credit_positive = False
        self.inv_records = 0
        self.sum80 = [0, 0]
        self.sum50 = [0, 0]
        self.codes = 0
        self.per_dest: dict[str, list[int]] = {}  # dest → [A, B, records, codes]
        self.seen95: list[str] = []
        self.sum95 = [0, 0]
        self.count95: list[int] = []
        self.numbered = 0
        self.after_90 = False
        self.seen96 = False
        self.pending_identity = False
        self.matched = False
        self.r20_patient = ""
        self.r20_lifting = "0"
        self.r20_credit = False
        self.latest_service = self.today
        self.oldest_service = self.today - dt.timedelta(days=2 * 365 + 1)
        self.first_late_day = dt.date.max
        self._head50: dict[str, int] = {}  # memo of fast50: zones 4–6 text → code, when fine
        self._tooth_codes = opts.tooth_required_codes
        self._exceptions = opts.allowed_third_party_exceptions
        self.dispatch = {"10": self.rec10, "20": self.rec20, "50": self.rec50, "51": self.rec51, "52": self.rec52,
                         "80": self.rec80, "90": self.rec90}

    @property
    def r20(self) -> dict[str, str] | None:
        """The zones of the current record 20 (picked on demand when the fast path took it)."""
        if self._r20 is None and self.r20_text is not None:
            self._r20 = _PICK20(self.r20_text)
        return self._r20

    @property
    def r50(self) -> RawRecord | None:
        """The current record 50 (built on demand when the fast path took it)."""
        if self._r50 is None and self._r50_raw is not None:
            self._r50 = RawRecord("50", self._r50_raw[0], self._r50_raw[1], rl.RECORD50)
        return self._r50

    @r50.setter
    def r50(self, rec: RawRecord | None) -> None:
        self._r50 = rec
        self._r50_raw = None

    # -- reporting --------------------------------------------------------------------------------

    def add(self, code: str, rec: RawRecord | None, zone: str, value: str = "", letter: str = "") -> None:
        entry = describe(code, letter)
        kind = rec.kind if rec is not None else "--"
        idx = rec.index if rec is not None else -1
        seq = rec.sequence if rec is not None else None
        self.findings.append(Finding(code, entry.letter or "B", idx, kind, zone, entry.messages, seq, value))

    def add_rec(self, rec: RawRecord, zone_name: str, ending: str, value: str = "") -> None:
        self.add(f"{rec.kind}{_zone_number(zone_name)}{ending}", rec, zone_name, value)

    def add_seg(self, rec: RawRecord, error_zone: str, two: str, value: str = "") -> None:
        self.add(f"{error_zone}/{two}", rec, error_zone[:-1], value, letter="B")

    # -- zone typing ------------------------------------------------------------------------------

    def check_zones(self, rec: RawRecord, text: str, layout: rl.Layout, *, two_digit: bool = False) -> bool:
        """True when every zone is well-formed; otherwise report each bad zone and return False."""
        if layout.strict_regex.fullmatch(text):
            return True
        zones = layout.zones
        for i, z in enumerate(zones):
            v = text[z.start - 1:z.end]
            if z.reserved:
                ok = v == z.blank
                ending = "01"
            elif z.kind == "N":
                ok = v.isdigit() and v.isascii()
                ending = "01"
            elif z.kind == "S":
                ok = v[0] in "+-" and v[1:].isdigit() and v[1:].isascii()
                ending = "05" if v[0] not in "+-" else "06"
            else:
                ok = v.isascii() and v.isprintable()
                ending = "09"
            if ok:
                continue
            if two_digit:
                err = next((x.name for x in zones[i + 1:] if x.label == "error"), z.name)
                self.add_seg(rec, err if err.endswith("1") else z.name + "1", "11", v)
            else:
                self.add_rec(rec, z.name, ending, v)
        return False

    def check_error_zones(self, rec: RawRecord, z: dict[str, str]) -> None:
        """When sending, every 2-digit error zone must be ``00``."""
        for zone in rec.layout.zones:
            if zone.label == "error" and z[zone.name] not in ("00", "  "):
                self.add_seg(rec, zone.name, "20", z[zone.name])

    # -- segments ---------------------------------------------------------------------------------

    def seg200(self, rec: RawRecord) -> None:
        z = rec.zones()
        self.s200 = z
        self.check_zones(rec, rec.text, rl.SEGMENT200, two_digit=True)
        self.check_error_zones(rec, z)
        if z["200"] != "920000":
            self.add_seg(rec, "2001", "22", z["200"])
        if z["201"] not in ("01", "02"):
            self.add_seg(rec, "2011", "20", z["201"])
        if z["202"] not in ("12", "92"):
            self.add_seg(rec, "2021", "20", z["202"])
        if not z["204"].strip("0"):
            self.add_seg(rec, "2041", "10", z["204"])

    def seg300(self, rec: RawRecord) -> None:
        z = rec.zones()
        self.s300 = z
        self.check_zones(rec, rec.text, rl.SEGMENT300, two_digit=True)
        self.check_error_zones(rec, z)
        created = _date(z["302"])
        if created is None:
            self.add_seg(rec, "3021", "11", z["302"])
        elif created > self.today:
            self.add_seg(rec, "3021", "20", z["302"])
        elif created < dt.date(2002, 1, 1):
            self.add_seg(rec, "3021", "21", z["302"])
        test = self.s200 is not None and self.s200["202"] == "92"
        if z["304"] != ("9991999" if test else "0001999"):
            self.add_seg(rec, "3041", "21", z["304"])
        if z["308"] not in ("01", "03", "09"):
            self.add_seg(rec, "3081", "20", z["308"])
        if z["309"] not in ("01", "02", "05"):
            self.add_seg(rec, "3091", "20", z["309"])

    # -- records ----------------------------------------------------------------------------------

    def record(self, rec: RawRecord) -> None:
        kind = rec.kind
        text = rec.text
        if kind in ("95", "96"):
            if self.s200 is not None and self.s200["201"] == "01" and not text[79:].strip():
                # format version 01: positions 80–350 are reserve (no account C yet)
                text = text[:79] + "+" + "0" * 11 + "00" + " " * 257
            self.check_zones(rec, text, rec.layout, two_digit=True)
            (self.rec95 if kind == "95" else self.rec96)(rec)
            self.prev_kind = kind
            return
        self.matched = self.check_zones(rec, text, rec.layout)
        # control digits
        stored = text[348:350]
        computed = value_sum(text[:348].encode("latin-1")) % 97
        if stored != _CONTROL_TEXT[computed]:
            self._control_mismatch(rec, stored, computed or 97)
        # order and sequence
        prev = self.prev_kind
        if self.after_90:
            self.add("900111", rec, "1", kind)
        if prev not in _PREDECESSORS[kind]:
            self.add_rec(rec, "1", "10", str(prev))
        if prev == "80" and kind != "20" and kind != "90":
            self.add("800111", rec, "1", kind)
        seq_text = text[2:8]
        seq = int(seq_text) if self.matched or seq_text.isdigit() else -1
        if kind == "10":
            if seq != 1:
                self.add("100110", rec, "2", seq_text)
        elif seq != self.prev_seq + 1:
            self.add_rec(rec, "2", "10", seq_text)
        self.prev_seq = seq
        self.numbered += 1
        self.dispatch[kind](rec)
        self.prev_kind = kind

    def _control_mismatch(self, rec: RawRecord, stored: str, computed: int) -> None:
        mode = self.o.checksum_mode
        if stored.isdigit():
            if mode is ChecksumMode.TOLERANT:
                return
            if mode is ChecksumMode.CIN and control_offset(int(stored), computed) == self.expected_offset:
                return
        self.add_rec(rec, "99", "02", f"{stored} (computed {computed:02d})")

    def rec10(self, rec: RawRecord) -> None:
        self._head50.clear()  # its answers depend on the dates set here
        z = rec.zones()
        self.r10 = z
        test = self.s200 is not None and self.s200["202"] == "92"
        if z["4"] != ("9991999" if test else "0001999"):
            self.add("100403", rec, "4", z["4"])
        if z["7"] == "000":
            self.add("100703", rec, "7", z["7"])
        if z["3"] not in ("0", "1") or (z["3"] == "1") != bool(z["49-52"].strip()):
            self.add("100303", rec, "3", z["3"])
        if z["13"] not in ("040", "000"):
            self.add("101303", rec, "13", z["13"])
        if z["14"][0] != "0" or not nihii_is_valid(z["14"][1:]):
            self.add("101402", rec, "14", z["14"])
        if not z["27"].strip("0"):
            self.add("102710", rec, "27", z["27"])
        elif not _bce_valid(z["27"]):
            self.add("102702", rec, "27", z["27"])
        bic = z["31-34"].strip()
        if not (len(bic) in (8, 11) and bic.isalnum()):
            self.add("103103", rec, "31-34", bic)
        if not iban_is_valid(z["36-41"].strip()):
            self.add("103602", rec, "36-41", z["36-41"].strip())
        if z["49-52"].strip() and not iban_is_valid(z["49-52"].strip()):
            self.add("104902", rec, "49-52", z["49-52"].strip())
        self.creation = _date(z["25-26"])
        if self.creation is None:
            self.add("102503", rec, "25-26", z["25-26"])
        else:
            required_from = self.o.profession_code_required_from
            if z["18"] == "000" and required_from is not None and self.creation >= required_from:
                # the insurers refuse the whole sending without the third party's profession code
                self.add("101810", rec, "18", z["18"])
            self.latest_service = self.creation
            self.oldest_service = self.creation - dt.timedelta(days=2 * 365 + 1)
        year, month = int(z["22"]) if z["22"].isdigit() else 0, int(z["23"]) if z["23"].isdigit() else 0
        if not 1 <= month <= 12:
            self.add("102303", rec, "23", z["23"])
        else:
            self.period = (year, month)
            y2, m2 = _add_months(year, month, 2)
            self.first_late_day = dt.date(y2, m2, 1) if 1 <= y2 <= 9999 else dt.date.max
            if (year, month) > (self.today.year, self.today.month):
                self.add("102310" if year == self.today.year else "102210", rec, "23", f"{year}{month:02d}")
            elif self.creation and (year, month) > (self.creation.year, self.creation.month):
                self.add("102311" if year == self.creation.year else "102211", rec, "23", f"{year}{month:02d}")
        s300 = self.s300
        if s300 is not None and self.s300rec is not None:
            srec = self.s300rec
            if s300["300"] != f"{z['22'][1:]}{z['23']}":
                self.add_seg(srec, "3001", "20", s300["300"])
            if s300["301"] != z["7"]:
                self.add_seg(srec, "3011", "20", s300["301"])
            if s300["302"] != z["25-26"]:
                self.add_seg(srec, "3021", "22", s300["302"])
            if s300["304"] != z["4"]:
                self.add_seg(srec, "3041", "21", s300["304"])

    s300rec: RawRecord | None = None

    def rec20(self, rec: RawRecord) -> None:
        z = _PICK20(rec.text)
        self.r20_text = rec.text
        self._r20 = z
        self.r20_patient = rec.text[32:49]
        self.r20_lifting = z["16"]
        self.r20_credit = z["11"] == "3"
        self.inv = [0, 0, 0, 0, 0]
        self.inv_credit_positive = False
        self.inv_records = 1
        if z["32"] == "1":
            pid = z["8a-8b"]
            if pid[:2] != "00" or not ssin_is_valid(pid[2:]):
                self.add("200802", rec, "8a-8b", pid)
        elif z["32"] != "0":
            self.add("203203", rec, "32", z["32"])
        if z["9"] not in ("1", "2"):
            self.add("200903", rec, "9", z["9"])
        if z["10"] not in ("1", "3"):
            self.add("201003", rec, "10", z["10"])
        if z["11"] not in "01234":
            self.add("201103", rec, "11", z["11"])
        if z["11"] in ("1", "3") and not z["29-31"].strip("0"):
            self.add("202940", rec, "29-31", z["29-31"])
        if self.r10 is not None and z["14"] != self.r10["14"]:
            self.add("201412", rec, "14", z["14"])
        dest = z["18"]
        if self.dest_prev is not None and dest < self.dest_prev:
            self.add("201812", rec, "18", dest)
        if self.federation is None:
            self.federation = dest[0]
        elif dest[0] != self.federation:
            self.add("201820", rec, "18", dest)
        self.dest_prev = dest
        self.per_dest.setdefault(dest, [0, 0, 0, 0])
        num = z["24-25"]
        if not num.strip("0") or num in self.invoice_numbers:
            self.add("202420", rec, "24-25", num)
        self.invoice_numbers.add(num)
        if z["27"][:4] != "0000":
            self.add("202703", rec, "27", z["27"])

    def rec50(self, rec: RawRecord) -> None:
        # hot path: one service line. Slices are constants; when the whole-record pattern matched
        # (self.matched) every numeric/signed zone is known to be well-formed and int() is safe.
        self._close_line()
        t = rec.text
        self.r50 = rec
        self.inv_records += 1
        if t[32:49] != self.r20_patient:
            r20 = self.r20 or {}
            for zone, code, sl in (("7", "500712", _S7), ("8a-8b", "500812", _S8), ("9", "500912", _S9)):
                if t[sl] != r20.get(zone):
                    self.add(code, rec, zone, t[sl])
        code = t[9:16]
        matched = self.matched
        if matched or code.isdigit():
            icode = int(code)
            if icode == 0:
                self.add("500403", rec, "4", code)
            self.inv[4] += icode
        s5, s6 = t[16:24], t[24:32]
        d1 = _DATE_CACHE.get(s5) if s5 in _DATE_CACHE else _date(s5)
        d2 = d1 if s6 == s5 else _date(s6)
        if d1 is None:
            self.add("500503", rec, "5", s5)
        if d2 is None or (d1 is not None and d2 < d1):
            self.add("500603", rec, "6a-6b", s6)
        if d1 is not None:
            if d1 > self.latest_service:
                self.add("500510", rec, "5", s5)
            elif d1 < self.oldest_service and self.r20_lifting != "1":
                self.add("500546", rec, "5", s5)
            if d1 >= self.first_late_day:
                self.add("500547", rec, "5", s5)
        account = t[50]
        if account not in "01":
            self.add("501103", rec, "11", account)
        if t[52:55] != "990":
            self.add("501303", rec, "13", t[52:55])
        prov = t[67:79]
        if prov not in _GOOD_PROVIDERS:
            if prov[0] != "0" or not nihii_is_valid(prov[1:]):
                self.add("501502", rec, "15", prov)
            elif len(_GOOD_PROVIDERS) < 100_000:
                _GOOD_PROVIDERS.add(prov)
        z19, z22, z27, z30 = t[87:99], t[107:112], t[127:137], t[164:174]
        if matched:
            reimb, units, share, supp = int(z19), int(z22), int(z27), int(z30)
        else:
            reimb, units, share, supp = (parse_amount(z19), parse_amount(z22), parse_amount(z27) or 0,
                                         parse_amount(z30) or 0)
        if reimb is not None:
            sign = z19[0]
            if units and z22[0] != sign:
                self.add("502212", rec, "22", z22)
            if share and z27[0] != sign:
                self.add("502712", rec, "27", z27)
            if supp and z30[0] != sign:
                self.add("503012", rec, "30-31", z30)
            self._add_line_amounts(account, reimb, share, supp)
        tooth = t[162:164]
        if tooth != "00":
            if not tooth.isdigit() or int(tooth) not in FDI_TEETH:
                self.add("502903" if tooth.isdigit() else "502901", rec, "29", tooth)
        elif code in self.o.tooth_required_codes:
            self.add("502940", rec, "29", tooth)
        if t[174] not in self.o.allowed_third_party_exceptions:
            self.add("503203", rec, "32", t[174])
        for zone, sl in (("24-25", _S24), ("49", _S49), ("14", _S14)):
            v = t[sl]
            if v != _ZERO12 and v not in _GOOD_PROVIDERS:
                if v[0] != "0" or not nihii_is_valid(v[1:]):
                    self.add(f"50{_zone_number(zone)}02", rec, zone, v)
                else:
                    _GOOD_PROVIDERS.add(v)
        self.pending_identity = self.o.require_identity_check

    def fast50(self, index: int, t: str, remainder: int | None) -> bool:
        """Record 50 without any finding, on the raw text: True when taken, False to use :meth:`record`.

        Checks exactly what :meth:`record` + :meth:`rec50` check, but only to answer "is everything
        fine?": every check is made before any state changes, and any doubt returns False so that
        the general path (which re-does everything and reports) handles the record. Its state
        updates are then the same as the general path's for a record without findings.
        """
        if (remainder is None or self.after_90 or self.pending_identity or self.prev_kind not in _BEFORE_50
                or t[32:49] != self.r20_patient or not _FAST50(t) or t[348:350] != _CONTROL_TEXT[remainder]):
            return False
        seq = int(t[2:8])
        if seq != self.prev_seq + 1:
            return False
        # zones 4–6 (code, dates) and 11–18 (account … provider) repeat from line to line: their
        # checks are memoised on their text; only "all fine" is remembered
        head = t[9:32]
        icode = self._head50.get(head)
        if icode is None:
            icode = self._check_head50(head)
            if icode is None:
                return False
        account = t[50]
        if t[50:87] not in _GOOD_MID50:
            if (account != "0" and account != "1") or t[52:55] != "990" or t[67:79] not in _GOOD_PROVIDERS:
                return False
            place = t[55:67]
            if place != _ZERO12 and place not in _GOOD_PROVIDERS:
                return False
            if len(_GOOD_MID50) >= _MEMO_LIMIT:  # bounded: start again rather than keep stale entries
                _GOOD_MID50.clear()
            _GOOD_MID50.add(t[50:87])
        amounts = _GOOD_AMOUNTS50.get(t[87:137])  # zones 19–27: reimbursement … patient share
        if amounts is None:
            amounts = _check_amounts50(t[87:137])
            if amounts is None:
                return False
        reimb, share = amounts
        supp_text = t[164:174]
        if supp_text == _NO_SUPPLEMENT:
            supp = 0
        else:
            supp = int(supp_text)
            if supp and supp_text[0] != t[87]:
                return False
        tooth = t[162:164]
        if tooth == "00":
            if t[9:16] in self._tooth_codes:
                return False
        elif tooth not in _FDI_TEXT:
            return False
        if t[174] not in self._exceptions:
            return False
        v = t[270:282]  # trainee (place and prescriber are in the memoised zones)
        if v != _ZERO12 and v not in _GOOD_PROVIDERS:
            return False
        # everything is fine: the general path's state updates, nothing else
        self.matched = True
        self.prev_seq = seq
        self.numbered += 1
        self.prev_kind = "50"
        self._r50 = None
        self._r50_raw = (index, t)
        self.inv_records += 1
        self.inv[4] += icode
        self._add_line_amounts(account, reimb, share, supp)
        self.pending_identity = self.o.require_identity_check
        return True

    def _add_line_amounts(self, account: str, reimb: int, share: int, supp: int) -> None:
        """A record 50's amounts into the running totals of its invoice (record 80 checks them)."""
        inv = self.inv
        if account == "1":
            inv[1] += reimb
        else:
            inv[0] += reimb
        inv[2] += share
        inv[3] += supp
        if self.r20_credit and (reimb > 0 or share > 0 or supp > 0):
            self.inv_credit_positive = True

    def _check_head50(self, head: str) -> int | None:
        """Code of zones 4–6 (positions 10–32) of a well-formed record 50 if their checks pass, else None.

        Memoised in ``_head50`` unless the answer depends on the invoice (a date beyond the
        limitation period is fine only with a lifting prescription).
        """
        icode = int(head[:7])
        s5, s6 = head[7:15], head[15:23]
        d1 = _date(s5)
        if d1 is None or d1 > self.latest_service or d1 >= self.first_late_day or icode == 0:
            return None
        if s6 != s5:
            d2 = _date(s6)
            if d2 is None or d2 < d1:
                return None
        if d1 < self.oldest_service:
            return icode if self.r20_lifting == "1" else None
        if len(self._head50) >= _MEMO_LIMIT:
            self._head50.clear()
        self._head50[head] = icode
        return icode

    def fast51(self, index: int, t: str, remainder: int | None) -> bool:
        """Record 51 without any finding (see :meth:`fast50`): True when taken, False to use :meth:`record`."""
        raw50 = self._r50_raw
        t20 = self.r20_text
        if (remainder is None or raw50 is None or t20 is None or self.after_90 or self.prev_kind != "50"
                or not _FAST51(t) or t[348:350] != _CONTROL_TEXT[remainder]):
            return False
        seq = int(t[2:8])
        t50 = raw50[1]
        if (seq != self.prev_seq + 1 or t[9:24] != t50[9:24] or t[67:79] != t50[67:79] or t[80:99] != t50[80:99]
                or t[35:48] != t20[35:48] or t[127:137] != t20[127:137] or not t[212:260].strip()
                or _date(t[320:328]) is None):
            return False
        self.matched = True
        self.prev_seq = seq
        self.numbered += 1
        self.prev_kind = "51"
        self.inv_records += 1
        self.inv[4] += int(t[9:16])
        return True

    def fast20(self, rec: RawRecord, remainder: int | None) -> bool:
        """Record 20 without any finding (see :meth:`fast50`): True when taken, False to use :meth:`record`."""
        t = rec.text
        if (remainder is None or self.after_90 or self.prev_kind not in _BEFORE_20 or not _FAST20(t)
                or t[348:350] != _CONTROL_TEXT[remainder] or self.r10 is None):
            return False
        seq = int(t[2:8])
        # zones as 0-based slices: 8a-8b 35–48, 9 48, 10 49, 11 50, 14 55–67, 16 79, 18 84–87,
        # 24-25 114–126, 27 127–137, 29-31 162–174, 32 174 (tested against the layout)
        dest, num, kind = t[84:87], t[114:126], t[50]
        dest_prev = self.dest_prev
        if (seq != self.prev_seq + 1 or t[174] != "1" or t[35:37] != "00" or not ssin_is_valid(t[37:48])
                or t[48] not in _SEXES or t[49] not in _INVOICE_TYPES or kind not in _INVOICING_TYPES
                or (kind in _CORRECTIONS and not t[162:174].strip("0")) or t[55:67] != self.r10["14"]
                or (dest_prev is not None and dest < dest_prev)
                or (self.federation is not None and dest[0] != self.federation)
                or not num.strip("0") or num in self.invoice_numbers or t[127:131] != "0000"):
            return False
        self.matched = True
        self.prev_seq = seq
        self.numbered += 1
        self.prev_kind = "20"
        self.r20rec = rec
        self.r20_text = t
        self._r20 = None
        self.r20_patient = t[32:49]
        self.r20_lifting = t[79]
        self.r20_credit = kind == "3"
        self.inv = [0, 0, 0, 0, 0]
        self.inv_credit_positive = False
        self.inv_records = 1
        if self.federation is None:
            self.federation = dest[0]
        self.dest_prev = dest
        if dest not in self.per_dest:
            self.per_dest[dest] = [0, 0, 0, 0]
        self.invoice_numbers.add(num)
        return True

    def fast80(self, index: int, t: str, remainder: int | None) -> bool:
        """Record 80 without any finding (see :meth:`fast50`): True when taken, False to use :meth:`record`."""
        t20 = self.r20_text
        if (remainder is None or t20 is None or self.after_90 or self.pending_identity
                or self.prev_kind not in _BEFORE_80 or self.inv_credit_positive or not _FAST80(t)
                or t[348:350] != _CONTROL_TEXT[remainder]):
            return False
        seq = int(t[2:8])
        # the zones repeated from record 20, as slices of both texts: 7…10 at 32–50, 14 at 55–67,
        # 17–18 at 80–87, 24-25 at 114–126, 32 at 174 (the same positions in both layouts, tested)
        if (seq != self.prev_seq + 1 or t[32:50] != t20[32:50] or t[55:67] != t20[55:67]
                or t[80:87] != t20[80:87] or t[114:126] != t20[114:126] or t[174] != t20[174]):
            return False
        a, b, share, supp, codes = self.inv
        total_a, total_b = int(t[87:99]), int(t[67:79])
        if (total_a != a or total_b != b or int(t[127:137]) != share or int(t[164:174]) != supp
                or t[346:348] != _CONTROL_TEXT[codes % 97]):
            return False
        self.matched = True
        self.prev_seq = seq
        self.numbered += 1
        self.prev_kind = "80"
        self.r50 = None
        self.inv_records += 1
        self.sum50[0] += a
        self.sum50[1] += b
        self.sum80[0] += total_a
        self.sum80[1] += total_b
        self.codes += codes
        d = self.per_dest.setdefault(t20[84:87], [0, 0, 0, 0])
        d[0] += a
        d[1] += b
        d[2] += self.inv_records
        d[3] += codes
        return True

    def _close_line(self) -> None:
        if self.pending_identity and self.r50 is not None:
            self.add("500112", self.r50, "4")
        self.pending_identity = False

    def _same_as_50(self, rec: RawRecord, pairs: Iterable[tuple[str, str]]) -> None:
        if self.r50 is None:
            return
        for zone, zone50 in pairs:
            if rec.zone(zone) != self.r50.zone(zone50):
                self.add(f"{rec.kind}{_zone_number(zone)}12", rec, zone, rec.zone(zone))

    def rec51(self, rec: RawRecord) -> None:
        z = _PICK51(rec.text)
        self.inv_records += 1
        self._same_as_50(rec, (("4", "4"), ("5", "5"), ("15", "15"), ("19", "19")))
        r50 = self.r50
        related = rec.text[80:87]
        if r50 is not None and related != r50.text[80:87]:
            # zones 17-18 repeat the line's related service for a dentist ([IC]); other professions
            # leave them zero. UNSURE: the insurers' code for a mismatch (511712 from the generic "12").
            dentist = self.r10 is not None and self.r10["14"][1] == "3"
            if dentist or related != "0000000":
                self.add("511712", rec, "17-18", related)
        r20 = self.r20 or {}
        if z["8a-8b"] != r20.get("8a-8b"):
            self.add("510812", rec, "8a-8b", z["8a-8b"])
        if z["27"] != r20.get("27"):
            self.add("512712", rec, "27", z["27"])
        if not z["42-45"].strip():
            self.add("514240", rec, "42-45", "")
        if _date(z["55"]) is None:
            self.add("515503", rec, "55", z["55"])
        if z["4"].isdigit():
            self.inv[4] += int(z["4"])

    def rec52(self, rec: RawRecord) -> None:
        z = rec.zones()
        self.inv_records += 1
        self.pending_identity = False
        self._same_as_50(rec, (("4", "4"), ("5", "5")))
        r20 = self.r20 or {}
        if z["8a-8b"] != r20.get("8a-8b"):
            self.add("520812", rec, "8a-8b", z["8a-8b"])
        if z["9"] not in INPUT_TYPES:
            self.add("520903", rec, "9", z["9"])
        if z["10"] not in SUPPORT_TYPES:
            self.add("521003", rec, "10", z["10"])
        reason = int(z["3"]) if z["3"].isdigit() else -1
        if z["9"] == "4" and reason == 0:
            self.add("520340", rec, "3", z["3"])
        elif not 0 <= reason <= 8:
            self.add("520303", rec, "3", z["3"])
        if reason in IdentityCheck.DEFERRED_REASONS and (z["6a-6b"] != "00000000" or z["12-13"] != "0000"):
            self.add("520603", rec, "6a-6b", z["6a-6b"])
        elif z["6a-6b"] != "00000000" and _date(z["6a-6b"]) is None:
            self.add("520603", rec, "6a-6b", z["6a-6b"])
        if z["11"] != "0" and z["10"] != "7":
            self.add("521103", rec, "11", z["11"])
        hhmm = z["12-13"]
        if hhmm.isdigit() and (int(hhmm[:2]) > 23 or int(hhmm[2:]) > 59):
            self.add("521203", rec, "12-13", hhmm)
        if z["15"][0] != "0" or not nihii_is_valid(z["15"][1:]):
            self.add("521502", rec, "15", z["15"])
        if z["4"].isdigit():
            self.inv[4] += int(z["4"])

    def rec80(self, rec: RawRecord) -> None:
        self._close_line()
        self.r50 = None
        z = _PICK80(rec.text)
        r20 = self.r20 or {}
        self.inv_records += 1
        for zone in ("7", "8a-8b", "9", "10", "14", "17", "18", "24-25", "32"):
            if z[zone] != r20.get(zone):
                self.add(f"80{_zone_number(zone)}12", rec, zone, z[zone])
        a, b, share, supp, codes = self.inv
        for zone, expected, code in (("19", a, "801910"), ("15", b, "801510"), ("27", share, "802710"),
                                     ("30-31", supp, "803010")):
            if parse_amount(z[zone]) != expected:
                self.add(code, rec, zone, z[zone])
        if z["98"] != f"{mod97(codes):02d}":
            self.add("809802", rec, "98", f"{z['98']} (expected {mod97(codes):02d})")
        if self.inv_credit_positive and self.r20rec is not None:
            self.add("201140", self.r20rec, "11", "3")
        self.sum50[0] += a
        self.sum50[1] += b
        self.sum80[0] += parse_amount(z["19"]) or 0
        self.sum80[1] += parse_amount(z["15"]) or 0
        self.codes += codes
        d = self.per_dest.setdefault(r20.get("18", "000"), [0, 0, 0, 0])
        d[0] += a
        d[1] += b
        d[2] += self.inv_records
        d[3] += codes

    r20rec: RawRecord | None = None

    def rec90(self, rec: RawRecord) -> None:
        z = rec.zones()
        r10 = self.r10 or {}
        for zone in ("7", "14", "22", "23", "27", "31-34", "36-41", "43a", "49-52"):
            if z[zone] != r10.get(zone):
                self.add(f"90{_zone_number(zone)}12", rec, zone, z[zone])
        for zone, s80, s50, c80, c50 in (("19", self.sum80[0], self.sum50[0], "901910", "901911"),
                                         ("15", self.sum80[1], self.sum50[1], "901510", "901511")):
            v = parse_amount(z[zone])
            if v != s80:
                self.add(c80, rec, zone, z[zone])
            if v != s50:
                self.add(c50, rec, zone, z[zone])
        if z["98"] != f"{mod97(self.codes):02d}":
            self.add("909802", rec, "98", f"{z['98']} (expected {mod97(self.codes):02d})")
        self.after_90 = True

    def rec95(self, rec: RawRecord) -> None:
        z = rec.zones()
        self.check_error_zones(rec, z)
        if self.prev_kind not in ("90", "95"):
            self.add_seg(rec, "4001", "20", str(self.prev_kind))
        dest = z["401"]
        d = self.per_dest.get(dest)
        if d is None or dest in self.seen95:
            self.add_seg(rec, "4011", "21", dest)
            return
        self.seen95.append(dest)
        a, b, ab = parse_amount(z["403-404"]), parse_amount(z["405-406"]), parse_amount(z["407-408"])
        c = parse_amount(z["411-412"]) or 0
        if a != d[0]:
            self.add_seg(rec, "4041", "41", z["403-404"])
        if b != d[1]:
            self.add_seg(rec, "4061", "41", z["405-406"])
        if ab is None or a is None or b is None or ab != a + b + c:
            self.add_seg(rec, "4081", "20", z["407-408"])
        if z["410"] != f"{mod97(d[3]):02d}":
            self.add_seg(rec, "4101", "20", z["410"])
        self.sum95[0] += a or 0
        self.sum95[1] += b or 0
        expected = d[2] if self.o.count_rule is CountRule.TAKTIK else d[2] + 2
        self.count95.append(expected)
        if self.o.check_counts and z["409"] != f"{expected:08d}":
            self.add_seg(rec, "4091", "20", z["409"])

    def rec96(self, rec: RawRecord) -> None:
        z = rec.zones()
        self.check_error_zones(rec, z)
        if self.seen96 or self.prev_kind != "95":
            self.add_seg(rec, "5001", "20", str(self.prev_kind))
        self.seen96 = True
        if self.federation is not None and z["501"] != self.federation + "99":
            self.add_seg(rec, "5011", "20", z["501"])
        a, b, ab = parse_amount(z["503-504"]), parse_amount(z["505-506"]), parse_amount(z["507-508"])
        c = parse_amount(z["511-512"]) or 0
        if a != self.sum80[0]:
            self.add_seg(rec, "5041", "41", z["503-504"])
        if b != self.sum80[1]:
            self.add_seg(rec, "5061", "41", z["505-506"])
        if ab is None or a is None or b is None or ab != a + b + c:
            self.add_seg(rec, "5081", "20", z["507-508"])
        if z["510"] != f"{mod97(self.codes):02d}":
            self.add_seg(rec, "5101", "20", z["510"])
        expected = self.numbered if self.o.count_rule is CountRule.TAKTIK else sum(self.count95) + 2
        if self.o.check_counts and z["509"] != f"{expected:08d}":
            self.add_seg(rec, "5091", "20", z["509"])

    last_raw: tuple[str, int, str] | None = None  # (kind, index, text) of the last record run

    def run(self, records: Iterable[tuple[str, int, str, int | None]], segment300: rl.Layout) -> None:
        """Check records ``(kind, index, text, Σ mod 97)`` in file order (segments as kinds 200/300)."""
        kind: str = ""
        index = -1
        text: str | None = None
        fast50, fast51, fast20, fast80 = self.fast50, self.fast51, self.fast20, self.fast80
        layouts = rl.RECORD_LAYOUTS
        try:
            for kind, index, text, remainder in records:
                if kind == "50":
                    if fast50(index, text, remainder):
                        continue
                elif kind == "51":
                    if fast51(index, text, remainder):
                        continue
                elif kind == "80" and fast80(index, text, remainder):
                    continue
                if index < 2:
                    rec = RawRecord(kind, index, text, rl.SEGMENT200 if index == 0 else segment300)
                else:
                    rec = RawRecord(kind, index, text, layouts.get(kind) or _LONG_LAYOUTS[kind])
                if kind == "20" and fast20(rec, remainder):
                    continue
                if kind == "200":
                    self.seg200(rec)
                elif kind == "300":
                    self.s300rec = rec
                    self.seg300(rec)
                else:
                    if kind == "20":
                        self.r20rec = rec
                    self.record(rec)
        finally:
            if text is not None:
                self.last_raw = (kind, index, text)

    def finish(self, last: RawRecord | None) -> None:
        if not self.after_90:
            self.add("900110", last, "1", "missing record 90")
        missing = [d for d in self.per_dest if d not in self.seen95]
        for d in missing:
            self.add("4011/10", last, "401", d, letter="B")
        if not self.seen96:
            self.add("5001/10", last, "500", "missing record 96", letter="B")


def validate(source: str | bytes | TextIO | BinaryIO, options: ValidationOptions | None = None) -> list[Finding]:
    """Run the insurer's local checks over a 920000 (text, bytes or stream); return every finding."""
    v = _Validator(options or ValidationOptions())
    reader: EfactReader | None = None
    try:
        reader = EfactReader(source, check_controls=False)  # the validator judges the controls itself
        if reader.is_response:  # an insurer's answer has other layouts: only the name can be judged
            raise EfactFormatError(f"message {reader.message_name!r} is not a 920000", location="S200 Z200")
        v.run(reader._iter_raw(sums=True), reader.segment300_layout)
    except EfactFormatError as e:
        last = _raw_record(reader.segment300_layout if reader else None, v.last_raw)
        if last is None and e.location == "S200 Z200":  # not a 920000 at all
            entry = describe("2001/22", "B")
            v.findings.append(Finding("2001/22", "B", 0, "200", "200", entry.messages, None, e.message))
            return v.findings
        v.findings.append(Finding("000010", "B", last.index + 1 if last else 0, "--", "", e.messages))
        return v.findings
    v.finish(_raw_record(reader.segment300_layout, v.last_raw))
    return v.findings


def _raw_record(segment300: rl.Layout | None, raw: tuple[str, int, str] | None) -> RawRecord | None:
    if segment300 is None or raw is None:
        return None
    kind, index, text = raw
    if index < 2:
        return RawRecord(kind, index, text, rl.SEGMENT200 if index == 0 else segment300)
    return RawRecord(kind, index, text, rl.RECORD_LAYOUTS.get(kind) or _LONG_LAYOUTS[kind])


class _WriteTap:
    """Validates the records an :class:`~.writer.EfactWriter` writes, as it writes them (no re-reading)."""

    def __init__(self, options: ValidationOptions) -> None:
        self.v = _Validator(options)

    def __call__(self, index: int, texts: list[str], remainders: list[int | None]) -> None:
        kinds = [t[:2] for t in texts]
        if index == 0:  # the segments, as the reader names them
            kinds[:2] = ["200", "300"]
        self.v.run(zip(kinds, range(index, index + len(texts)), texts, remainders, strict=True), rl.SEGMENT300)

    def findings(self) -> list[Finding]:
        """Every finding, once the writer is closed (the end-of-file checks run here)."""
        self.v.finish(_raw_record(rl.SEGMENT300, self.v.last_raw))
        return self.v.findings


def write_and_validate(header: SendingHeader, invoices: Iterable[Invoice], out: TextIO | BinaryIO,
                       options: ValidationOptions | None = None, *,
                       count_rule: CountRule = DEFAULT_COUNT_RULE) -> tuple[WriteSummary, list[Finding]]:
    """Write a sending and validate it in one pass: the findings :func:`validate` gives on the written file.

    Each record goes to the validator as it is written (same text, same checks), so the file is not
    read back, decoded and split again. Errors of the writer (a value that does not fit) propagate.
    """
    tap = _WriteTap(options or ValidationOptions())
    summary = write_invoices(header, invoices, out, count_rule=count_rule, tap=tap)
    return summary, tap.findings()


def assert_sendable(source: str | bytes, options: ValidationOptions | None = None) -> list[Finding]:
    """Raise :class:`EfactRejectedLocally` if the insurer would refuse the file; return the non-blocking findings."""
    findings = validate(source, options)
    if any(f.blocking for f in findings) or any(f.letter in ("F", "R") for f in findings):
        raise EfactRejectedLocally(findings)
    return findings
