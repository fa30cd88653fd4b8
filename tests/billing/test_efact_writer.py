"""Layout of what the 920000 writer produces, checked position by position against efact.md §2."""

from __future__ import annotations

import io

import pytest
from mycarenet_dental.errors import UsageError
from mycarenet_dental_billing.efact.controls import record_control
from mycarenet_dental_billing.efact.model import Sending
from mycarenet_dental_billing.efact.writer import CountRule, EfactWriter, to_bytes, to_text, write_sending

from tests.billing.billing_factories import (
    DENTIST,
    PATIENT,
    header,
    invoice,
    line,
    records_of,
    rich_sending,
    simple_text,
)


def _at(record: str, start: int, end: int) -> str:
    return record[start - 1:end]


def test_lengths_and_record_order() -> None:
    text = to_text(rich_sending())
    assert (len(text) - 227) % 350 == 0
    head, recs = records_of(text)
    assert len(head[:67]) == 67 and head[:6] == "920000"
    kinds = [r[:2] for r in recs]
    assert kinds == ["10", "20", "50", "51", "52", "50", "50", "80", "20", "50", "80", "20", "50", "80", "90",
                     "95", "95", "96"]
    # sequence numbers 000001… without gap over 10…90
    assert [int(r[2:8]) for r in recs if r[:2] not in ("95", "96")] == list(range(1, 16))
    assert text.isascii() and "\n" not in text


def test_segment_200_and_300() -> None:
    text = simple_text()
    s200, s300 = text[:67], text[67:227]
    assert _at(s200, 1, 6) == "920000" and _at(s200, 9, 10) == "02" and _at(s200, 13, 14) == "92"
    assert _at(s200, 21, 34) == "20261130000005" and _at(s200, 37, 50) == "0" * 14 and _at(s200, 53, 67) == "0" * 15
    assert _at(s300, 1, 6) == "202610" and _at(s300, 9, 11) == "005" and _at(s300, 14, 21) == "20261102"
    assert _at(s300, 24, 36) == "F5".ljust(13) and _at(s300, 39, 45) == "9991999"
    assert _at(s300, 48, 92).rstrip() == "Dupont" and _at(s300, 95, 118).rstrip() == "Anne"
    assert _at(s300, 121, 130) == "0471123456" and _at(s300, 133, 134) == "03" and _at(s300, 137, 138) == "01"
    prod = to_text(Sending(header(test=False), (invoice(),)))
    assert _at(prod, 13, 14) == "12" and _at(prod[67:], 39, 45) == "0001999"


def test_record_10_and_90() -> None:
    _, recs = records_of(simple_text())
    r10, r90 = recs[0], recs[-3]
    assert _at(r10, 1, 8) == "10000001" and _at(r10, 10, 16) == "9991999" and _at(r10, 33, 35) == "005"
    assert _at(r10, 53, 55) == "040" and _at(r10, 56, 67) == "0" + DENTIST and _at(r10, 85, 87) == "001"
    assert _at(r10, 108, 112) == "02026" and _at(r10, 113, 114) == "10" and _at(r10, 120, 127) == "20261102"
    assert _at(r10, 167, 177) == "GEBABEBB   " and _at(r10, 179, 212).rstrip() == "BE68539007547034"
    assert _at(r90, 1, 2) == "90" and _at(r90, 33, 35) == "005" and _at(r90, 56, 67) == "0" + DENTIST
    assert _at(r90, 88, 99) == "+00000002500" and _at(r90, 68, 79) == "+00000000000"
    assert _at(r90, 138, 162).rstrip() == "PRACTICE-5"
    assert _at(r90, 347, 348) == f"{301011 % 97:02d}"


def test_record_20_50_80_positions() -> None:
    _, recs = records_of(simple_text())
    r20, r50, r80 = recs[1], recs[2], recs[3]
    assert _at(r20, 33, 35) == "319" and _at(r20, 36, 48) == "00" + PATIENT and _at(r20, 49, 49) == "1"
    assert _at(r20, 50, 50) == "3" and _at(r20, 51, 51) == "0" and _at(r20, 85, 87) == "300"
    assert _at(r20, 115, 126) == "000000000001" and _at(r20, 128, 137) == "0000110110"
    assert _at(r20, 175, 175) == "1" and _at(r20, 138, 162).rstrip() == "INV1"
    assert _at(r50, 10, 16) == "0301011" and _at(r50, 17, 24) == "20261003" and _at(r50, 25, 32) == "20261003"
    assert _at(r50, 53, 55) == "990" and _at(r50, 68, 79) == "0" + DENTIST and _at(r50, 80, 80) == "1"
    assert _at(r50, 88, 99) == "+00000002500" and _at(r50, 108, 112) == "+0001"
    assert _at(r50, 128, 137) == "+000000500" and _at(r50, 163, 164) == "36" and _at(r50, 165, 174) == "+000000000"
    assert _at(r50, 262, 269) == "+0000000" and _at(r50, 178, 178) == "1"
    assert _at(r80, 88, 99) == "+00000002500" and _at(r80, 128, 137) == "+000000500"
    assert _at(r80, 165, 174) == "+000000000" and _at(r80, 100, 107) == "20261102"
    assert _at(r80, 347, 348) == f"{301011 % 97:02d}"


def test_every_record_control_follows_the_formula() -> None:
    _, recs = records_of(to_text(rich_sending()))
    for r in recs:
        if r[:2] in ("95", "96"):
            assert r[348:350] == "  "
        else:
            assert int(r[348:350]) == record_control(r)


def test_records_51_52_and_totals() -> None:
    s = rich_sending()
    _, recs = records_of(to_text(s))
    r51, r52 = recs[3], recs[4]
    assert _at(r51, 10, 16) == "0301011" and _at(r51, 213, 260).rstrip() == "ABC123XYZ"
    assert _at(r51, 321, 328) == "20261003" and _at(r51, 128, 137) == "0000110110" and _at(r51, 88, 99) == "+00000002500"
    assert _at(r52, 49, 49) == "1" and _at(r52, 50, 50) == "1" and _at(r52, 25, 32) == "20261003"
    assert _at(r52, 52, 55) == "1015" and _at(r52, 68, 79) == "0" + DENTIST
    r80 = recs[7]
    inv = s.invoices[0]
    assert _at(r80, 88, 99) == f"+{inv.total_a:011d}" and _at(r80, 68, 79) == f"+{inv.total_b:011d}"
    assert _at(r80, 165, 174) == f"+{inv.total_supplement:09d}"
    # invoice control counts the code of the 50, the 51 and the 52
    codes = 3 * 301011 + 371254 + 305594
    assert int(_at(r80, 347, 348)) == codes % 97 or 97


def test_credit_note_signs() -> None:
    _, recs = records_of(to_text(rich_sending()))
    credit50, credit80 = recs[9], recs[10]
    assert _at(credit50, 88, 99) == "-00000002500" and _at(credit50, 108, 112) == "-0001"
    assert _at(credit50, 165, 174) == "-000000000"  # zero supplement carries the credit sign
    assert _at(credit80, 88, 99) == "-00000002500" and _at(credit80, 183, 194) == "-00000000000"


def test_bordereaux_95_96() -> None:
    s = rich_sending()
    _, recs = records_of(to_text(s))
    r95a, r95b, r96 = recs[-3], recs[-2], recs[-1]
    g300 = [i for i in s.invoices if i.destination == "300"]
    total300 = sum(i.total_a for i in g300)
    sign = "-" if total300 < 0 else "+"
    assert _at(r95a, 1, 2) == "95" and _at(r95a, 5, 7) == "300" and _at(r95a, 24, 35) == f"{sign}{abs(total300):011d}"
    assert _at(r95b, 5, 7) == "306"
    assert _at(r96, 5, 7) == "399" and int(_at(r96, 66, 73)) == 15  # TAKTIK count: records 10…90
    assert _at(r96, 76, 77) == recs[-4][346:348]  # file control = sending control
    assert int(_at(r95a, 66, 73)) == 10  # records 20…80 of mutuality 300
    cin = to_text(s, count_rule=CountRule.CIN)
    _, recs = records_of(cin)
    assert int(_at(recs[-3], 66, 73)) == 12 and int(_at(recs[-1], 66, 73)) == 12 + 5 + 2


def test_binary_and_text_streams_and_summary() -> None:
    s = rich_sending()
    buf = io.StringIO()
    summary = write_sending(s, buf)
    assert buf.getvalue().encode() == to_bytes(s)
    assert summary.length == len(buf.getvalue()) and summary.lines == 5 and summary.invoices == 3
    assert summary.records == 15 and summary.federation == "300"
    assert [g.destination for g in summary.groups] == ["300", "306"]


def test_writer_is_strict() -> None:
    w = EfactWriter(header(), io.BytesIO())
    w.write_invoice(invoice(1, destination="306"))
    with pytest.raises(UsageError):  # destinations must be ascending
        w.write_invoice(invoice(2, destination="300"))
    huge = line(reimbursement=99_999_999_999)
    with pytest.raises(UsageError, match="ET80"):  # the invoice total overflows 11 digits
        to_bytes(Sending(header(), (invoice(1, (huge, huge)),)))
    with pytest.raises(UsageError):
        EfactWriter(header(), io.BytesIO()).close()  # no invoice
