"""``mycarenet-dental tariff``: ask the insurer the tariff of the services of a visit.

Heavy modules (lxml, the client) are imported inside the command so that the CLI starts fast.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import click
from mycarenet_dental.cli import emit, json_option, pass_context, print_table

if TYPE_CHECKING:  # pragma: no cover
    from mycarenet_dental.context import Context


def _euros(cents: int | None) -> str:
    return "" if cents is None else f"{cents / 100:.2f}"


def show_result(result: Any, echo: Any = click.echo) -> None:
    """The human table of a :class:`~mycarenet_dental_tariff.model.TariffResult`."""
    ins = result.insured
    who = result.patient
    if ins is not None:
        who = f"{ins.first_name} {ins.last_name} ({ins.ssin or result.patient}), mutuality {ins.mutuality}, " \
              f"CT {ins.ct1}/{ins.ct2}{' BIM' if ins.bim else ''}"
    title = f"Tariff {result.service_date} — {who}" + (" — kept on the contact" if result.from_contact else "")
    rows = []
    for line in result.lines:
        status = line.status.value
        if line.refusal is not None:
            status = f"refused {line.refusal.reason}: {line.refusal.messages.en}"
            if line.refusal.because_of_code:
                status += f" (after {line.refusal.because_of_code} on {line.refusal.because_of_date})"
        rows.append([line.code, "" if line.tooth is None else f"{line.tooth:02d}", line.related or "",
                     _euros(line.fee_cents), _euros(line.reimbursement_cents), _euros(line.patient_share_cents),
                     _euros(line.supplement_cents), line.commitment or "", line.justification or "", status])
    print_table(["code", "tooth", "related", "fee", "reimb.", "patient", "suppl.", "commitment", "just.", "status"],
                rows, title=title)


@click.command("tariff")
@click.option("--patient", required=True, help="Patient SSIN (or MUT:REGNR).")
@click.option("--service", "services", multiple=True, required=True, metavar="CODE[:TOOTH[:RELATED]]",
              help="A service: nomenclature code, FDI tooth and related service when they apply. Repeat it.")
@click.option("--date", "service_date", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Date of the services (default today; at most two months back).")
@click.option("--contact", "contact_id", default=None, help="The contact (default: the patient's open contact).")
@click.option("--justification", default=None, help="CD-MYCARENET-JUSTIFICATION value to send (e.g. 2).")
@json_option
@pass_context
def tariff_command(ctx: Context, patient: str, services: tuple[str, ...], service_date: dt.datetime | None,
                   contact_id: str | None, justification: str | None, as_json: bool) -> None:
    """Consult the tariff of the services of a visit (annex 3: on the dentist's request, once per contact)."""
    from mycarenet_dental.exchange import Trigger

    from .client import consult_tariff

    result = consult_tariff(ctx, ctx.contact_for(patient, contact_id), list(services),
                            service_date=service_date.date() if service_date else None,
                            justification=justification, trigger=Trigger.USER)
    emit(result, as_json, lambda: show_result(result))
