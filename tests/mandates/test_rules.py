"""Rule R21: an exchange executed by a mandatary needs a mandate in force (client side, before sending)."""

from __future__ import annotations

import datetime as dt

import pytest
from mycarenet_dental.errors import RuleRefusal
from mycarenet_dental.exchange import Party, PartyKind
from mycarenet_dental_mandates import check_mandate, executor_identities, mandated_service, register_for

from .conftest import DENTIST_NIHII, DENTIST_SSIN, OFFICE_CBE, OTHER_CBE, write_config


def _mandate(ctx, service: str, start: str = "2026-01-01", mandatary: str = OFFICE_CBE, **kw):  # type: ignore[no-untyped-def]
    return register_for(ctx).add(mandator_nihii=DENTIST_NIHII, mandator_ssin=DENTIST_SSIN, mandatary=mandatary,
                                 service=service, start=start, **kw).mandate


@pytest.mark.parametrize("service", ["assurability", "tariff", "billing"])
def test_a_mandate_in_force_lets_the_office_act(office, service: str) -> None:  # type: ignore[no-untyped-def]
    exchange = office.new_exchange(service, "Consult", patient="85073003328")
    assert check_mandate(exchange, office) is not None
    _mandate(office, service)
    assert check_mandate(exchange, office) is None


def test_refused_without_mandate_for_another_service_mandatary_or_day(office) -> None:  # type: ignore[no-untyped-def]
    _mandate(office, "assurability", mandatary=OTHER_CBE)
    _mandate(office, "tariff", start="2026-04-01")
    for service in ("assurability", "tariff", "billing"):
        verdict = check_mandate(office.new_exchange(service, "Consult"), office)
        assert verdict is not None and "no mandate" in verdict.reason
        assert "mandates add" in (verdict.hint or "")


def test_dmg_and_unknown_services_are_always_refused_for_a_mandatary(office) -> None:  # type: ignore[no-untyped-def]
    for service in ("assurability", "tariff", "billing"):
        _mandate(office, service)
    for service in ("dmg", "chapter4"):
        verdict = check_mandate(office.new_exchange(service, "Consult"), office)
        assert verdict is not None and "Annex 1 §4" in verdict.reason


def test_the_dentist_is_not_concerned(dentist_ctx) -> None:  # type: ignore[no-untyped-def]
    assert check_mandate(dentist_ctx.new_exchange("dmg", "Consult"), dentist_ctx) is None


def test_through_the_core_guard_refusal_names_r21_and_audit_has_both_parties(office) -> None:  # type: ignore[no-untyped-def]
    contact = office.contacts.open("85073003328", dentist=DENTIST_NIHII, user_id=office.user_id)
    exchange = office.new_exchange("assurability", "Consult", patient="85073003328", contact_id=contact.id)
    with pytest.raises(RuleRefusal) as info:
        with office.exchange(exchange):
            pass
    assert info.value.rule_id == "R21" and info.value.article == "Annex 1 §4"
    _mandate(office, "assurability")
    exchange = office.new_exchange("assurability", "Consult", patient="85073003328", contact_id=contact.id)
    with office.exchange(exchange):
        pass
    rows = [e for e in office.audit.entries(exchange_id=exchange.id)]
    assert rows and all(r.responsible.startswith(f"dentist:{DENTIST_NIHII}") for r in rows)
    assert all(r.executor.startswith(f"mandatary:{OFFICE_CBE}") for r in rows)
    refusal = [e for e in office.audit.entries(kind="refusal")]
    assert refusal[0].code == "R21"


def test_a_stop_takes_effect_at_once(office) -> None:  # type: ignore[no-untyped-def]
    mandate = _mandate(office, "tariff")
    assert check_mandate(office.new_exchange("tariff", "Consult"), office) is None
    register_for(office).stop(mandate.id, by="mandatary")
    assert check_mandate(office.new_exchange("tariff", "Consult"), office) is not None


def test_the_exchange_day_is_the_belgian_day(office) -> None:  # type: ignore[no-untyped-def]
    _mandate(office, "tariff", start="2026-03-03")
    late = office.new_exchange("tariff", "Consult")
    late = type(late)(**{**{a.name: getattr(late, a.name) for a in late.__attrs_attrs__},
                         "created_at": dt.datetime(2026, 3, 2, 23, 30, tzinfo=dt.timezone.utc)})
    assert check_mandate(late, office) is None  # 00:30 on 3 March in Brussels


def test_service_names_can_be_mapped_in_configuration(tmp_path, isolated_pm) -> None:  # type: ignore[no-untyped-def]
    from mycarenet_dental.context import Context

    path = write_config(tmp_path / "mapped.toml", mandatary=True, extra='[mandates.services]\nefact = "billing"\n')
    ctx = Context.from_config(path, pm=isolated_pm, check_credentials=False)
    try:
        _mandate(ctx, "billing", start="2020-01-01")
        assert check_mandate(ctx.new_exchange("efact", "Send"), ctx) is None
    finally:
        ctx.close()
    assert mandated_service("efact") is None or mandated_service("efact").value == "billing"
    assert mandated_service("dmg") is None


def test_executor_identities() -> None:
    party = Party(kind=PartyKind.MANDATARY, id="office-1", cbe=OFFICE_CBE, ssin=DENTIST_SSIN)
    assert [str(p) for p in executor_identities(party)] == [f"cbe:{OFFICE_CBE}", f"ssin:{DENTIST_SSIN}"]
