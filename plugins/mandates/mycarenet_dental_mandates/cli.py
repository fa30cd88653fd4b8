"""``mycarenet-dental mandates ...``: keep the register that mirrors eMandate (R22).

Light at import time (click and the core's CLI helpers only); the register is imported inside the
commands so that ``mycarenet-dental --help`` stays fast.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from mycarenet_dental.cli import emit, json_option, pass_context, print_table

if TYPE_CHECKING:  # pragma: no cover
    from mycarenet_dental.context import Context

SERVICES = ("assurability", "tariff", "billing")


def _register(ctx: Context) -> Any:
    from .register import register_for

    return register_for(ctx)


def _date(text: str | None, field: str) -> Any:
    if text is None:
        return None
    from mycarenet_dental.errors import InvalidIdentifierError

    from .model import as_date

    try:
        return as_date(text)
    except InvalidIdentifierError as exc:
        raise InvalidIdentifierError(field, text, exc.reason) from None


def _row(mandate: Any, day: Any) -> dict[str, Any]:
    state = mandate.state_on(day)
    reason = mandate.reason_on(day)
    return {"id": mandate.id, "mandator": mandate.mandator_nihii, "mandator_ssin": mandate.mandator_ssin,
            "mandatary": str(mandate.mandatary), "service": mandate.service.value,
            "start": mandate.start.isoformat(), "end": mandate.end.isoformat() if mandate.end else None,
            "ended_on": mandate.ended_on.isoformat() if mandate.ended_on else None,
            "last_day": (mandate.effective_end - timedelta(days=1)).isoformat() if mandate.effective_end else None,
            "state": state.value, "reason": reason.value if reason else None, "given_by": mandate.given_by,
            "emandate_ref": mandate.emandate_ref}


def _table(rows: list[dict[str, Any]], title: str | None = None) -> None:
    print_table(["id", "mandator", "mandatary", "service", "period", "state"],
                [[r["id"], r["mandator"], r["mandatary"], r["service"],
                  f"{r['start']} → {r['end'] or '…'}" + (f" (last day {r['last_day']})" if r["ended_on"] else ""),
                  r["state"] + (f" ({r['reason']})" if r["reason"] else "")] for r in rows], title=title)


@click.group("mandates")
def mandates_group() -> None:
    """Mandates given by the dentist (Annex 1 §4): insurability, tariff consultation and billing only."""


@mandates_group.command("add")
@click.option("--mandator", required=True, help="The dentist's NIHII (default SSIN from [dentist] when it matches).")
@click.option("--mandator-ssin", default=None, help="The dentist's SSIN.")
@click.option("--mandatary", required=True, help="SSIN, NIHII or company number (prefix ssin:/nihii:/cbe: if needed).")
@click.option("--service", required=True, help="assurability | tariff | billing (the explicit object, R24).")
@click.option("--start", required=True, help="First day (YYYY-MM-DD).")
@click.option("--end", default=None, help="Last day of a fixed-term mandate (YYYY-MM-DD).")
@click.option("--given-by", default=None, help="Liquidator or curator giving it after an R27 event.")
@click.option("--emandate-ref", default=None, help="Reference of the mandate in eMandate (R22).")
@click.option("--id", "mandate_id", default=None, help="Identifier to use (default: generated).")
@json_option
@pass_context
def add_command(ctx: Context, mandator: str, mandator_ssin: str | None, mandatary: str, service: str, start: str,
                end: str | None, given_by: str | None, emandate_ref: str | None, mandate_id: str | None,
                as_json: bool) -> None:
    """Register a mandate; the previous one for that service closes the day before it starts (R26)."""
    from mycarenet_dental.identifiers import Nihii

    register = _register(ctx)
    dentist = ctx.config.dentist
    nihii = Nihii.parse(mandator, field="--mandator").value
    if mandator_ssin is None and dentist is not None and dentist.nihii[:8] == nihii[:8]:
        mandator_ssin = dentist.ssin
    result = register.add(mandator_nihii=nihii, mandatary=mandatary, service=service,
                          start=_date(start, "--start"), end=_date(end, "--end"), mandator_ssin=mandator_ssin,
                          given_by=given_by, emandate_ref=emandate_ref, mandate_id=mandate_id)
    day = register.today()
    data = {"mandate": _row(result.mandate, day), "closed": [_row(m, day) for m in result.closed]}

    def human() -> None:
        m = result.mandate
        click.echo(f"mandate {m.id}: {m.mandator_nihii} → {m.mandatary} for {m.service.value} from {m.start}"
                   + (f" to {m.end}" if m.end else ""))
        for old in result.closed:
            last = old.effective_end - timedelta(days=1) if old.effective_end else None
            click.echo(f"  closed {old.id} (R26): its last day is {last}")

    emit(data, as_json, human)


@mandates_group.command("list")
@click.option("--on", "on", default=None, help="Evaluate states on this day (default today).")
@click.option("--mandator", default=None, help="Only this dentist's mandates (NIHII or SSIN).")
@click.option("--mandatary", default=None, help="Only this mandatary's mandates.")
@click.option("--service", type=click.Choice(SERVICES), default=None)
@click.option("--active", "only_active", is_flag=True, help="Only mandates in force on the day.")
@json_option
@pass_context
def list_command(ctx: Context, on: str | None, mandator: str | None, mandatary: str | None, service: str | None,
                 only_active: bool, as_json: bool) -> None:
    """List the mandates with their service and state (pending, active, ended with its reason)."""
    from .model import MandateState, PartyId

    register = _register(ctx)
    register.expire()
    day = _date(on, "--on") or register.today()
    mandates = register.mandates(
        mandator=PartyId.parse(mandator, field="--mandator") if mandator else None,
        mandatary=PartyId.parse(mandatary, field="--mandatary") if mandatary else None, service=service,
        on=day, states=[MandateState.ACTIVE] if only_active else None)
    rows = [_row(m, day) for m in mandates]
    emit(rows, as_json, lambda: _table(rows, title=f"mandates on {day}"))


@mandates_group.command("stop")
@click.argument("mandate_id")
@click.option("--by", type=click.Choice(["mandator", "mandatary"]), default="mandator", show_default=True,
              help="Which party stops it (either may, at any time).")
@json_option
@pass_context
def stop_command(ctx: Context, mandate_id: str, by: str, as_json: bool) -> None:
    """Stop a mandate with immediate effect."""
    register = _register(ctx)
    mandate = register.stop(mandate_id, by=by)
    row = _row(mandate, register.today())
    emit(row, as_json, lambda: click.echo(f"mandate {mandate.id} stopped by the {by}; no longer valid from "
                                          f"{mandate.ended_on}"))


@mandates_group.command("event")
@click.option("--party", required=True, help="The mandator or mandatary (SSIN, NIHII or company number).")
@click.option("--kind", required=True, type=click.Choice(["death", "bankruptcy", "liquidation"]))
@click.option("--date", "on", required=True, help="Day of the event (YYYY-MM-DD).")
@json_option
@pass_context
def event_command(ctx: Context, party: str, kind: str, on: str, as_json: bool) -> None:
    """Record a death, bankruptcy or liquidation: every mandate of that party ends at once (R27)."""
    register = _register(ctx)
    result = register.record_event(party, kind, _date(on, "--date"))
    day = register.today()
    data = {"party": str(result.event.party), "kind": result.event.kind.value, "on": result.event.on.isoformat(),
            "ended": [_row(m, day) for m in result.ended]}
    emit(data, as_json, lambda: click.echo(
        f"{kind} of {result.event.party} on {result.event.on}: {len(result.ended)} mandate(s) ended (R27)"
        + "".join(f"\n  {m.id} {m.service.value} {m.mandator_nihii} → {m.mandatary}" for m in result.ended)))


@mandates_group.command("history")
@click.argument("mandate_id")
@json_option
@pass_context
def history_command(ctx: Context, mandate_id: str, as_json: bool) -> None:
    """Every change of one mandate, with its reason and rule."""
    entries = _register(ctx).history(mandate_id)
    emit(entries, as_json, lambda: print_table(
        ["at", "action", "reason", "rule", "detail"],
        [[e.at, e.action, e.reason or "", e.rule or "", e.detail] for e in entries], title=f"mandate {mandate_id}"))


@mandates_group.command("import")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default=None, help="Default: from the suffix.")
@json_option
@pass_context
def import_command(ctx: Context, file: Path, fmt: str | None, as_json: bool) -> None:
    """Mirror a register (JSON or CSV) through the lifecycle rules; all or nothing."""
    from .io import read_file

    document = read_file(file, fmt)
    result = _register(ctx).import_mandates(document.mandates, document.events, document.history)
    data = {"added": list(result.added), "skipped": list(result.skipped), "events": result.events}
    emit(data, as_json, lambda: click.echo(f"{len(result.added)} mandate(s) imported, {len(result.skipped)} "
                                           f"already present, {result.events} event(s)"))


@mandates_group.command("export")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default=None, help="Default: from the suffix.")
@json_option
@pass_context
def export_command(ctx: Context, file: Path, fmt: str | None, as_json: bool) -> None:
    """Write the register (JSON keeps the history and the R27 events; CSV one line per mandate)."""
    from .io import write_file

    count = write_file(_register(ctx), file, fmt)
    emit({"file": str(file), "mandates": count}, as_json,
         lambda: click.echo(f"{count} mandate(s) written to {file}"))


@mandates_group.command("check")
@click.option("--mandator", required=True, help="The dentist's NIHII.")
@click.option("--mandatary", required=True, help="SSIN, NIHII or company number.")
@click.option("--service", required=True, help="The service of the exchange (e.g. assurability, tariff, dmg).")
@click.option("--on", "on", default=None, help="Day (default today).")
@json_option
@pass_context
def check_command(ctx: Context, mandator: str, mandatary: str, service: str, on: str | None, as_json: bool) -> None:
    """Say whether a mandate in force lets the mandatary act for the dentist (what rule R21 checks)."""
    from mycarenet_dental.identifiers import Nihii

    from .model import PartyId
    from .rules import mandated_service

    mandator = Nihii.parse(mandator, field="--mandator").value  # a typo is a usage error, not a refusal
    party = PartyId.parse(mandatary, field="--mandatary")
    register = _register(ctx)
    day = _date(on, "--on") or register.today()
    mandated = mandated_service(service)
    if mandated is None:
        data = {"allowed": False, "reason": f"{service} cannot be done under a mandate (Annex 1 §4)", "mandate": None}
    else:
        cov = register.coverage(mandator_nihii=mandator, mandatary=[party],
                                service=mandated, on=day)
        data = {"allowed": cov.allowed, "reason": cov.reason, "mandate": cov.mandate.id if cov.mandate else None}
    if not data["allowed"]:
        from .model import MandateRefusal

        raise MandateRefusal("R21", str(data["reason"]))
    emit(data, as_json, lambda: click.echo(f"allowed: {data['reason']}"))
