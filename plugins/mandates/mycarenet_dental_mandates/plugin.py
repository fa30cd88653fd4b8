"""Hook implementations of the mandates plugin (imports stay light: the work is imported lazily)."""

from __future__ import annotations

from collections.abc import Iterator

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
def mycarenet_dental_commands() -> Iterator[CommandSpec]:
    yield CommandSpec(name="mandates", command=mandates_group)


@hookimpl
def mycarenet_dental_routes() -> Iterator[RouteSpec]:
    from .routes import routes

    yield from routes()
