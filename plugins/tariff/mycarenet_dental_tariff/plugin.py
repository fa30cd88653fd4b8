"""Hook implementations of the tariff plugin. Imports stay light: heavy modules load inside hooks."""

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

SERVICE = "tariff"
PATH = "/MyCareNet/Tarification/v1"
SOAP_ACTION = "urn:be:fgov:ehealth:mycarenet:tarification:protocol:v1:TarificationConsult"


@hookimpl
def mycarenet_dental_services() -> Iterator[ServiceSpec]:
    yield ServiceSpec(name=SERVICE, title="Tariff consultation (MyCareNet Tarification, KMEHR)", annex="Annex 3",
                      mandatable=True, endpoints={"tarification": PATH}, consultation=True,
                      # FH acpt/prod: mycarenet.mcn.tarification.response.neededxadeslevel=none
                      answer_xades="when-present",
                      description="fee, reimbursement, patient share and payment commitment per dental service")


@hookimpl
def mycarenet_dental_commands() -> Iterator[CommandSpec]:
    from .cli import tariff_command

    yield CommandSpec(name="tariff", command=tariff_command)


@hookimpl
def mycarenet_dental_rules() -> Iterator[RuleSpec]:
    from .rules import RULES

    yield from RULES


@hookimpl
def mycarenet_dental_result_kinds() -> Iterator[ResultKind]:
    yield ResultKind(name="tariff.consultation",
                     description="one entry per service line priced or refused by the insurer (patient, code, "
                                 "service_date, tooth, status, fee/reimbursement/patient share in cents, commitment)")


@hookimpl
def mycarenet_dental_routes() -> Iterator[RouteSpec]:
    from .routes import routes

    yield from routes()
