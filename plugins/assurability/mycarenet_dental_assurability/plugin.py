"""Hook implementations of the insurability plugin. Light imports only (the CLI starts fast):
heavy modules (lxml, the client) are imported inside the hooks; the insurer side is in
:mod:`.simulator`, loaded only by the simulator."""

from __future__ import annotations

from collections.abc import Iterator

from mycarenet_dental.hookspec import hookimpl
from mycarenet_dental.registrations import (
    CommandSpec,
    ResultKind,
    RouteSpec,
    RuleSpec,
    ServiceSpec,
)

#: the plugin API this plugin is built for (checked when the plugin loads)
MYCARENET_DENTAL_API = "1.1"

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
                     description="insurability answer kept on the contact: status, union, CT1/CT2, "
                                 "third-party payment, period (no patient identity data)")


@hookimpl
def mycarenet_dental_routes() -> Iterator[RouteSpec]:
    from .routes import routes

    yield from routes()
