"""Demo step: a billing office, with its own keystore and store, works for the dentist under a mandate.

It registers the dentist's mandates in the office's register, mirrors them to the simulated MyCareNet
(``mandates.json`` in the PKI folder), shows rule R21 allowing insurability and refusing DMG, and —
when an insurability plugin is installed — runs a real consultation through that plugin's CLI
command with the office's context (plugins never import each other).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click
from mycarenet_dental.errors import MyCareNetDentalError

#: Per service: command names its plugin may register, and extra arguments (a tariff needs a code).
CONSULT_COMMANDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "assurability": (("insurability", "assurability"), ()),
    "tariff": (("tariff",), ("--service", "301011")),
}
#: Subcommands tried when a plugin registers a group.
SUBCOMMANDS = ("consult", "check", "get")


def run(context: Any, demo: Any) -> None:
    from mycarenet_dental.context import Context

    from .io import write_file
    from .register import register_for
    from .rules import check_mandate
    from .simulator import DEFAULT_FILE

    echo = demo.echo
    office = Context.from_config(demo.mandatary_config_path, pm=context.pm)
    try:
        dentist = office.responsible()
        executor = office.executor()
        register = register_for(office)
        today = register.today()
        for service in ("assurability", "tariff", "billing"):
            result = register.add(mandator_nihii=dentist.nihii or dentist.id, mandator_ssin=dentist.ssin,
                                  mandatary=f"cbe:{executor.cbe or executor.id}", service=service, start=today,
                                  emandate_ref=f"DEMO-{service.upper()}")
            echo(f"   mandate {result.mandate.id}: dentist {dentist.nihii} → {executor.label()} for {service} "
                 f"from {today}")
        count = write_file(register, demo.pki_dir / DEFAULT_FILE)
        echo(f"   {count} mandate(s) mirrored to the simulated MyCareNet register ({DEFAULT_FILE})")

        exchange = office.new_exchange("assurability", "demo-check", patient=demo.patient)
        verdict = check_mandate(exchange, office)
        echo("   R21, insurability by the office: " + ("allowed" if verdict is None else f"refused: {verdict.reason}"))
        dmg = office.new_exchange("dmg", "demo-check", patient=demo.patient)
        verdict = check_mandate(dmg, office)
        echo("   R21, DMG by the office: " + ("allowed" if verdict is None else f"refused: {verdict.reason}"))

        contact = office.open_contact(demo.patient)
        for service, (names, extra) in CONSULT_COMMANDS.items():
            _consult(office, service, names, extra, demo.patient, contact.id, echo)

        tariff = register.mandates(service="tariff")[-1]
        register.stop(tariff.id, by="mandator")
        write_file(register, demo.pki_dir / DEFAULT_FILE)
        echo(f"   the dentist stops mandate {tariff.id} (tariff), with immediate effect")
        verdict = check_mandate(office.new_exchange("tariff", "demo-check", patient=demo.patient), office)
        echo("   R21, tariff by the office now: " + ("allowed" if verdict is None else f"refused: {verdict.reason}"))
        echo(f"   office audit: responsible = {dentist.label()}, executor = {executor.label()} (R23)")
    finally:
        office.close()


def _find_command(pm: Any, names: Sequence[str]) -> click.Command | None:
    for _, spec in pm.collect("mycarenet_dental_commands"):
        if spec.name not in names:
            continue
        command = spec.command
        if isinstance(command, click.Group):
            for sub in SUBCOMMANDS:
                if sub in command.commands:
                    return command.commands[sub]
            return None
        return command
    return None


def _consult(office: Any, service: str, names: Sequence[str], extra: Sequence[str], patient: str, contact_id: str,
             echo: Any) -> None:
    """Run the installed plugin's consultation command with the office's context, if its options fit."""
    command = _find_command(office.pm, names)
    if command is None:
        echo(f"   ({service}: no plugin installed — the rule check above is what the office would hit)")
        return
    options = {p.name for p in command.params}
    args: list[str] = []
    if "patient" in options:
        args += ["--patient", patient]
    elif command.params and isinstance(command.params[0], click.Argument):
        args.append(patient)
    if "contact_id" in options or "contact" in options:
        args += ["--contact", contact_id]
    args += list(extra)
    try:
        command.main(args=args, prog_name=f"mycarenet-dental {service}", standalone_mode=False, obj=office)
        echo(f"   {service} consulted by the office for the dentist, under the mandate")
    except MyCareNetDentalError as exc:
        echo(f"   {service} by the office: {exc}")
    except click.ClickException as exc:
        echo(f"   ({service}: the plugin's command takes other options: {exc.format_message()})")
