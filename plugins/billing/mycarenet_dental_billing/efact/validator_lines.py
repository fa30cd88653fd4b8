"""The validator's checks of service lines (records 50, 51, 52) and of each invoice's record 80.

Mixed into :class:`~.validator._Validator` (which holds the state and reports findings); split by
record type so each part reads on its own. The fast paths stay methods bound once per run (see ``run``)."""

from __future__ import annotations

from collections.abc import Iterable

from .controls import mod97, parse_amount
from .model import (
    FDI_TEETH,
    INPUT_TYPES,
    SUPPORT_TYPES,
    IdentityCheck,
    nihii_is_valid,
)
from .reader import RawRecord
from .validator_zones import (
    _BEFORE_50,
    _BEFORE_80,
    _CONTROL_TEXT,
    _DATE_CACHE,
    _FAST50,
    _FAST51,
    _FAST80,
    _FDI_TEXT,
    _GOOD_AMOUNTS50,
    _GOOD_MID50,
    _GOOD_PROVIDERS,
    _MEMO_LIMIT,
    _NO_SUPPLEMENT,
    _PICK51,
    _PICK80,
    _S7,
    _S8,
    _S9,
    _S14,
    _S24,
    _S49,
    _ZERO12,
    _check_amounts50,
    _date,
    _zone_number,
)


class _LineChecks:
    """The checks of an invoice's service lines (records 50, 51, 52) and of its closing record 80, with
    their fast paths; a base of :class:`~.validator._Validator`, whose state and reporting (``add``...) they use."""

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
