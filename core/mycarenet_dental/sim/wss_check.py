"""Service-side WS-Security check of the simulator (``auth-crypto.md`` §3.3) and eHealth SOAP faults.

Every MyCareNet handler of the simulator calls :func:`check_service_request` first: it returns the
authenticated :class:`Caller` or raises :class:`SimSoapFault` (``SOA-01001`` not authenticated,
``SOA-01002`` no access), which the host turns into the same SOAP fault eHealth would send.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections import OrderedDict
from datetime import datetime
from typing import TYPE_CHECKING

import attrs
from cryptography import x509
from lxml import etree

from ..ehealth import saml, wss_verify
from ..ehealth.saml import SamlToken
from ..ehealth.wss_verify import WssPolicy
from ..errors import MalformedResponseError, SecurityError
from ..xmlsafe import parse_xml

if TYPE_CHECKING:
    from .sts import SimTrust

NS_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
NS_SOA = "urn:be:fgov:ehealth:errors:soa:v1"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

_DEFAULT_TEXT = {
    "SOA-01001": "The user is not authenticated",
    "SOA-01002": "The user has no access to this service",
    "SOA-02001": "Service not available",
    "SOA-02002": "Service temporarily unavailable",
    "SOA-03001": "Malformed message content",
    "SOA-03002": "Message must be SOAP",
    "SOA-03003": "Message body is empty",
    "SOA-03005": "Message must be WSDL conformant",
    "SOA-03006": "Message must be XSD conformant",
}


def soap_fault(
    code: str,
    message: str,
    *,
    actor: str | None = None,
    origin: str = "Server",
    kind: str = "SystemError",
    faultcode: str | None = None,
    environment: str = "Simulation",
) -> bytes:
    """An eHealth SOAP 1.1 fault envelope carrying a ``soa:SystemError`` (or ``BusinessError``) detail."""
    env = etree.Element(f"{{{NS_SOAP}}}Envelope", nsmap={"soapenv": NS_SOAP})
    body = etree.SubElement(env, f"{{{NS_SOAP}}}Body")
    fault = etree.SubElement(body, f"{{{NS_SOAP}}}Fault")
    client_side = code.startswith(("SOA-01", "SOA-03"))
    etree.SubElement(fault, "faultcode").text = faultcode or ("soapenv:Client" if client_side else "soapenv:Server")
    etree.SubElement(fault, "faultstring").text = message
    if actor:
        etree.SubElement(fault, "faultactor").text = actor
    detail = etree.SubElement(fault, "detail")
    err = etree.SubElement(detail, f"{{{NS_SOA}}}{kind}", nsmap={"soa": NS_SOA})
    err.set("Id", f"SIM-{uuid.uuid4().hex}")
    etree.SubElement(err, "Origin").text = origin
    etree.SubElement(err, "Code").text = code
    msg = etree.SubElement(err, "Message")
    msg.set(XML_LANG, "en")
    msg.text = message
    etree.SubElement(err, f"{{{NS_SOA}}}Environment").text = environment
    return etree.tostring(env, encoding="UTF-8", xml_declaration=True)


class SimSoapFault(Exception):
    """A refusal the simulator answers as an eHealth SOAP fault (HTTP 500)."""

    http_status = 500

    def __init__(self, code: str, message: str | None = None, *, actor: str | None = None,
                 origin: str = "Server", kind: str = "SystemError") -> None:
        self.code = code
        self.message = message or _DEFAULT_TEXT.get(code, code)
        self.actor = actor
        self.origin = origin
        self.kind = kind
        super().__init__(f"[{code}] {self.message}")

    def to_response_bytes(self) -> bytes:
        return soap_fault(self.code, self.message, actor=self.actor, origin=self.origin, kind=self.kind)


@attrs.frozen
class Caller:
    """Who signed an accepted service request, as certified by the (simulated) STS."""

    nihii: str | None
    ssin: str | None
    cbe: str | None
    quality: str | None
    certificate: x509.Certificate = attrs.field(repr=False)
    attributes: dict[str, tuple[str, ...]] = attrs.field(repr=False)
    assertion_id: str
    token: SamlToken = attrs.field(repr=False)

    @property
    def is_organisation(self) -> bool:
        return self.ssin is None and self.cbe is not None


def _unauth(reason: str) -> SimSoapFault:
    return SimSoapFault("SOA-01001", f"The user is not authenticated: {reason}")


_VERIFIED: OrderedDict[tuple[bytes, int], SamlToken] = OrderedDict()
_VERIFIED_LOCK = threading.Lock()
_VERIFIED_MAX = 512


def _verified_token(assertion: etree._Element, trust: SimTrust) -> SamlToken:
    """Check the STS signature once per distinct assertion (as real gateways cache token validation).

    The cache key is the exact serialised assertion plus the trusted STS certificate, so any change to the
    assertion is verified afresh; the validity window is still checked on every call by the caller.
    """
    raw = etree.tostring(assertion)
    key = (hashlib.sha256(raw).digest(), id(trust.sts_cert))
    with _VERIFIED_LOCK:
        cached = _VERIFIED.get(key)
        if cached is not None:
            _VERIFIED.move_to_end(key)
            return cached
    try:
        saml.verify_assertion_signature(assertion, trust=(trust.sts_cert,), allow_sha1=trust.allow_sha1)
    except SecurityError as exc:
        raise _unauth(f"assertion refused: {exc.message}") from None
    token = saml.parse_assertion(assertion, raw=raw)
    with _VERIFIED_LOCK:
        _VERIFIED[key] = token
        while len(_VERIFIED) > _VERIFIED_MAX:
            _VERIFIED.popitem(last=False)
    return token


def check_service_request(
    envelope: bytes | etree._Element,
    *,
    trust: SimTrust,
    now: datetime,
    timestamp_only: bool = False,
) -> Caller:
    """Authenticate a MyCareNet request: fresh timestamp, STS assertion, holder-of-key signature."""
    if isinstance(envelope, (bytes, bytearray)):
        try:
            envelope = parse_xml(bytes(envelope), what="request")
        except MalformedResponseError as exc:
            raise SimSoapFault("SOA-03002", f"Message must be SOAP: {exc.message}") from None
    if envelope.tag != f"{{{NS_SOAP}}}Envelope":
        raise SimSoapFault("SOA-03002", "Message must be a SOAP 1.1 envelope")
    policy = WssPolicy.holder_of_key(timestamp_only=timestamp_only, allow_sha1=trust.allow_sha1, skew=trust.skew)
    try:
        report = wss_verify.check(envelope, policy=policy, now=now)
    except SecurityError as exc:  # WssCheckError: wrapping, coverage, key, digests, value, freshness
        raise _unauth(exc.message) from None
    assertion = report.assertion
    if assertion is None:  # not reached: a resolved SAMLAssertionID key always names its assertion
        raise _unauth("the message signature must reference the assertion through its AssertionID")
    token = _verified_token(assertion, trust)
    if token.issuer != saml.STS_ISSUER:
        raise _unauth("the assertion is not issued by the eHealth STS")
    if not token.is_valid(now):
        raise _unauth("the assertion is expired or not yet valid")
    if token.hok_certificate is None or report.signer_certificate != token.hok_certificate:
        raise _unauth("the assertion has no holder-of-key confirmation")
    attributes: dict[str, tuple[str, ...]] = {}
    for attr in token.attributes:
        attributes.setdefault(attr.name, attr.values)
    ssin = token.attribute(saml.ATTR_CERTHOLDER_SSIN) or token.attribute(saml.ATTR_PERSON_SSIN)
    cbe = token.attribute(saml.ATTR_CERTHOLDER_CBE) or token.attribute(saml.ATTR_ENTERPRISE_CBE)
    nihii = token.attribute(saml.ATTR_DENTIST_NIHII)
    quality = None
    if ssin:
        if token.attribute(saml.ATTR_DENTIST_PROFESSIONAL) == "true" and nihii:
            quality = "dentist"
        else:
            raise SimSoapFault("SOA-01002", "The user has no access: the token certifies no dentist with a NIHII")
    elif cbe:
        quality = "billing_office"  # UNSURE: no certified role for billing offices at eHealth (auth-crypto §2.5)
    else:
        raise SimSoapFault("SOA-01002", "The user has no access: the token identifies nobody")
    return Caller(nihii=nihii, ssin=ssin, cbe=cbe, quality=quality, certificate=token.hok_certificate,
                  attributes=attributes, assertion_id=token.assertion_id, token=token)


def check_care_provider(caller: Caller, nihii: str) -> None:
    """The CareProvider NIHII of the request must be the asserted one. Handlers call
    ``simulator.authz.authorize_care_provider``, which also lets a mandatary with a mandate through."""
    wanted = (nihii or "").strip().zfill(11)
    if caller.nihii is not None and caller.nihii.strip().zfill(11) == wanted:
        return
    raise SimSoapFault(
        "SOA-01002",
        f"The user has no access: CareProvider NIHII {nihii} differs from the authenticated NIHII "
        f"{caller.nihii or '(none)'}",
    )
