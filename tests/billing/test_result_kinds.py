"""Billing reads other plugins' results by the kinds those plugins declare (issue 13, property 2)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mycarenet_dental.hookspec import hookimpl
from mycarenet_dental.plugins import PluginConflictError, PluginManager, UndeclaredResultKindError
from mycarenet_dental.registrations import ResultKind, ServiceSpec

PATIENT = "85073003328"


class RenamedInsurability:
    """An insurability plugin that records its answers under a kind billing never spelled."""

    @hookimpl
    def mycarenet_dental_services(self) -> Iterator[ServiceSpec]:
        yield ServiceSpec(name="assurability", title="insurability", annex="Annex 2", consultation=True)

    @hookimpl
    def mycarenet_dental_result_kinds(self) -> Iterator[ResultKind]:
        yield ResultKind(name="insurability.answer.v2", description="insurability answer")


@pytest.fixture
def billing_only() -> PluginManager:
    return PluginManager().load(allow=["billing"], extra=[("renamed-insurability", RenamedInsurability())])


def test_unattested_finds_the_insurability_result_by_its_declared_kind(make_context, billing_only) -> None:  # type: ignore[no-untyped-def]
    """R31 lists an insurability consultation whatever the kind's spelling (billing used to guess
    between "assurability.consultation" and "insurability.consultation" and missed any other)."""
    from mycarenet_dental_billing.rules import unattested

    ctx = make_context(plugins=billing_only)
    assert ctx.result_kinds_of("assurability") == ("insurability.answer.v2",)
    assert ctx.result_kinds_of("tariff") == ()  # tariff not loaded: billing reads no tariff result
    ctx.log.record(exchange_id="ins-1", kind="insurability.answer.v2", service="assurability", status="ok",
                   patient=PATIENT, data={"date": ctx.now().date().isoformat()})
    items = unattested(ctx)
    assert [(i.kind, i.patient, i.exchange_id) for i in items] == [("insurability.answer.v2", PATIENT, "ins-1")]


def test_an_undeclared_kind_is_refused_by_the_log_and_by_a_running_exchange(make_context, billing_only) -> None:  # type: ignore[no-untyped-def]
    ctx = make_context(plugins=billing_only)
    with pytest.raises(UndeclaredResultKindError) as info:
        ctx.log.record(exchange_id="x", kind="assurability.consultation", service="assurability", status="ok",
                       data={})
    assert info.value.exit_code == 2 and "mycarenet_dental_result_kinds" in (info.value.hint or "")
    exchange = ctx.new_exchange("billing", "Probe", patient=PATIENT)
    with pytest.raises(UndeclaredResultKindError), ctx.exchange(exchange) as run:
        run.keep("billing.typo", {"x": 1})
    assert ctx.log.find() == []
    outcome = [e for e in ctx.audit.entries(exchange_id=exchange.id) if e.kind == "outcome"]
    assert outcome and outcome[0].code == "RESULT_KIND"


def test_one_kind_declared_by_two_plugins_is_refused() -> None:
    with pytest.raises(PluginConflictError, match="'one' and 'two'"):
        PluginManager().load(entrypoints=False, extra=[("one", RenamedInsurabilityKindOnly()),
                                                       ("two", RenamedInsurabilityKindOnly())])


class RenamedInsurabilityKindOnly:
    @hookimpl
    def mycarenet_dental_result_kinds(self) -> Iterator[ResultKind]:
        yield ResultKind(name="insurability.answer.v2")
