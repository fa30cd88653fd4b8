"""``mycarenet-dental dmg``: who holds the patient's global medical file (Annex 5).

Light at import (click only): the client, lxml and the security layer load when the command runs.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import click
from mycarenet_dental.cli import emit, json_option, pass_context, print_table

if TYPE_CHECKING:  # pragma: no cover
    from mycarenet_dental.context import Context


@click.command("dmg")
@click.option("--patient", required=True, help="The patient's SSIN (national number).")
@click.option("--date", "reference_date", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Date the holder is asked for (default today; at most two years back).")
@click.option("--contact", "contact_id", default=None, help="The open contact (default: the patient's open one).")
@click.option("--consent/--no-consent", default=None,
              help="Record that the patient agreed (or not) to the report to the treating physician (R41).")
@click.option("--route", type=click.Choice(["memberdata", "gmf"]), default=None,
              help="MemberData facet (default, [dmg] route) or GlobalMedicalFileConsultation.")
@json_option
@pass_context
def dmg_command(ctx: Context, patient: str, reference_date: Any, contact_id: str | None, consent: bool | None,
                route: str | None, as_json: bool) -> None:
    """Ask the insurer which physician holds the patient's DMG, for the art. 74 report (explicit request only)."""
    from .client import consult_dmg

    day: date | None = reference_date.date() if reference_date is not None else None
    result = consult_dmg(ctx, ctx.contact_for(patient, contact_id), reference_date=day, consent=consent, route=route)

    def human() -> None:
        holder = result.holder
        if holder is None:
            click.echo(f"No DMG holder for patient {result.patient} on {result.reference_date} "
                       f"(route {result.route.value}).")
            return
        period = ""
        if holder.start or holder.end:
            period = f"{holder.start or '…'} → {holder.end or '…'}"
        print_table(["NIHII", "holder", "kind", "period", "union", "mutuality"],
                    [[holder.nihii, holder.display_name, holder.kind.value, period, result.union or "",
                      result.mutuality or ""]],
                    title=f"DMG holder of {result.patient} on {result.reference_date} (route {result.route.value})")
        click.echo("Purpose recorded: art. 74 report to the treating physician"
                   + ("" if result.consent is None else f"; patient agreement: {'yes' if result.consent else 'no'}"))

    emit(result, as_json, human)
