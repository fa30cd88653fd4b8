"""The insurability consultation on the local HTTP gateway (framework-neutral route records)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import attrs
from mycarenet_dental.registrations import RouteCall, RouteSpec

from .model import InsurabilityResult


@attrs.frozen
class InsurabilityAsk:
    """One patient's insurability on day ``on`` (default today), in the patient's open contact."""

    patient: str
    contact_id: str | None = None
    on: dt.date | None = None
    since: dt.date | None = None


def _consult(call: RouteCall) -> InsurabilityResult:
    from .client import consult_insurability

    ask: InsurabilityAsk = call.body
    contact = call.context.contact_for(ask.patient, ask.contact_id)
    return consult_insurability(call.context, contact, on=ask.on, since=ask.since)


def routes() -> Iterator[RouteSpec]:
    yield RouteSpec(method="POST", path="/insurability", handler=_consult, request=InsurabilityAsk,
                    response=InsurabilityResult, summary="Consult a patient's insurability (once per contact, R34)",
                    tags=("insurability",))
