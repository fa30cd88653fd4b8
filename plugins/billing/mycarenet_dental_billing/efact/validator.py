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
from collections.abc import Callable, Iterable
from typing import BinaryIO, TextIO

import attrs
from mycarenet_dental.errors import Messages, UsageError

from . import records as rl
from .catalogue import describe
from .controls import CIN_TEST_FILE_OFFSET, ChecksumMode, control_offset, value_sum
from .model import (
    PROFESSION_CODE_REQUIRED_FROM,
    Invoice,
    SendingHeader,
)
from .reader import _LONG_LAYOUTS, EfactFormatError, EfactReader, RawRecord
from .validator_heads import _HeadChecks
from .validator_lines import _LineChecks
from .validator_zones import (
    _CONTROL_TEXT,
    _PICK20,
    _PREDECESSORS,
    _date,
    _zone_number,
)
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


class _Validator(_HeadChecks, _LineChecks):
    """One pass over a sending: state, reporting and dispatch; the record checks are in the bases."""

    def __init__(self, opts: ValidationOptions, sink: Callable[[Finding], object] | None = None) -> None:
        self.o = opts
        self.today = opts.today or dt.date.today()
        self.findings: list[Finding] = []
        self.report = sink or self.findings.append  # a sink streams them: memory stays flat whatever their number
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
        self.report(Finding(code, entry.letter or "B", idx, kind, zone, entry.messages, seq, value))

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

    s300rec: RawRecord | None = None

    r20rec: RawRecord | None = None

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
    found: list[Finding] = []
    validate_into(source, found.append, options)
    return found


def validate_into(source: str | bytes | TextIO | BinaryIO, sink: Callable[[Finding], object],
                  options: ValidationOptions | None = None) -> None:
    """:func:`validate`, handing each finding to ``sink`` as it is found, in the same order: a file with a
    problem on every line is checked in flat memory (``billing validate`` prints them as they come)."""
    v = _Validator(options or ValidationOptions(), sink)
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
            sink(Finding("2001/22", "B", 0, "200", "200", entry.messages, None, e.message))
            return
        sink(Finding("000010", "B", last.index + 1 if last else 0, "--", "", e.messages))
        return
    v.finish(_raw_record(reader.segment300_layout, v.last_raw))


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
