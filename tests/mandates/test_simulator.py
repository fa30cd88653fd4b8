"""The MyCareNet side: its own register (same JSON), consulted through ``mycarenet_dental.sim.authz``."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from mycarenet_dental.sim import authz
from mycarenet_dental.sim.app import SimState, build_app
from mycarenet_dental.sim.population import build_population
from mycarenet_dental.sim.wss_check import SimSoapFault
from mycarenet_dental_mandates import MandateRegister, RegisterDocument, write_file
from mycarenet_dental_mandates.simulator import DEFAULT_FILE, SWITCH, SimMandateAuthority, install

from .conftest import DENTIST_NIHII, OFFICE_CBE, OTHER_CBE, Clock

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)
OFFICE = SimpleNamespace(nihii=None, ssin=None, cbe=OFFICE_CBE)
DENTIST = SimpleNamespace(nihii=DENTIST_NIHII, ssin="85073003328", cbe=None)


def _mandates_hook() -> object:
    """The hook relay of a simulator plugin manager holding only this plugin's simulator side (what
    ``build_app`` gives the state)."""
    import mycarenet_dental_mandates.simulator as sim_side
    from mycarenet_dental.sim.plugins import SimPluginManager

    return SimPluginManager().load(entrypoints=False, extra=[("mandates", sim_side)]).hook


@pytest.fixture
def state(tmp_path: Path) -> SimState:
    return SimState(pki_dir=tmp_path, population=build_population([]), clock=lambda: NOW, hook=_mandates_hook())


@pytest.fixture
def bare_state(tmp_path: Path) -> SimState:
    """A simulator without any plugin that decides mandates."""
    return SimState(pki_dir=tmp_path, population=build_population([]), clock=lambda: NOW)


@pytest.fixture
def office_register(clock: Clock) -> MandateRegister:
    register = MandateRegister.in_memory(today=clock)
    register.add(mandator_nihii=DENTIST_NIHII, mandatary=OFFICE_CBE, service="assurability", start="2026-01-01")
    register.add(mandator_nihii=DENTIST_NIHII, mandatary=OFFICE_CBE, service="tariff", start="2026-01-01")
    return register


def _request(state: SimState, caller: object) -> SimpleNamespace:
    return SimpleNamespace(state=state, caller=caller)


def test_no_checker_means_check_mandate_is_a_no_op_and_only_the_care_provider_passes(
        bare_state: SimState) -> None:
    state = bare_state
    authz.check_mandate(state, sender=[("cbe", OFFICE_CBE)], care_provider=DENTIST_NIHII, service="tariff")
    authz.authorize_care_provider(_request(state, DENTIST), care_provider=DENTIST_NIHII, service="tariff")
    with pytest.raises(SimSoapFault) as info:
        authz.authorize_care_provider(_request(state, OFFICE), care_provider=DENTIST_NIHII, service="tariff")
    assert info.value.code == "SOA-01002"


def test_building_the_simulator_registers_the_checker(isolated_pm, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app = build_app(isolated_pm, pki_dir=tmp_path)
    assert isinstance(install(app.state), SimMandateAuthority)
    assert app.state.plugin_state == {"mandates": install(app.state)}  # its own slot, nothing else
    decision = authz.decide_mandate(app.state, sender=[("cbe", OFFICE_CBE)], care_provider=DENTIST_NIHII,
                                    service="tariff")
    assert decision is not None and not decision.allowed


def test_the_simulator_loads_mandates_json_from_the_pki_folder_and_reloads_it(
        state: SimState, office_register: MandateRegister, tmp_path: Path) -> None:
    install(state)
    request = _request(state, OFFICE)
    with pytest.raises(SimSoapFault) as info:  # no file yet: no mandate
        authz.authorize_care_provider(request, care_provider=DENTIST_NIHII, service="assurability")
    assert info.value.code == "SOA-01002" and "no mandate" in info.value.message
    path = tmp_path / DEFAULT_FILE
    write_file(office_register, path)
    authz.authorize_care_provider(request, care_provider=DENTIST_NIHII, service="assurability")
    authz.authorize_care_provider(request, care_provider=DENTIST_NIHII, service="tariff")
    with pytest.raises(SimSoapFault):
        authz.authorize_care_provider(request, care_provider=DENTIST_NIHII, service="billing")
    with pytest.raises(SimSoapFault) as info:
        authz.authorize_care_provider(request, care_provider=DENTIST_NIHII, service="dmg")
    assert "Annex 1 §4" in info.value.message
    # the office's register changes (stop) and is exported again: the simulator follows
    tariff = office_register.mandates(service="tariff")[0]
    office_register.stop(tariff.id)
    write_file(office_register, path)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    with pytest.raises(SimSoapFault):
        authz.authorize_care_provider(request, care_provider=DENTIST_NIHII, service="tariff")


def test_the_file_named_in_the_simulator_config(state: SimState, office_register: MandateRegister,
                                                tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[simulator]\nmandates = "register/mirror.json"\n', encoding="utf-8")
    (tmp_path / "register").mkdir()
    write_file(office_register, tmp_path / "register" / "mirror.json")
    install(state)
    authz.authorize_care_provider(_request(state, OFFICE), care_provider=DENTIST_NIHII, service="tariff")


def test_the_switch_takes_a_document_a_register_or_a_path(state: SimState, office_register: MandateRegister) -> None:
    install(state)
    sender = [("cbe", OFFICE_CBE)]
    state.switches.extra[SWITCH] = office_register
    authz.check_mandate(state, sender=sender, care_provider=DENTIST_NIHII, service="tariff")
    state.switches.extra[SWITCH] = RegisterDocument(office_register.mandates())
    authz.check_mandate(state, sender=sender, care_provider=DENTIST_NIHII, service="assurability")
    with pytest.raises(SimSoapFault):
        authz.check_mandate(state, sender=[("cbe", OTHER_CBE)], care_provider=DENTIST_NIHII, service="tariff")
    state.switches.extra[SWITCH] = RegisterDocument()
    with pytest.raises(SimSoapFault):
        authz.check_mandate(state, sender=sender, care_provider=DENTIST_NIHII, service="tariff")


def test_the_simulator_day_decides(office_register: MandateRegister, tmp_path: Path) -> None:
    early = SimState(pki_dir=tmp_path, population=build_population([]),
                     clock=lambda: dt.datetime(2025, 12, 31, 12, 0, tzinfo=dt.timezone.utc), hook=_mandates_hook())
    install(early).state.switches.extra[SWITCH] = office_register
    with pytest.raises(SimSoapFault):
        authz.check_mandate(early, sender=[("cbe", OFFICE_CBE)], care_provider=DENTIST_NIHII, service="tariff")
    authz.check_mandate(early, sender=[("cbe", OFFICE_CBE)], care_provider=DENTIST_NIHII, service="tariff",
                        on=dt.date(2026, 1, 1))


def test_another_plugin_can_answer_the_firstresult_mandate_check(tmp_path: Path) -> None:
    """The check is a hook: any plugin may implement it, the first answer wins, None means "no opinion"."""
    from mycarenet_dental.sim.hookspec import hookimpl
    from mycarenet_dental.sim.plugins import SimPluginManager

    class TariffOnly:
        @hookimpl
        def mycarenet_dental_simulator_mandate_check(self, state, sender, care_provider, service, on):  # type: ignore[no-untyped-def]
            return authz.MandateDecision(service == "tariff", "tariff only here")

    class NoOpinion:
        @hookimpl
        def mycarenet_dental_simulator_mandate_check(self, state, sender, care_provider, service, on):  # type: ignore[no-untyped-def]
            return None

    pm = SimPluginManager().load(entrypoints=False, extra=[("tariff-only", TariffOnly()), ("no-opinion", NoOpinion())])
    state = SimState(pki_dir=tmp_path, population=build_population([]), clock=lambda: NOW, hook=pm.hook)
    authz.check_mandate(state, sender=[("cbe", OFFICE_CBE)], care_provider=DENTIST_NIHII, service="tariff")
    with pytest.raises(SimSoapFault) as info:
        authz.authorize_care_provider(_request(state, OFFICE), care_provider=DENTIST_NIHII, service="billing")
    assert "tariff only here" in info.value.message
    assert state.plugin_state == {}  # no string-keyed checker anywhere


def test_same_dentist_with_another_qualification_is_the_care_provider(state: SimState) -> None:
    install(state)
    caller = SimpleNamespace(nihii="31234592007", ssin=None, cbe=None)
    authz.authorize_care_provider(_request(state, caller), care_provider=DENTIST_NIHII, service="dmg")
