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
from .register import AddResult


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

    from .api import add_mandate

    ask: MandateAsk = call.body
    nihii = None if ask.mandator_nihii is None else Nihii.parse(ask.mandator_nihii, field="mandator_nihii").value
    return add_mandate(call.context, mandatary=ask.mandatary, service=ask.service, start=ask.start, end=ask.end,
                       mandator_nihii=nihii, emandate_ref=ask.emandate_ref)


def _list(call: RouteCall) -> list[Mandate]:
    from .api import list_mandates

    return list_mandates(call.context)


def routes() -> Iterator[RouteSpec]:
    yield RouteSpec(method="POST", path="/mandates", handler=_add, request=MandateAsk, response=AddResult,
                    roles=SENDING_ROLES, sends=True, status_code=201, tags=("mandates",),
                    summary="Register a mandate (the previous one for that service closes, R26)")
    yield RouteSpec(method="GET", path="/mandates", handler=_list, response=list[Mandate], tags=("mandates",),
                    summary="The mandate register")
