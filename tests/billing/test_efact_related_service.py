"""Record 51 zones 17-18: the dentist's related service (CD-NIHDI-RELATEDSERVICE), issue 12.3.

We wrote zeros there; both reference writers put the dentist's related code in record 51 zones 17
(4 digits) and 18 (3 digits), i.e. the same 7 digits as record 50 zones 17-18. The line's
``related_code`` (JSON and model) is now written there, read back, checked by the validator
(511712 when it is not the line's), and ``billing build`` takes it from the tariff consultation.
"""

from __future__ import annotations

import datetime as dt

import pytest
from mycarenet_dental_billing.efact import records as rl
from mycarenet_dental_billing.efact.model import Commitment, Sending
from mycarenet_dental_billing.efact.reader import EfactFormatError, iter_invoices, read_sending
from mycarenet_dental_billing.efact.validator import ValidationOptions, validate
from mycarenet_dental_billing.efact.writer import to_text
from mycarenet_dental_billing.invoices_json import load_sending, sending_to_json
from mycarenet_dental_billing.outbox import _with_commitment
from mycarenet_dental_billing.rules import ConsultedLine

from tests.billing.billing_factories import TODAY, header, invoice, line, nihii, records_of, replace_zone

OPTS = ValidationOptions(today=TODAY)
DAY = dt.date(2026, 10, 3)
R50, R51 = 2, 3  # record indexes in the sending below (after ET10, ET20)


def _sending(related: str | None = "301033", **kw: object) -> Sending:
    return Sending(header(**kw), (invoice(1, (line(related_code=related, commitment=Commitment("C-1", DAY)),)),))


def test_record_51_carries_the_related_service_of_its_line() -> None:
    recs = records_of(to_text(_sending()))[1]
    r50, r51 = recs[R50], recs[R51]
    assert r51[:2] == "51" and r51[80:87] == r50[80:87] == "0301033"
    assert (r51[80:84], r51[84:87]) == ("0301", "033")  # zone 17 = first 3 digits, zone 18 = last 3
    assert rl.RECORD51.slices["17-18"] == slice(80, 87)
    assert records_of(to_text(_sending(None)))[1][R51][80:87] == "0000000"


def test_related_service_round_trips() -> None:
    for sending in (_sending(), _sending(None), _sending("0371254")):
        text = to_text(sending)
        assert read_sending(text).sending == sending
        assert list(iter_invoices(text)) == list(sending.invoices)
        assert load_sending(sending_to_json(sending)) == sending
        assert validate(text, OPTS) == []
    doc = sending_to_json(_sending())
    assert doc["invoices"][0]["lines"][0]["related_code"] == "0301033"


def test_reader_takes_the_related_service_of_record_51() -> None:
    # only record 51 names it (a writer that leaves record 50 empty): the line gets it
    text = replace_zone(to_text(_sending()), R50, 81, "0000000")
    assert read_sending(text).sending.invoices[0].lines[0].related_code == "0301033"
    # record 51 contradicts record 50: not a sending the model can hold
    with pytest.raises(EfactFormatError) as e:
        read_sending(replace_zone(to_text(_sending()), R51, 81, "0301011"))
    assert "zone 17-18" in e.value.message


def test_validator_refuses_zeros_under_a_dentists_related_line() -> None:
    old = replace_zone(to_text(_sending()), R51, 81, "0000000")  # what we used to write
    found = [f for f in validate(old, OPTS) if f.code == "511712"]
    assert len(found) == 1 and found[0].letter == "R" and found[0].zone == "17-18" and found[0].record_type == "51"
    other = replace_zone(to_text(_sending()), R51, 81, "0301011")
    assert {f.code for f in validate(other, OPTS)} == {"511712"}
    # another profession (not a dentist) leaves zones 17-18 zero: accepted
    physio = nihii("512345", "527")
    text = to_text(Sending(header(third_party=physio), (invoice(1, (line(
        provider=physio, related_code="301033", commitment=Commitment("C-1", DAY)),)),)))
    assert validate(replace_zone(text, R51, 81, "0000000"), OPTS) == []


def test_build_takes_the_related_service_from_the_tariff_consultation() -> None:
    consulted = ConsultedLine("p", "301011", DAY, 36, "priced", "COMMIT-1", "2026-10-03T10:00:00+00:00",
                              related="301033")
    taken = _with_commitment(line(), consulted)
    assert taken.related_code == "0301033" and taken.commitment == Commitment("COMMIT-1", DAY)
    assert _with_commitment(line(related_code="371011"), consulted).related_code == "0371011"  # the line's own
    assert _with_commitment(line(), ConsultedLine("p", "301011", DAY, 36, "priced", None, "2026-10-03")
                            ).related_code is None
