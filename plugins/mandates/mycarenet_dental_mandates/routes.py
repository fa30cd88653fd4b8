"""The mandate register on the local HTTP gateway (framework-neutral route records).

Registering a mandate is for the dentist and billing roles and needs an ``Idempotency-Key``;
anyone with a token may read the register.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import attrs
from mycarenet_dental.registrations import SENDING_ROLES, RouteCall, RouteSpec

from .model import Mandate
from .register import AddResult, register_for


@attrs.frozen
class MandateAsk:
    """A mandate of the configured dentist (or ``mandator_nihii``) to ``mandatary`` for one service (R24)."""

    mandatary: str
    service: str
    start: dt.date
    end: dt.date | None = None
    mandator_nihii: str | None = None
    emandate_ref: str | None = None


def _add(call: RouteCall) -> AddResult:
    from mycarenet_dental.identifiers import Nihii

    ask: MandateAsk = call.body
    dentist = call.context.config.dentist
    nihii = Nihii.parse(ask.mandator_nihii or (dentist.nihii if dentist else ""), field="mandator_nihii").value
    ssin = dentist.ssin if dentist is not None and dentist.nihii[:8] == nihii[:8] else None
    return register_for(call.context).add(mandator_nihii=nihii, mandatary=ask.mandatary, service=ask.service,
                                          start=ask.start, end=ask.end, mandator_ssin=ssin,
                                          emandate_ref=ask.emandate_ref)


def _list(call: RouteCall) -> list[Mandate]:
    return register_for(call.context).mandates()


def routes() -> Iterator[RouteSpec]:
    yield RouteSpec(method="POST", path="/mandates", handler=_add, request=MandateAsk, response=AddResult,
                    roles=SENDING_ROLES, sends=True, status_code=201, tags=("mandates",),
                    summary="Register a mandate (the previous one for that service closes, R26)")
    yield RouteSpec(method="GET", path="/mandates", handler=_list, response=list[Mandate], tags=("mandates",),
                    summary="The mandate register")
