"""The register's lifecycle rules (Annex 1 §4): one test per rule, each refusal naming its rule."""

from __future__ import annotations

import datetime as dt

import pytest
from mycarenet_dental.errors import UsageError
from mycarenet_dental_mandates import (
    EndReason,
    MandateNotFound,
    MandateRefusal,
    MandateRegister,
    MandateState,
    PartyId,
)

from .conftest import DENTIST_NIHII, DENTIST_SSIN, OFFICE_CBE, OTHER_CBE, SECRETARY_SSIN, Clock

D = dt.date


def _add(register: MandateRegister, service: str = "assurability", mandatary: str = OFFICE_CBE, **kw):  # type: ignore[no-untyped-def]
    kw.setdefault("start", "2026-01-01")
    return register.add(mandator_nihii=DENTIST_NIHII, mandator_ssin=DENTIST_SSIN, mandatary=mandatary,
                        service=service, **kw)


def _covers(register: MandateRegister, service: str, mandatary: str, day: dt.date) -> bool:
    return register.coverage(mandator_nihii=DENTIST_NIHII, mandatary=[PartyId.parse(mandatary)], service=service,
                             on=day).allowed


def test_r21_r24_only_the_three_services_with_an_explicit_object(register: MandateRegister) -> None:
    for service in ("assurability", "tariff", "billing"):
        assert _add(register, service).mandate.service.value == service
    for service, rule in (("dmg", "R21"), ("", "R24"), ("payment", "R25")):
        with pytest.raises(MandateRefusal) as info:
            _add(register, service)
        assert info.value.rule_id == rule
    assert len(register.mandates()) == 3


def test_r21_the_mandator_is_a_dentist_and_not_the_mandatary(register: MandateRegister) -> None:
    with pytest.raises(MandateRefusal) as info:
        register.add(mandator_nihii="10000205001", mandatary=OFFICE_CBE, service="tariff", start="2026-01-01")
    assert info.value.rule_id == "R21"
    with pytest.raises(MandateRefusal):
        _add(register, mandatary=f"nihii:{DENTIST_NIHII}")
    with pytest.raises(MandateRefusal):
        _add(register, mandatary=f"ssin:{DENTIST_SSIN}")


def test_r26_a_new_mandate_closes_the_previous_one_the_day_before(register: MandateRegister) -> None:
    first = _add(register, start="2026-01-01").mandate
    second = _add(register, mandatary=OTHER_CBE, start="2026-03-10")
    assert [m.id for m in second.closed] == [first.id]
    closed = register.get(first.id)
    assert closed.end_reason is EndReason.SUPERSEDED
    assert closed.effective_end == D(2026, 3, 10)  # last day 9 March
    assert _covers(register, "assurability", OFFICE_CBE, D(2026, 3, 9))
    assert not _covers(register, "assurability", OFFICE_CBE, D(2026, 3, 10))
    assert _covers(register, "assurability", OTHER_CBE, D(2026, 3, 10))
    history = register.history(first.id)
    assert [h.action for h in history] == ["created", "closed"]
    assert history[-1].rule == "R26" and second.mandate.id in history[-1].detail


def test_r26_is_per_service_and_per_mandator(register: MandateRegister) -> None:
    _add(register, "assurability")
    _add(register, "tariff")
    register.add(mandator_nihii="30000120001", mandatary=OFFICE_CBE, service="assurability", start="2026-01-01")
    assert not _add(register, "billing").closed
    assert len(register.mandates(states=[MandateState.ACTIVE], on=D(2026, 3, 2))) == 4


def test_r26_a_later_mandate_registered_first_is_superseded_entirely(register: MandateRegister) -> None:
    future = _add(register, start="2026-06-01").mandate
    result = _add(register, mandatary=OTHER_CBE, start="2026-02-01")
    assert result.closed[0].id == future.id
    assert register.get(future.id).is_void()
    assert register.get(future.id).state_on(D(2026, 7, 1)) is MandateState.ENDED
    assert _covers(register, "assurability", OTHER_CBE, D(2026, 7, 1))


def test_r26_no_overlap_when_the_new_fixed_term_ends_before(register: MandateRegister) -> None:
    later = _add(register, start="2026-06-01").mandate
    result = _add(register, mandatary=OTHER_CBE, start="2026-02-01", end="2026-05-31")
    assert not result.closed
    assert register.get(later.id).end_reason is None


@pytest.mark.parametrize("kind", ["death", "bankruptcy", "liquidation"])
@pytest.mark.parametrize("who", ["mandator", "mandatary"])
def test_r27_an_event_ends_every_mandate_of_the_party_at_once(register: MandateRegister, kind: str, who: str) -> None:
    ids = [_add(register, s).mandate.id for s in ("assurability", "tariff", "billing")]
    other = _add(register, "tariff", mandatary=SECRETARY_SSIN, start="2026-01-01")  # closes the office's tariff
    party = f"nihii:{DENTIST_NIHII}" if who == "mandator" else OFFICE_CBE
    result = register.record_event(party, kind, "2026-02-15")
    ended = {m.id for m in result.ended}
    expected = {ids[0], ids[2]} | ({other.mandate.id} if who == "mandator" else set())
    assert ended == expected
    for mandate_id in expected:
        mandate = register.get(mandate_id)
        assert mandate.end_reason is EndReason(kind)
        assert mandate.effective_end == D(2026, 2, 15)
        assert register.history(mandate_id)[-1].rule == "R27"
    if who == "mandatary":
        assert _covers(register, "tariff", SECRETARY_SSIN, D(2026, 3, 1))


def test_r27_the_mandator_is_found_by_ssin_too(register: MandateRegister) -> None:
    mandate = _add(register).mandate
    assert register.record_event(f"ssin:{DENTIST_SSIN}", "death", "2026-02-01").ended[0].id == mandate.id


def test_r27_afterwards_only_a_liquidator_or_curator_gives_a_new_mandate(register: MandateRegister) -> None:
    _add(register)
    register.record_event(OFFICE_CBE, "liquidation", "2026-02-15")
    with pytest.raises(MandateRefusal) as info:
        _add(register, start="2026-03-01")
    assert info.value.rule_id == "R27"
    accepted = _add(register, start="2026-03-01", given_by="Me Dupont (liquidator)").mandate
    assert accepted.given_by and _covers(register, "assurability", OFFICE_CBE, D(2026, 3, 1))
    assert "liquidator" in register.history(accepted.id)[0].detail
    # a past, closed period before the event is still accepted
    assert _add(register, "billing", start="2026-01-01", end="2026-01-31").mandate


def test_stop_by_either_party_has_immediate_effect(register: MandateRegister, clock: Clock) -> None:
    a = _add(register).mandate
    b = _add(register, "tariff").mandate
    stopped = register.stop(a.id, by="mandator")
    assert stopped.end_reason is EndReason.STOPPED_BY_MANDATOR
    assert not _covers(register, "assurability", OFFICE_CBE, clock.day)
    assert register.stop(b.id, by="mandatary").end_reason is EndReason.STOPPED_BY_MANDATARY
    with pytest.raises(UsageError):
        register.stop(a.id)
    with pytest.raises(UsageError):
        register.stop(b.id, by="insurer")
    with pytest.raises(MandateNotFound):
        register.stop("M-nope")


def test_stopping_a_pending_mandate_voids_it(register: MandateRegister) -> None:
    pending = _add(register, start="2026-05-01").mandate
    assert pending.state_on(D(2026, 3, 2)) is MandateState.PENDING
    assert register.stop(pending.id).is_void()


def test_fixed_term_mandates_expire_and_the_expiry_is_recorded(register: MandateRegister, clock: Clock) -> None:
    m = _add(register, start="2026-01-01", end="2026-03-31").mandate
    assert register.expire() == []
    clock.day = D(2026, 4, 1)
    assert [x.id for x in register.expire()] == [m.id]
    assert register.expire() == []
    got = register.get(m.id)
    assert got.state_on(clock.day) is MandateState.ENDED and got.reason_on(clock.day) is EndReason.EXPIRED
    assert [h.action for h in register.history(m.id)] == ["created", "expired"]


def test_duplicate_ids_are_refused(register: MandateRegister) -> None:
    _add(register, mandate_id="M-1")
    with pytest.raises(UsageError):
        _add(register, "tariff", mandate_id="M-1")


def test_changes_are_audited_when_the_register_has_an_audit(office) -> None:  # type: ignore[no-untyped-def]
    from mycarenet_dental_mandates import register_for

    register = register_for(office)
    mandate = register.add(mandator_nihii=DENTIST_NIHII, mandatary=OFFICE_CBE, service="tariff",
                           start="2026-01-01").mandate
    register.stop(mandate.id)
    rows = [e for e in office.audit.entries(kind="mandate")]
    assert [r.operation for r in rows] == ["created", "stopped"]
    assert rows[0].responsible == f"dentist:{DENTIST_NIHII}"
    assert office.audit.verify().ok
