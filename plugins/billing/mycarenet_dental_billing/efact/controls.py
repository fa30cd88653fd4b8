"""Control digits, checksums and totals of the 920000 file, exactly as ``efact.md`` §2.13 says.

* Record control (zone 99 of records 10/20/50/51/52/80/90): sum of the character values of
  positions 1–348 — digit → its value, blank → 10, letter A–Z (either case) → 11…36, any other
  character → 37 — modulo 97, written ``97`` when the remainder is 0.
* Invoice (ET80 Z98), sending (ET90 Z98), mutuality (ET95 Z410) and file (ET96 Z510) controls:
  sum of the 7-digit nomenclature codes (as integers) of every record carrying one (50, 51, 52),
  modulo 97, ``97`` when 0.

The CIN acceptance files carry record controls that are exactly +10 off; insurers alter echoed
records by other amounts. :func:`control_offset` tells by how much a stored value differs so that
the reader can report it as a warning instead of failing.
"""

from __future__ import annotations

import enum
import string
import zlib

# translation table: every byte → its checksum value (as a byte), so that the sum over a record
# is ``sum(record.translate(_VALUES))`` — one C-level pass, no Python loop per character.
_table = bytearray([37]) * 256
for _i, _c in enumerate(string.digits):
    _table[ord(_c)] = _i
_table[ord(" ")] = 10
for _i, _c in enumerate(string.ascii_uppercase):
    _table[ord(_c)] = 11 + _i
    _table[ord(_c.lower())] = 11 + _i
_VALUES = bytes(_table)
del _table, _i, _c

CIN_TEST_FILE_OFFSET = 10
"""The constant by which the CIN-generated acceptance files are off (the value of one blank)."""


def char_sum(data: str | bytes) -> int:
    """Sum of the checksum values of ``data`` (str must be ASCII)."""
    raw = data.encode("latin-1", "replace") if isinstance(data, str) else bytes(data)
    return value_sum(raw)


def value_sum(raw: bytes) -> int:
    """Σ checksum values of ``raw``: the Adler-32 "A" half is 1 + Σ bytes (mod 65521), computed in C.

    Exact as long as the sum stays below 65521, i.e. for up to 1770 characters (a record is 348).
    """
    if len(raw) > 1770:
        return sum(raw.translate(_VALUES))
    return (zlib.adler32(raw.translate(_VALUES)) & 0xFFFF) - 1


def mod97(value: int) -> int:
    """``value mod 97``, with 97 instead of 0 (the convention of every eFact control)."""
    r = value % 97
    return r or 97


def record_control(record: str | bytes) -> int:
    """Control digits of a record: over positions 1–348 (anything beyond is ignored)."""
    return mod97(char_sum(record[:348]))


def record_control_text(record: str) -> str:
    """The two characters to put in positions 349–350 of ``record`` (≥ 348 characters)."""
    return f"{mod97(char_sum(record[:348])):02d}"


def control_offset(stored: int, computed: int) -> int:
    """How far a stored control is from the computed one, in 0…96 (0 = equal, mod 97)."""
    return (stored - computed) % 97


class ChecksumMode(enum.Enum):
    """How strictly received record controls are judged (configurable, ``efact.md`` §5.2 step 4)."""

    STRICT = "strict"  # must equal the formula
    CIN = "cin"  # must equal the formula + 10 (CIN acceptance files)
    TOLERANT = "tolerant"  # any offset accepted, reported as a warning


def code_control(codes: list[int] | tuple[int, ...]) -> int:
    """Control over a set of 7-digit nomenclature codes (Σ codes mod 97, 0 → 97)."""
    return mod97(sum(codes))


def format_amount(value: int, width: int, *, negative_zero: bool = False) -> str:
    """A signed amount zone: ``+``/``-`` then ``width - 1`` digits (cents).

    ``negative_zero`` writes ``-`` for a zero amount (credit notes, [IC] writer).
    """
    sign = "-" if value < 0 or (value == 0 and negative_zero) else "+"
    return f"{sign}{abs(value):0{width - 1}d}"


def parse_amount(text: str) -> int | None:
    """Read a signed amount zone; ``None`` when it is not ``+``/``-`` followed by digits."""
    if len(text) < 2 or text[0] not in "+-":
        return None
    digits = text[1:]
    if not (digits.isdigit() and digits.isascii()):
        return None
    value = int(digits)
    return -value if text[0] == "-" else value
