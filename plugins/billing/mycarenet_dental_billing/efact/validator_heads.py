"""The validator's checks of the third party (record 10), invoice heads (record 20) and totals (90, 95, 96).

Mixed into :class:`~.validator._Validator` (which holds the state and reports findings); split by
record type so each part reads on its own. The fast paths stay methods bound once per run (see ``run``)."""

from __future__ import annotations

import datetime as dt

from .controls import mod97, parse_amount
from .model import (
    iban_is_valid,
    nihii_is_valid,
    ssin_is_valid,
)
from .reader import RawRecord
from .validator_zones import (
    _BEFORE_20,
    _CONTROL_TEXT,
    _CORRECTIONS,
    _FAST20,
    _INVOICE_TYPES,
    _INVOICING_TYPES,
    _PICK20,
    _SEXES,
    _add_months,
    _bce_valid,
    _date,
    _zone_number,
)
from .writer import CountRule


class _HeadChecks:
    """The checks of the sending's head and tail: the third party (record 10), each invoice's head
    (record 20, with its fast path) and the totals (records 90, 95, 96); a base of :class:`~.validator._Validator`."""

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
