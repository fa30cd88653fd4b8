"""The billing step of ``mycarenet-dental demo``: the day's visits billed through to settlement.

Simulator side (it reads the simulator's population): loaded only through the simulator hooks.
"""

from __future__ import annotations

from typing import Any

from mycarenet_dental.coded import Sex
from mycarenet_dental.context import Context
from mycarenet_dental.timeutil import iso_date, yymmdd

from .cli import _euro


def run_demo_step(context: Context, demo: Any) -> None:
    """End the day: bill the visits' tariff-consulted lines in eFact and follow them to settlement."""
    from .api import build_sendings, settle_sendings, validate_sending

    echo = demo.echo
    invoices = demo_invoices(context)
    if not invoices:
        echo("   no tariff consultation recorded today: nothing to bill in third-party payment (R36)")
        return
    result = build_sendings(context, invoices)
    for r in result.refused_lines:
        echo(f"   refused before sending ({r.rule}): patient {r.patient} code {r.code} — {r.hint}")
    for s in result.sendings:
        validate_sending(context, s)
    statuses = settle_sendings(context, max_polls=10)
    for s in statuses:
        echo(f"   sending {s.sending_number:03d} to union {s.oa}: {s.state.value}; received (931000): "
             f"{'yes' if s.received else 'no'}; requested {_euro(s.total_a)} €, accepted "
             f"{_euro(s.accepted_amount)} €; payment reference {', '.join(s.payment_references) or '-'}")


def demo_invoices(context: Context) -> list[Any]:
    """The day's invoices: one per patient, from the priced lines of the recorded tariff consultations."""

    from mycarenet_dental.sim.population import base_population

    from .efact.model import Invoice, ServiceLine
    from .rules import TARIFF_SERVICE

    people = {p.ssin: p for p in base_population()}
    provider = context.config.require_dentist().nihii
    per_patient: dict[str, list[ServiceLine]] = {}
    seen: set[tuple[str, str, str]] = set()
    for entry in [e for kind in context.result_kinds_of(TARIFF_SERVICE) for e in context.log.find(kind=kind)]:
        data = entry.data
        if data.get("status") not in ("priced", None) or not entry.patient:
            continue
        code, day = str(data.get("code") or ""), str(data.get("service_date") or "")
        if (entry.patient, code, day) in seen or not code or not day:
            continue
        seen.add((entry.patient, code, day))
        per_patient.setdefault(entry.patient, []).append(ServiceLine(
            code=code, date=iso_date(day), reimbursement=int(data.get("reimbursement_cents") or 0),
            patient_share=int(data.get("patient_share_cents") or 0), provider=provider,
            tooth=data.get("tooth") if isinstance(data.get("tooth"), int) else None,
            related_code=str(data["related"]) if data.get("related") else None))
    invoices = []
    number = int(yymmdd(context.now())) * 1000
    for n, (ssin, lines) in enumerate(sorted(per_patient.items()), start=1):
        person = people.get(ssin)
        if person is None or not person.periods:
            continue
        period = person.periods[-1]
        invoices.append(Invoice(number=number + n, patient_id=ssin, sex=Sex.MALE if person.sex == "M" else Sex.FEMALE,
                                mutuality=period.mutuality,
                                ct1=period.ct1, ct2=period.ct2, lines=tuple(lines)))
    return invoices
