"""Simulator-side authorisation: may the authenticated caller send for this care provider?

MyCareNet accepts a request whose ``CareProvider`` is not the authenticated identity only when the
sender holds a mandate from that care provider for the service (Annex 1 §4; ``domain.md`` §3.3). The
simulator host knows nothing of mandates: a plugin (``mycarenet-dental-mandates``) implements the
``firstresult`` hook ``mycarenet_dental_simulator_mandate_check``, and every insurer-side handler calls
one of the two functions below after ``request.check_security()``::

    caller = request.check_security()
    authorize_care_provider(request, care_provider=nihii, service="assurability")   # SOA-01002 when refused

``check_mandate`` is the lower-level call (the handler already decided that the sender acts for
someone else); it is a no-op when no plugin answers the hook (mandates plugin absent), whereas
``authorize_care_provider`` then falls back to "the CareProvider must be the caller itself".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import attrs

from .wss_check import SimSoapFault

#: A sender identity: (kind, value) with kind ``ssin``, ``nihii`` or ``cbe``.
SenderId = tuple[str, str]


@attrs.frozen
class MandateDecision:
    """What the mandate check (``mycarenet_dental_simulator_mandate_check``) says about one request."""

    allowed: bool
    reason: str = ""


def decide_mandate(state: Any, *, sender: Sequence[SenderId], care_provider: str, service: str,
                   on: dt.date | None = None) -> MandateDecision | None:
    """The first plugin answer to the mandate-check hook; None when no plugin decides mandates."""
    hook = getattr(state, "hook", None)
    if hook is None:
        return None
    return hook.mycarenet_dental_simulator_mandate_check(  # type: ignore[no-any-return]
        state=state, sender=tuple(sender), care_provider=care_provider, service=service,
        on=on or belgian_today(state))


def belgian_today(state: Any) -> dt.date:
    """Today in Belgium by the simulator's clock (the insurers' day, not UTC's)."""
    from ..timeutil import belgian_date

    return belgian_date(state.now())


def check_mandate(state: Any, *, sender: Sequence[SenderId], care_provider: str, service: str,
                  on: dt.date | None = None) -> None:
    """Refuse (SOA-01002) when the mandate check finds no mandate; no-op when no plugin decides mandates."""
    decision = decide_mandate(state, sender=sender, care_provider=care_provider, service=service, on=on)
    if decision is not None:
        _enforce(decision, care_provider)


def _enforce(decision: MandateDecision, care_provider: str) -> None:
    if not decision.allowed:
        raise SimSoapFault("SOA-01002", f"The user has no access to this service for care provider "
                           f"{care_provider}: {decision.reason or 'no mandate'}")


def sender_ids(caller: Any) -> tuple[SenderId, ...]:
    """The identities an authenticated caller may hold a mandate under (company first)."""
    out = []
    for kind in ("cbe", "ssin", "nihii"):
        value = getattr(caller, kind, None)
        if value:
            out.append((kind, str(value)))
    return tuple(out)


def _same_nihii(a: str | None, b: str | None) -> bool:
    """Same care provider: the 8 career-stable digits match (the qualification suffix may differ)."""
    if not a or not b:
        return False
    a, b = a.strip(), b.strip()
    return a[:8] == b[:8] and len(a) >= 8 and len(b) >= 8


def authorize_care_provider(request: Any, *, care_provider: str, service: str, on: dt.date | None = None,
                            caller: Any = None) -> None:
    """The full check after ``check_security()``: the caller is the care provider, or a mandatary of it.

    Raises the SOA-01002 fault MyCareNet answers; when no plugin decides mandates a caller other
    than the care provider is refused as ``wss_check.check_care_provider`` does.
    """
    caller = caller if caller is not None else request.caller
    if caller is None:
        raise SimSoapFault("SOA-01001", "The user is not authenticated")
    if _same_nihii(getattr(caller, "nihii", None), care_provider):
        return
    # UNSURE: MyCareNet is taken to check (authenticated sender, CareProvider, service) server-side
    # (domain.md §3.3) and to answer SOA-01002; the SAML identity is used, not the header's Sender.
    decision = decide_mandate(request.state, sender=sender_ids(caller), care_provider=care_provider,
                              service=service, on=on)
    if decision is None:
        from .wss_check import check_care_provider

        check_care_provider(caller, care_provider)
    else:
        _enforce(decision, care_provider)
