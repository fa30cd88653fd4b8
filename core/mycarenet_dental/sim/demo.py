"""``mycarenet-dental demo``: the day of a dental practice, on the embedded simulator.

The core generates a test PKI in a temporary folder, starts the simulator on a free loopback
port, logs the dentist in, opens a patient contact, then runs every installed plugin's demo
steps in order (``mycarenet_dental_demo_steps``, a simulator hook). Each step is called with the
context and a :class:`DemoInfo` (what the steps share).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import click

from ..cli import pass_context
from ..errors import MyCareNetDentalError

if TYPE_CHECKING:  # pragma: no cover
    from ..context import Context


@attrs.define
class DemoInfo:
    """What the demo steps share: the PKI folder, the simulator URL, the patients of the day."""

    pki_dir: Path
    url: str
    config_path: Path
    mandatary_config_path: Path
    patient: str  # the regular adult of the visit
    contact_id: str
    echo: Any = print


def run_demo(pm: Any, *, workdir: Path, echo: Any = click.echo, only: tuple[str, ...] = ()) -> int:
    """Run the demo; returns the number of failed steps."""
    from ..context import Context
    from .cli import LICENCE_USER, make_simulator, read_env_file, write_simulator_config
    from .pki import generate_pki
    from .population import base_population
    from .server import SimulatorServer

    pki = generate_pki(workdir)
    # Start on a free port first, then write the config pointing at it.
    import secrets

    licence_password = secrets.token_urlsafe(9)
    write_simulator_config(pki, workdir, port=0, licence_password=licence_password)
    app = make_simulator(pm, workdir)
    server = SimulatorServer(app, pki_dir=workdir, port=0).start()
    try:
        config, mandatary = write_simulator_config(pki, workdir, port=server.port, licence_password=licence_password)
        app.state.licences[LICENCE_USER] = licence_password
        os.environ.update(read_env_file(workdir))
        ctx = Context.from_config(config, pm=pm)
        echo(f"== simulator on {server.url}; practice of {pki.dentist_given_name} {pki.dentist_surname} "
             f"(NIHII {pki.dentist_nihii})")
        patients = base_population()
        regular = patients[0]
        contact = ctx.open_contact(regular.ssin)
        echo(f"== contact {contact.id} opened for {regular.first_name} {regular.last_name} ({regular.ssin})")
        info = DemoInfo(pki_dir=workdir, url=server.url, config_path=config,
                        mandatary_config_path=mandatary, patient=regular.ssin,
                        contact_id=contact.id, echo=echo)
        steps = sorted((rec for _, rec in app.sim_pm.collect("mycarenet_dental_demo_steps", tolerant=True)), key=lambda s: (s.order, s.name))
        failures = 0
        for step in [s for s in steps if not only or s.name in only]:
            echo(f"\n== {step.name}")
            try:
                step.run(ctx, info)
            except MyCareNetDentalError as exc:
                failures += 1
                echo(f"   step failed: {exc}")
        verdict = ctx.audit.verify()
        empty = verdict.problem == "EMPTY"  # the steps run (e.g. the office's alone) wrote nothing here
        echo(f"\n== audit trail: {verdict.rows} entries, chain "
             f"{'intact' if verdict.ok else 'empty' if empty else 'BROKEN: ' + verdict.reason}")
        ctx.close()
        return failures + (0 if verdict.ok or empty else 1)
    finally:
        server.stop()


@click.command("demo")
@click.option("--keep", type=click.Path(path_type=Path), default=None,
              help="Keep the demo's PKI, config and store in this folder instead of a temporary one.")
@click.option("--step", "only", multiple=True, help="Run only the named step(s).")
@pass_context
def demo_command(ctx: Context, keep: Path | None, only: tuple[str, ...]) -> None:
    """Run the day of a dental practice against the embedded simulator."""
    from . import require_extra

    require_extra()
    if keep:
        keep.mkdir(parents=True, exist_ok=True)
        failures = run_demo(ctx.pm, workdir=keep, only=only)
    else:
        with tempfile.TemporaryDirectory(prefix="mcn-demo-") as tmp:
            failures = run_demo(ctx.pm, workdir=Path(tmp), only=only)
    if failures:
        raise click.exceptions.Exit(1)
