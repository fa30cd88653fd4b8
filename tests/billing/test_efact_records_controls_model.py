"""Record layouts as data, control-digit arithmetic and model invariants."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mycarenet_dental.errors import InvalidIdentifierError, UsageError
from mycarenet_dental_billing.efact import records as rl
from mycarenet_dental_billing.efact.controls import (
    char_sum,
    code_control,
    format_amount,
    mod97,
    parse_amount,
    record_control,
)
from mycarenet_dental_billing.efact.model import (
    FDI_TEETH,
    iban_is_valid,
    nihii_is_valid,
    ssin_is_valid,
)

from tests.billing.billing_factories import DENTIST, header, invoice, line


def test_every_layout_covers_its_length() -> None:
    for layout in rl.RECORD_LAYOUTS.values():
        assert layout.length == 350 and sum(z.length for z in layout.zones) == 350
        assert len(layout.blank) == 350 and layout.strict_regex.fullmatch(layout.blank) is None or layout.key
    assert rl.SEGMENT200.length == 67 and rl.SEGMENT300.length == 160 and rl.SEGMENT300_STUB.length == 160


@pytest.mark.parametrize(("layout", "zone", "start", "end", "kind"), [
    (rl.SEGMENT200, "204", 21, 34, "N"), (rl.SEGMENT300, "307", 121, 130, "N"), (rl.RECORD10, "14", 56, 67, "N"),
    (rl.RECORD10, "36-41", 179, 212, "A"), (rl.RECORD20, "24-25", 115, 126, "N"), (rl.RECORD20, "32", 175, 175, "N"),
    (rl.RECORD50, "19", 88, 99, "S"), (rl.RECORD50, "27", 128, 137, "S"), (rl.RECORD50, "29", 163, 164, "N"),
    (rl.RECORD50, "30-31", 165, 174, "S"), (rl.RECORD51, "42-45", 213, 260, "A"), (rl.RECORD51, "55", 321, 328, "N"),
    (rl.RECORD52, "9", 49, 49, "A"), (rl.RECORD52, "18", 120, 131, "N"), (rl.RECORD80, "98", 347, 348, "N"),
    (rl.RECORD90, "19", 88, 99, "S"), (rl.RECORD95, "410", 76, 77, "N"), (rl.RECORD96, "509", 66, 73, "N"),
])
def test_positions_from_the_spec(layout: rl.Layout, zone: str, start: int, end: int, kind: str) -> None:
    z = layout.zone(zone)
    assert (z.start, z.end, z.kind) == (start, end, kind)


def test_parse_unparse_and_format_zone_errors() -> None:
    rec = rl.RECORD50.format({"1": "50", "2": 7, "19": -1942, "28": "ref"})
    assert rl.RECORD50.unparse(rl.RECORD50.parse(rec)) == rec
    assert rec[87:99] == "-00000001942" and rec[2:8] == "000007" and rec[137:162] == "ref".ljust(25)
    with pytest.raises(ValueError, match="zone 4"):
        rl.RECORD50.format({"4": "12345678"})
    with pytest.raises(ValueError, match="not numeric"):
        rl.RECORD50.format({"4": "12a"})
    with pytest.raises(ValueError, match="unknown zones"):
        rl.RECORD50.format({"nope": 1})


def test_character_values_and_mod97() -> None:
    assert char_sum("0123456789") == 45 and char_sum(" ") == 10 and char_sum("Az") == 11 + 36
    assert char_sum("+-.") == 3 * 37
    assert mod97(97) == 97 and mod97(0) == 97 and mod97(98) == 1
    assert code_control([101032, 101032]) == 13 and code_control([101032]) == 55
    assert record_control("0" * 348 + "xx") == 97  # sum 0 → 97
    assert format_amount(0, 12, negative_zero=True) == "-00000000000" and parse_amount("-00000000000") == 0
    assert parse_amount("1111") is None and parse_amount("+12a") is None


@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=1800))
def test_fast_sum_equals_naive_sum(text: str) -> None:
    def value(c: str) -> int:
        if c.isdigit():
            return int(c)
        if c == " ":
            return 10
        if c.isalpha():
            return ord(c.upper()) - ord("A") + 11
        return 37

    assert char_sum(text) == sum(value(c) for c in text)


def test_identifier_checks() -> None:
    assert ssin_is_valid("85073003328") and ssin_is_valid("17073003384") and not ssin_is_valid("85073003329")
    assert nihii_is_valid(DENTIST) and not nihii_is_valid("30012300001")
    assert iban_is_valid("BE68 5390 0754 7034") and not iban_is_valid("BE68539007547035")
    assert len(FDI_TEETH) == 52 and 18 in FDI_TEETH and 19 not in FDI_TEETH and 85 in FDI_TEETH and 86 not in FDI_TEETH


def test_model_invariants() -> None:
    assert line(code="301011").code == "0301011" and line(code=301011).code == "0301011"
    assert line(end_date=dt.date(2026, 10, 3)).end_date is None  # same day: canonical form
    assert line().fee == 3000
    with pytest.raises(InvalidIdentifierError) as info:
        line(tooth=19)
    assert info.value.field == "tooth" and info.value.exit_code == 2
    with pytest.raises(InvalidIdentifierError):
        line(provider="30012300001")
    with pytest.raises(InvalidIdentifierError):
        invoice(patient_id="85073003329")
    with pytest.raises(UsageError):
        line(reimbursement=10**11)
    with pytest.raises(UsageError):
        line(end_date=dt.date(2026, 10, 1))
    with pytest.raises(UsageError):
        line(reference="é")
    with pytest.raises(UsageError):
        invoice(invoicing_type=3)  # credit note without the invoice it cancels
    with pytest.raises(UsageError):
        header(sending_number=0)
    h = header(reference=20261130000005, summary_invoice_number=261130000005)
    assert h.summary_invoice_number is None and h.summary_number == 261130000005


def test_iban_with_a_non_ascii_letter_is_invalid_not_a_crash() -> None:
    from mycarenet_dental_billing.efact.model import iban_is_valid

    assert not iban_is_valid("BE68539007547\u00c934")
    assert iban_is_valid("BE68539007547034")
