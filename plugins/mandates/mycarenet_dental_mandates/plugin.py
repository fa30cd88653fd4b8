"""Hook implementations of the mandates plugin (imports stay light: the work is imported lazily)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from mycarenet_dental.config import Identity
from mycarenet_dental.hookspec import hookimpl
from mycarenet_dental.registrations import CommandSpec, RouteSpec, RuleSpec, TableSpec

from .cli import mandates_group

#: the plugin API this plugin is built for (checked when the plugin loads)
MYCARENET_DENTAL_API = "1.1"


@hookimpl
def mycarenet_dental_tables() -> Iterator[TableSpec]:
    from .register import TABLES

    yield TABLES


@hookimpl
def mycarenet_dental_rules() -> Iterator[RuleSpec]:
    from .rules import RULES

    yield from RULES


@hookimpl
def mycarenet_dental_mandators(context: Any, service: str, on: dt.date) -> Iterator[Identity]:
    """The dentists whose mandate for ``service`` the context's executor holds on ``on`` (billing workers)."""
    from .model import Service
    from .register import register_for
    from .rules import executor_identities

    register = register_for(context)
    seen: set[str] = set()
    for party in executor_identities(context.executor()):
        for m in register.mandates(mandatary=party, service=Service(service)):
            if m.covers(on) and m.mandator_nihii not in seen:
                seen.add(m.mandator_nihii)
                yield Identity(nihii=m.mandator_nihii, ssin=m.mandator_ssin or "")


@hookimpl
def mycarenet_dental_commands() -> Iterator[CommandSpec]:
    yield CommandSpec(name="mandates", command=mandates_group)


@hookimpl
def mycarenet_dental_routes() -> Iterator[RouteSpec]:
    from .routes import routes

    yield from routes()
