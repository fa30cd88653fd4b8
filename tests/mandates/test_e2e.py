"""End to end over TLS: a billing office with its own keystore consults for the dentist under a mandate.

Needs the security layer and the service plugins (tariff, assurability); each part skips cleanly when
its plugin is not installed. The simulator holds its own register (the office's export), so the check
exists on both sides: without a mandate the local rule R21 refuses, and with R21 switched off locally the
simulated MyCareNet refuses with SOA-01002. DMG is always refused for a mandatary.
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
from collections.abc import Iterator
from typing import Any

import pytest
from mycarenet_dental.errors import RuleRefusal, SoapFaultError

pytestmark = pytest.mark.slow


def _office(sim: Any, *, local_rule: bool = True) -> Any:
    return sim.context(mandatary=True, tables={"tariff": {"max_per_minute": 10_000},
                                               "assurability": {"max_per_minute": 10_000}},
                       rules_disabled=() if local_rule else ("R21",))


@pytest.fixture(scope="module")
def office(sim: Any) -> Iterator[Any]:
    ctx = _office(sim)
    try:
        yield ctx
    finally:
        ctx.close()


def _mirror(sim: Any, office: Any) -> None:
    """The simulated MyCareNet gets the office's register (as eMandate would hold it)."""
    from mycarenet_dental_mandates import RegisterDocument, register_for

    sim.state.switches.extra["mandates"] = RegisterDocument(register_for(office).mandates())


def _give(sim: Any, office: Any, service: str) -> Any:
    from mycarenet_dental_mandates import register_for

    register = register_for(office)
    dentist = office.responsible()
    mandate = register.add(mandator_nihii=dentist.nihii, mandator_ssin=dentist.ssin,
                           mandatary=f"cbe:{office.executor().cbe}", service=service,
                           start=register.today() - dt.timedelta(days=30)).mandate
    _mirror(sim, office)
    return mandate


def _stop(sim: Any, office: Any, mandate: Any) -> None:
    from mycarenet_dental_mandates import register_for

    register_for(office).stop(mandate.id)
    _mirror(sim, office)


def _contact(ctx: Any, patient: str) -> str:
    return ctx.open_contact(patient).id


def _regular() -> str:
    from mycarenet_dental.sim.population import base_population

    return base_population()[0].ssin


def _tariff(ctx: Any) -> Any:
    from mycarenet_dental_tariff import consult_tariff

    return consult_tariff(ctx, ctx.contact(_contact(ctx, _regular())), ["301011"])


def _insurability(ctx: Any) -> Any:
    from mycarenet_dental_assurability import consult_insurability

    return consult_insurability(ctx, ctx.contact(_contact(ctx, _regular())))


CONSULT = {"tariff": ("mycarenet_dental_tariff", _tariff), "assurability": ("mycarenet_dental_assurability",
                                                                           _insurability)}


@pytest.mark.parametrize("service", ["tariff", "assurability"])
def test_the_office_consults_for_the_dentist_under_a_mandate(sim: Any, office: Any, service: str) -> None:
    plugin, consult = CONSULT[service]
    pytest.importorskip(plugin)
    mandate = _give(sim, office, service)
    try:
        result = consult(office)
    finally:
        _stop(sim, office, mandate)
    exchange_id = getattr(result, "exchange_id", None)
    rows = [r for r in office.audit.entries() if r.kind in ("exchange", "outcome") and r.service == service]
    if exchange_id:
        rows = [r for r in rows if r.exchange_id == exchange_id]
    assert rows and rows[-1].outcome == "ok"
    assert all(r.responsible.startswith(f"dentist:{office.responsible().nihii}") for r in rows)
    assert all(r.executor.startswith(f"mandatary:{office.executor().id}") for r in rows)


@pytest.mark.parametrize("service", ["tariff", "assurability"])
def test_without_a_mandate_the_local_rule_refuses(sim: Any, office: Any, service: str) -> None:
    plugin, consult = CONSULT[service]
    pytest.importorskip(plugin)
    _mirror(sim, office)
    with pytest.raises(RuleRefusal) as info:
        consult(office)
    assert info.value.rule_id == "R21"


@pytest.mark.parametrize("service", ["tariff", "assurability"])
def test_without_a_mandate_the_simulator_refuses_too(sim: Any, service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    plugin, consult = CONSULT[service]
    pytest.importorskip(plugin)
    unguarded = _office(sim, local_rule=False)  # R21 switched off locally (audited): the request is sent
    try:
        _mirror(sim, unguarded)
        try:
            consult(unguarded)
        except SoapFaultError as exc:
            assert exc.code == "SOA-01002"
        else:
            pytest.fail(f"{plugin}'s simulator accepted a mandatary without mandate: its handler must call "
                         "mycarenet_dental.sim.authz.authorize_care_provider")
        mandate = _give(sim, unguarded, service)
        try:
            consult(unguarded)  # same office, same simulator: accepted once the mandate is registered
        finally:
            _stop(sim, unguarded, mandate)
    finally:
        unguarded.close()


def test_dmg_is_always_refused_for_a_mandatary(sim: Any, office: Any) -> None:
    for service in ("assurability", "tariff", "billing"):
        _give(sim, office, service)
    contact_id = _contact(office, _regular())
    with pytest.raises(RuleRefusal) as info:
        if importlib.util.find_spec("mycarenet_dental_dmg") is not None:
            from mycarenet_dental_dmg.client import consult_dmg

            consult_dmg(office, office.contact(contact_id))
        else:
            office.check_rules(office.new_exchange("dmg", "ConsultGlobalMedicalFile", patient=_regular(),
                                                   contact_id=contact_id))
    assert info.value.rule_id in ("R21", "R21-dmg")
    from mycarenet_dental.sim import authz
    from mycarenet_dental.sim.wss_check import SimSoapFault

    with pytest.raises(SimSoapFault) as fault:
        authz.check_mandate(sim.state, sender=[("cbe", office.executor().cbe)],
                            care_provider=office.responsible().nihii, service="dmg")
    assert fault.value.code == "SOA-01002"


def test_the_demo_step(tmp_path_factory: pytest.TempPathFactory) -> None:
    from mycarenet_dental.plugins import make_plugin_manager
    from mycarenet_dental.sim.demo import run_demo

    lines: list[str] = []
    failures = run_demo(make_plugin_manager(), workdir=tmp_path_factory.mktemp("mandates-demo"), echo=lines.append,
                        only=("billing office working for the dentist under a mandate",))
    text = "\n".join(lines)
    assert failures == 0, text
    assert "R21, insurability by the office: allowed" in text
    assert "R21, DMG by the office: refused" in text
    assert "R21, tariff by the office now: refused" in text
