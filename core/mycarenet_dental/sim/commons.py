"""The insurer side of the MyCareNet commons in the simulator: the front checks every simulated
service runs (:func:`accept_request`) and the package licence check. The client side stays in
:mod:`mycarenet_dental.protocols.commons`; production never imports this module."""

from __future__ import annotations

from typing import Any

from ..errors import MalformedResponseError
from ..protocols.commons import CommonInput, CommonsFlavour, SendRequest, parse_request


def licence_fault(state: Any, common_input: CommonInput) -> tuple[str, str] | None:
    """``("INVALID_LICENSE", message)`` when the package licence is refused by ``state.check_licence``."""
    # UNSURE: insurability.md §0.4 — INVALID_LICENSE placement (SOAP fault vs business payload); the
    # simulator answers a SOAP fault whose Code is INVALID_LICENSE, which freehealth's mapping expects.
    origin = common_input.origin
    if state.check_licence(origin.licence_username, origin.licence_password):
        return None
    return ("INVALID_LICENSE", "the package licence (Origin/Package/License) is unknown or its password is wrong")


def accept_request(request: Any, flavour: CommonsFlavour, *, root: str, schema: str, service: str | None,
                   operation: str, parse_fault: str = "SOA-03006") -> SendRequest:
    """The front checks of every simulated MyCareNet service, in the platform's order.

    WS-Security (SOA-01001/01002), a body (SOA-03003), the operation (SOA-03005), the XSD
    (SOA-03006), the commons envelope (``parse_fault``), the package licence (INVALID_LICENSE), a
    CareProvider (SOA-03007) and, when ``service`` is given, that the caller may act for that care
    provider — itself, or a mandatary with a mandate in MyCareNet's register (SOA-01002). A
    failure raises the fault the host answers; success returns the parsed request.
    """
    from ..sim import schemas
    from ..sim.authz import authorize_care_provider
    from ..sim.wss_check import SimSoapFault

    caller = request.check_security()
    body = request.body_element
    if body is None:
        raise SimSoapFault("SOA-03003", "Message body is empty")
    if body.tag != root:
        raise SimSoapFault("SOA-03005", f"unexpected body element {body.tag} for {operation}")
    errors = schemas.validate(schema, body)
    if errors:
        raise SimSoapFault("SOA-03006", "not XSD conformant: " + errors[0])
    try:
        parsed = parse_request(flavour, body)
    except MalformedResponseError as exc:
        raise SimSoapFault(parse_fault, f"content validation failed: {exc.messages.en}") from exc
    refused = licence_fault(request.state, parsed.common_input)
    if refused is not None:
        raise SimSoapFault(*refused)
    provider = parsed.common_input.origin.care_provider
    if provider is None:
        raise SimSoapFault("SOA-03007", "CommonInput/Origin/CareProvider is required")
    if service is not None:
        authorize_care_provider(request, care_provider=provider.nihii, service=service, caller=caller)
    return parsed
