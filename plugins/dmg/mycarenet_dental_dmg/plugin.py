"""Hook implementations of the DMG plugin: service, rules, command, result kind, simulator, demo step.

Kept light (the CLI starts in < 300 ms): lxml, the client and the simulator handlers are imported
inside the functions that need them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from mycarenet_dental.hookspec import hookimpl
from mycarenet_dental.registrations import (
    CommandSpec,
    DemoStep,
    ResultKind,
    RuleSpec,
    ServiceSpec,
    SimulatorRoute,
)

from .names import RESULT_KIND, SERVICE

if TYPE_CHECKING:  # pragma: no cover
    from mycarenet_dental.context import Context
    from mycarenet_dental.simulator.app import SimRequest, SimResponse

GMF_PATH = "/GlobalMedicalFileConsultation/v1"
GMF_ACTION = "urn:be:fgov:ehealth:globalmedicalfile:protocol:v1:ConsultGlobalMedicalFile"
MEMBERDATA_PATH = "/MyCareNet/MemberData/v1"


@hookimpl
def mycarenet_dental_services() -> Iterator[ServiceSpec]:
    yield ServiceSpec(name=SERVICE, title="DMG-right consultation (holder of the global medical file)",
                      annex="Annex 5", mandatable=False, consultation=True,
                      endpoints={"gmf": GMF_PATH, "memberdata": MEMBERDATA_PATH},
                      description="which physician or medical house holds the patient's DMG, for the art. 74 "
                                  "report of the examinations to the treating physician")


@hookimpl
def mycarenet_dental_rules() -> Iterator[RuleSpec]:
    from .rules import dmg_rules

    yield from dmg_rules()


@hookimpl
def mycarenet_dental_commands() -> Iterator[CommandSpec]:
    from .cli import dmg_command

    yield CommandSpec(name="dmg", command=dmg_command)


@hookimpl
def mycarenet_dental_result_kinds() -> Iterator[ResultKind]:
    yield ResultKind(name=RESULT_KIND, description="holder of the patient's DMG (NIHII, name, period) on a date; "
                     "erased when the contact closes unless [dmg] keep_results = true")


def _handle_gmf(request: SimRequest) -> SimResponse:
    from .simulator import handle_gmf

    return handle_gmf(request)


@hookimpl
def mycarenet_dental_simulator_routes() -> Iterator[SimulatorRoute]:
    yield SimulatorRoute(path=GMF_PATH, handler=_handle_gmf, soap_actions=(GMF_ACTION,),
                         name="GlobalMedicalFileConsultation (DMG, route B)")


@hookimpl
def mycarenet_dental_simulator_facets() -> Iterator[Any]:
    """Route A: the globalMedicalFile facet, answered by the simulator's MemberData (hosted because
    a plugin answers a facet), not by a second route."""
    from .simulator import gmf_facet

    yield gmf_facet()


def _demo(context: Context, demo: Any) -> None:
    from .client import consult_dmg

    demo.echo("   the dentist asks (explicit request) who holds the DMG, to send the examination report to the "
              "treating physician (art. 74); the patient agrees")
    # route A works on any simulator with this plugin: its facet makes the simulator host MemberData
    result = consult_dmg(context, demo.patient, contact_id=demo.contact_id, consent=True)
    if result.holder is None:
        demo.echo(f"   no DMG holder for {demo.patient}: the report goes to the patient")
    else:
        h = result.holder
        demo.echo(f"   DMG held by {h.display_name} (NIHII {h.nihii}, {h.kind.value}) — the examination report "
                  f"goes there (art. 74), patient agreement recorded; route {result.route.value}")


@hookimpl
def mycarenet_dental_demo_steps() -> Iterator[DemoStep]:
    yield DemoStep(name="DMG holder for the report to the treating physician", run=_demo, order=45)
