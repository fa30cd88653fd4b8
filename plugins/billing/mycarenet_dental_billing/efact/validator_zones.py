"""Zone-level helpers and memos shared by the validator's record checks (:mod:`.validator`,
:mod:`.validator_heads`, :mod:`.validator_lines`): zone numbers of the catalogue codes, record order,
precomputed slices and whole-record patterns of the fast paths, and their small bounded memos."""

from __future__ import annotations

import datetime as dt

from . import records as rl
from .model import (
    FDI_TEETH,
)


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
