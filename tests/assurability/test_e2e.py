"""End to end against the TLS simulator: every population case, sealed MemberData, GenericInsurability,
the annex 2 rules, and the CLI with ``--json``. One simulator for the whole module."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from mycarenet_dental.errors import InvalidIdentifierError, NoContactError, RuleRefusal
from mycarenet_dental.sim.population import base_population
from mycarenet_dental_assurability import consult_insurability
from mycarenet_dental_assurability.errors import InsurabilityRefused, InsurerUnavailable
from mycarenet_dental_assurability.simulator import population, union_members

BASE = base_population()
EXTRA = {p.first_name: p for p in population()}
TODAY = date.today()


def _consult(ctx, contact_for, patient: str, **kw):
    contact_for(patient)
    return consult_insurability(ctx, patient, **kw)


def test_regular_insured_sealed(ctx, contact_for) -> None:
    r = _consult(ctx, contact_for, BASE[0].ssin)
    assert (r.insured, r.ct1, r.ct2, r.bim, r.third_party_payment, r.union) == (True, "110", "110", False, True, "100")
    assert r.patient.last_name == "Janssens" and r.patient.sex == "male"
    assert r.source.value == "memberdata" and not r.partial
    assert {"input_reference", "nip_reference", "output_reference"} <= set(r.references)


def test_clear_mode(ctx, contact_for) -> None:
    r = _consult(ctx, contact_for, BASE[1].ssin, sealed=False)
    assert (r.ct1, r.bim, r.third_party_payment, r.union) == ("131", True, True, "300")


def test_bim_111(ctx, contact_for) -> None:
    r = _consult(ctx, contact_for, EXTRA["Hilde"].ssin)
    assert (r.ct1, r.ct2, r.bim) == ("111", "111", True)


def test_two_periods_with_ct_change(ctx, contact_for) -> None:
    r = _consult(ctx, contact_for, EXTRA["Sofie"].ssin, since=TODAY - timedelta(days=90))
    assert [(p.ct1, p.ct2) for p in r.periods] == [("110", "110"), ("120", "120")]
    assert r.ct1 == "120" and r.periods[0].end == TODAY - timedelta(days=61)


def test_more_than_five_periods_truncated(ctx, contact_for) -> None:
    r = _consult(ctx, contact_for, EXTRA["Pieter"].ssin, since=TODAY - timedelta(days=200))
    assert len(r.periods) == 5 and r.truncated and r.partial
    assert [n.code for n in r.notices] == ["ONLY_FIVE_PERIODS_RETURNED"]


def test_closed_before(ctx, contact_for) -> None:
    r = _consult(ctx, contact_for, EXTRA["Nathalie"].ssin)
    assert not r.insured and r.periods == ()
    assert r.general_situation.event == "closedBefore"
    assert r.general_situation.transfer_date == TODAY - timedelta(days=89)


def test_starting_later(ctx, contact_for) -> None:
    r = _consult(ctx, contact_for, EXTRA["Yusuf"].ssin)
    assert not r.insured and r.general_situation.event == "startLater"


def test_change_of_insurer_mutation(ctx, contact_for) -> None:
    r = _consult(ctx, contact_for, EXTRA["Laura"].ssin, since=TODAY - timedelta(days=15))
    assert r.partial and "MUTATION" in [n.code for n in r.notices]
    assert [p.mutuality for p in r.periods] == ["203", "509"] and r.union == "500"
    assert r.general_situation.event == "changeDuring"


def test_deceased(ctx, contact_for) -> None:
    r = _consult(ctx, contact_for, BASE[5].ssin)
    assert r.deceased == date(2026, 2, 14)


def test_hospitalised_and_mismatch(ctx, contact_for) -> None:
    r = _consult(ctx, contact_for, BASE[7].ssin, contact_type="hospitalized")
    assert r.hospitalisation.admission_date == date(2026, 11, 20) and r.hospitalisation.service == "450"
    with pytest.raises(InsurabilityRefused) as exc:
        _consult(ctx, contact_for, BASE[0].ssin, contact_type="hospitalized")
    assert exc.value.code == "MISMATCHED_CONTACTTYPE" and exc.value.fault_source == "IO-BE-100"
    assert exc.value.messages.nl


def test_medical_house(ctx, contact_for) -> None:
    r = _consult(ctx, contact_for, BASE[6].ssin)
    from mycarenet_dental.sim.population import MEDICAL_HOUSE

    assert r.medical_house.nihii == MEDICAL_HOUSE.nihii and r.medical_house.start == MEDICAL_HOUSE.start
    assert set(r.medical_house.kinds) == {"Medical", "Kine", "Nurse"}


@pytest.mark.parametrize(("who", "expected"), [("Lina", False), ("Marc", False), ("Lucas", True)])
def test_third_party_payment(ctx, contact_for, who: str, expected: bool) -> None:
    patient = next(p for p in BASE + list(EXTRA.values()) if p.first_name == who)
    assert _consult(ctx, contact_for, patient.ssin).third_party_payment is expected


def test_unknown_ssin(ctx, contact_for) -> None:
    with pytest.raises(InsurabilityRefused) as exc:
        _consult(ctx, contact_for, BASE[4].ssin)
    assert exc.value.code == "UNKNOWN_NISS_ROUTING" and exc.value.exit_code == 1
    assert exc.value.status.endswith("Responder") and exc.value.messages.fr.startswith("NISS")


@pytest.mark.parametrize(("union", "ssin"), sorted(union_members().items()))
def test_each_union_answers_as_its_io(ctx, contact_for, union: str, ssin: str) -> None:
    assert _consult(ctx, contact_for, ssin).union == union


def test_union_coverage_is_complete() -> None:
    assert set(union_members()) == {"100", "200", "300", "400", "500", "600", "900"}


def test_partial_answer(ctx, contact_for) -> None:
    r = _consult(ctx, contact_for, EXTRA["Kevin"].ssin)
    assert r.partial and r.insured and r.third_party_payment is None
    assert [n.code for n in r.notices] == ["MISSING_FACETS"]


def test_insurer_failure_is_a_disturbance_and_retry_allowed(ctx, contact_for) -> None:
    patient = EXTRA["Olivier"].ssin
    contact_for(patient)
    for _ in range(2):  # not refused by R34: the first one failed
        with pytest.raises(InsurerUnavailable) as exc:
            consult_insurability(ctx, patient)
        assert exc.value.code == "BO_EXCEPTION" and exc.value.exit_code == 3


def test_by_registration_number_and_invoicing(ctx, contact_for) -> None:
    r = _consult(ctx, contact_for, "116:1160042", invoicing=True)
    assert r.patient.ssin == BASE[0].ssin
    assert len(r.periods[0].payment_approval) == 32


def test_bad_check_digit_refused_locally(sim, ctx) -> None:
    before = sim.state.counters.get("memberdata:requests", 0)
    with pytest.raises(InvalidIdentifierError):
        consult_insurability(ctx, "85073003329")
    assert sim.state.counters.get("memberdata:requests", 0) == before


def test_no_contact_refused(ctx) -> None:
    patient = EXTRA["Ines"].ssin
    for old in ctx.contacts.list(open_only=True, patient=patient):
        ctx.contacts.close(old.id)
    with pytest.raises(NoContactError):
        consult_insurability(ctx, patient)


def test_second_consultation_refused_audited_and_cached(sim, ctx, contact_for) -> None:
    patient = BASE[9].ssin
    contact_id = contact_for(patient)
    first = consult_insurability(ctx, patient)
    before = sim.state.counters.get("memberdata:requests", 0)
    again = consult_insurability(ctx, patient)
    assert sim.state.counters.get("memberdata:requests", 0) == before  # no network call
    assert again.source.value == "cache" and (again.ct1, again.ct2) == (first.ct1, first.ct2)
    assert again.third_party_payment == first.third_party_payment and again.union == first.union
    assert again.patient is not None and (again.patient.ssin, again.patient.sex) == (patient, first.patient.sex)
    assert any(n.code == "R34" and "Annex 2" in (n.message or "") for n in again.notices)
    rows = ctx.storage.query("SELECT * FROM audit WHERE kind = 'refusal' AND contact_id = ?", (contact_id,))
    assert [r["code"] for r in rows] == ["R34"]
    kept = ctx.log.find(kind="assurability.consultation", contact_id=contact_id)
    assert len(kept) == 1 and "Arne" not in json.dumps(kept[0].data) and kept[0].retention == "keep"


def test_automatic_trigger_refused(ctx, contact_for) -> None:
    contact_for(EXTRA["Marc"].ssin)
    with pytest.raises(RuleRefusal) as exc:
        consult_insurability(ctx, EXTRA["Marc"].ssin, trigger="automatic")
    assert exc.value.rule_id == "R34-explicit"


def test_genins_backend(ctx, contact_for) -> None:
    r = _consult(ctx, contact_for, BASE[1].ssin, backend="genins", invoicing=True)
    assert (r.source.value, r.ct1, r.ct2, r.bim, r.third_party_payment) == ("genins", "131", "131", True, True)
    assert r.periods[0].payment_approval
    r = _consult(ctx, contact_for, EXTRA["Pieter"].ssin, backend="genins", since=TODAY - timedelta(days=200))
    assert r.truncated and len(r.periods) == 5
    r = _consult(ctx, contact_for, BASE[6].ssin, backend="genins")
    assert set(r.medical_house.kinds) == {"Medical", "Kine", "Nurse"}
    r = _consult(ctx, contact_for, BASE[7].ssin, backend="genins", contact_type="hospitalized")
    assert r.hospitalisation.service == "450"
    with pytest.raises(InsurabilityRefused) as exc:
        _consult(ctx, contact_for, BASE[4].ssin, backend="genins")
    assert exc.value.code == "23" and exc.value.location.endswith("CareReceiverId/Inss")
    with pytest.raises(InsurabilityRefused) as exc:
        _consult(ctx, contact_for, BASE[0].ssin, backend="genins", contact_type="hospitalized")
    assert exc.value.code == "42"


def _cli(sim, *args: str) -> int:
    from mycarenet_dental.cli.main import main

    try:
        main(["--config", str(sim.config_path), "insurability", *args])
    except SystemExit as done:
        return int(done.code or 0)
    return 0


def test_cli_json(sim, ctx, contact_for, capsys) -> None:
    contact_for(BASE[2].ssin)
    assert _cli(sim, "--patient", BASE[2].ssin, "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["insured"], data["ct1"], data["union"], data["source"]) == (True, "110", "500", "memberdata")
    contact_for(BASE[4].ssin)
    assert _cli(sim, "--patient", BASE[4].ssin, "--json") == 1
    err = json.loads(capsys.readouterr().out)
    assert err["code"] == "UNKNOWN_NISS_ROUTING" and err["message"]["nl"]
    assert _cli(sim, "--patient", "12345678901", "--json") == 2
    assert json.loads(capsys.readouterr().out)["code"] == "INVALID_IDENTIFIER"


def test_cli_human(sim, contact_for, capsys) -> None:
    contact_for(BASE[3].ssin)
    assert _cli(sim, "--patient", BASE[3].ssin, "--clear") == 0
    out = capsys.readouterr().out
    assert "CT1/CT2" in out and "306" in out


def _population_cases() -> list[tuple[str, str, int]]:
    """(label, ssin, expected exit code) for every simulated patient."""
    cases = []
    for p in BASE + list(EXTRA.values()):
        code = 0
        if not p.known:
            code = 1  # UNKNOWN_NISS_ROUTING
        elif p.facts.get("memberdata.bo_exception"):
            code = 3
        cases.append((f"{p.first_name}-{p.situations[0][:20]}", p.ssin, code))
    return cases


@pytest.mark.parametrize(("label", "ssin", "exit_code"), _population_cases(), ids=lambda v: v if isinstance(v, str)
                         and not v.isdigit() else None)
def test_cli_json_every_population_case(sim, contact_for, capsys, label: str, ssin: str, exit_code: int) -> None:
    contact_for(ssin)
    assert _cli(sim, "--patient", ssin, "--json") == exit_code
    data = json.loads(capsys.readouterr().out)
    if exit_code == 0:
        assert data["source"] == "memberdata" and data["patient"]["ssin"] == ssin
        assert data["union"] in ("100", "200", "300", "400", "500", "600", "900")
    else:
        assert data["code"] in ("UNKNOWN_NISS_ROUTING", "BO_EXCEPTION") and data["message"]["fr"]


def test_sent_request_validates_body_and_blob(ctx, contact_for, monkeypatch) -> None:
    """The MemberData request as it leaves the client: body (commons v3) and clear blob (AttributeQuery)."""
    from mycarenet_dental.protocols import commons
    from mycarenet_dental.sim import schemas
    from mycarenet_dental.xmlsafe import parse_xml

    if schemas.schema("memberdata") is None:
        pytest.skip("official schemas absent")
    sent = []
    real = type(ctx.soap).call

    def spy(self, url, action, body, **kw):
        sent.append(body)
        return real(self, url, action, body, **kw)

    monkeypatch.setattr(type(ctx.soap), "call", spy)
    _consult(ctx, contact_for, BASE[0].ssin, sealed=False)
    body = sent[-1]
    assert schemas.validate("memberdata", body) == []
    blob = commons.parse_request(commons.V3, body).blob
    assert blob.content_encoding == "none" and blob.content_type == "text/xml"
    assert schemas.validate("memberdata-blob", parse_xml(blob.content)) == []
    _consult(ctx, contact_for, BASE[1].ssin, sealed=True)
    body = sent[-1]
    assert schemas.validate("memberdata", body) == []
    assert commons.parse_request(commons.V3, body).blob.content_encryption == "encryptedForKnownBED"


def test_retention_contact_erases_the_kept_summary(sim, contact_for) -> None:
    import attrs

    office = sim.context()
    raw = dict(office.config.raw)
    raw["assurability"] = {"retention": "contact"}
    office.config = attrs.evolve(office.config, raw=raw)
    patient = EXTRA["Ines"].ssin
    contact_id = contact_for(patient)
    consult_insurability(office, office.contact(contact_id))
    assert office.log.find(kind="assurability.consultation", contact_id=contact_id)
    office.contacts.close(contact_id)
    assert office.log.find(kind="assurability.consultation", contact_id=contact_id) == []
    office.close()
