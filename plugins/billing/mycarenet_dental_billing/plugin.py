"""Plugin entry point of the eFact billing service: the hooks, wired to light modules only.

The file format lives in :mod:`mycarenet_dental_billing.efact`; transport in :mod:`.genasync`, the
outbox in :mod:`.outbox`, the insurer side in :mod:`.simulator`. Everything heavy is imported
lazily inside the hook bodies or the handlers, so the CLI starts fast.
"""

from __future__ import annotations

from collections.abc import Iterator

from mycarenet_dental.hookspec import hookimpl
from mycarenet_dental.registrations import (
    CommandSpec,
    RouteSpec,
    RuleSpec,
    ServiceSpec,
    StatusPanelSpec,
    TableSpec,
)

#: the plugin API this plugin is built for (checked when the plugin loads)
MYCARENET_DENTAL_API = "1.1"

SERVICE = "billing"
ACTIONS = ("urn:be:cin:nip:async:generic:post:msg", "urn:be:cin:nip:async:generic:get:query",
           "urn:be:cin:nip:async:generic:confirm:hash")


@hookimpl
def mycarenet_dental_services() -> Iterator[ServiceSpec]:
    yield ServiceSpec(name=SERVICE, title="eFact third-party-payment billing (GenericAsync HCPFAC)",
                      annex="Annex 4", mandatable=True, consultation=False,
                      # FH: genericasync.invoicing.mycarenet.get.response.neededxadeslevel=xadest
                      answer_xades="required",
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


@hookimpl
def mycarenet_dental_routes() -> Iterator[RouteSpec]:
    from .routes import routes

    yield from routes()


@hookimpl
def mycarenet_dental_status_panels() -> Iterator[StatusPanelSpec]:
    from .routes import panels

    yield StatusPanelSpec(name="billing", render=panels)
