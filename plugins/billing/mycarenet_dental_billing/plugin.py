"""Plugin entry point of the eFact billing service: the hooks, wired to light modules only.

The file format lives in :mod:`mycarenet_dental_billing.efact`; transport in :mod:`.genasync`, the
outbox in :mod:`.outbox`, the insurer side in :mod:`.simulator`. Everything heavy is imported
lazily inside the hook bodies or the handlers, so the CLI starts fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from mycarenet_dental.hookspec import hookimpl
from mycarenet_dental.registrations import (
    CommandSpec,
    DemoStep,
    RuleSpec,
    ServiceSpec,
    SimulatorRoute,
    TableSpec,
)

if TYPE_CHECKING:  # pragma: no cover
    from mycarenet_dental.context import Context
    from mycarenet_dental.sim.app import SimRequest, SimResponse

SERVICE = "billing"
ACTIONS = ("urn:be:cin:nip:async:generic:post:msg", "urn:be:cin:nip:async:generic:get:query",
           "urn:be:cin:nip:async:generic:confirm:hash")


@hookimpl
def mycarenet_dental_services() -> Iterator[ServiceSpec]:
    yield ServiceSpec(name=SERVICE, title="eFact third-party-payment billing (GenericAsync HCPFAC)",
                      annex="Annex 4", mandatable=True, consultation=False,
                      endpoints={"hcpfac": "/mycarenet-ws/async/generic/hcpfac"},
                      description="920000 invoice files to the insurer unions, answers 931000/92009x/920999/920900")


@hookimpl
def mycarenet_dental_tables() -> Iterator[TableSpec]:
    from .outbox import TABLES

    yield TABLES


@hookimpl
def mycarenet_dental_rules() -> Iterator[RuleSpec]:
    from .rules import billing_rules

    yield from billing_rules()


@hookimpl
def mycarenet_dental_commands() -> Iterator[CommandSpec]:
    from .cli import billing_group

    yield CommandSpec(name=SERVICE, command=billing_group)


def _handle(request: SimRequest) -> SimResponse:
    from .simulator import handle

    return handle(request)


@hookimpl
def mycarenet_dental_simulator_routes() -> Iterator[SimulatorRoute]:
    import os

    path = os.environ.get("MYCARENET_DENTAL_BILLING_SIM_PATH", "/mycarenet-ws/async/generic/hcpfac")
    yield SimulatorRoute(path=path, handler=_handle, soap_actions=ACTIONS, name="MyCareNet GenericAsync eFact")


def _demo(context: Context) -> None:
    from .cli import run_demo_step

    run_demo_step(context)


@hookimpl
def mycarenet_dental_demo_steps() -> Iterator[DemoStep]:
    yield DemoStep(name="eFact: the day's visits billed through to settlement", run=_demo, order=80)
