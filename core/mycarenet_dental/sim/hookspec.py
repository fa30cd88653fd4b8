"""Every hook of the simulator side of a plugin — the insurer half, never loaded by production.

A plugin's simulator side is a module registered in the entry-point group
``mycarenet_dental.simulator`` under the same name as its production plugin::

    # plugins/tariff/pyproject.toml
    [project.entry-points."mycarenet_dental.simulator"]
    tariff = "mycarenet_dental_tariff.simulator"

It implements some of the hooks below with this module's ``hookimpl`` (a pluggy project of its own,
so a production plugin manager never sees them, and a simulator hook in a production module makes
loading fail). The simulator loads a simulator side only when the production plugin of the same
name is loaded, so the allow/block lists (``MYCARENET_DENTAL_PLUGINS``, ``[plugins]``) govern both.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    import datetime as dt

    from .app import SimState
    from .authz import MandateDecision, SenderId
    from .memberdata import FacetHandler
    from .population import PatientFacts, SimPatient
    from .registrations import DemoStep, SimulatorRoute

PROJECT = "mycarenet_dental_simulator"
GROUP = "mycarenet_dental.simulator"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


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
def mycarenet_dental_simulator_facets() -> Iterable[FacetHandler]:
    """Contribute MemberData facets. The simulator hosts the MemberData endpoint whenever at least
    one installed plugin yields a facet (insurability, DMG, ...).

    Example::

        @hookimpl
        def mycarenet_dental_simulator_facets():
            yield FacetHandler(facet_id="urn:be:cin:nippin:globalMedicalFile", build=build, service="dmg")
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

    Every insurer-side handler asks this (through ``sim.authz.authorize_care_provider``) when the
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
            result = consult_tariff(context, context.contact(demo.contact_id), ["301011"])
            demo.echo(f"   {len(result.lines)} line(s) priced")

        @hookimpl
        def mycarenet_dental_demo_steps():
            yield DemoStep(name="tariff consultation for the visit", order=30, run=_demo)
    """
