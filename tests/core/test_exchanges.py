"""Exchanges through the core guard: rules veto before sending, the audit records everything."""

from __future__ import annotations

import types
from collections.abc import Iterator

import pytest
from mycarenet_dental.errors import BusinessError, ConfigError, NoContactError, RuleRefusal
from mycarenet_dental.exchange import Trigger
from mycarenet_dental.hookspec import hookimpl
from mycarenet_dental.plugins import PluginManager
from mycarenet_dental.registrations import ResultKind, RuleSpec, ServiceSpec
from mycarenet_dental.rules import burst_limit, explicit_request_only, not_mandatable, once_per_contact

PATIENT = "85073003328"
OTHER = "56031212466"


class FakeService:
    """A consultation service with annex-style rules, as a plugin would declare it."""

    @hookimpl
    def mycarenet_dental_services(self) -> Iterator[ServiceSpec]:
        yield ServiceSpec(name="fakesvc", title="Fake consultation", annex="Annex 3", mandatable=False,
                          consultation=True)

    @hookimpl
    def mycarenet_dental_rules(self) -> Iterator[RuleSpec]:
        yield once_per_contact("R35", "Annex 3", "fakesvc")
        yield explicit_request_only("R37", "Annex 3", {"fakesvc"})
        yield burst_limit("R37-burst", "Annex 3", "fakesvc", per_minute_key="max_per_minute", default=3)
        yield not_mandatable("R21-fake", "Annex 1 §4", {"fakesvc"})

    @hookimpl
    def mycarenet_dental_result_kinds(self) -> Iterator[ResultKind]:
        yield ResultKind(name="fakesvc.result", description="the fake answer")


@pytest.fixture
def plugins() -> PluginManager:
    """Only the core's own plugins and the fake service: installed service plugins stay out."""
    return PluginManager().load(allow=["core-only"], extra=[("fakesvc", FakeService())])


def _run(ctx, *, trigger=Trigger.USER, contact_id=None, patient=PATIENT, fail: Exception | None = None):
    ex = ctx.new_exchange("fakesvc", "Consult", patient=patient, contact_id=contact_id, trigger=trigger)
    with ctx.exchange(ex) as run:
        run.reference("request_id", "req-1")
        if fail:
            raise fail
        run.keep("fakesvc.result", {"answer": 42})
    return ex


def test_kept_results_are_written_with_the_outcome(make_context, plugins) -> None:
    ctx = make_context(plugins=plugins)
    contact = ctx.open_contact(PATIENT)
    ex = ctx.new_exchange("fakesvc", "Consult", patient=PATIENT, contact_id=contact.id)
    with ctx.exchange(ex) as run:
        run.keep("fakesvc.result", {"answer": 1})
        run.keep("fakesvc.result", {"answer": 2}, retention="contact")
        assert ctx.log.find(kind="fakesvc.result") == []  # not before the outcome
        with pytest.raises(ValueError, match="retention"):
            run.keep("fakesvc.result", {}, retention="forever")
    kept = ctx.log.find(kind="fakesvc.result")
    assert [(r.data["answer"], r.patient, r.contact_id, r.exchange_id) for r in kept] == [
        (1, PATIENT, contact.id, ex.id), (2, PATIENT, contact.id, ex.id)]
    assert [r.kind for r in ctx.audit.entries(exchange_id=ex.id)] == ["exchange", "outcome"]
    ctx.contacts.close(contact.id)
    assert [r.data["answer"] for r in ctx.log.find(kind="fakesvc.result")] == [1]  # "contact" retention erased


def test_successful_exchange_is_audited(make_context, plugins) -> None:
    ctx = make_context(plugins=plugins)
    contact = ctx.open_contact(PATIENT)
    ex = _run(ctx, contact_id=contact.id)
    rows = list(ctx.audit.entries(exchange_id=ex.id))
    assert [r.kind for r in rows] == ["exchange", "outcome"]
    assert rows[0].responsible.startswith("dentist:31234592001") and rows[0].executor.startswith("dentist:")
    assert rows[1].outcome == "ok" and rows[1].detail["references"] == {"request_id": "req-1"}
    assert ctx.audit.verify().ok


def test_no_contact_is_refused_by_r29(make_context, plugins) -> None:
    ctx = make_context(plugins=plugins)
    with pytest.raises(RuleRefusal) as info:
        _run(ctx)
    assert info.value.rule_id == "R29" and "Annexes 2, 3, 5" in str(info.value)
    refusal = [e for e in ctx.audit.entries() if e.kind == "refusal"]
    assert refusal and refusal[0].code == "R29"


def test_contact_resolution_without_open_contact_says_how(make_context) -> None:
    ctx = make_context()
    with pytest.raises(NoContactError) as info:
        ctx.contacts.resolve(PATIENT, None, user_id=ctx.user_id)
    assert "contact open --patient" in str(info.value) and info.value.exit_code == 1  # a rule (R29) veto


def test_second_consultation_in_contact_refused_unless_first_failed(make_context, plugins) -> None:
    ctx = make_context(plugins=plugins)
    contact = ctx.open_contact(PATIENT)
    with pytest.raises(BusinessError):
        _run(ctx, contact_id=contact.id, fail=BusinessError("insurer down", code="X"))
    _run(ctx, contact_id=contact.id)  # allowed: the first one failed
    with pytest.raises(RuleRefusal) as info:
        _run(ctx, contact_id=contact.id)
    assert info.value.rule_id == "R35"
    outcomes = [e.outcome for e in ctx.audit.entries(kind="outcome")]
    assert outcomes == ["business_error", "ok"]


def test_automatic_trigger_refused(make_context, plugins) -> None:
    ctx = make_context(plugins=plugins)
    contact = ctx.open_contact(PATIENT)
    with pytest.raises(RuleRefusal) as info:
        _run(ctx, contact_id=contact.id, trigger=Trigger.AUTOMATIC)
    assert info.value.rule_id == "R37"


def test_burst_of_consultations_refused(make_context, plugins) -> None:
    ctx = make_context(plugins=plugins, rules={"disabled": ["R35"]})
    contact = ctx.open_contact(PATIENT)
    for _ in range(3):
        _run(ctx, contact_id=contact.id)
    with pytest.raises(RuleRefusal) as info:
        _run(ctx, contact_id=contact.id)
    assert info.value.rule_id == "R37-burst"


def test_mandatary_refused_for_non_mandatable_service(make_context, plugins) -> None:
    ctx = make_context(plugins=plugins, executor={"kind": "mandatary", "id": "0412345614", "cbe": "0412345614"})
    contact = ctx.open_contact(PATIENT)
    with pytest.raises(RuleRefusal) as info:
        _run(ctx, contact_id=contact.id)
    assert info.value.rule_id == "R21-fake"
    row = next(ctx.audit.entries(kind="refusal"))
    assert row.executor.startswith("mandatary:0412345614") and row.responsible.startswith("dentist:")


def test_switching_a_builtin_rule_off_is_audited_once(make_context, plugins) -> None:
    ctx = make_context(plugins=plugins, rules={"disabled": ["R29"]})
    ctx.storage  # noqa: B018  (opens and migrates)
    switches = list(ctx.audit.entries(kind="rule_switch"))
    assert [(s.code, s.outcome) for s in switches] == [("R29", "disabled")]
    assert "R29" not in {r.id for r in ctx.active_rules}
    again = make_context(plugins=plugins, rules={"disabled": ["R29"]})
    again.storage  # noqa: B018
    assert len(list(again.audit.entries(kind="rule_switch"))) == 1
    back_on = make_context(plugins=plugins)
    back_on.storage  # noqa: B018
    assert [s.outcome for s in back_on.audit.entries(kind="rule_switch")] == ["disabled", "enabled"]


def test_unknown_rule_in_disabled_list_is_a_config_error(make_context, plugins) -> None:
    ctx = make_context(plugins=plugins, rules={"disabled": ["R999"]})
    with pytest.raises(ConfigError, match="R999"):
        ctx.storage  # noqa: B018


def test_third_party_rule_refuses_and_is_audited(make_context, plugins) -> None:
    """The example plugin of tests/example_plugin, installed from its own pyproject."""
    pytest.importorskip("mcn_example_rule")
    full = PluginManager().load(allow=["example-rule"], extra=[("fakesvc", FakeService())])
    assert full.has_plugin("example-rule")
    ctx = make_context(plugins=full, example_rule={"blocked_patients": [PATIENT]})
    contact = ctx.open_contact(PATIENT)
    with pytest.raises(RuleRefusal) as info:
        _run(ctx, contact_id=contact.id)
    assert info.value.rule_id == "X-PRACTICE-1"
    assert next(ctx.audit.entries(kind="refusal")).code == "X-PRACTICE-1"
    assert ctx.audit.verify().ok


def test_finished_hook_sees_outcome(make_context) -> None:
    seen = []

    class Observer:
        @hookimpl
        def mycarenet_dental_exchange_finished(self, exchange, outcome, context):
            seen.append((exchange.operation, outcome.status))

    plugins = PluginManager().load(allow=["core-only"], extra=[("fakesvc", FakeService()), ("obs", Observer())])
    ctx = make_context(plugins=plugins)
    contact = ctx.open_contact(PATIENT)
    _run(ctx, contact_id=contact.id)
    assert seen == [("Consult", "ok")]


def test_contact_bound_results_erased_on_close(make_context) -> None:
    ctx = make_context()
    contact = ctx.open_contact(PATIENT)
    ctx.log.record(exchange_id="e1", kind="dmg.holder", service="dmg", status="ok", patient=PATIENT,
                   contact_id=contact.id, data={"holder": "x"}, retention="contact")
    ctx.log.record(exchange_id="e2", kind="tariff.consultation", service="tariff", status="ok", patient=PATIENT,
                   contact_id=contact.id, data={"lines": []})
    ctx.contacts.close(contact.id)
    assert [r.kind for r in ctx.log.find(patient=PATIENT)] == ["tariff.consultation"]


def test_other_patient_contact_refused(make_context, plugins) -> None:
    ctx = make_context(plugins=plugins)
    contact = ctx.contacts.open(OTHER, dentist=ctx.responsible().id, user_id=ctx.user_id)  # any text: no check here
    with pytest.raises(RuleRefusal, match="another patient"):
        _run(ctx, contact_id=contact.id)


def test_unused_types() -> None:
    assert types.SimpleNamespace  # keep the import used for readers extending this file


def test_one_context_shared_by_threads_keeps_each_threads_phase_apart(make_context, plugins) -> None:
    """The gateway's workers share one Context: a second thread's ``preparing()`` is its own transaction
    (it waits for the first to commit), never taken as nested in another thread's (it used to be: the
    phase's reads were an attribute of the Context, and the first thread's exit crashed the second)."""
    import threading
    import time

    ctx = make_context(plugins=plugins)
    first, second = ctx.open_contact(PATIENT), ctx.open_contact("56031212434")
    inside, order, errors = threading.Event(), [], []

    def a() -> None:
        with ctx.preparing():
            ctx.contact(first.id)
            inside.set()
            time.sleep(0.3)
            order.append("a-commits")

    def b() -> None:
        inside.wait(5)
        try:
            with ctx.preparing():
                order.append("b-inside")
                assert ctx.contact(second.id).id == second.id
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors, errors
    assert order == ["a-commits", "b-inside"]
