"""The tariff consultation on the local HTTP gateway (framework-neutral route records)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import attrs
from mycarenet_dental.registrations import RouteCall, RouteSpec

from .model import ServiceRequest, TariffResult


@attrs.frozen
class TariffAsk:
    """Services as ``CODE[:TOOTH[:RELATED]]``; in the patient's open contact (or ``contact_id``)."""

    patient: str
    services: list[str]
    contact_id: str | None = None
    service_date: dt.date | None = None
    justification: str | None = None


def _consult(call: RouteCall) -> TariffResult:
    from .client import consult_tariff

    ask: TariffAsk = call.body
    services = [ServiceRequest.parse(text, field=f"services[{i}]") for i, text in enumerate(ask.services)]
    contact = call.context.contact_for(ask.patient, ask.contact_id)
    return consult_tariff(call.context, contact, services, service_date=ask.service_date,
                          justification=ask.justification)


def routes() -> Iterator[RouteSpec]:
    yield RouteSpec(method="POST", path="/tariff", handler=_consult, request=TariffAsk, response=TariffResult,
                    summary="Consult the tariff of dental services (once per contact, R35)", tags=("tariff",))
