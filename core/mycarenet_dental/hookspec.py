"""Every hook a mycarenet-dental plugin can implement — the one place to read.

A plugin is a module (or object) registered in the entry-point group ``mycarenet_dental``::

    # plugins/tariff/pyproject.toml
    [project.entry-points.mycarenet_dental]
    tariff = "mycarenet_dental_tariff.plugin"

and implements some of the hooks below with ``@hookimpl``. Registration hooks *yield* small typed
records (:mod:`mycarenet_dental.registrations`) so that new fields never break a plugin. A hook
name that is not listed here makes loading fail (``check_pending``), so a typo is caught at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    import datetime as dt

    from .context import Context
    from .exchange import Exchange, Outcome
    from .mycarenet.memberdata import FacetHandler
    from .registrations import (
        CommandSpec,
        DemoStep,
        ResultKind,
        RuleSpec,
        ServiceSpec,
        SimulatorRoute,
        TableSpec,
    )
    from .simulator.app import SimState
    from .simulator.authz import MandateDecision, SenderId
    from .simulator.population import PatientFacts, SimPatient

PROJECT = "mycarenet_dental"
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
def mycarenet_dental_simulator_routes() -> Iterable[SimulatorRoute]:
    """Contribute the insurer side of a service to the simulator.

    The handler receives a ``SimRequest`` (path, SOAPAction, raw body, simulator state) and returns
    a ``SimResponse``; it should start with ``request.check_security()`` as the real service does.

    Example::

        def handle(request):
            caller = request.check_security()
            return request.soap_response(build_answer(request.body_element, caller))

        @hookimpl
        def mycarenet_dental_simulator_routes():
            yield SimulatorRoute(path="/MyCareNet/Tarification/v1", handler=handle,
                                 soap_actions=["urn:be:fgov:ehealth:mycarenet:tarification:"
                                               "protocol:v1:TarificationConsult"])
    """


@hookspec
def mycarenet_dental_simulator_setup(state: SimState) -> None:
    """Prepare plugin state of one simulator, once, when its app is built (before any request).

    Use it for insurer-side machinery other handlers consult, kept per simulator (not per process),
    e.g. the MyCareNet mandate register.

    Example::

        @hookimpl
        def mycarenet_dental_simulator_setup(state):
            state.state_for("mandates", lambda: SimMandateAuthority(state))  # this plugin's own slot
    """


@hookspec(firstresult=True)
def mycarenet_dental_simulator_mandate_check(state: SimState, sender: tuple[SenderId, ...], care_provider: str,
                                             service: str, on: dt.date) -> MandateDecision | None:
    """Decide, as MyCareNet does, whether ``sender`` may act for ``care_provider`` for ``service`` on ``on``.

    Every insurer-side handler asks this (through ``simulator.authz.authorize_care_provider``) when the
    authenticated caller is not the care provider itself. The first answer that is not ``None`` wins;
    when no plugin answers, only the care provider itself is accepted (SOA-01002 otherwise).

    Example::

        @hookimpl
        def mycarenet_dental_simulator_mandate_check(state, sender, care_provider, service, on):
            register = state.state_for("mandates", lambda: load_register(state))
            covered = register.covers(sender, care_provider, service, on)
            return MandateDecision(covered, "" if covered else "no mandate in force")
    """


@hookspec
def mycarenet_dental_simulator_facets() -> Iterable[FacetHandler]:
    """Answer MemberData facets in the simulator (the insurer side of a MemberData consultation).

    The simulator collects the handlers when it is built; a facet answered by two plugins is refused.
    ``service`` on the handler names whose mandates cover the facet for a mandatary.

    Example::

        @hookimpl
        def mycarenet_dental_simulator_facets():
            yield FacetHandler(facet_id="urn:be:fgov:ehealth:mycarenet:memberdata:facet:globalMedicalFile",
                               build=build_gmf_answer, service="dmg")
    """


@hookspec
def mycarenet_dental_simulator_population() -> Iterable[SimPatient | PatientFacts]:
    """Extend the simulator's synthetic patient population.

    Yield a ``SimPatient`` to add a patient, or a ``PatientFacts`` to add situations and facts
    (keyed by name) to an existing one.

    Example::

        @hookimpl
        def mycarenet_dental_simulator_population():
            yield PatientFacts(ssin="85073003328", situations=("tariff: molar crown refused",),
                               facts={"tariff.refuse": "frequency"})
    """


@hookspec
def mycarenet_dental_demo_steps() -> Iterable[DemoStep]:
    """Add a step to ``mycarenet-dental demo`` (the day of a dental practice on the simulator).

    ``run(context, demo)`` receives the demo's ``DemoInfo`` (patients of the day, open contact, ``echo``).

    Example::

        def _demo(context, demo):
            result = consult_tariff(context, demo.patient, ["301011"], contact_id=demo.contact_id)
            demo.echo(f"   {len(result.lines)} line(s) priced")

        @hookimpl
        def mycarenet_dental_demo_steps():
            yield DemoStep(name="tariff consultation for the visit", order=30, run=_demo)
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
