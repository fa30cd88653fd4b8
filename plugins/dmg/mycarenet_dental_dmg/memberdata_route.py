"""Route A: the MemberData facet ``urn:be:cin:nippin:globalMedicalFile`` (``dmg.md`` §2).

The call itself (AttributeQuery, seal for MyCareNet, SOAP, unseal, SAML parsing) is the core's shared
:mod:`mycarenet_dental.protocols.memberdata`; this module only asks the facet and reads its assertion:
``…:hcp:nihii11``, ``…:hcp:name`` and, for a physician, ``…:hcp:firstName``. No assertion = no holder.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import attrs

from .model import FACET, SERVICE, DmgHolder, DmgRefusedError, Route

if TYPE_CHECKING:  # pragma: no cover
    from mycarenet_dental.context import Context
    from mycarenet_dental.exchange import Exchange, ExchangeRun

ATTR_NIHII = f"{FACET}:hcp:nihii11"
ATTR_NAME = f"{FACET}:hcp:name"
ATTR_FIRST_NAME = f"{FACET}:hcp:firstName"
# UNSURE: dmg.md §2/§7 — no holder start/end attribute was ever observed; read them if an insurer sends
# them under these names, never required (the simulator does not send them).
ATTR_START = f"{FACET}:hcp:startDate"
ATTR_END = f"{FACET}:hcp:endDate"


@attrs.frozen
class FacetResult:
    """What the MemberData answer says about the DMG: the holder (or None) and the answering IO (union)."""

    holder: DmgHolder | None
    union: str | None  # MemberData's answering IO
    partial_codes: tuple[str, ...] = ()


def consult(ctx: Context, exchange: Exchange, run: ExchangeRun, ssin: str, day: date) -> FacetResult:
    """One MemberData consultation of the facet for ``day`` (sealed unless ``[dmg] sealed = false``)."""
    from mycarenet_dental.protocols import memberdata as md

    sealed = bool(ctx.config.section(SERVICE).get("sealed", True))
    call = md.consult(ctx, exchange, run, subject=md.SubjectRef.ssin(ssin), facets=[md.Facet(FACET)], start=day,
                      end=day, sealed=sealed, service=SERVICE, endpoint="memberdata")
    return read_response(call.response)


def read_response(response: Any) -> FacetResult:
    """Turn an ``MdaResponse`` into the holder, or raise :class:`DmgRefusedError` with the detail code."""
    fault = response.fault
    details = tuple(fault.details) if fault is not None else ()
    if not response.success:
        first = details[0] if details else None
        code = first.code if first is not None else (fault.fault_code if fault else response.sub_status
                                                     or response.status)
        raise DmgRefusedError(code or "DMG_REFUSED", remote_text=first.message if first else None,
                              location=first.location if first else None,
                              origin=(first.source if first and first.source else None) or response.issuer,
                              route=Route.MEMBERDATA)
    assertions = [a for a in response.assertions if a.assertion_type == FACET]
    if not assertions:
        missing = [d for d in details if d.code in ("MISSING_FACETS", "BO_MISSING_FACET", "FACET_EXCEPTION")]
        if missing:  # the insurer did not answer the facet: that is not "no holder"
            raise DmgRefusedError(missing[0].code, remote_text=missing[0].message, origin=missing[0].source,
                                  route=Route.MEMBERDATA)
        return FacetResult(holder=None, union=response.io, partial_codes=tuple(d.code for d in details))
    a = assertions[0]
    nihii = a.value(ATTR_NIHII)
    name = a.value(ATTR_NAME)
    if not nihii or not name:
        from mycarenet_dental.errors import MalformedResponseError

        raise MalformedResponseError("the globalMedicalFile assertion lacks the holder's NIHII or name",
                                     code="DMG_MALFORMED", origin=response.issuer or "memberdata")
    try:
        holder = DmgHolder(nihii=nihii, name=name, first_name=a.value(ATTR_FIRST_NAME), start=a.value(ATTR_START),
                           end=a.value(ATTR_END))
    except ValueError as exc:
        from mycarenet_dental.errors import MalformedResponseError

        raise MalformedResponseError(f"the globalMedicalFile assertion is not valid: {exc}", code="DMG_MALFORMED",
                                     origin=response.issuer or "memberdata") from None
    return FacetResult(holder=holder, union=response.io, partial_codes=tuple(d.code for d in details))
