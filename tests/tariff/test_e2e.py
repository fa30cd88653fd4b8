"""End to end against the TLS simulator: client → Tarification simulator → typed result, rules, audit."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import pytest
from mycarenet_dental.errors import RuleRefusal
from mycarenet_dental.exchange import Trigger
from mycarenet_dental.identifiers import NomenclatureCode
from mycarenet_dental.protocols import commons, kmehr
from mycarenet_dental.sim import schemas
from mycarenet_dental.sim.population import base_population
from mycarenet_dental_tariff import (
    TariffBusinessError,
    TariffClient,
    consult_tariff,
    make_query,
    recorded_lines,
)
from mycarenet_dental_tariff.client import NS_TARIFICATION, SOAP_ACTION, parse_answer
from mycarenet_dental_tariff.model import ServiceRequest
from mycarenet_dental_tariff.population import HISTORY_SSIN, NOT_IN_ORDER_SSIN


def open_contact(ctx: Any, patient: str) -> str:
    return ctx.open_contact(patient).id

REGULAR = base_population()[0].ssin
BIM = base_population()[1].ssin
CHILD = base_population()[2].ssin
UNKNOWN = base_population()[4].ssin
MEDICAL_HOUSE = base_population()[6].ssin


def _consult(ctx: Any, patient: str, services: list[str], **kwargs: Any) -> Any:
    return consult_tariff(ctx, ctx.contact(open_contact(ctx, patient)), services, **kwargs)


def test_three_services_two_teeth_three_priced_lines(ctx: Any) -> None:
    result = _consult(ctx, REGULAR, ["301011", "302153:36", "304415:46"])
    assert [(ln.code, ln.tooth) for ln in result.lines] == [("301011", None), ("302153", 36), ("304415", 46)]
    assert all(ln.priced and ln.commitment and ln.justification == "3" for ln in result.lines)
    assert len({ln.commitment for ln in result.lines}) == 3
    line = result.lines[1]
    assert line.fee_cents == line.reimbursement_cents + line.patient_share_cents
    assert result.insured.ssin == REGULAR and (result.insured.ct1, result.insured.ct2) == ("110", "110")
    assert not result.insured.bim and result.insured.mutuality == "116"
    # recorded for billing, one entry per line, readable through the core
    rows = [r for r in ctx.log.find(kind="tariff.consultation", patient=REGULAR) if r.exchange_id == result.exchange_id]
    assert [r.data["code"] for r in rows] == ["301011", "302153", "304415"]
    assert rows[1].data["tooth"] == 36 and rows[1].data["fee_cents"] == line.fee_cents
    assert rows[1].data["commitment"] == line.commitment and rows[1].data["status"] == "priced"
    assert rows[1].data["service_date"] == result.service_date.isoformat()
    assert len(recorded_lines(ctx, REGULAR)) >= 3
    # audit: the exchange with its references, and the outcome
    audit = ctx.storage.query("SELECT * FROM audit WHERE exchange_id = ?", (result.exchange_id,))
    kinds = [a["kind"] for a in audit]
    assert "exchange" in kinds and "outcome" in kinds


def test_bim_patient_gets_the_higher_reimbursement(ctx: Any) -> None:
    regular = _consult(ctx, REGULAR, ["302175:24"])
    bim = _consult(ctx, BIM, ["302175:24"])
    assert bim.insured.bim and bim.insured.ct1 == "131"
    assert bim.lines[0].reimbursement_cents > regular.lines[0].reimbursement_cents
    assert bim.lines[0].patient_share_cents < regular.lines[0].patient_share_cents


def test_child_youth_codes_and_mixed_outcomes(ctx: Any) -> None:
    result = _consult(ctx, CHILD, ["371011", "301011", "373590", "307016:75"])
    by_code = {ln.code: ln for ln in result.lines}
    assert by_code["371011"].priced and by_code["371011"].patient_share_cents == 0
    assert by_code["301011"].refusal.reason == "009"  # adult code at 14
    assert by_code["373590"].refusal.reason == "008"  # tooth required
    assert by_code["307016"].supplement_cents == 500 and by_code["307016"].tooth == 75


def test_frequency_and_combination_refusals(ctx: Any) -> None:
    result = _consult(ctx, HISTORY_SSIN, ["302153:36", "302153:37", "302175:37", "301593"])
    lines = result.lines
    assert lines[0].refusal.reason == "003" and lines[0].refusal.because_of_code == "302153"
    assert lines[0].refusal.because_of_date < result.service_date
    assert lines[1].priced
    assert lines[2].refusal.reason == "010" and lines[2].refusal.because_of_code == "302153"
    assert lines[3].refusal.reason == "001"
    assert lines[0].refusal.messages.fr


@pytest.mark.parametrize(("patient", "services", "code", "field"), [
    (REGULAR, ["301011", "309999"], "130", "service[2].code"),
    # a non-dental code is refused locally by ServiceRequest.parse; built directly it plays the insurer's 171
    (REGULAR, [ServiceRequest(NomenclatureCode("101010"))], "171", "service[1].code"),
    (REGULAR, ["305594"], "175", "service[1].code"),
    (MEDICAL_HOUSE, ["301011"], "169", "service[1].code"),
    (NOT_IN_ORDER_SSIN, ["301011"], "170", "patient"),
    (UNKNOWN, ["301011"], "120", "patient"),
])
def test_insurer_errors_are_typed(ctx: Any, patient: str, services: list[str], code: str, field: str) -> None:
    with pytest.raises(TariffBusinessError) as info:
        _consult(ctx, patient, services)
    err = info.value
    assert err.code == code and err.exit_code == 1
    assert err.issues[0].field == field and err.messages.fr and err.messages.nl
    assert err.issues[0].url.startswith("/RetrieveTransactionRequest")


def _send(ctx: Any, patient: str, services: list[str], day: dt.date, tamper: Any = None) -> Any:
    client = TariffClient(ctx)
    query = make_query(patient, services, service_date=day)
    exchange = ctx.new_exchange("tariff", "TarificationConsultation", patient=patient)
    body, request_id, _ = client.build(query, exchange)
    if tamper is not None:
        tamper(body)
    reply = ctx.soap.call(client.url(), SOAP_ACTION, body, security=ctx.security.hok(), idempotent=True)
    return parse_answer(reply.body_child, query, request_id=request_id)


def test_dates_checked_by_the_insurer_too(ctx: Any) -> None:
    today = dt.date.today()
    with pytest.raises(TariffBusinessError) as info:
        _send(ctx, REGULAR, ["301011"], today + dt.timedelta(days=2))
    assert info.value.code == "146" and info.value.issues[0].field == "date"
    with pytest.raises(TariffBusinessError) as info:
        _send(ctx, REGULAR, ["301011"], today - dt.timedelta(days=70))
    assert info.value.code == "166"


def _routing_ssin(body: Any) -> None:
    ns = commons.V2.core_ns
    body.find(f".//{{{ns}}}CareReceiver/{{{ns}}}Ssin").text = BIM


def _blob_rewrite(edit: Any) -> Any:
    from mycarenet_dental.xmlsafe import parse_xml

    def tamper(body: Any) -> None:
        detail = body.find(f"{{{commons.V2.protocol_ns}}}Detail")
        blob = commons.parse_blob(detail)
        el = parse_xml(blob.content)
        edit(el)
        detail.text = commons.blob_element(commons.V2, commons.make_blob(kmehr.to_bytes(el), id="blob")).text
    return tamper


def _transaction_author(el: Any) -> None:
    c, k = kmehr.NS_MS_CORE, kmehr.NS_KMEHR
    el.find(f"{{{c}}}select/{{{c}}}transaction/{{{c}}}author/{{{k}}}hcparty/{{{k}}}id").text = "31234592999"


def _request_author(el: Any) -> None:
    c, k = kmehr.NS_MS_CORE, kmehr.NS_KMEHR
    el.find(f"{{{c}}}request/{{{c}}}author/{{{k}}}hcparty/{{{k}}}id").text = "31234592999"


@pytest.mark.parametrize(("tamper", "code"), [
    (_routing_ssin, "155"), (_blob_rewrite(_request_author), "155"), (_blob_rewrite(_transaction_author), "156"),
])
def test_envelope_and_kmehr_inconsistencies(ctx: Any, tamper: Any, code: str) -> None:
    with pytest.raises(TariffBusinessError) as info:
        _send(ctx, REGULAR, ["301011"], dt.date.today(), tamper)
    assert code in [i.code for i in info.value.issues]


def test_request_and_blob_validate_against_the_official_schemas(ctx: Any) -> None:
    if schemas.schema("tarification") is None:
        pytest.skip("official schemas not available")
    from mycarenet_dental.xmlsafe import parse_xml

    query = make_query(REGULAR, ["301011", "302153:36:301011", "304415:46"], service_date=dt.date.today(),
                       justification="2")
    exchange = ctx.new_exchange("tariff", "TarificationConsultation", patient=REGULAR)
    body, _, _ = TariffClient(ctx).build(query, exchange)
    assert schemas.validate("tarification", body) == []
    assert body.tag == f"{{{NS_TARIFICATION}}}TarificationConsultationRequest"
    ns = commons.V2.core_ns
    assert body.findtext(f".//{{{ns}}}CareProvider/{{{ns}}}Nihii/{{{ns}}}Quality") == "dentist"
    blob = parse_xml(commons.parse_blob(body.find(f"{{{commons.V2.protocol_ns}}}Detail")).content)
    assert schemas.validate("kmehr-messageservices", blob) == []
    req = kmehr.parse_request(blob)
    assert req.protocol_version == "1.16"
    assert req.header.author[0].kind == "persdentist"
    claims = req.transaction.items_of("claim")
    assert [c.content_code("CD-ISO-3950") for c in claims] == [None, "36", "46"]  # one tooth per claim
    assert claims[1].content_code("CD-NIHDI-RELATEDSERVICE") == "301011"
    assert req.transaction.items_of("justification")[0].content_code("CD-MYCARENET-JUSTIFICATION") == "2"


def _audited_refusal(ctx: Any, rule: str) -> bool:
    return bool(ctx.storage.query("SELECT 1 FROM audit WHERE kind = 'refusal' AND code = ?", (rule,)))


def test_automatic_trigger_is_refused_and_audited(ctx: Any) -> None:
    with pytest.raises(RuleRefusal) as info:
        _consult(ctx, REGULAR, ["301011"], trigger=Trigger.AUTOMATIC)
    assert info.value.rule_id == "R37" and info.value.exit_code == 1
    assert _audited_refusal(ctx, "R37")


def test_once_per_contact(ctx: Any) -> None:
    contact = open_contact(ctx, BIM)
    first = consult_tariff(ctx, ctx.contact(contact), ["301011", "302153:36"])
    calls = ctx.soap.calls
    again = consult_tariff(ctx, ctx.contact(contact), ["302153:36"])
    assert again.from_contact and ctx.soap.calls == calls  # no network call: result kept on the contact
    assert again.line_for("302153", 36) == first.lines[1] and again.exchange_id == first.exchange_id
    with pytest.raises(RuleRefusal) as info:
        consult_tariff(ctx, ctx.contact(contact), ["304415:46"])
    assert info.value.rule_id == "R35" and _audited_refusal(ctx, "R35")


def test_new_consultation_allowed_after_a_failed_one(ctx: Any) -> None:
    contact = open_contact(ctx, REGULAR)
    with pytest.raises(TariffBusinessError):
        consult_tariff(ctx, ctx.contact(contact), ["309999"])
    assert consult_tariff(ctx, ctx.contact(contact), ["301011"]).lines[0].priced


def test_no_contact_no_consultation(ctx: Any) -> None:
    from mycarenet_dental.errors import NoContactError

    with pytest.raises(NoContactError):
        consult_tariff(ctx, base_population()[3].ssin, ["301011"])


def test_burst_of_consultations_is_refused(sim: Any, ctx: Any) -> None:
    from mycarenet_dental.context import Context

    config = attrs.evolve(ctx.config, raw={**ctx.config.raw, "tariff": {"max_per_minute": 1}})
    strict = Context(config, pm=sim.pm)
    try:
        with pytest.raises(RuleRefusal) as info:
            _consult(strict, REGULAR, ["301011"])
        assert info.value.rule_id == "R37-burst" and _audited_refusal(strict, "R37-burst")
    finally:
        strict.close()


def _run_cli(args: list[str], capsys: Any) -> tuple[int, str]:
    from mycarenet_dental.cli.main import main

    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_cli_table_and_json(sim: Any, ctx: Any, capsys: Any) -> None:
    import json

    config = sim.config_path.with_name("config-tariff-cli.toml")
    config.write_text(sim.config_path.read_text() + "\n[tariff]\nmax_per_minute = 10000\n")
    patient = base_population()[9].ssin
    open_contact(ctx, patient)
    base = ["--config", str(config), "tariff", "--patient", patient]
    code, out = _run_cli(base + ["--service", "301011", "--service", "302153:36", "--json"], capsys)
    assert code == 0, out
    data = json.loads(out)
    assert [ln["code"] for ln in data["lines"]] == ["301011", "302153"]
    assert data["lines"][1]["tooth"] == 36 and data["lines"][1]["commitment"]
    code, out = _run_cli(base + ["--service", "302153:36"], capsys)
    assert code == 0 and "302153" in out and "kept on the contact" in out
    code, out = _run_cli(base + ["--service", "302153:99"], capsys)
    assert code == 2 and "tooth" in out
    code, out = _run_cli(base + ["--service", "304415:46", "--json"], capsys)
    assert code == 1 and json.loads(out)["code"] == "R35"


def test_billing_office_under_mandate(sim: Any) -> None:
    """Tariff is mandatable (Annex 1 §4): a billing office with a mandate consults for the dentist."""
    office = sim.context(mandatary=True)
    try:
        mandates = pytest.importorskip("mycarenet_dental_mandates")
        register = mandates.register_for(office)
        register.add(mandator_nihii=office.responsible().nihii, mandatary=f"cbe:{office.executor().cbe}",
                     service="tariff", start=dt.date.today().isoformat())
        sim.state.switches.extra["mandates"] = register  # MyCareNet's own register knows it too
        contact = office.open_contact(REGULAR).id
        result = consult_tariff(office, office.contact(contact), ["301011"])
        assert result.lines[0].priced
        audit = office.storage.query("SELECT executor, responsible FROM audit WHERE exchange_id = ? AND kind = 'exchange'",
                                     (result.exchange_id,))
        assert audit[0]["executor"].startswith("mandatary:") and audit[0]["responsible"].startswith("dentist:")
    finally:
        office.close()


def test_patient_by_mutuality_and_registration_number(ctx: Any) -> None:
    bim = base_population()[1]
    period = bim.periods[0]
    key = f"{period.mutuality}:{period.registration_number}"
    result = _consult(ctx, key, ["301011"])
    assert result.patient == key and result.insured.ssin == bim.ssin and result.insured.bim
    with pytest.raises(TariffBusinessError) as info:
        _consult(ctx, f"{period.mutuality}:9999999", ["301011"])
    assert info.value.code == "122" and info.value.issues[0].field == "patient"


def _drop_claims(el: Any) -> None:
    c, k = kmehr.NS_MS_CORE, kmehr.NS_KMEHR
    tx = el.find(f"{{{c}}}select/{{{c}}}transaction")
    for item in tx.findall(f"{{{c}}}item"):
        if item.findtext(f"{{{k}}}cd") == "claim":
            tx.remove(item)


def _bad_tooth(el: Any) -> None:
    k = kmehr.NS_KMEHR
    for cd in el.iter(f"{{{k}}}cd"):
        if cd.get("S") == "CD-ISO-3950":
            cd.text = "99"


@pytest.mark.parametrize(("tamper", "code", "field"), [
    (_blob_rewrite(_drop_claims), "100", None), (_blob_rewrite(_bad_tooth), "111", "service[1].tooth"),
])
def test_missing_and_malformed_blob_content(ctx: Any, tamper: Any, code: str, field: str | None) -> None:
    with pytest.raises(TariffBusinessError) as info:
        _send(ctx, REGULAR, ["302153:36"], dt.date.today(), tamper)
    issue = next(i for i in info.value.issues if i.code == code)
    assert field is None or issue.field == field


def test_wrong_licence_is_refused(sim: Any, monkeypatch: Any) -> None:
    from mycarenet_dental.errors import MyCareNetDentalError

    monkeypatch.setenv("MYCARENET_DENTAL_LICENCE_PASSWORD", "not-the-licence")
    wrong = sim.context()
    try:
        monkeypatch.setenv("MYCARENET_DENTAL_LICENCE_PASSWORD", "not-the-licence")
        with pytest.raises(MyCareNetDentalError) as info:
            _send(wrong, REGULAR, ["301011"], dt.date.today())
        assert info.value.code == "INVALID_LICENSE"
    finally:
        wrong.close()


def test_payment_commitment_and_justification(ctx: Any) -> None:
    no_tpp = base_population()[8].ssin  # no third-party payment: no payment commitment (justification 9)
    result = _consult(ctx, no_tpp, ["301011"])
    assert result.lines[0].priced and result.lines[0].commitment is None and result.lines[0].justification == "9"
    echoed = _consult(ctx, base_population()[9].ssin, ["301011"], justification="2")
    assert echoed.lines[0].justification == "2" and echoed.lines[0].commitment
    with pytest.raises(TariffBusinessError) as info:
        _consult(ctx, REGULAR, ["301011"], justification="5")
    assert info.value.code == "130" and info.value.issues[0].field == "justification"


def test_simulator_answers_validate_against_the_official_schemas(ctx: Any) -> None:
    if schemas.schema("tarification") is None:
        pytest.skip("official schemas not available")
    from mycarenet_dental.xmlsafe import parse_xml

    client = TariffClient(ctx)
    for services in (["301011", "302153:36", "302153"], ["309999"]):  # priced + refused lines; an error answer
        query = make_query(REGULAR, services, service_date=dt.date.today())
        body, _, _ = client.build(query, ctx.new_exchange("tariff", "TarificationConsultation", patient=REGULAR))
        reply = ctx.soap.call(client.url(), SOAP_ACTION, body, security=ctx.security.hok(), idempotent=True)
        assert schemas.validate("tarification", reply.body_child) == []
        blob = commons.parse_response(commons.V2, reply.body_child).blob
        assert blob.hash_value is not None
        assert schemas.validate("kmehr-messageservices", parse_xml(blob.content)) == []
