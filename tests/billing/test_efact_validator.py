"""The validator catches each class of error the insurer would report, with the catalogue code."""

from __future__ import annotations

import datetime as dt

import pytest
from mycarenet_dental.errors import UsageError
from mycarenet_dental_billing.efact.model import IdentityCheck, Sending
from mycarenet_dental_billing.efact.validator import (
    EfactRejectedLocally,
    Finding,
    ValidationOptions,
    assert_sendable,
    validate,
)
from mycarenet_dental_billing.efact.writer import to_text

from tests.billing.billing_factories import (
    TODAY,
    header,
    invoice,
    line,
    records_of,
    replace_zone,
    rich_sending,
    simple_text,
)

OPTS = ValidationOptions(today=TODAY)
R10, R20, R50, R80, R90, R95, R96 = range(7)  # record indexes in simple_text()


def codes(text: str, opts: ValidationOptions = OPTS) -> set[str]:
    return {f.code for f in validate(text, opts)}


def test_clean_files_have_no_finding() -> None:
    assert validate(simple_text(), OPTS) == []
    assert validate(to_text(rich_sending()), OPTS) == []
    assert assert_sendable(simple_text(), OPTS) == []


def test_finding_carries_code_location_and_texts() -> None:
    text = replace_zone(simple_text(), R50, 163, "19")  # tooth 19 does not exist
    [f] = validate(text, OPTS)
    assert isinstance(f, Finding) and f.code == "502903" and f.letter == "R" and not f.blocking
    assert (f.record_type, f.zone, f.sequence, f.value) == ("50", "29", 3, "19")
    assert f.messages.fr and f.messages.nl and f.messages.en
    assert "502903" in str(f)


@pytest.mark.parametrize(("record", "start", "value", "code"), [
    (R50, 10, "03O1011", "500401"),  # numeric zone with a letter
    (R50, 283, "0001", "505001"),  # reserved zone not zero
    (R50, 88, "*", "501905"),  # sign not + or -
    (R50, 89, "0000000A500", "501906"),  # numeric part of a signed amount
    (R20, 138, "\x01", "202809"),  # forbidden character in an alphanumeric zone
    (R10, 3, "000009", "100110"),  # record 10 sequence number
    (R50, 3, "000009", "500210"),  # sequence not previous + 1
    (R50, 163, "19", "502903"),  # tooth not FDI
    (R20, 36, "0085073003329", "200802"),  # SSIN check digits
    (R50, 68, "030012393001", "501502"),  # NIHII check digits
    (R10, 128, "0000000000", "102710"),  # BCE missing
    (R10, 179, "BE68539007547035", "103602"),  # IBAN check digits
    (R10, 56, "030012393001", "101402"),  # third-party payer NIHII
    (R10, 33, "000", "100703"),  # sending number 000
    (R50, 17, "20261126", "500510"),  # service after the file creation date (future)
    (R50, 17, "20231001", "500546"),  # older than two years, no lifting code
    (R50, 33, "306", "500712"),  # repeated zone differs from record 20
    (R80, 88, "+00000002499", "801910"),  # invoice total A
    (R80, 68, "+00000000001", "801510"),  # invoice total B
    (R80, 128, "+000000499", "802710"),  # total personal share
    (R80, 165, "+000000001", "803010"),  # total supplements
    (R80, 347, "01", "809802"),  # invoice control digits
    (R80, 115, "000000000002", "802412"),  # invoice number differs from record 20
    (R90, 88, "+00000002499", "901910"),  # sending total A vs records 80
    (R90, 347, "01", "909802"),  # sending control digits
    (R90, 33, "006", "900712"),  # sending number differs from record 10
])
def test_each_error_class(record: int, start: int, value: str, code: str) -> None:
    assert code in codes(replace_zone(simple_text(), record, start, value))


def test_record_control_digits() -> None:
    text = replace_zone(simple_text(), R50, 349, "00", fix_control=False)
    found = validate(text, OPTS)
    assert [f.code for f in found] == ["509902"] and found[0].blocking


def test_bordereau_errors() -> None:
    text = replace_zone(simple_text(), R95, 24, "+00000002499")
    assert {"4041/41", "4081/20"} <= codes(text)
    assert "5101/20" in codes(replace_zone(simple_text(), R96, 76, "01"))
    assert "4101/20" in codes(replace_zone(simple_text(), R95, 76, "01"))
    assert "5011/20" in codes(replace_zone(simple_text(), R96, 5, "199"))
    assert "4011/21" in codes(replace_zone(simple_text(), R95, 5, "301"))
    assert "4091/20" in codes(replace_zone(simple_text(), R95, 66, "00000009"),
                               ValidationOptions(today=TODAY, check_counts=True))
    assert "4091/20" not in codes(replace_zone(simple_text(), R95, 66, "00000009"))  # counts: UNSURE, off by default


def test_segment_errors() -> None:
    text = simple_text()
    assert "2001/22" in codes("920001" + text[6:])
    assert "3011/20" in codes(text[:67 + 8] + "006" + text[67 + 11:])  # S300 sending number ≠ ET10
    assert "3041/21" in codes(text[:12] + "12" + text[14:])  # production type with test instructions
    assert "3021/20" in codes(to_text(Sending(header(creation_date=dt.date(2027, 1, 5)), (invoice(),))))


def test_record_order_errors() -> None:
    head, recs = records_of(simple_text())
    # swap 50 and 80: 80 not preceded by 50, 50 not preceded by 20 …
    swapped = head + "".join([recs[0], recs[1], recs[3], recs[2], *recs[4:]])
    assert {"800110", "500110"} <= codes(swapped)
    no90 = head + "".join(recs[:4] + recs[5:])
    assert "900110" in codes(no90)
    assert "000010" in codes(simple_text()[:-10])  # truncated file: structural finding, no crash


def test_business_checks_of_the_model_level() -> None:
    # destinations descending → 201812; two federations → 201820; duplicate invoice number → 202420
    text = simple_text()
    head, recs = records_of(text)
    inv = recs[1:4]
    second = [replace_zone(head + "".join(inv), i, 85, "299")[227:][i * 350:(i + 1) * 350] for i in range(3)]
    combined = head + recs[0] + "".join(inv) + "".join(second) + "".join(recs[4:])
    found = codes(combined)
    assert {"201812", "201820", "202420"} <= found


def test_tooth_required_and_invoiced_month() -> None:
    text = to_text(Sending(header(), (invoice(1, (line(tooth=None),)),)))
    assert "502940" in codes(text, ValidationOptions(today=TODAY, tooth_required_codes=frozenset({"0301011"})))
    assert "502940" not in codes(text)
    late = to_text(Sending(header(invoicing_month=8), (invoice(1, (line(date=dt.date(2026, 10, 3)),)),)))
    assert "500547" in codes(late)


def test_credit_note_with_positive_amount() -> None:
    text = to_text(rich_sending())
    head, recs = records_of(text)
    credit_index = [i for i, r in enumerate(recs) if r[:2] == "20" and r[50] == "3"][0]
    mutated = replace_zone(text, credit_index + 1, 88, "+00000002500")  # its record 50 now positive
    assert "201140" in codes(mutated)


def test_records_51_and_52() -> None:
    text = to_text(rich_sending())  # records: 10, 20, 50, 51, 52, …
    assert "510412" in codes(replace_zone(text, 3, 10, "0301012"))
    assert "514240" in codes(replace_zone(text, 3, 213, " " * 48))
    assert "520903" in codes(replace_zone(text, 4, 49, "9"))
    assert "520340" in codes(replace_zone(text, 4, 49, "4"))  # manual entry without a reason
    assert "520603" in codes(replace_zone(replace_zone(text, 4, 9, "3"), 4, 49, "4"))  # deferred: date must be 0
    assert "521103" in codes(replace_zone(text, 4, 51, "2"))  # vignette reason without a vignette
    # identity check required (UNSURE start date: off by default)
    strict = ValidationOptions(today=TODAY, require_identity_check=True)
    assert "500112" in codes(simple_text(), strict)
    with_52 = to_text(Sending(header(), (invoice(1, (line(identity_check=IdentityCheck(
        input_type="1", support_type="1", reader=line().provider)),)),)))
    assert "500112" not in codes(with_52, strict)


def test_assert_sendable_raises_before_sending() -> None:
    bad = replace_zone(simple_text(), R80, 88, "+00000002499")
    with pytest.raises(EfactRejectedLocally) as info:
        assert_sendable(bad, OPTS)
    err = info.value
    assert isinstance(err, UsageError) and err.exit_code == 2 and err.code == "801910"
    assert err.findings and err.messages.fr and err.messages.nl
