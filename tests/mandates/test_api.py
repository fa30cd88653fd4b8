"""The vendor's mandate calls (``verb_noun(ctx, ...)``): the dentist of the context is the mandator."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from mycarenet_dental_mandates import (
    MandateState,
    add_mandate,
    export_mandates,
    import_mandates,
    list_mandates,
    mandate_coverage,
    mandate_history,
    record_party_event,
    stop_mandate,
)

from tests.mandates.conftest import DENTIST_NIHII, DENTIST_SSIN, OFFICE_CBE


def test_the_calls_work_on_the_contexts_register(dentist_ctx, office, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    added = add_mandate(dentist_ctx, mandatary=f"cbe:{OFFICE_CBE}", service="tariff", start="2026-01-01")
    mandate = added.mandate
    assert (mandate.mandator_nihii, mandate.mandator_ssin) == (DENTIST_NIHII, DENTIST_SSIN)  # from [dentist]
    assert mandate_coverage(dentist_ctx, mandatary=OFFICE_CBE, service="tariff").allowed
    assert not mandate_coverage(dentist_ctx, mandatary=OFFICE_CBE, service="billing").allowed
    assert [m.id for m in list_mandates(dentist_ctx, states=[MandateState.ACTIVE])] == [mandate.id]
    exported = tmp_path / "register.json"
    assert export_mandates(dentist_ctx, exported) == 1
    assert import_mandates(office, exported).added == (mandate.id,)  # the office mirrors the dentist's register
    stopped = stop_mandate(dentist_ctx, mandate, on=dt.date(2026, 3, 2))
    assert not mandate_coverage(dentist_ctx, mandatary=OFFICE_CBE, service="tariff").allowed
    assert [e.action for e in mandate_history(dentist_ctx, stopped)] == ["created", "stopped"]
    ended = record_party_event(office, f"cbe:{OFFICE_CBE}", "bankruptcy", dt.date(2026, 2, 1))
    assert [m.id for m in ended.ended] == [mandate.id]  # R27 in the office's mirror
