"""The real CIN-generated 920000 files (../shared/conformance/efact): layouts, totals, controls, reader warnings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from mycarenet_dental_billing.efact import records as rl
from mycarenet_dental_billing.efact.controls import ChecksumMode, code_control, record_control
from mycarenet_dental_billing.efact.model import ssin_is_valid
from mycarenet_dental_billing.efact.reader import EfactReader, iter_records, read_sending
from mycarenet_dental_billing.efact.validator import ValidationOptions, validate
from mycarenet_dental_billing.efact.writer import CountRule

# values asserted by the conformance README (sending, date, beneficiary, amount A, personal share, record 51)
EXPECTED = {
    "TFAC1SC09.509E": (509, "20141125", "36121015396", 1942, 150, True),
    "TFAC1SC11.510E": (510, "20141118", "86103130262", 1942, 600, True),
    "TFAC1SC12.518E": (518, "20141120", "86103130262", 1692, 400, True),
    "TFAC1SC13.519E": (519, "20141125", "36121015396", 1942, 150, False),
    "TFAC1SC15.520E": (520, "20141118", "86103130262", 1942, 650, False),
}
STORED_CONTROLS = {  # positions 349–350 of records 10, 20, 50, 51, 80, 90 (README table)
    "TFAC1SC09.509E": [20, 1, 6, 35, 62, 52],
    "TFAC1SC11.510E": [12, 88, 8, 19, 58, 44],
    "TFAC1SC12.518E": [20, 88, 47, 20, 58, 54],
    "TFAC1SC13.519E": [21, 1, 6, 67, 58],
    "TFAC1SC15.520E": [13, 88, 13, 68, 50],
}


def test_layout_and_byte_for_byte_record_round_trip(cin_files: list[Path]) -> None:
    for path in cin_files:
        data = path.read_bytes()
        assert len(data) == 227 + 350 * ((len(data) - 227) // 350)
        recs = list(iter_records(data))
        kinds = [r.kind for r in recs]
        assert kinds[:3] == ["200", "300", "10"] and kinds[-3:] == ["90", "95", "96"]
        assert ("51" in kinds) == EXPECTED[path.name][5]
        # zones → text reproduces every record byte for byte (one layout for reader and writer)
        rebuilt = "".join(r.layout.unparse(r.zones()) for r in recs)
        assert rebuilt.encode("ascii") == data
        assert recs[1].zone("305").rstrip() == "GRAZWIDE Yvan" and recs[1].zone("306").rstrip() == "CIN"
        for r in recs[2:]:
            if r.kind in rl.CONTROLLED_TYPES:  # each control matches the layout's whole-record pattern
                assert r.layout.strict_regex.fullmatch(r.text), (path.name, r.kind)


def test_totals_controls_and_typed_model(cin_files: list[Path]) -> None:
    for path in cin_files:
        number, date, beneficiary, amount, share, has51 = EXPECTED[path.name]
        parsed = read_sending(path.read_bytes())
        s = parsed.sending
        assert s.header.sending_number == number and s.header.test and s.header.format_version == 1
        assert s.header.third_party == "18334780004" and s.header.iban == "BE10001232152604"
        assert s.header.bic == "GEBABEBB" and s.header.bce is None
        inv = s.invoices[0]
        assert inv.patient_id == beneficiary and ssin_is_valid(beneficiary)
        assert inv.mutuality == "131" and inv.destination == "131"
        assert (inv.ct1, inv.ct2) == (("131", "131") if beneficiary.startswith("36") else ("110", "110"))
        ln = inv.lines[0]
        assert ln.code == "0101032" and ln.date == dt.date(int(date[:4]), int(date[4:6]), int(date[6:]))
        assert ln.reimbursement == amount and ln.patient_share == share and (ln.commitment is not None) == has51
        assert parsed.total_a == amount == parsed.file_total.total_a == parsed.bordereaux[0].total_a
        # invoice / sending / mutuality / file controls = Σ codes mod 97 (51 counted as well)
        expected = code_control([101032] * (2 if has51 else 1))
        assert expected == (13 if has51 else 55)
        assert parsed.invoice_controls == (expected,) and parsed.sending_control == expected
        assert parsed.bordereaux[0].control == expected and parsed.file_total.control == expected
        assert parsed.file_total.mutuality == "199" and parsed.bordereaux[0].number == 3
        assert (parsed.bordereaux[0].records, parsed.file_total.records) == (6, 8)


def test_record_controls_are_plus_ten_and_reported(cin_files: list[Path]) -> None:
    for path in cin_files:
        data = path.read_bytes()
        reader = EfactReader(data)
        recs = [r for r in reader if r.kind in rl.CONTROLLED_TYPES]
        assert [int(r.text[348:350]) for r in recs] == STORED_CONTROLS[path.name]
        assert all((int(r.text[348:350]) - record_control(r.text)) % 97 == 10 for r in recs)
        # the tolerant reader reports every one of them, with the offset
        assert len(reader.warnings) == len(recs) and {w.offset for w in reader.warnings} == {10}
        # CIN mode expects the +10 and stays quiet
        cin = EfactReader(data, checksum_mode=ChecksumMode.CIN)
        list(cin)
        assert cin.warnings == []


def test_validator_on_cin_files(cin_files: list[Path]) -> None:
    for path in cin_files:
        data = path.read_bytes()
        strict = validate(data, ValidationOptions(today=dt.date(2014, 11, 30)))
        codes = {f.code for f in strict}
        # strict rule: every controlled record is reported (xx9902), and the BCE missing since 2015
        assert {"109902", "209902", "509902", "809902", "909902", "102710"} <= codes
        assert "809802" not in codes and "909802" not in codes  # invoice/sending controls are right
        opts = ValidationOptions(today=dt.date(2014, 11, 30), checksum_mode=ChecksumMode.CIN)
        assert {f.code for f in validate(data, opts)} == {"102710"}
        counted = validate(data, ValidationOptions(today=dt.date(2014, 11, 30), checksum_mode=ChecksumMode.CIN,
                                                   check_counts=True, count_rule=CountRule.CIN))
        # the files without record 51 did not update their counts (conformance README)
        assert ({"4091/20", "5091/20"} <= {f.code for f in counted}) == (not EXPECTED[path.name][5])


@pytest.mark.parametrize("name", ["TFAC1SC09.509E"])
def test_summary_of_one_file(cin_files: list[Path], name: str) -> None:
    path = next(p for p in cin_files if p.name == name)
    recs = list(iter_records(path.read_bytes()))
    r95, r96 = recs[-2].zones(), recs[-1].zones()
    assert r95["401"] == "131" and r95["403-404"] == "+00000001942" and r95["410"] == "13"
    assert r96["501"] == "199" and r96["509"] == "00000008" and r96["510"] == "13"
