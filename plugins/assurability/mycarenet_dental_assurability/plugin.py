"""Hook implementations of the insurability plugin. Light imports only (the CLI starts fast):
heavy modules (lxml, the simulator, the client) are imported inside the hooks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mycarenet_dental.hookspec import hookimpl
from mycarenet_dental.registrations import (
    CommandSpec,
    DemoStep,
    ResultKind,
    RuleSpec,
    ServiceSpec,
    SimulatorRoute,
)

SERVICE = ServiceSpec(
    name="assurability",
    title="Insurability consultation (MyCareNet MemberData / GenericInsurability)",
    annex="Annex 2",
    mandatable=True,
    consultation=True,
    endpoints={"memberdata": "/MyCareNet/MemberData/v1", "genins": "/GenericInsurability/v1"},
    description="Is the patient insured, under which status (CT1/CT2), may third-party payment apply — "
                "on-line, one patient at a time, once per contact.",
)


@hookimpl
def mycarenet_dental_services() -> Iterator[ServiceSpec]:
    yield SERVICE


@hookimpl
def mycarenet_dental_commands() -> Iterator[CommandSpec]:
    from .cli import insurability_command

    yield CommandSpec(name="insurability", command=insurability_command)


@hookimpl
def mycarenet_dental_rules() -> Iterator[RuleSpec]:
    from .rules import RULES

    yield from RULES


@hookimpl
def mycarenet_dental_result_kinds() -> Iterator[ResultKind]:
    yield ResultKind(name="assurability.consultation",
                     description="insurability answer kept on the contact: status, insurer, CT1/CT2, "
                                 "third-party payment, period (no patient identity data)")


@hookimpl
def mycarenet_dental_simulator_routes() -> Iterator[SimulatorRoute]:
    """GenericInsurability; MemberData is hosted by the simulator because this plugin answers facets."""
    from .genins_sim import genins_routes

    yield from genins_routes()


@hookimpl
def mycarenet_dental_simulator_facets() -> Iterator[Any]:
    from .simulator import facets

    yield from facets()


@hookimpl
def mycarenet_dental_simulator_population() -> Iterator[Any]:
    from .simulator import population

    yield from population()


@hookimpl
def mycarenet_dental_demo_steps() -> Iterator[DemoStep]:
    from .cli import demo_step

    yield DemoStep(name="insurability", run=demo_step, order=20)
