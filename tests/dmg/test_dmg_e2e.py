"""End to end against the TLS simulator: both routes, the three holder cases, each refusal, the rules."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from mycarenet_dental.errors import MyCareNetDentalError, NoContactError, RuleRefusal
from mycarenet_dental.exchange import Trigger
from mycarenet_dental.sim.population import build_population
from mycarenet_dental_dmg import DmgRefusedError, HolderKind, consult_dmg
from mycarenet_dental_dmg.simulator import (
    DMG_HOLDER,
    SWITCH_FACET_UNAUTHORIZED,
    SWITCH_GMF_REFUSED,
    dmg_holders,
)

PATIENTS = list(build_population(dmg_holders()))  # the core's patients with the holders this plugin adds
GP_PATIENT, NO_DMG, UNKNOWN, HOUSE_PATIENT = PATIENTS[0], PATIENTS[2], PATIENTS[4], PATIENTS[6]
GP, HOUSE = GP_PATIENT.facts[DMG_HOLDER], HOUSE_PATIENT.facts[DMG_HOLDER]


def _contact(ctx: Any, ssin: str) -> str:
    return ctx.open_contact(ssin).id


def _outcomes(ctx: Any) -> list[Any]:
    return [e for e in ctx.audit.entries() if e.kind in ("outcome", "refusal")]


@pytest.mark.parametrize("route", ["memberdata", "gmf"])
def test_three_holder_cases(dmg_context: Any, route: str) -> None:
    ctx = dmg_context(route=route)
    gp = consult_dmg(ctx, ctx.contact(_contact(ctx, GP_PATIENT.ssin)), consent=True)
    assert gp.holder is not None and gp.holder.nihii == GP.nihii
    assert gp.holder.first_name == "Anna" and gp.holder.kind is HolderKind.PHYSICIAN
    assert gp.route.value == route and (gp.union or gp.mutuality) and gp.consent is True
    house = consult_dmg(ctx, ctx.contact(_contact(ctx, HOUSE_PATIENT.ssin)))
    assert house.holder is not None and house.holder.kind is HolderKind.MEDICAL_HOUSE
    assert house.holder.first_name is None and house.holder.name == HOUSE.name
    if route == "gmf":  # the period travels on route B (gmdmanager beginmoment)
        assert gp.holder.start == GP.start
    none = consult_dmg(ctx, ctx.contact(_contact(ctx, NO_DMG.ssin)))
    assert none.holder is None and not none.has_holder
    outcomes = [e for e in _outcomes(ctx) if e.kind == "outcome"]
    assert [e.outcome for e in outcomes] == ["ok", "ok", "ok"]
    exchanges = [e for e in ctx.audit.entries() if e.kind == "exchange"]
    assert all(e.trigger == "user" and e.service == "dmg" for e in exchanges)
    assert "art74" in json.dumps(exchanges[0].detail)  # R41: the purpose is in the audit


@pytest.mark.parametrize(("case", "code"), [("unknown", "120"), ("old", "145"), ("future", "146"),
                                             ("refused", "140")])
def test_route_b_refusals(dmg_context: Any, switches: dict[str, Any], case: str, code: str) -> None:
    ctx = dmg_context(route="gmf")
    today = ctx.now().date()
    patient, day = GP_PATIENT.ssin, None
    if case == "unknown":
        patient = UNKNOWN.ssin
    elif case == "old":
        day = today - timedelta(days=25 * 31)
    elif case == "future":
        day = today + timedelta(days=3)
    else:
        switches[SWITCH_GMF_REFUSED] = {"dentist"}
    with pytest.raises(DmgRefusedError) as err:
        consult_dmg(ctx, ctx.contact(_contact(ctx, patient)), reference_date=day)
    assert err.value.code == code and err.value.messages.fr and err.value.messages.nl
    assert err.value.location  # the XPath into the request
    last = _outcomes(ctx)[-1]
    assert last.outcome == "business_error" and last.code == code


def test_route_a_refusals(dmg_context: Any, switches: dict[str, Any]) -> None:
    ctx = dmg_context(route="memberdata")
    switches[SWITCH_FACET_UNAUTHORIZED] = {"dentist"}
    with pytest.raises(DmgRefusedError) as err:
        consult_dmg(ctx, ctx.contact(_contact(ctx, GP_PATIENT.ssin)))
    assert err.value.code == "UNAUTHORIZED_FACET" and "globalMedicalFile" in (err.value.location or "")
    switches.pop(SWITCH_FACET_UNAUTHORIZED)
    with pytest.raises(DmgRefusedError) as err:
        consult_dmg(ctx, ctx.contact(_contact(ctx, UNKNOWN.ssin)))
    assert err.value.code == "UNKNOWN_NISS_ROUTING"


def test_automatic_and_mandatary_requests_are_refused_and_audited(dmg_context: Any, sim: Any) -> None:
    ctx = dmg_context(route="gmf")
    before = sim.state.counters.get("dmg:gmf", 0)
    with pytest.raises(RuleRefusal) as err:
        consult_dmg(ctx, ctx.contact(_contact(ctx, GP_PATIENT.ssin)), trigger=Trigger.AUTOMATIC)
    assert err.value.rule_id == "R42"
    refusal = _outcomes(ctx)[-1]
    assert refusal.kind == "refusal" and refusal.code == "R42" and refusal.trigger == "automatic"

    office = dmg_context(mandatary=True, route="gmf")
    contact = office.open_contact(GP_PATIENT.ssin)
    with pytest.raises(RuleRefusal) as err:
        consult_dmg(office, office.contact(contact.id))
    assert err.value.rule_id == "R21-dmg"
    refusal = _outcomes(office)[-1]
    assert refusal.code == "R21-dmg" and refusal.executor.startswith("mandatary:")
    assert sim.state.counters.get("dmg:gmf", 0) == before  # nothing reached the insurer


@pytest.mark.parametrize("route", ["memberdata", "gmf"])
def test_insurer_side_refuses_a_mandatary_too(dmg_context: Any, route: str) -> None:
    """With the client rule switched off (audited), the simulated service still refuses (no DMG mandate)."""
    office = dmg_context(mandatary=True, route=route)
    mandate_rules = tuple(r.id for r in office.all_rules if r.id in ("R21", "R21-dmg"))  # R21: mandates plugin
    office.config = attrs.evolve(office.config, rules_disabled=mandate_rules)
    contact = office.open_contact(GP_PATIENT.ssin)
    assert any(e.kind == "rule_switch" and e.code == "R21-dmg" for e in office.audit.entries())
    with pytest.raises(MyCareNetDentalError) as err:
        consult_dmg(office, office.contact(contact.id))
    assert err.value.code == "SOA-01002"


@pytest.mark.parametrize(("route", "schema_name"), [("memberdata", "memberdata"), ("gmf", "gmf")])
def test_sent_envelopes_validate(sim: Any, tmp_path: Path, route: str, schema_name: str) -> None:
    """The exact bytes sent (trace) carry a body valid against the official schema."""
    from mycarenet_dental.sim import schemas
    from mycarenet_dental.storage import Storage
    from mycarenet_dental.xmlsafe import parse_xml

    compiled = schemas.schema(schema_name)
    if compiled is None:
        pytest.skip("official schemas not available")
    ctx = sim.context(storage=Storage(tmp_path / "trace.sqlite"), trace_dir=tmp_path / "trace")
    ctx.config = attrs.evolve(ctx.config, raw={**ctx.config.raw, "dmg": {"route": route}})
    try:
        consult_dmg(ctx, ctx.contact(_contact(ctx, GP_PATIENT.ssin)))
    finally:
        ctx.close()
    sent = [p for p in sorted((tmp_path / "trace").glob("*-request.xml")) if "STS" not in p.name.upper()
            and ("MemberData" in p.name or "GlobalMedicalFile" in p.name)]
    assert sent, sorted(p.name for p in (tmp_path / "trace").iterdir())
    envelope = parse_xml(sent[-1].read_bytes())
    body = next(iter(envelope.find("{http://schemas.xmlsoap.org/soap/envelope/}Body")))
    assert compiled.validate(body), compiled.error_log
    assert b"***" in sent[-1].read_bytes()  # the licence password is masked in traces


def test_burst_refused(dmg_context: Any) -> None:
    ctx = dmg_context(route="gmf", max_per_minute=2)
    contact = _contact(ctx, GP_PATIENT.ssin)
    for _ in range(2):
        consult_dmg(ctx, ctx.contact(contact))
    with pytest.raises(RuleRefusal) as err:
        consult_dmg(ctx, ctx.contact(contact))
    assert err.value.rule_id == "R42-burst"


def test_no_contact_no_consultation(dmg_context: Any) -> None:
    ctx = dmg_context(route="gmf")
    with pytest.raises(NoContactError):
        consult_dmg(ctx, GP_PATIENT.ssin)


@pytest.mark.parametrize("keep", [False, True])
def test_holder_not_kept_beyond_the_contact(dmg_context: Any, keep: bool) -> None:
    ctx = dmg_context(route="gmf", keep_results=keep)
    contact = _contact(ctx, GP_PATIENT.ssin)
    result = consult_dmg(ctx, ctx.contact(contact), consent=False)
    logged = ctx.log.find(service="dmg", contact_id=contact)
    assert len(logged) == 1 and logged[0].data["holder"]["nihii"] == result.holder.nihii
    assert logged[0].data["consent"] is False and logged[0].retention == ("keep" if keep else "contact")
    outcome = [e for e in _outcomes(ctx) if e.kind == "outcome"][-1]
    assert outcome.detail["references"]["patient_consent"] == "refused"
    ctx.contacts.close(contact)
    assert len(ctx.log.find(service="dmg", contact_id=contact)) == (1 if keep else 0)


def test_cli(sim: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from mycarenet_dental.cli.main import main

    ctx = sim.context()
    contact = _contact(ctx, GP_PATIENT.ssin)
    ctx.close()
    base = ["--config", str(sim.config_path), "dmg", "--patient", GP_PATIENT.ssin, "--route", "gmf"]
    assert _run(main, [*base, "--contact", contact, "--consent", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["holder"]["nihii"] == GP.nihii and data["consent"] is True
    future = (date.today() + timedelta(days=3)).isoformat()
    assert _run(main, [*base, "--date", future, "--json"]) == 1
    assert "146" in capsys.readouterr().out


def _run(main: Any, argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_route_a_on_a_dmg_only_simulator(tmp_path: Path) -> None:
    """With only the DMG plugin loaded, the simulator hosts MemberData because the plugin answers the
    globalMedicalFile facet through ``mycarenet_dental_simulator_facets`` (before, MemberData came with
    the insurability plugin only and route A answered SOA-02001)."""
    from mycarenet_dental.plugins import PluginManager
    from mycarenet_dental.sim.testing import SimEnv

    pm = PluginManager().load(allow=["dmg"])
    assert not pm.has_plugin("assurability")
    with SimEnv.running(tmp_path / "sim", pm=pm) as env:
        ctx = env.context(tables={"dmg": {"route": "memberdata"}})
        result = consult_dmg(ctx, ctx.contact(_contact(ctx, GP_PATIENT.ssin)), consent=True)
        assert result.route.value == "memberdata"
        assert result.holder is not None and result.holder.nihii == GP.nihii
        ctx.close()
