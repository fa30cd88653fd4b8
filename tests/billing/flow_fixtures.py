"""Fixtures and builders of the eFact transport/outbox/simulator tests (imported by test_flow_*,
test_outbox_*, test_sim_*): the module's simulator reset per test, a fresh client storage per test."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from mycarenet_dental.coded import Sex
from mycarenet_dental.sim.population import SimPatient, base_population
from mycarenet_dental_billing.efact.model import Invoice, ServiceLine, destination_for

REPO = Path(__file__).resolve().parents[2]

PEOPLE = {p.last_name: p for p in base_population()}
LUCAS = PEOPLE["Janssens"]  # 116 → union 100
MARIE = PEOPLE["Dubois"]  # 306 → union 300
NOAH = PEOPLE["Maes"]  # 509 → union 500
KARIM = PEOPLE["El Amrani"]  # 306
JEANNE = PEOPLE["Claes"]  # 509
ARNE = PEOPLE["Peeters"]  # 900


@pytest.fixture
def env(sim: Any) -> Any:
    """The module's simulator (``sim``, tests/conftest.py) with the insurer's eFact state and switches reset
    for this test."""
    sim.state.plugin_state.pop("billing", None)
    for key in [k for k in sim.state.switches.extra if k.startswith("billing.")]:
        del sim.state.switches.extra[key]
    for key in [k for k in sim.state.counters if k.startswith("billing.")]:
        del sim.state.counters[key]
    return sim


def new_context(env: Any, tmp_path: Path, *, name: str = "store.sqlite", mandatary: bool = False) -> Any:
    """A client context on its own storage (a practice), talking to the module's simulator."""
    return env.context(mandatary=mandatary, storage=tmp_path / name)


def today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def record_tariff(ctx: Any, patient: str, lines: Sequence[tuple[str, dt.date]], *, commitment: str | None = None) -> str:
    """Record a tariff consultation in the exchange log as the tariff plugin does (one entry per line)."""
    exchange_id = uuid.uuid4().hex
    for n, (code, day) in enumerate(lines, start=1):
        ctx.log.record(exchange_id=exchange_id, kind="tariff.consultation", service="tariff", status="ok",
                       patient=patient, data={"patient": patient, "code": code, "service_date": day.isoformat(),
                                              "tooth": None, "status": "priced", "line": n, "lines": len(lines),
                                              "commitment": commitment, "reimbursement_cents": 2000,
                                              "patient_share_cents": 500})
    return exchange_id


def make_invoice(number: int, person: SimPatient, lines: Sequence[tuple[str, dt.date, int | None, int]], *,
                 provider: str, mutuality: str | None = None) -> Invoice:
    """An invoice for a simulator patient; ``lines`` = (6-digit code, date, tooth, reimbursement cents)."""
    period = person.periods[-1]
    mut = mutuality or period.mutuality
    return Invoice(number=number, patient_id=person.ssin, sex=Sex.MALE if person.sex == "M" else Sex.FEMALE,
                   mutuality=mut,
                   destination=destination_for(mut), ct1=period.ct1, ct2=period.ct2,
                   lines=tuple(ServiceLine(code=code, date=day, tooth=tooth, reimbursement=cents,
                                           patient_share=300, provider=provider)
                               for code, day, tooth, cents in lines))


def consulted_invoice(ctx: Any, number: int, person: SimPatient,
                      lines: Sequence[tuple[str, dt.date, int | None, int]], **kw: Any) -> Invoice:
    """An invoice whose lines all had their tariff consultation (R36)."""
    record_tariff(ctx, person.ssin, [(code, day) for code, day, _, _ in lines])
    return make_invoice(number, person, lines, provider=ctx.config.require_dentist().nihii, **kw)


def receipts(env: Any, prefix: str = "billing.invoice_receipts:") -> dict[str, int]:
    return {k[len(prefix):]: v for k, v in env.state.counters.items() if k.startswith(prefix)}
