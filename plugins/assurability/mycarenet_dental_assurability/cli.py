"""``mycarenet-dental insurability``: the consultation at the chair, and its demo step.

Light at import (click and the core's CLI helpers only); the client is imported when the command runs.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import click
from mycarenet_dental.cli import emit, json_option, pass_context, print_table

if TYPE_CHECKING:  # pragma: no cover
    from mycarenet_dental.context import Context


def _yes_no(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


def show_result(result: Any, echo: Any = click.echo) -> None:
    """Human view of an :class:`InsurabilityResult`."""
    patient = result.patient
    who = ""
    if patient is not None and (patient.last_name or patient.first_name):
        who = f"{patient.first_name or ''} {patient.last_name or ''}".strip()
    rows = [
        ("patient", who or "(kept summary)" if result.source.value == "cache" else who),
        ("insured on " + result.period.end.isoformat(), _yes_no(result.insured)),
        ("union", result.union or "-"),
        ("CT1/CT2", f"{result.ct1 or '-'}/{result.ct2 or '-'}"),
        ("BIM (increased reimbursement)", _yes_no(result.bim)),
        ("third-party payment allowed", _yes_no(result.third_party_payment)),
    ]
    if result.deceased:
        rows.append(("deceased", result.deceased.isoformat() if result.deceased != date.min else "yes"))
    if result.general_situation and result.general_situation.event:
        gs = result.general_situation
        rows.append(("general situation", f"{gs.event}" + (f" ({gs.transfer_date})" if gs.transfer_date else "")))
    if result.medical_house:
        mh = result.medical_house
        rows.append(("medical house", f"{mh.nihii} {'/'.join(mh.kinds)} since {mh.start or '?'}"))
    if result.hospitalisation:
        h = result.hospitalisation
        rows.append(("hospitalised", f"hospital {h.hospital_nihii} service {h.service} since {h.admission_date}"))
    rows.append(("source", result.source.value + (" (partial answer)" if result.partial else "")))
    print_table(["", ""], rows, title="Insurability")
    if result.periods:
        print_table(["mutuality", "registration nr", "CT1", "CT2", "from", "to", "payment approval"],
                    [(p.mutuality, p.registration_number or "", p.ct1, p.ct2, p.start, p.end or "",
                      p.payment_approval or "") for p in result.periods],
                    title="Periods" + (" (truncated to five)" if result.truncated else ""))
    from .errors import entry

    for notice in result.notices:
        text = notice.message or (entry("memberdata", notice.code) or {}).get("en", "")
        echo(f"notice {notice.code}: {text}" + (f" [{notice.source}]" if notice.source else ""))


@click.command("insurability")
@click.option("--patient", required=True, help="SSIN, or MUT:REGNR (mutuality code and registration number).")
@click.option("--date", "on", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Day of the contact (default: today).")
@click.option("--from", "since", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Start of the period asked (default: the same day).")
@click.option("--invoicing", is_flag=True, help="requestType=invoicing (asks a payment approval).")
@click.option("--hospitalized", is_flag=True, help="contactType=hospitalized (default: other).")
@click.option("--contact", "contact_id", default=None, help="The contact (default: the patient's open contact).")
@click.option("--backend", type=click.Choice(["memberdata", "genins"]), default=None,
              help="Override [assurability] backend.")
@click.option("--clear", is_flag=True, help="Send the MemberData blob in clear (no ETEE seal).")
@json_option
@pass_context
def insurability_command(ctx: Context, patient: str, on: Any, since: Any, invoicing: bool, hospitalized: bool,
                         contact_id: str | None, backend: str | None, clear: bool, as_json: bool) -> None:
    """Is the patient insured, under which status, may third-party payment apply (annex 2)."""
    from .client import consult_insurability

    result = consult_insurability(ctx, ctx.contact_for(patient, contact_id), on=on.date() if on else None,
                                  since=since.date() if since else None, invoicing=invoicing,
                                  contact_type="hospitalized" if hospitalized else "other",
                                  backend=backend, sealed=False if clear else None)
    emit(result.to_dict(), as_json, lambda: show_result(result))


def demo_step(ctx: Context, info: Any) -> None:
    """Demo: consult the regular adult of the visit at the chair, then ask again (R34: the kept answer)."""
    from .client import consult_insurability, settings

    echo = info.echo
    result = consult_insurability(ctx, ctx.contact(info.contact_id))
    echo(f"   insured: {_yes_no(result.insured)} — union {result.union}, CT1/CT2 {result.ct1}/{result.ct2}, "
         f"BIM {_yes_no(result.bim)}, third-party payment {_yes_no(result.third_party_payment)} "
         f"({result.source.value}, {settings(ctx)['encryption']})")
    again = consult_insurability(ctx, ctx.contact(info.contact_id))
    note = next((n.message for n in again.notices if n.code == "R34"), "")
    echo(f"   second consultation in the same contact: {note}")
