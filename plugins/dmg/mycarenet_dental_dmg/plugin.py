"""Hook implementations of the DMG plugin: service, rules, command, result kind, simulator, demo step.

Kept light (the CLI starts in < 300 ms): lxml, the client and the simulator handlers are imported
inside the functions that need them.
"""

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

from .names import RESULT_KIND, SERVICE

#: the plugin API this plugin is built for (checked when the plugin loads)
MYCARENET_DENTAL_API = "1.1"

GMF_PATH = "/GlobalMedicalFileConsultation/v1"
GMF_ACTION = "urn:be:fgov:ehealth:globalmedicalfile:protocol:v1:ConsultGlobalMedicalFile"
MEMBERDATA_PATH = "/MyCareNet/MemberData/v1"


@hookimpl
def mycarenet_dental_services() -> Iterator[ServiceSpec]:
    yield ServiceSpec(name=SERVICE, title="DMG-right consultation (holder of the global medical file)",
                      annex="Annex 5", mandatable=False, consultation=True,
                      answer_xades="when-present",  # FH dmg ResponseObjectBuilderImpl: XadesT verified when present
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


@hookimpl
def mycarenet_dental_routes() -> Iterator[RouteSpec]:
    from .routes import routes

    yield from routes()
