"""KMEHR RetrieveTransactionRequest/Response builders and parsers (shared with DMG)."""

from __future__ import annotations

import datetime as dt

import pytest
from mycarenet_dental.protocols import kmehr
from mycarenet_dental.sim import schemas

DENTIST = kmehr.HcParty.person(kind="persdentist", nihii="31234592001", ssin="85073003328", firstname="Anne",
                               familyname="Simulaar")


def _request(transaction: str = "tariff", **patient: str) -> kmehr.RetrieveTransactionRequest:
    items = [kmehr.Item(cd=kmehr.Code("CD-ITEM", "encounterdatetime"), contents=[kmehr.Content(date=dt.date(2026, 11, 2))]),
             kmehr.Item(cd=kmehr.Code("CD-ITEM", "claim"), contents=[
                 kmehr.Content(cds=[kmehr.Code("CD-NIHDI", "302153")]),
                 kmehr.Content(cds=[kmehr.Code("CD-ISO-3950", "36")])])]
    return kmehr.RetrieveTransactionRequest(
        header=kmehr.RequestHeader(id="31234592001.1", author=[DENTIST], date=dt.date(2026, 11, 2),
                                   time=dt.time(9, 30)),
        patient=kmehr.PatientSelector(**(patient or {"ssin": "85073003328"})),
        transaction=kmehr.TransactionSelect(cd=kmehr.Code("CD-TRANSACTION-MYCARENET", transaction, sv="1.1"),
                                            author=[DENTIST], items=items),
        protocol_version="1.16")


def _schema():
    compiled = schemas.schema("kmehr-messageservices")
    if compiled is None:
        pytest.skip("official schemas not available")
    return compiled


def test_request_round_trip_and_schema() -> None:
    req = _request()
    el = kmehr.build_request(req)
    schema = _schema()
    assert schema.validate(el), schema.error_log
    back = kmehr.parse_request(el)
    assert back == req
    claim = back.transaction.items_of("claim")[0]
    assert claim.position == 2 and claim.content_code("CD-ISO-3950") == "36"
    assert claim.xpath() == "/RetrieveTransactionRequest/select/transaction/item[2]"


def test_request_by_membership_and_gmd_transaction() -> None:
    req = _request("gmd", insurer="306", membership="3060871", sex="female")
    el = kmehr.build_request(req)
    assert _schema().validate(el)
    back = kmehr.parse_request(el)
    assert back.patient == kmehr.PatientSelector(insurer="306", membership="3060871", sex="female")
    assert back.transaction.kind == "gmd"


def test_patient_selector_needs_an_identifier() -> None:
    with pytest.raises(ValueError):
        kmehr.PatientSelector()


def test_parse_request_reports_code_and_xpath() -> None:
    el = kmehr.build_request(_request())
    date = el.find(f"{{{kmehr.NS_MS_CORE}}}request/{{{kmehr.NS_MS_CORE}}}date")
    date.text = "02/11/2026"
    with pytest.raises(kmehr.KmehrRequestError) as info:
        kmehr.parse_request(el)
    assert info.value.code == "111" and info.value.url == "/RetrieveTransactionRequest/request/date"
    el = kmehr.build_request(_request())
    select = el.find(f"{{{kmehr.NS_MS_CORE}}}select")
    select.remove(select.find(f"{{{kmehr.NS_MS_CORE}}}transaction"))
    with pytest.raises(kmehr.KmehrRequestError) as info:
        kmehr.parse_request(el)
    assert info.value.code == "100"


def test_response_round_trip_errors_and_folder() -> None:
    req = _request()
    insurer = kmehr.HcParty.insurer("306")
    tx = kmehr.Transaction(
        cd=kmehr.Code("CD-TRANSACTION-MYCARENET", "tariff", sv="1.1"), author=[insurer], date=dt.date(2026, 11, 2),
        time=dt.time(9, 30, 1), items=[
            kmehr.Item(cd=kmehr.Code("CD-ITEM-MYCARENET", "fee"), cost=kmehr.Cost("48")),
            kmehr.Item(cd=kmehr.Code("CD-ITEM-MYCARENET", "financialcontract"),
                       contents=[kmehr.Content(ids=[kmehr.Code("ID-KMEHR", "123")])])])
    resp = kmehr.RetrieveTransactionResponse(
        id="306.1", author=[insurer], date=dt.date(2026, 11, 2), time=dt.time(9, 30, 1), request=req.header,
        complete=True, patient=kmehr.KmehrPatient(
            ssin="85073003328", firstnames=("Lucas",), familyname="Janssens", birthdate=dt.date(1985, 7, 30),
            sex="male", insurance=kmehr.Insurance("306", "3060871", dt.date(2015, 1, 1), None, "131", "131")),
        transactions=[tx])
    el = kmehr.build_response(resp)
    schema = _schema()
    assert schema.validate(el), schema.error_log
    back = kmehr.parse_response(el)
    assert back.patient == resp.patient
    assert back.transactions[0].item("fee").cost.cents == 4800
    assert back.transactions[0].item("financialcontract").content_id() == "123"
    assert back.request == req.header
    failed = kmehr.build_response(kmehr.RetrieveTransactionResponse(
        id="306.2", author=[insurer], date=dt.date(2026, 11, 2), time=dt.time(9, 30, 1), request=req.header,
        complete=False, errors=[kmehr.AckError.of("130", "unknown code", "/RetrieveTransactionRequest/select")]))
    assert schema.validate(failed), schema.error_log
    parsed = kmehr.parse_response(failed)
    assert not parsed.complete and parsed.errors[0].code == "130" and parsed.errors[0].url.endswith("/select")


def test_parse_response_refuses_other_roots() -> None:
    from mycarenet_dental.errors import MalformedResponseError

    with pytest.raises(MalformedResponseError):
        kmehr.parse_response(kmehr.build_request(_request()))
