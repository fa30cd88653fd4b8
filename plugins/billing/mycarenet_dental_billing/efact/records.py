"""Record layouts of the eFact flat files, as data (spec ``efact.md`` §2.3–§2.12, §3.2, §3.3, §3.5).

One definition serves the writer, the reader and the validator: every record type maps to an
ordered tuple of :class:`Zone` (1-based inclusive positions, length, type, label). Types:

* ``N`` numeric — right-aligned, zero-filled, digits only;
* ``A`` alphanumeric — left-aligned, blank-filled;
* ``S`` signed amount — an ``A`` zone holding ``+``/``-`` followed by digits.

A zone whose label is ``reserve`` must be all zeros (N) or blanks (A) when we write it.
Layouts are checked at import time to be contiguous and of the declared length, so a typo in a
position cannot go unnoticed. The hot paths use the precomputed ``slices``/``template`` and
whole-record regexes compiled once per layout (no per-zone regex at run time).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import attrs

RECORD_LENGTH = 350
RESPONSE_RECORD_LENGTH = 800
SEGMENT200_LENGTH = 67
SEGMENT300_LENGTH = 160
SEGMENT300_EXTENDED_LENGTH = 610

RESERVE = "reserve"


@attrs.frozen
class Zone:
    """One zone of a record: where it is, how long, and how it is typed."""

    name: str
    start: int  # 1-based, inclusive
    length: int
    kind: str  # "N", "A" or "S"
    label: str

    @property
    def end(self) -> int:
        """1-based inclusive end position."""
        return self.start + self.length - 1

    @property
    def reserved(self) -> bool:
        return self.label == RESERVE

    @property
    def blank(self) -> str:
        """The content of an empty zone: zeros for N, blanks for A/S."""
        return "0" * self.length if self.kind == "N" else " " * self.length


class Layout:
    """An ordered set of zones covering a record completely."""

    def __init__(self, key: str, length: int, zones: tuple[Zone, ...]) -> None:
        self.key = key
        self.length = length
        self.zones = zones
        self.by_name: dict[str, Zone] = {z.name: z for z in zones}
        if len(self.by_name) != len(zones):
            raise ValueError(f"layout {key}: duplicate zone names")
        pos = 1
        for z in zones:
            if z.start != pos or z.length <= 0 or z.kind not in ("N", "A", "S"):
                raise ValueError(f"layout {key}: zone {z.name} starts at {z.start}, expected {pos}")
            pos += z.length
        if pos - 1 != length:
            raise ValueError(f"layout {key}: zones cover {pos - 1} characters, expected {length}")
        self.slices: dict[str, slice] = {z.name: slice(z.start - 1, z.end) for z in zones}
        self.blank = "".join(z.blank for z in zones)
        # one regex for the whole record: digits in N zones, exact zeros/blanks in reserved zones,
        # sign + digits in S zones, printable ASCII in A zones.
        # Adjacent zones of the same class are merged into one repeat ([0-9]{87} rather than 20
        # short ones): the same language, ~20 % faster to match.
        runs: list[list] = []  # [character class, count]
        for z in zones:
            if z.reserved:
                items = [("0" if z.kind == "N" else " ", z.length)]
            elif z.kind == "N":
                items = [("[0-9]", z.length)]
            elif z.kind == "S":
                items = [("[+-]", 1), ("[0-9]", z.length - 1)]
            else:
                items = [("[ -~]", z.length)]
            for cls, count in items:
                if runs and runs[-1][0] == cls:
                    runs[-1][1] += count
                else:
                    runs.append([cls, count])
        self.strict_regex = re.compile("".join(cls if n == 1 else f"{cls}{{{n}}}" for cls, n in runs))

    def __repr__(self) -> str:
        return f"Layout({self.key!r}, {self.length}, {len(self.zones)} zones)"

    def zone(self, name: str) -> Zone:
        return self.by_name[name]

    def parse(self, record: str) -> dict[str, str]:
        """Every zone's raw text, by zone name."""
        return {name: record[s] for name, s in self.slices.items()}

    def picker(self, names: tuple[str, ...]) -> Callable[[str], dict[str, str]]:
        """A fast ``parse`` restricted to some zones (for hot paths that need only a few)."""
        items = tuple((n, self.slices[n]) for n in names)

        def pick(record: str) -> dict[str, str]:
            return {n: record[s] for n, s in items}

        return pick

    def unparse(self, zones: Mapping[str, str]) -> str:
        """Inverse of :meth:`parse`: the raw zone texts joined verbatim (lossless, no typing checks)."""
        out = []
        for z in self.zones:
            text = zones[z.name]
            if len(text) != z.length:
                raise ValueError(f"layout {self.key}: zone {z.name} must be {z.length} characters, got {len(text)}")
            out.append(text)
        return "".join(out)

    def format(self, values: Mapping[str, object]) -> str:
        """Build a record from zone values (ints or strings); missing zones get their blank form.

        Raises ``ValueError`` naming the zone when a value does not fit. This is the general
        (slower) path used for responses and re-serialisation; the 920000 writer uses
        precompiled templates.
        """
        unknown = set(values) - self.by_name.keys()
        if unknown:
            raise ValueError(f"layout {self.key}: unknown zones {sorted(unknown)}")
        out = []
        for z in self.zones:
            v = values.get(z.name)
            out.append(z.blank if v is None else format_zone(z, v))
        return "".join(out)


def format_zone(zone: Zone, value: object) -> str:
    """Render one value into one zone, refusing anything that would not fit exactly."""
    n = zone.length
    if zone.kind == "S" and isinstance(value, int):
        text = f"{'-' if value < 0 else '+'}{abs(value):0{n - 1}d}"
    elif zone.kind == "N":
        if isinstance(value, int):
            if value < 0:
                raise ValueError(f"zone {zone.name}: negative value {value} in a numeric zone")
            text = f"{value:0{n}d}"
        else:
            text = str(value)
            if not text.isdigit() or not text.isascii():
                raise ValueError(f"zone {zone.name}: {text!r} is not numeric")
            text = text.rjust(n, "0")
    else:
        text = str(value).ljust(n)
        if not text.isascii():
            raise ValueError(f"zone {zone.name}: {text!r} contains non-ASCII characters")
    if len(text) != n:
        raise ValueError(f"zone {zone.name}: {value!r} does not fit in {n} characters")
    return text


def _layout(key: str, length: int, rows: list[tuple[str, int, int, str, str]]) -> Layout:
    return Layout(key, length, tuple(Zone(n, s, e - s + 1, k, label) for n, s, e, k, label in rows))


R = RESERVE

# --- segment 200 (message header, 67) — §2.3 -------------------------------------------------
SEGMENT200 = _layout("200", SEGMENT200_LENGTH, [
    ("200", 1, 6, "N", "message name"), ("2001", 7, 8, "N", "error"),
    ("201", 9, 10, "N", "format version"), ("2011", 11, 12, "N", "error"),
    ("202", 13, 14, "N", "message type (12 production, 92 test)"), ("2021", 15, 16, "N", "error"),
    ("203", 17, 18, "N", "message status"), ("2031", 19, 20, "N", "error"),
    ("204", 21, 34, "N", "provider message reference"), ("2041", 35, 36, "N", "error"),
    ("205", 37, 50, "N", "insurer message reference"), ("2051", 51, 52, "N", "error"),
    ("206", 53, 67, "N", R),
])

_S300_COMMON = [
    ("300", 1, 6, "N", "invoicing year+month YYYYMM"), ("3001", 7, 8, "N", "error"),
    ("301", 9, 11, "N", "sending number"), ("3011", 12, 13, "N", "error"),
    ("302", 14, 21, "N", "file creation date"), ("3021", 22, 23, "N", "error"),
    ("303", 24, 36, "A", "file reference"), ("3031", 37, 38, "N", "error"),
    ("304", 39, 45, "N", "instructions version"), ("3041", 46, 47, "N", "error"),
    ("305", 48, 92, "A", "contact last name"), ("3051", 93, 94, "N", "error"),
    ("306", 95, 118, "A", "contact first name"), ("3061", 119, 120, "N", "error"),
    ("307", 121, 130, "N", "contact phone"), ("3071", 131, 132, "N", "error"),
    ("308", 133, 134, "N", "invoice type (03 ambulatory)"), ("3081", 135, 136, "N", "error"),
    ("309", 137, 138, "N", "invoicing mode"), ("3091", 139, 140, "N", "error"),
]
# --- segment 300 (file header, 160) — §2.4 ---------------------------------------------------
SEGMENT300 = _layout("300", SEGMENT300_LENGTH, [*_S300_COMMON, ("310", 141, 160, "N", R)])
# --- extended segment 300 (610) of 920098/920099/920900 — §3.2 --------------------------------
SEGMENT300_EXTENDED = _layout("300x", SEGMENT300_EXTENDED_LENGTH, [
    *_S300_COMMON,
    ("310", 141, 145, "N", "error percentage (2 implied decimals)"), ("3101", 146, 147, "N", "error"),
    ("311", 148, 149, "N", "refusal type (01 blocking, 02 > 5 % errors)"), ("3111", 150, 151, "N", "error"),
    ("312", 152, 610, "A", R),
])
# --- short segment 300 of a 931000 acknowledgement (160) — §3.1 -------------------------------
SEGMENT300_STUB = _layout("300s", SEGMENT300_LENGTH, [
    ("300", 1, 6, "A", "name of the message acknowledged"), ("3001", 7, 8, "N", "error"),
    ("301", 9, 160, "A", R),
])

# --- record 10 (sending header) — §2.5 -------------------------------------------------------
RECORD10 = _layout("10", RECORD_LENGTH, [
    ("1", 1, 2, "N", "record type"), ("2", 3, 8, "N", "sequence number"),
    ("3", 9, 9, "N", "code indice (number of accounts)"), ("4", 10, 16, "N", "file version"),
    ("5-6a", 17, 28, "N", "old account A"), ("6b", 29, 32, "N", R),
    ("7", 33, 35, "N", "sending number"), ("8a", 36, 47, "N", "old account B"), ("8b", 48, 48, "N", R),
    ("9", 49, 49, "N", "paper invoice suppression"), ("10", 50, 50, "N", "settlement-file code"),
    ("11", 51, 51, "N", R), ("12", 52, 52, "N", R),
    ("13", 53, 55, "N", "billing content"), ("14", 56, 67, "N", "third-party payer number"),
    ("15", 68, 79, "N", "CIN accreditation number"), ("16", 80, 80, "N", R), ("17", 81, 84, "N", R),
    # zone 18 = profession code of the invoicing third party ([IC]/[PB]; reserve in [TK] 2023): refused
    # as 000 from 2024-04-01 (B101810). UNSURE: value table; we write the NIHII qualification code.
    ("18", 85, 87, "N", "profession code of the invoicing third party"),
    ("19", 88, 99, "N", R), ("20", 100, 106, "N", R), ("21", 107, 107, "N", R),
    ("22", 108, 112, "N", "invoicing year"), ("23", 113, 114, "N", "invoicing month"),
    ("24", 115, 119, "N", R), ("25-26", 120, 127, "N", "file creation date"),
    ("27", 128, 137, "N", "enterprise number (BCE/KBO)"), ("28", 138, 162, "A", "provider file reference"),
    ("29", 163, 164, "N", R), ("30", 165, 166, "N", R),
    ("31-34", 167, 177, "A", "BIC account A"), ("35", 178, 178, "N", R),
    ("36-41", 179, 212, "A", "IBAN account A"), ("42", 213, 218, "N", R),
    ("43a", 219, 229, "A", "BIC account B"), ("43b", 230, 230, "N", R), ("44", 231, 234, "N", R),
    ("45", 235, 260, "N", R), ("46", 261, 261, "N", R), ("47", 262, 269, "N", R), ("48", 270, 270, "N", R),
    ("49-52", 271, 304, "A", "IBAN account B"),
    ("53", 305, 312, "N", R), ("54", 313, 320, "N", R), ("55", 321, 328, "N", R), ("56", 329, 332, "N", R),
    ("57", 333, 336, "N", R), ("58", 337, 340, "N", R), ("59", 341, 346, "N", R),
    ("98", 347, 348, "N", R), ("99", 349, 350, "N", "record control digits"),
])

# --- record 20 (invoice header) — §2.6 -------------------------------------------------------
RECORD20 = _layout("20", RECORD_LENGTH, [
    ("1", 1, 2, "N", "record type"), ("2", 3, 8, "N", "sequence number"),
    ("3", 9, 9, "N", "third-party-payer authorisation"), ("4", 10, 16, "N", "admission hour"),
    ("5", 17, 24, "N", "admission date"), ("6a", 25, 28, "N", "discharge date part 1"),
    ("6b", 29, 32, "N", "discharge date part 2"), ("7", 33, 35, "N", "mutuality of affiliation"),
    ("8a-8b", 36, 48, "N", "beneficiary identification"), ("9", 49, 49, "N", "sex"),
    ("10", 50, 50, "N", "invoice type"), ("11", 51, 51, "N", "invoicing type"), ("12", 52, 52, "N", R),
    ("13", 53, 55, "N", "service (721bis)"), ("14", 56, 67, "N", "invoicing establishment/provider"),
    ("15", 68, 79, "N", "stay establishment"), ("16", 80, 80, "N", "prescription-period lifting code"),
    ("17", 81, 84, "N", "cause of treatment"), ("18", 85, 87, "N", "destination mutuality"),
    ("19", 88, 99, "N", "admission number"), ("20-21", 100, 107, "N", "date of treatment agreement"),
    ("22", 108, 112, "N", "discharge hour"), ("23", 113, 114, "N", R),
    ("24-25", 115, 126, "N", "individual invoice number"), ("26", 127, 127, "N", "social franchise"),
    ("27", 128, 137, "N", "CT1/CT2"), ("28", 138, 162, "A", "provider invoice reference"),
    ("29-31", 163, 174, "N", "previous invoice number"), ("32", 175, 175, "N", "beneficiary identification flag"),
    ("33", 176, 176, "N", R), ("34-36", 177, 179, "N", "previous sending number"),
    ("37", 180, 182, "N", "mutuality of previous invoicing"),
    ("38-39", 183, 204, "A", "mutuality reference account A"), ("40", 205, 206, "N", R),
    ("41", 207, 212, "N", "year+month of previous invoicing"),
    ("42-45", 213, 260, "N", "network/SIS-card reference data"), ("46", 261, 261, "N", R),
    ("47", 262, 269, "N", "invoice date"), ("48", 270, 270, "N", R),
    ("49-51", 271, 292, "A", "mutuality reference account B"), ("52", 293, 304, "N", R),
    ("53", 305, 312, "N", "insurability start date"), ("54", 313, 320, "N", "insurability end date"),
    ("55", 321, 328, "N", "date of information communication"), ("56", 329, 332, "N", "MAF current year"),
    ("57", 333, 336, "N", "MAF year-1"), ("58", 337, 340, "N", "MAF year-2"), ("59", 341, 346, "N", R),
    ("98", 347, 348, "N", R), ("99", 349, 350, "N", "record control digits"),
])

# --- record 50 (service line) — §2.7 ---------------------------------------------------------
RECORD50 = _layout("50", RECORD_LENGTH, [
    ("1", 1, 2, "N", "record type"), ("2", 3, 8, "N", "sequence number"),
    ("3", 9, 9, "N", "service norm"), ("4", 10, 16, "N", "nomenclature code"),
    ("5", 17, 24, "N", "date of first service"), ("6a-6b", 25, 32, "N", "date of last service"),
    ("7", 33, 35, "N", "mutuality of affiliation"), ("8a-8b", 36, 48, "N", "beneficiary identification"),
    ("9", 49, 49, "N", "sex"), ("10", 50, 50, "N", "delivery flag"),
    ("11", 51, 51, "N", "financial account (0 A, 1 B)"), ("12", 52, 52, "N", "night/weekend/holiday code"),
    ("13", 53, 55, "N", "service code"), ("14", 56, 67, "N", "place of service"),
    ("15", 68, 79, "N", "care provider (performing dentist)"), ("16", 80, 80, "N", "provider norm"),
    ("17-18", 81, 87, "N", "related service"), ("19", 88, 99, "S", "insurance intervention"),
    ("20-21", 100, 107, "N", "prescription date"), ("22", 108, 112, "S", "number of units"),
    ("23", 113, 114, "N", "derogation"), ("24-25", 115, 126, "N", "prescriber"),
    ("26", 127, 127, "N", "prescriber norm"), ("27", 128, 137, "S", "personal intervention"),
    ("28", 138, 162, "A", "provider line reference"), ("29", 163, 164, "N", "treated tooth (FDI)"),
    ("30-31", 165, 174, "S", "supplement"),
    # UNSURE: zone 32 is numeric in [TK] 2023 and a character ("N"/"0") in [IC] 2026 — typed A.
    ("32", 175, 175, "A", "third-party-payer exception code"),
    ("33", 176, 176, "N", "billing code personal intervention/supplement"),
    ("34", 177, 177, "N", "treated limb/side"), ("35", 178, 178, "N", "conventioned provider"),
    ("36-37", 179, 182, "N", "service time HHMM"), ("38", 183, 194, "N", "blood administrator"),
    ("39-40", 195, 206, "N", "administration certificate"), ("41-42", 207, 218, "N", "delivery voucher"),
    ("43a-43b", 219, 230, "N", "implant code"), ("44-45", 231, 260, "A", "product label"),
    ("46", 261, 261, "N", "ceiling norm"), ("47", 262, 269, "A", "base value of the service"),
    ("48", 270, 270, "N", "transplantation"), ("49", 271, 282, "N", "auxiliary provider / trainee"),
    ("50", 283, 286, "N", R), ("51", 287, 292, "N", "hospital site"),
    ("52", 293, 304, "N", "care-basin association"), ("53-54a", 305, 315, "N", "ride number"),
    ("54b", 316, 320, "N", R), ("55-56", 321, 332, "N", "implant notification code"),
    ("57-59", 333, 346, "N", "Qermid registration code"), ("98", 347, 348, "N", "VAT flag"),
    ("99", 349, 350, "N", "record control digits"),
])

# --- record 51 (tariff / payment commitment) — §2.8 -----------------------------------------
RECORD51 = _layout("51", RECORD_LENGTH, [
    ("1", 1, 2, "N", "record type"), ("2", 3, 8, "N", "sequence number"), ("3", 9, 9, "N", R),
    ("4", 10, 16, "N", "nomenclature code"), ("5", 17, 24, "N", "service date"),
    ("6a", 25, 28, "N", R), ("6b", 29, 32, "N", R), ("7", 33, 35, "N", R),
    ("8a-8b", 36, 48, "N", "beneficiary identification"), ("9", 49, 49, "N", R), ("10", 50, 50, "N", R),
    ("11", 51, 51, "N", R), ("12", 52, 52, "N", R), ("13", 53, 55, "N", R), ("14", 56, 67, "N", R),
    ("15", 68, 79, "N", "care provider"), ("16", 80, 80, "N", R),
    # zones 17 (4) + 18 (3): the dentist's related service (CD-NIHDI-RELATEDSERVICE), the same 7 digits
    # as record 50 zones 17-18 ([IC] writes the 6-digit code's first 3 digits in 17, its last 3 in 18);
    # reserve (zeros) in [TK] and for other professions.
    ("17-18", 81, 87, "N", "related service (dentists)"),
    ("19", 88, 99, "S", "insurance intervention"), ("20", 100, 106, "N", R), ("21", 107, 107, "N", R),
    ("22", 108, 112, "N", R), ("23", 113, 114, "N", R), ("24", 115, 119, "N", R), ("25", 120, 126, "N", R),
    ("26", 127, 127, "N", R), ("27", 128, 137, "N", "CT1/CT2"), ("28", 138, 162, "N", R),
    ("29", 163, 164, "N", R), ("30", 165, 166, "N", R), ("31", 167, 174, "N", R), ("32", 175, 175, "N", R),
    ("33", 176, 176, "N", R), ("34", 177, 177, "N", R), ("35", 178, 178, "N", R), ("36", 179, 179, "N", R),
    ("37", 180, 182, "N", R), ("38", 183, 194, "N", R), ("39", 195, 204, "N", R), ("40", 205, 206, "N", R),
    ("41", 207, 212, "N", R), ("42-45", 213, 260, "A", "payment-commitment number"),
    ("46", 261, 261, "N", R), ("47", 262, 269, "N", R), ("48", 270, 270, "N", R), ("49", 271, 282, "N", R),
    ("50", 283, 286, "N", R), ("51", 287, 292, "N", R), ("52", 293, 304, "N", R), ("53", 305, 312, "N", R),
    ("54a", 313, 315, "N", R), ("54b", 316, 320, "N", R),
    ("55", 321, 328, "N", "date the commitment was communicated"),
    ("56", 329, 332, "N", R), ("57", 333, 336, "N", R), ("58", 337, 340, "N", R), ("59", 341, 346, "N", R),
    ("98", 347, 348, "N", R), ("99", 349, 350, "N", "record control digits"),
])

# --- record 52 (identity-document reading), newer layout — §2.9 -----------------------------
RECORD52 = _layout("52", RECORD_LENGTH, [
    ("1", 1, 2, "N", "record type"), ("2", 3, 8, "N", "sequence number"),
    ("3", 9, 9, "N", "reason for manual entry"), ("4", 10, 16, "N", "nomenclature code"),
    ("5", 17, 24, "N", "service date"), ("6a-6b", 25, 32, "N", "date of reading"),
    ("7", 33, 35, "N", R), ("8a-8b", 36, 48, "N", "patient NISS"),
    ("9", 49, 49, "A", "input type"), ("10", 50, 50, "A", "support type"),
    ("11", 51, 51, "N", "reason for using a vignette"), ("12-13", 52, 55, "N", "reading time HHMM"),
    ("14", 56, 67, "N", R), ("15", 68, 79, "N", "provider who read the document"),
    ("16", 80, 94, "A", "serial number of the support"), ("17", 95, 119, "N", "justification document number"),
    ("18", 120, 131, "N", "device number"), ("19", 132, 151, "N", "agreement number"),
    ("reserve", 152, 348, "N", R), ("99", 349, 350, "N", "record control digits"),
])

# --- record 80 (invoice trailer) — §2.10 -----------------------------------------------------
RECORD80 = _layout("80", RECORD_LENGTH, [
    ("1", 1, 2, "N", "record type"), ("2", 3, 8, "N", "sequence number"), ("3", 9, 9, "N", R),
    ("4", 10, 16, "N", "admission hour"), ("5", 17, 24, "N", "admission date"),
    ("6a-6b", 25, 32, "N", "discharge date"), ("7", 33, 35, "N", "mutuality of affiliation"),
    ("8a-8b", 36, 48, "N", "beneficiary identification"), ("9", 49, 49, "N", "sex"),
    ("10", 50, 50, "N", "invoice type"), ("11", 51, 51, "N", R), ("12", 52, 52, "N", R),
    ("13", 53, 55, "N", "service 721bis"), ("14", 56, 67, "N", "invoicing establishment"),
    ("15", 68, 79, "S", "total account B"), ("16", 80, 80, "N", R),
    ("17", 81, 84, "N", "cause of treatment"), ("18", 85, 87, "N", "destination mutuality"),
    ("19", 88, 99, "S", "total account A"), ("20-21", 100, 107, "N", "invoice date"),
    ("22", 108, 112, "N", "discharge hour"), ("23", 113, 114, "N", R),
    ("24-25", 115, 126, "N", "individual invoice number"), ("26", 127, 127, "N", R),
    ("27", 128, 137, "S", "total personal intervention"), ("28", 138, 162, "A", "provider invoice reference"),
    ("29", 163, 164, "N", R), ("30-31", 165, 174, "S", "total supplements"),
    ("32", 175, 175, "N", "beneficiary identification flag"), ("33", 176, 176, "N", R),
    ("34", 177, 177, "N", R), ("35", 178, 178, "N", R), ("36", 179, 179, "N", R), ("37", 180, 182, "N", R),
    ("38", 183, 194, "S", "advance on account A"), ("39", 195, 204, "N", R), ("40", 205, 206, "N", R),
    ("41", 207, 212, "N", R), ("42", 213, 218, "N", R), ("43a", 219, 229, "N", R), ("43b", 230, 230, "N", R),
    ("44", 231, 234, "N", R), ("45", 235, 260, "N", R), ("46", 261, 261, "N", R), ("47", 262, 269, "N", R),
    ("48", 270, 270, "N", R), ("49", 271, 282, "N", R), ("50", 283, 286, "N", R), ("51", 287, 292, "N", R),
    ("52", 293, 304, "N", R), ("53", 305, 312, "N", R), ("54a-54b", 313, 320, "N", R),
    ("55", 321, 328, "N", R), ("56", 329, 332, "N", R), ("57", 333, 336, "N", R), ("58", 337, 340, "N", R),
    ("59", 341, 346, "N", R), ("98", 347, 348, "N", "invoice control digits"),
    ("99", 349, 350, "N", "record control digits"),
])

# --- record 90 (sending trailer) — §2.11 -----------------------------------------------------
RECORD90 = _layout("90", RECORD_LENGTH, [
    ("1", 1, 2, "N", "record type"), ("2", 3, 8, "N", "sequence number"), ("3", 9, 9, "N", R),
    ("4", 10, 16, "N", R), ("5-6a", 17, 28, "N", "old account A"), ("6b", 29, 32, "N", R),
    ("7", 33, 35, "N", "sending number"), ("8a", 36, 47, "N", "old account B"), ("8b", 48, 48, "N", R),
    ("9", 49, 49, "N", R), ("10", 50, 50, "N", R), ("11", 51, 51, "N", R), ("12", 52, 52, "N", R),
    ("13", 53, 55, "N", R), ("14", 56, 67, "N", "third-party payer number"),
    ("15", 68, 79, "S", "grand total account B"), ("16", 80, 80, "N", R), ("17", 81, 84, "N", R),
    ("18", 85, 87, "N", R), ("19", 88, 99, "S", "grand total account A"), ("20", 100, 106, "N", R),
    ("21", 107, 107, "N", R), ("22", 108, 112, "N", "invoicing year"), ("23", 113, 114, "N", "invoicing month"),
    ("24", 115, 119, "N", R), ("25", 120, 126, "N", R), ("26", 127, 127, "N", R),
    ("27", 128, 137, "N", "enterprise number (BCE/KBO)"), ("28", 138, 162, "A", "reference"),
    ("29", 163, 164, "N", R), ("30", 165, 166, "N", R), ("31-34", 167, 177, "A", "BIC account A"),
    ("35", 178, 178, "N", R), ("36-41", 179, 212, "A", "IBAN account A"), ("42", 213, 218, "N", R),
    ("43a", 219, 229, "A", "BIC account B"), ("43b", 230, 230, "N", R), ("44", 231, 234, "N", R),
    ("45", 235, 260, "N", R), ("46", 261, 261, "N", R), ("47", 262, 269, "N", R), ("48", 270, 270, "N", R),
    ("49-52", 271, 304, "A", "IBAN account B"), ("53", 305, 312, "N", R), ("54a-54b", 313, 320, "N", R),
    ("55", 321, 328, "N", R), ("56", 329, 332, "N", R), ("57", 333, 336, "N", R), ("58", 337, 340, "N", R),
    ("59", 341, 346, "N", R), ("98", 347, 348, "N", "sending control digits"),
    ("99", 349, 350, "N", "record control digits"),
])

# --- record 95 (per destination mutuality) and 96 (per file) — §2.12 ------------------------
RECORD95 = _layout("95", RECORD_LENGTH, [
    ("400", 1, 2, "N", "record type"), ("4001", 3, 4, "N", "error"),
    ("401", 5, 7, "N", "destination mutuality"), ("4011", 8, 9, "N", "error"),
    ("402", 10, 21, "N", "summary invoice number"), ("4021", 22, 23, "N", "error"),
    ("403-404", 24, 35, "S", "amount requested account A"), ("4041", 36, 37, "N", "error"),
    ("405-406", 38, 49, "S", "amount requested account B"), ("4061", 50, 51, "N", "error"),
    ("407-408", 52, 63, "S", "amount requested A+B"), ("4081", 64, 65, "N", "error"),
    ("409", 66, 73, "N", "number of records"), ("4091", 74, 75, "N", "error"),
    ("410", 76, 77, "N", "control number of the mutuality"), ("4101", 78, 79, "N", "error"),
    ("411-412", 80, 91, "S", "amount account C"), ("4121", 92, 93, "N", "error"),
    ("413", 94, 350, "A", R),
])
RECORD96 = _layout("96", RECORD_LENGTH, [
    ("500", 1, 2, "N", "record type"), ("5001", 3, 4, "N", "error"),
    ("501", 5, 7, "N", "federation code + 99"), ("5011", 8, 9, "N", "error"),
    ("502", 10, 21, "N", R), ("5021", 22, 23, "N", "error"),
    ("503-504", 24, 35, "S", "total account A"), ("5041", 36, 37, "N", "error"),
    ("505-506", 38, 49, "S", "total account B"), ("5061", 50, 51, "N", "error"),
    ("507-508", 52, 63, "S", "total A+B"), ("5081", 64, 65, "N", "error"),
    ("509", 66, 73, "N", "number of records"), ("5091", 74, 75, "N", "error"),
    ("510", 76, 77, "N", "control number of the sending"), ("5101", 78, 79, "N", "error"),
    ("511-512", 80, 91, "S", "amount account C"), ("5121", 92, 93, "N", "error"),
    ("513", 94, 350, "A", R),
])

# --- records 91 (per mutuality) and 92 (per file) of a 920900 settlement, 800 — §3.5 --------
_SETTLEMENT_AMOUNTS = [
    # (zone name offset, start) of the accepted/refused amounts after zone 410
    ("411-412", 80, "accepted account A"), ("413-414", 94, "refused account A"),
    ("415-416", 108, "accepted account B"), ("417-418", 122, "refused account B"),
    ("419-420", 136, "total accepted A+B"), ("421-422", 150, "total refused A+B"),
]


def _settlement_layout(key: str, first: int, total: bool) -> Layout:
    def n(offset: int) -> str:
        return str(first + offset)

    rows: list[tuple[str, int, int, str, str]] = [
        (n(0), 1, 2, "N", "record type"), (n(0) + "1", 3, 4, "N", "error"),
        (n(1), 5, 7, "N", "federation code + 99" if total else "mutuality"), (n(1) + "1", 8, 9, "N", "error"),
        (n(2), 10, 21, "N", RESERVE if total else "summary invoice number"), (n(2) + "1", 22, 23, "N", "error"),
        (f"{n(3)}-{n(4)}", 24, 35, "S", "requested account A"), (n(4) + "1", 36, 37, "N", "error"),
        (f"{n(5)}-{n(6)}", 38, 49, "S", "requested account B"), (n(6) + "1", 50, 51, "N", "error"),
        (f"{n(7)}-{n(8)}", 52, 63, "S", "requested A+B"), (n(8) + "1", 64, 65, "N", "error"),
        (n(9), 66, 73, "N", "number of records"), (n(9) + "1", 74, 75, "N", "error"),
        (n(10), 76, 77, "N", "control number"), (n(10) + "1", 78, 79, "N", "error"),
    ]
    for i, (_, start, label) in enumerate(_SETTLEMENT_AMOUNTS):
        a, b = first + 11 + 2 * i, first + 12 + 2 * i
        rows.append((f"{a}-{b}", start, start + 11, "S", label))
        rows.append((f"{b}1", start + 12, start + 13, "N", "error"))
    if total:
        rows.append((n(23), 164, 800, "A", RESERVE))
    else:
        rows += [
            (n(23), 164, 185, "A", "payment reference account A"), (n(23) + "1", 186, 187, "N", "error"),
            (n(24), 188, 209, "A", "payment reference account B"), (n(24) + "1", 210, 211, "N", "error"),
            # UNSURE: [PB] reads account C amounts here; [TK] keeps it reserve.
            (n(25), 212, 800, "A", RESERVE),
        ]
    return _layout(key, RESPONSE_RECORD_LENGTH, rows)


RECORD91 = _settlement_layout("91", 400, total=False)
RECORD92 = _settlement_layout("92", 500, total=True)

# --- 450-character response tail of echoed records (positions 351–800) — §3.3 ---------------
_TAIL = [
    ("100", 351, 353, "N", "sending identification"), ("101", 354, 361, "N", "creation date"),
    ("102", 362, 367, "N", "invoiced year+month (ET50/51)"), ("103", 368, 370, "N", "mutuality (ET50/51)"),
    ("104", 371, 382, "N", "UNSURE"), ("105", 383, 394, "N", "UNSURE"), ("106", 395, 406, "N", "UNSURE"),
    ("107", 407, 409, "N", "UNSURE"), ("108", 410, 412, "N", "UNSURE"),
    ("109", 413, 434, "A", "UNSURE (payment reference A?)"), ("110", 435, 456, "A", "UNSURE (payment reference B?)"),
    ("111a", 457, 457, "A", "rejection letter 1"), ("111b", 458, 463, "A", "rejection code 1"),
    ("112a", 464, 464, "A", "rejection letter 2"), ("112b", 465, 470, "A", "rejection code 2"),
    ("113a", 471, 471, "A", "rejection letter 3"), ("113b", 472, 477, "A", "rejection code 3"),
    ("114", 478, 489, "S", "accepted amount"), ("115", 490, 501, "S", "UNSURE amount"),
    ("116", 502, 513, "S", "UNSURE amount"), ("117", 514, 520, "N", "UNSURE"), ("118", 521, 521, "N", "UNSURE"),
    ("119", 522, 533, "S", "insurer result"), ("149", 534, 733, "A", "comment"),
    ("150", 734, 794, "A", RESERVE), ("151", 795, 800, "N", "index"),
]
RESPONSE_TAIL = Layout(
    "tail", RESPONSE_RECORD_LENGTH - RECORD_LENGTH,
    tuple(Zone(n, s - RECORD_LENGTH, e - s + 1, k, label) for n, s, e, k, label in _TAIL),
)

#: The 350-character records of a 920000, by record type.
RECORD_LAYOUTS: dict[str, Layout] = {
    "10": RECORD10, "20": RECORD20, "50": RECORD50, "51": RECORD51, "52": RECORD52,
    "80": RECORD80, "90": RECORD90, "95": RECORD95, "96": RECORD96,
}
#: Records that carry the record control digits in zone 99 (positions 349–350).
CONTROLLED_TYPES = frozenset({"10", "20", "50", "51", "52", "80", "90"})
#: Records that belong to the numbered sequence (zone 2).
SEQUENCED_TYPES = CONTROLLED_TYPES

del R
