"""The DMG consultation on the local HTTP gateway (framework-neutral route records)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import attrs
from mycarenet_dental.registrations import RouteCall, RouteSpec

from .model import DmgResult


@attrs.frozen
class DmgAsk:
    """Who holds the patient's DMG; ``consent`` and ``route`` as for ``consult_dmg``."""

    patient: str
    contact_id: str | None = None
    reference_date: dt.date | None = None
    consent: bool | None = None
    route: str | None = None


def _consult(call: RouteCall) -> DmgResult:
    from .client import consult_dmg

    ask: DmgAsk = call.body
    contact = call.context.contact_for(ask.patient, ask.contact_id)
    return consult_dmg(call.context, contact, reference_date=ask.reference_date, consent=ask.consent,
                       route=ask.route)


def routes() -> Iterator[RouteSpec]:
    yield RouteSpec(method="POST", path="/dmg", handler=_consult, request=DmgAsk, response=DmgResult,
                    summary="Ask who holds the patient's global medical file (explicit request, R42)", tags=("dmg",))
