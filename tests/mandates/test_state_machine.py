"""Property-based lifecycle test: whatever the sequence of add / stop / event / expiry, no two
mandates of one mandator and service are ever in force together, and every ended mandate has a
recorded reason in its history."""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from mycarenet_dental_mandates import EndReason, MandateRefusal, MandateRegister, MandateState, PartyId

from .conftest import DENTIST_NIHII, OFFICE_CBE, OTHER_CBE, OTHER_DENTIST_NIHII, SECRETARY_SSIN

BASE = dt.date(2026, 1, 1)
MANDATORS = (DENTIST_NIHII, OTHER_DENTIST_NIHII)
MANDATARIES = (f"cbe:{OFFICE_CBE}", f"cbe:{OTHER_CBE}", f"ssin:{SECRETARY_SSIN}")
SERVICES = ("assurability", "tariff", "billing")
ACTION_OF = {EndReason.STOPPED_BY_MANDATOR: "stopped", EndReason.STOPPED_BY_MANDATARY: "stopped",
             EndReason.SUPERSEDED: "closed", EndReason.DEATH: "terminated", EndReason.BANKRUPTCY: "terminated",
             EndReason.LIQUIDATION: "terminated", EndReason.EXPIRED: "expired"}


class MandateLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.today = BASE
        self.register = MandateRegister.in_memory(today=lambda: self.today)
        self.ids: list[str] = []
        self.events: list[tuple[PartyId, dt.date]] = []

    @rule(mandator=st.sampled_from(MANDATORS), mandatary=st.sampled_from(MANDATARIES),
          service=st.sampled_from(SERVICES), start=st.integers(-20, 60),
          length=st.one_of(st.none(), st.integers(0, 40)), curator=st.booleans())
    def add(self, mandator: str, mandatary: str, service: str, start: int, length: int | None,
            curator: bool) -> None:
        begin = self.today + dt.timedelta(days=start)
        end = None if length is None else begin + dt.timedelta(days=length)
        try:
            result = self.register.add(mandator_nihii=mandator, mandatary=mandatary, service=service, start=begin,
                                       end=end, given_by="Me Curator" if curator else None)
        except MandateRefusal as exc:
            assert exc.rule_id == "R27" and not curator and self.events
            return
        self.ids.append(result.mandate.id)
        assert result.mandate.covers(begin)
        for closed in result.closed:
            assert closed.end_reason is EndReason.SUPERSEDED

    @precondition(lambda self: self.ids)
    @rule(data=st.data(), by=st.sampled_from(["mandator", "mandatary"]))
    def stop(self, data: st.DataObject, by: str) -> None:
        mandate_id = data.draw(st.sampled_from(self.ids))
        before = self.register.get(mandate_id)
        end = before.effective_end
        if end is not None and end <= max(self.today, before.start):
            return  # already ended: the register refuses, tested elsewhere
        stopped = self.register.stop(mandate_id, by=by)
        assert not stopped.covers(self.today) and not stopped.covers(max(self.today, stopped.start))

    @rule(party=st.sampled_from(MANDATARIES + tuple(f"nihii:{n}" for n in MANDATORS)),
          kind=st.sampled_from(["death", "bankruptcy", "liquidation"]), offset=st.integers(-10, 10))
    def event(self, party: str, kind: str, offset: int) -> None:
        on = self.today + dt.timedelta(days=offset)
        party_id = PartyId.parse(party)
        result = self.register.record_event(party_id, kind, on)
        self.events.append((party_id, on))
        for mandate in self.register.mandates():
            if mandate.involves(party_id):
                assert not any(mandate.covers(on + dt.timedelta(days=d)) for d in range(0, 120))
        assert all(m.end_reason is EndReason(kind) for m in result.ended)

    @rule(days=st.integers(1, 45))
    def time_passes(self, days: int) -> None:
        self.today += dt.timedelta(days=days)
        self.register.expire()

    @invariant()
    def never_two_in_force_for_one_mandator_and_service(self) -> None:
        mandates = [m for m in self.register.mandates() if not m.is_void()]
        for a, b in itertools.combinations(mandates, 2):
            if a.mandator_key != b.mandator_key or a.service != b.service:
                continue
            a_end, b_end = a.effective_end or dt.date.max, b.effective_end or dt.date.max
            assert a_end <= b.start or b_end <= a.start, (a, b)
        for mandator, service in itertools.product(MANDATORS, SERVICES):
            active = self.register.mandates(mandator=PartyId.parse(f"nihii:{mandator}"), service=service,
                                            states=[MandateState.ACTIVE], on=self.today)
            assert len(active) <= 1

    @invariant()
    def every_ended_mandate_has_a_recorded_reason(self) -> None:
        for mandate in self.register.mandates():
            if mandate.state_on(self.today) is not MandateState.ENDED:
                continue
            reason = mandate.reason_on(self.today)
            assert reason is not None
            actions = {(h.action, h.reason) for h in self.register.history(mandate.id)}
            assert (ACTION_OF[reason], reason.value) in actions, (mandate, actions)


MandateLifecycle.TestCase.settings = settings(max_examples=60, stateful_step_count=25, deadline=None,
                                              suppress_health_check=[HealthCheck.too_slow])
TestMandateLifecycle = MandateLifecycle.TestCase
