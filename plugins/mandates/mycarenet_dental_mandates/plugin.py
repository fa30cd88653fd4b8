"""Hook implementations of the mandates plugin (imports stay light: the work is imported lazily)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from mycarenet_dental.hookspec import hookimpl
from mycarenet_dental.registrations import CommandSpec, DemoStep, RuleSpec, SimulatorRoute, TableSpec

from .cli import mandates_group

if TYPE_CHECKING:  # pragma: no cover
    from mycarenet_dental.context import Context

CHECKER_NAME = "mycarenet-dental-mandates"


@hookimpl
def mycarenet_dental_tables() -> Iterator[TableSpec]:
    from .register import TABLES

    yield TABLES


@hookimpl
def mycarenet_dental_rules() -> Iterator[RuleSpec]:
    from .rules import RULES

    yield from RULES


@hookimpl
def mycarenet_dental_commands() -> Iterator[CommandSpec]:
    yield CommandSpec(name="mandates", command=mandates_group)


@hookimpl
def mycarenet_dental_simulator_routes() -> Iterator[SimulatorRoute]:
    """No route of its own: registers the MyCareNet-side mandate checker every service handler consults
    through ``mycarenet_dental.simulator.authz`` (called once when the simulator app is built)."""
    from mycarenet_dental.simulator.authz import register_mandate_checker

    from .simulator import SimMandateAuthority

    register_mandate_checker(CHECKER_NAME, SimMandateAuthority)
    yield from ()


@hookimpl
def mycarenet_dental_demo_steps() -> Iterator[DemoStep]:
    yield DemoStep(name="billing office working for the dentist under a mandate", order=60, run=_demo)


def _demo(context: Context) -> None:
    from .demo import run

    run(context)
