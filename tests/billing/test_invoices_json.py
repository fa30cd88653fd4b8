"""JSON invoice input: the documented format → Sending, its inverse, and errors that name the field."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from mycarenet_dental.errors import InvalidIdentifierError, UsageError
from mycarenet_dental_billing.efact.writer import to_bytes
from mycarenet_dental_billing.invoices_json import load_sending, sending_to_json

from tests.billing.billing_factories import DENTIST, PATIENT, PATIENT_2, rich_sending

EXAMPLE: dict[str, Any] = {
    "sending": {
        "sending_number": 12, "third_party": DENTIST, "invoicing_year": 2026, "invoicing_month": 10,
        "creation_date": "2026-11-02", "reference": 20261130000012, "iban": "BE68 5390 0754 7034", "bic": "gebabebb",
        "bce": "0123.456.749", "contact_last_name": "Dupré", "contact_first_name": "Hélène",
        "contact_phone": "0471123456",
    },
    "invoices": [
        {"number": 2, "patient_id": PATIENT_2, "sex": "female", "mutuality": "306", "ct1": "110", "ct2": "110",
         "lines": [{"code": "301011", "date": "2026-10-03", "reimbursement": 2500, "patient_share": 500,
                    "tooth": 36}]},
        {"number": 1, "patient_id": PATIENT, "sex": "male", "mutuality": "319", "ct1": "111", "ct2": "111",
         "reference": "INV-1",
         "lines": [{"code": "371254", "date": "2026-10-05", "reimbursement": 1800, "tooth": 55,
                    "commitment": {"number": "C-42", "communicated": "2026-10-05"},
                    "identity_check": {"input_type": "1", "support_type": "1", "read_date": "2026-10-05",
                                       "read_time": "0930"}}]},
    ],
}


def test_example_loads() -> None:
    s = load_sending(json.dumps(EXAMPLE))
    assert s.header.iban == "BE68539007547034" and s.header.bic == "GEBABEBB" and s.header.bce == "0123456749"
    assert s.header.contact_last_name == "Dupre" and s.header.contact_first_name == "Helene"  # ASCII only
    assert [i.destination for i in s.invoices] == ["300", "306"]  # routing table 319 → 300, 306 stays
    first = s.invoices[0]
    assert first.number == 1 and first.lines[0].code == "0371254" and first.lines[0].provider == DENTIST
    assert first.lines[0].identity_check is not None and first.lines[0].identity_check.reader == DENTIST
    assert to_bytes(s)[:6] == b"920000"


def test_inverse(tmp_path: Path) -> None:
    s = rich_sending()
    doc = sending_to_json(s)
    assert load_sending(doc) == s
    p = tmp_path / "invoices.json"
    p.write_text(json.dumps(doc), "utf-8")
    assert load_sending(p) == s


def _broken(path: str, value: object) -> dict[str, Any]:
    doc = copy.deepcopy(EXAMPLE)
    target: Any = doc
    parts = path.split(".")
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is KeyError:
        del target[parts[-1]]
    else:
        target[parts[-1]] = value
    return doc


@pytest.mark.parametrize(("path", "value", "error", "location"), [
    ("invoices.0.lines.0.tooth", 19, InvalidIdentifierError, "invoices[0].lines[0].tooth"),
    ("invoices.0.patient_id", "85073003329", InvalidIdentifierError, "invoices[0].patient_id"),
    ("invoices.0.lines.0.provider", "30012393001", InvalidIdentifierError, "invoices[0].lines[0].provider"),
    ("invoices.0.lines.0.date", "03/10/2026", UsageError, "invoices[0].lines[0].date"),
    ("invoices.0.lines.0.reimbursement", "25.00", UsageError, "invoices[0].lines[0].reimbursement"),
    ("invoices.0.lines.0.reimbursment", 1, UsageError, "invoices[0].lines[0].reimbursment"),
    ("invoices.0.sex", "X", UsageError, "invoices[0].sex"),
    ("invoices.0.sex", 2, UsageError, "invoices[0].sex"),  # the file's digit is the writer's business
    ("invoices.0.lines", [], UsageError, "invoices[0].lines"),
    ("sending.sending_number", 1000, UsageError, "sending.sending_number"),
    ("sending.reference", 123456789012345, UsageError, "sending.reference"),
    ("sending.third_party", KeyError, UsageError, "sending.third_party"),
    ("invoices.1.number", 2, UsageError, "invoices[0].number"),
    ("invoices.0.mutuality", "509", UsageError, "invoices"),
    ("invoices.0.invoicing_type", 3, UsageError, "invoices[0].previous"),
    ("invoices.0.lines.0.commitment", {"number": "", "communicated": "2026-10-05"}, UsageError,
     "invoices[0].lines[0].commitment.number"),
    # a value outside a code list (an attrs validator) was a bare ValueError, found by the fuzz test
    ("invoices.1.lines.0.identity_check.input_type", "0", UsageError, "invoices[1].lines[0].identity_check.input_type"),
])
def test_errors_name_the_field(path: str, value: object, error: type[Exception], location: str) -> None:
    with pytest.raises(error) as info:
        load_sending(_broken(path, value))
    e = info.value
    assert isinstance(e, UsageError) and e.exit_code == 2
    assert e.location == location, (e.location, str(e))
    assert location.split(".")[-1].split("[")[0] in str(e)


def test_invalid_json_text() -> None:
    with pytest.raises(UsageError, match="invalid JSON"):
        load_sending("{not json")


def test_load_invoices_for_the_outbox_needs_no_sending_block() -> None:
    from mycarenet_dental_billing.invoices_json import load_invoices

    doc = copy.deepcopy(EXAMPLE)
    provider = doc["sending"]["third_party"]
    doc.pop("sending")
    invoices = load_invoices(doc, default_provider=provider)
    assert sorted(inv.number for inv in invoices) == sorted(inv.number for inv in load_sending(EXAMPLE).invoices)
    with pytest.raises(UsageError):
        load_invoices({"invoices": []}, default_provider=provider)
