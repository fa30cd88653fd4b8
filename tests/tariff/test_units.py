"""Tariff plugin units: input parsing, local validation, request building, engine, log entries."""

from __future__ import annotations

import datetime as dt

import pytest
from mycarenet_dental.errors import InvalidIdentifierError, Messages, UsageError
from mycarenet_dental.identifiers import Ssin
from mycarenet_dental_tariff import catalogue, engine
from mycarenet_dental_tariff.client import check_service_date, locate, make_query, months_back
from mycarenet_dental_tariff.model import (
    InsuredPatient,
    LineStatus,
    Refusal,
    ServiceRequest,
    TariffLine,
    TariffResult,
    TariffValidationError,
)

SSIN = "85073003328"


def test_service_parse_forms() -> None:
    s = ServiceRequest.parse("302153:36:301011")
    assert (s.code.value, s.tooth.value, s.related.value) == ("302153", 36, "301011")
    assert ServiceRequest.parse("301011").tooth is None
    assert ServiceRequest.parse("302153::301011").tooth is None
    assert str(ServiceRequest.parse("302153:36")) == "302153:36"
    with pytest.raises(InvalidIdentifierError):
        ServiceRequest.parse("30215:36")
    with pytest.raises(InvalidIdentifierError):
        ServiceRequest.parse("302153:19")  # not an FDI tooth
    with pytest.raises(UsageError):
        ServiceRequest.parse("1:2:3:4")


def test_make_query_validates_patient_services_justification() -> None:
    q = make_query(SSIN, ["301011", "302153:36"], service_date=dt.date(2026, 11, 2))
    assert q.patient == Ssin(SSIN) and len(q.services) == 2
    assert make_query("306:3060871", ["301011"], service_date=dt.date(2026, 11, 2)).patient_key == "306:3060871"
    with pytest.raises(InvalidIdentifierError):
        make_query("85073003329", ["301011"], service_date=dt.date(2026, 11, 2))
    with pytest.raises(UsageError):
        make_query(SSIN, [], service_date=dt.date(2026, 11, 2))
    with pytest.raises(TariffValidationError):
        make_query(SSIN, ["301011"], service_date=dt.date(2026, 11, 2), justification="x")


def test_service_date_window() -> None:
    today = dt.date(2026, 11, 25)
    check_service_date(today, today)
    check_service_date(dt.date(2026, 9, 25), today)
    with pytest.raises(TariffValidationError) as info:
        check_service_date(dt.date(2026, 11, 26), today)
    assert info.value.code == "146" and info.value.exit_code == 2
    with pytest.raises(TariffValidationError) as info:
        check_service_date(dt.date(2026, 9, 24), today)
    assert info.value.code == "166"
    assert months_back(dt.date(2026, 12, 31), 2) == dt.date(2026, 10, 31)
    assert months_back(dt.date(2026, 4, 30), 2) == dt.date(2026, 2, 28)


def test_error_xpath_points_at_service_and_field() -> None:
    q = make_query(SSIN, ["301011", "302153:36:301011"], service_date=dt.date(2026, 11, 2))
    base = "/RetrieveTransactionRequest/select/transaction"
    assert locate(base + "/item[2]/content[1]/cd", q) == (1, "service[1].code")
    assert locate(base + "/item[3]/content[2]/cd", q) == (2, "service[2].tooth")
    assert locate(base + "/item[3]/content[3]/cd", q) == (2, "service[2].related")
    assert locate(base + "/item[1]/content[1]/date", q) == (None, "date")
    assert locate("/RetrieveTransactionRequest/select/patient/id", q) == (None, "patient")


def test_catalogue_has_every_code_in_three_languages() -> None:
    for code in ("100", "130", "146", "155", "156", "166", "169", "170", "171", "175"):
        m = catalogue.error_messages(code)
        assert m.en and m.fr and m.nl
    assert catalogue.error_messages("999", "remote text").en == "remote text"
    assert catalogue.refusal_messages("003").nl


def _claims(*specs: str) -> list[engine.Claim]:
    out = []
    for spec in specs:
        code, _, tooth = spec.partition(":")
        out.append(engine.Claim(code, int(tooth) if tooth else None))
    return out


def test_engine_prices_regular_and_bim() -> None:
    table = engine.default_table()
    day = dt.date(2026, 11, 2)
    regular = engine.price(table, _claims("301011", "302153:36"), age=40, bim=False, service_date=day)
    bim = engine.price(table, _claims("301011", "302153:36"), age=40, bim=True, service_date=day)
    assert all(isinstance(o, engine.Priced) for o in regular + bim)
    assert bim[1].reimbursement > regular[1].reimbursement
    assert regular[1].fee == regular[1].reimbursement + regular[1].patient_share


def test_engine_dental_refusals() -> None:
    table = engine.default_table()
    day = dt.date(2026, 11, 2)
    # youth code at 40, adult code at 10: the age at the service date decides
    out = engine.price(table, _claims("371011", "301011"), age=40, bim=False, service_date=day)
    assert isinstance(out[0], engine.Refused) and out[0].reason == "009"
    assert isinstance(out[1], engine.Priced)
    assert engine.price(table, _claims("301011"), age=10, bim=False, service_date=day)[0].reason == "009"
    # the 18th birthday switches from youth to adult codes
    assert isinstance(engine.price(table, _claims("371011"), age=17, bim=False, service_date=day)[0], engine.Priced)
    assert isinstance(engine.price(table, _claims("301011"), age=18, bim=False, service_date=day)[0], engine.Priced)
    # tooth required but missing
    assert engine.price(table, _claims("302153"), age=40, bim=False, service_date=day)[0].reason == "008"
    # frequency for this tooth, with the earlier service
    history = [engine.PastService("302153", day - dt.timedelta(days=40), 36)]
    out = engine.price(table, _claims("302153:36", "302153:37"), age=40, bim=False, service_date=day, history=history)
    assert out[0].reason == "003" and out[0].because_of_code == "302153"
    assert out[0].because_of_date == day - dt.timedelta(days=40)
    assert isinstance(out[1], engine.Priced)
    # combination not allowed on the same tooth the same day; other tooth is fine
    out = engine.price(table, _claims("302153:36", "302175:36", "302175:37"), age=40, bim=False, service_date=day)
    assert isinstance(out[0], engine.Priced) and out[1].reason == "010" and isinstance(out[2], engine.Priced)
    # two identical lines in one request count for the frequency
    out = engine.price(table, _claims("301593", "301593"), age=40, bim=False, service_date=day)
    assert isinstance(out[0], engine.Priced) and out[1].reason == "001"


def test_log_entries_round_trip() -> None:
    result = TariffResult(
        patient=SSIN, service_date=dt.date(2026, 11, 2), request_id="r", response_id="s",
        consulted_at=dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.timezone.utc),
        insured=InsuredPatient(ssin=SSIN, first_name="Lucas", last_name="Janssens", mutuality="116", ct1="110", ct2="110"),
        lines=[TariffLine("302153", 36, None, LineStatus.PRICED, 4800, 3600, 1200, None, "C1", "3"),
               TariffLine("302175", 36, None, "refused", refusal=Refusal("010", Messages("x"), "302153",
                                                                            dt.date(2026, 11, 2)))])
    entries = result.log_entries()
    assert [e["line"] for e in entries] == [1, 2]
    first = entries[0]
    for key in ("patient", "code", "service_date", "tooth", "status", "fee_cents", "reimbursement_cents",
                "patient_share_cents", "commitment"):
        assert key in first
    assert (first["code"], first["tooth"], first["status"], first["commitment"]) == ("302153", 36, "priced", "C1")
    back = TariffResult.from_log(entries, refusal_messages=catalogue.refusal_messages)
    assert back.lines[0] == result.lines[0]
    assert back.lines[1].refusal.because_of_code == "302153" and back.from_contact
    assert back.insured == result.insured
