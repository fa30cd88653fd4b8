"""Hook implementations of the mandates plugin (imports stay light: the work is imported lazily)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from mycarenet_dental.hookspec import hookimpl
from mycarenet_dental.registrations import CommandSpec, DemoStep, RuleSpec, TableSpec

from .cli import mandates_group

if TYPE_CHECKING:  # pragma: no cover
    from mycarenet_dental.context import Context


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
def mycarenet_dental_simulator_setup(state: Any) -> None:
    """The MyCareNet-side mandate register of this simulator, made once when the simulator is built."""
    from .simulator import install

    install(state)


@hookimpl
def mycarenet_dental_simulator_mandate_check(state: Any, sender: tuple[tuple[str, str], ...], care_provider: str,
                                             service: str, on: dt.date) -> Any:
    """MyCareNet's check of a mandatary's request against this simulator's register (SOA-01002)."""
    from .simulator import install

    return install(state)(sender=sender, care_provider=care_provider, service=service, on=on)


@hookimpl
def mycarenet_dental_demo_steps() -> Iterator[DemoStep]:
    yield DemoStep(name="billing office working for the dentist under a mandate", order=60, run=_demo)


def _demo(context: Context, demo: Any) -> None:
    from .demo import run

    run(context, demo)
