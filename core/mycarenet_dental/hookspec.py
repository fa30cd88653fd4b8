"""Every hook a mycarenet-dental plugin can implement — the one place to read.

A plugin is a module (or object) registered in the entry-point group ``mycarenet_dental``::

    # plugins/tariff/pyproject.toml
    [project.entry-points.mycarenet_dental]
    tariff = "mycarenet_dental_tariff.plugin"

and implements some of the hooks below with ``@hookimpl``. Registration hooks *yield* small typed
records (:mod:`mycarenet_dental.registrations`) so that new fields never break a plugin. A hook
name that is not listed here makes loading fail (``check_pending``), so a typo is caught at once.

Each plugin module names the plugin API it was built for, ``MYCARENET_DENTAL_API = "1.0"``, which
the plugin manager compares with :data:`API_VERSION` when it loads the plugin (same major, a minor
not above the core's): a plugin built for another API is refused at load, with a message naming it,
instead of failing at its first call.

The insurer side of a plugin (simulator routes, population, MemberData facets, demo steps) has its
own hooks in :mod:`mycarenet_dental.sim.hookspec`, loaded through a second entry-point group.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    from datetime import date

    from .config import Identity
    from .context import Context
    from .exchange import Exchange, Outcome
    from .registrations import (
        CommandSpec,
        ResultKind,
        RouteSpec,
        RuleSpec,
        ServiceSpec,
        StatusPanelSpec,
        TableSpec,
    )

PROJECT = "mycarenet_dental"

#: The plugin API this core implements, ``"major.minor"``. The minor grows when hooks or record
#: fields are added (older plugins keep working); the major when one is removed or changes meaning.
API_VERSION = "1.1"  # 1.1: mycarenet_dental_routes and mycarenet_dental_status_panels (the gateway)
#: The module attribute in which a plugin declares the API version it was built for.
API_ATTRIBUTE = "MYCARENET_DENTAL_API"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def mycarenet_dental_services() -> Iterable[ServiceSpec]:
    """Declare the MyCareNet services this plugin provides.

    Two plugins claiming the same service name are refused when the plugins are loaded.

    Example::

        @hookimpl
        def mycarenet_dental_services():
            yield ServiceSpec(name="tariff", title="Tariff consultation", annex="Annex 3",
                              mandatable=True,
                              endpoints={"tarification": "/MyCareNet/Tarification/v1"})
    """


@hookspec
def mycarenet_dental_commands() -> Iterable[CommandSpec]:
    """Add commands to the ``mycarenet-dental`` CLI.

    The command receives the :class:`~mycarenet_dental.context.Context` through
    ``mycarenet_dental.cli.pass_context``; uninstalling the plugin removes the command.

    Example::

        @click.command("tariff")
        @pass_context
        def tariff_cmd(ctx): ...

        @hookimpl
        def mycarenet_dental_commands():
            yield CommandSpec(name="tariff", command=tariff_cmd)
    """


@hookspec
def mycarenet_dental_rules() -> Iterable[RuleSpec]:
    """Add convention rules that may veto an exchange before anything is sent.

    Each rule's ``check(exchange, context)`` returns ``None`` to allow, or a ``RuleCheck`` to
    refuse; the refusal raises :class:`~mycarenet_dental.errors.RuleRefusal` naming the rule id
    and its article, and is audited.

    Example::

        def _only_weekdays(exchange, context):
            if exchange.created_at.weekday() >= 5:
                return RuleCheck("no consultations on week-ends in this practice")
            return None

        @hookimpl
        def mycarenet_dental_rules():
            yield RuleSpec(id="X-WEEKDAY", article="practice policy", title="Weekdays only",
                           check=_only_weekdays)
    """


@hookspec
def mycarenet_dental_tables() -> Iterable[TableSpec]:
    """Declare tables kept in the core storage, with their migrations.

    Example::

        @hookimpl
        def mycarenet_dental_tables():
            yield TableSpec(name="mandates", migrations=[
                "CREATE TABLE mandate (id TEXT PRIMARY KEY, mandator TEXT NOT NULL)",
                "ALTER TABLE mandate ADD COLUMN end_date TEXT",
            ])
    """


@hookspec
def mycarenet_dental_result_kinds() -> Iterable[ResultKind]:
    """Declare kinds of results this plugin records in the exchange log for other plugins to read.

    Only declared kinds can be kept (``run.keep``) or recorded; another plugin reads them by asking
    ``context.result_kinds_of("<service>")`` for the kinds of the plugin providing that service, never
    by guessing a spelling. One kind declared by two plugins is refused when the plugins load.

    Example::

        @hookimpl
        def mycarenet_dental_result_kinds():
            yield ResultKind(name="tariff.consultation",
                             description="one line per service priced by the insurer")
    """


@hookspec
def mycarenet_dental_routes() -> Iterable[RouteSpec]:
    """Add JSON-over-HTTP routes to the local gateway (``mycarenet-dental gateway serve``).

    Framework-neutral: the handler receives a :class:`~mycarenet_dental.registrations.RouteCall`
    (the context acting as the token's user, the typed body, the path and query parameters) and
    returns an attrs object; the gateway makes the web route, its OpenAPI schema, the token and role
    check, the error mapping and, for ``sends=True``, the ``Idempotency-Key`` replay. A plugin never
    imports the web framework. Uninstalling the plugin removes its routes.

    Example::

        @attrs.frozen
        class TariffAsk:
            patient: str
            services: list[str]

        def _tariff(call):
            return consult_tariff(call.context, call.body.patient, call.body.services)

        @hookimpl
        def mycarenet_dental_routes():
            yield RouteSpec(method="POST", path="/tariff", handler=_tariff, request=TariffAsk,
                            response=TariffResult, summary="Consult the tariff of services")
    """


@hookspec
def mycarenet_dental_status_panels() -> Iterable[StatusPanelSpec]:
    """Add sections to the gateway's status page (plain rows, rendered as HTML by the gateway).

    Example::

        def _panel(context):
            yield StatusPanel(title="Mandates", columns=("mandatary", "service", "state"),
                              rows=[(m.mandatary, m.service, m.state) for m in register_for(context).list()])

        @hookimpl
        def mycarenet_dental_status_panels():
            yield StatusPanelSpec(name="mandates", render=_panel)
    """


@hookspec
def mycarenet_dental_exchange_started(exchange: Exchange, context: Context) -> None:
    """Called after the rules allowed an exchange and just before it is sent.

    Example::

        @hookimpl
        def mycarenet_dental_exchange_started(exchange, context):
            metrics.inc(f"mycarenet.{exchange.service}.started")
    """


@hookspec
def mycarenet_dental_exchange_finished(exchange: Exchange, outcome: Outcome, context: Context) -> None:
    """Called once the outcome of an exchange is known (success, refusal, error); audited first.

    Example::

        @hookimpl
        def mycarenet_dental_exchange_finished(exchange, outcome, context):
            if outcome.status != "ok":
                notify_helpdesk(exchange.id, outcome.code)
    """


@hookspec
def mycarenet_dental_mandators(context: Context, service: str, on: date) -> Iterable[Identity]:
    """The dentists from whom this configuration's executor (a mandatary: a billing office) holds a
    mandate for ``service`` in force on ``on``; the mandates plugin answers from its register. A
    billing worker acts for exactly these dentists.

    Example::

        @hookimpl
        def mycarenet_dental_mandators(context, service, on):
            for m in register_for(context).in_force(service, on):
                yield Identity(nihii=m.mandator_nihii, ssin=m.mandator_ssin or "")
    """
