"""DMG model, error catalogue and the Annex 5 rules (no network)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from mycarenet_dental.errors import RuleRefusal
from mycarenet_dental.exchange import Trigger
from mycarenet_dental_dmg.model import (
    PURPOSE,
    DmgHolder,
    DmgRefusedError,
    DmgResult,
    HolderKind,
    Route,
    error_catalogue,
)

PATIENT = "85073003328"


def test_holder_kind_follows_the_answer() -> None:
    gp = DmgHolder(nihii="10023464004", name="Peeters", first_name="Anna", start=date(2020, 1, 1))
    assert gp.kind is HolderKind.PHYSICIAN and gp.display_name == "Anna Peeters"
    house = DmgHolder(nihii="81150396111", name="WIJKGEZONDHEIDSCENTRUM 'T SPOOR")
    assert house.kind is HolderKind.MEDICAL_HOUSE and house.is_organisation
    with pytest.raises(ValueError):
        DmgHolder(nihii="123", name="x")
    with pytest.raises(ValueError):
        DmgHolder(nihii="10023464004", name="x", first_name="y", start=date(2021, 1, 1), end=date(2020, 1, 1))


def test_result_round_trips_through_the_log() -> None:
    holder = DmgHolder(nihii="10023464004", name="Peeters", first_name="Anna", start="2020-01-01")
    result = DmgResult(patient=PATIENT, reference_date="2026-11-25", route="gmf", holder=holder, mutuality="116",
                       exchange_id="e1", contact_id="c1", consent=True, references={"input_reference": "R1"})
    again = DmgResult.from_log(result.to_log())
    assert again == result
    none = DmgResult(patient=PATIENT, reference_date=date(2026, 11, 25), route=Route.MEMBERDATA)
    assert DmgResult.from_log(none.to_log()).holder is None and not none.has_holder
    with pytest.raises(ValueError):
        DmgResult(patient="12345678901", reference_date=date(2026, 1, 1), route="gmf")


def test_every_code_has_three_languages() -> None:
    catalogue = error_catalogue()
    for code in ("100", "111", "112", "113", "120", "121", "122", "130", "136", "140", "141", "145", "146", "155",
                 "158", "160", "UNAUTHORIZED_FACET"):
        entry = catalogue[code]
        assert entry["en"] and entry["fr"] and entry["nl"], code
    err = DmgRefusedError("140", remote_text="dentist", route=Route.GMF)
    assert err.code == "140" and err.exit_code == 1
    assert "autorisé" in err.messages.fr and "gemachtigd" in err.messages.nl
    assert err.hint and "memberdata" in err.hint
    unknown = DmgRefusedError("999", remote_text="strange")
    assert unknown.messages.en == "strange"


# -- rules ------------------------------------------------------------------------------------------


def _exchange(ctx, *, trigger=Trigger.USER, purpose=PURPOSE, contact=None):  # type: ignore[no-untyped-def]
    contact = contact or ctx.open_contact(PATIENT)
    return ctx.new_exchange("dmg", "ConsultGlobalMedicalFile", patient=PATIENT, contact_id=contact.id,
                            trigger=trigger, purpose=purpose)


def _refusals(ctx):  # type: ignore[no-untyped-def]
    return [e for e in ctx.audit.entries() if e.kind == "refusal"]


def test_rules_are_registered(make_context) -> None:  # type: ignore[no-untyped-def]
    ctx = make_context()
    ids = {r.id: r for r in ctx.all_rules if "dmg" in r.services}
    assert {"R42", "R42-burst", "R21-dmg", "R41"} <= set(ids)
    assert ids["R21-dmg"].article == "Annex 1 §4" and ids["R42"].article == "Annex 5"
    spec = ctx.services["dmg"]
    assert spec.consultation and not spec.mandatable and spec.annex == "Annex 5"
    assert spec.endpoints == {"gmf": "/GlobalMedicalFileConsultation/v1", "memberdata": "/MyCareNet/MemberData/v1"}


def test_explicit_request_allowed_automatic_refused_and_audited(make_context) -> None:  # type: ignore[no-untyped-def]
    ctx = make_context()
    ctx.check_rules(_exchange(ctx))  # the dentist's own request passes every rule
    with pytest.raises(RuleRefusal) as err:
        ctx.check_rules(_exchange(ctx, trigger=Trigger.AUTOMATIC))
    assert err.value.rule_id == "R42"
    refusal = _refusals(ctx)[-1]
    assert refusal.code == "R42" and refusal.trigger == "automatic" and refusal.service == "dmg"


def test_purpose_is_required(make_context) -> None:  # type: ignore[no-untyped-def]
    ctx = make_context()
    with pytest.raises(RuleRefusal) as err:
        ctx.check_rules(_exchange(ctx, purpose="marketing"))
    assert err.value.rule_id == "R41"


def test_mandatary_is_refused(make_context) -> None:  # type: ignore[no-untyped-def]
    ctx = make_context(executor={"kind": "mandatary", "id": "0412345614", "cbe": "0412345614",
                                 "name": "SIM BILLING OFFICE"})
    with pytest.raises(RuleRefusal) as err:
        ctx.check_rules(_exchange(ctx))
    assert err.value.rule_id == "R21-dmg" and "Annex 1 §4" in str(err.value)
    assert _refusals(ctx)[-1].code == "R21-dmg"


def test_burst_is_refused(make_context) -> None:  # type: ignore[no-untyped-def]
    ctx = make_context(dmg={"max_per_minute": 2})
    contact = ctx.open_contact(PATIENT)
    for _ in range(2):
        with ctx.exchange(_exchange(ctx, contact=contact)):
            pass
    with pytest.raises(RuleRefusal) as err:
        ctx.check_rules(_exchange(ctx, contact=contact))
    assert err.value.rule_id == "R42-burst"


def test_dates_are_plain_dates() -> None:
    result = DmgResult(patient=PATIENT, reference_date=datetime(2026, 11, 25, 9, tzinfo=timezone.utc), route="gmf")
    assert result.reference_date == date(2026, 11, 25)
