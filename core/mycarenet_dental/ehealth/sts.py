"""eHealth STS client: WS-Trust 1.3 Issue (default) or the legacy SAMLP request.

The request is signed with the X.509 token profile by the keystore's authentication key, which is also the
holder-of-key (so the STS never needs a SignChallenge for us). The returned assertion must be signed by
the configured STS trust anchor, be bound to our certificate and still be valid — otherwise a
SecurityError says why, before the token is ever used.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from ..errors import MalformedResponseError, SecurityError
from ..timeutil import utc_ms
from . import saml, wss_verify
from .identity import identity_of
from .keystore import Keystore
from .saml import SamlToken
from .wssecurity import NS_WSSE, NS_WSU, X509Security

NS_WST = "http://docs.oasis-open.org/ws-sx/ws-trust/200512"
NS_AUTH = "http://docs.oasis-open.org/wsfed/authorization/200706"
AUTH_DIALECT = "http://docs.oasis-open.org/wsfed/authorization/200706/authclaims"
TOKEN_TYPE_SAML11 = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1"
REQUEST_ISSUE = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue"
# The eHealth STS takes the KeyType spelled without the hyphen in "wstrust" (the WS-Trust 1.3 URI has one):
# it is what both reference clients send and the only spelling the real STS is known to accept.
KEY_TYPE_PUBLIC = "http://docs.oasis-open.org/ws-sx/wstrust/200512/PublicKey"
KEY_TYPE_PUBLIC_OASIS = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/PublicKey"  # WS-Trust 1.3 spelling
ACTION_WSTRUST = "urn:be:fgov:ehealth:sts:protocol:v1:RequestSecurityToken"
ACTION_LEGACY = "urn:be:fgov:ehealth:sts:protocol:v1:RequestSecureToken"
ACTION_CHALLENGE = "urn:be:fgov:ehealth:sts:protocol:v1:Challenge"
DEFAULT_LIFETIME = timedelta(hours=24)


def load_trust(path: Path | None) -> tuple[x509.Certificate, ...]:
    """Certificates (STS signing cert and/or its CA) from a PEM file."""
    if path is None:
        return ()
    return tuple(x509.load_pem_x509_certificates(Path(path).read_bytes()))


def _el(parent: etree._Element, ns: str, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, f"{{{ns}}}{tag}")
    for k, v in attrs.items():
        el.set(k, v)
    if text is not None:
        el.text = text
    return el


class StsClient:
    """Requests holder-of-key SAML 1.1 tokens for the keystore's authentication certificate."""

    def __init__(
        self,
        url: str,
        keystore: Keystore,
        *,
        soap: Any,
        designators: Sequence[str] | None = None,
        attributes: Sequence[str] | None = None,
        asserted: Sequence[tuple[str, str]] | None = None,
        legacy: bool = False,
        lifetime: timedelta = DEFAULT_LIFETIME,
        trust: Sequence[x509.Certificate] = (),
        trust_anchor: Path | None = None,
        allow_sha1: bool = False,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.url = url
        self.keystore = keystore
        self.soap = soap
        self.legacy = legacy
        self.lifetime = lifetime
        self.trust = tuple(trust) + load_trust(trust_anchor)
        self.allow_sha1 = allow_sha1
        self.clock = clock
        self.calls = 0
        ident = identity_of(keystore.authentication.certificate)
        if ident is None:
            raise SecurityError(
                "the authentication certificate has no eHealth identity (SSIN= or CBE=) in its subject",
                code="STS_IDENTITY",
            )
        self.identity = ident
        if asserted is None:
            if ident.ssin:
                asserted = [(saml.ATTR_CERTHOLDER_SSIN, ident.ssin), (saml.ATTR_PERSON_SSIN, ident.ssin)]
            else:
                asserted = [(saml.ATTR_CERTHOLDER_CBE, ident.identifier), (saml.ATTR_ENTERPRISE_CBE, ident.identifier)]
        if designators is None:
            designators = attributes  # alias used by the interface contract
        if designators is None:
            designators = saml.DENTIST_DESIGNATORS if ident.ssin else saml.ORGANISATION_DESIGNATORS
        self.asserted = tuple(asserted)
        self.designators = tuple(designators)

    def _now(self) -> datetime:
        return self.clock() if self.clock else datetime.now(timezone.utc)

    # -- request bodies ---------------------------------------------------------------------------

    def _cert_b64(self) -> str:
        der = self.keystore.authentication.certificate.public_bytes(serialization.Encoding.DER)
        return base64.b64encode(der).decode()

    def wstrust_request(self, now: datetime) -> etree._Element:
        rst = etree.Element(f"{{{NS_WST}}}RequestSecurityToken", nsmap={"wst": NS_WST, "auth": NS_AUTH})
        rst.set("Context", f"uuid-{uuid.uuid4()}")
        _el(rst, NS_WST, "TokenType", TOKEN_TYPE_SAML11)
        _el(rst, NS_WST, "RequestType", REQUEST_ISSUE)
        claims = _el(rst, NS_WST, "Claims", Dialect=AUTH_DIALECT)
        asserted_names = {n for n, _ in self.asserted}
        for name, value in self.asserted:
            claim = _el(claims, NS_AUTH, "ClaimType", Uri=name)
            _el(claim, NS_AUTH, "Value", value)
        for name in self.designators:
            if name not in asserted_names:
                _el(claims, NS_AUTH, "ClaimType", Uri=name)
        lifetime = _el(rst, NS_WST, "Lifetime")
        _el(lifetime, NS_WSU, "Created", utc_ms(now))
        _el(lifetime, NS_WSU, "Expires", utc_ms(now + self.lifetime))
        _el(rst, NS_WST, "KeyType", KEY_TYPE_PUBLIC)
        use_key = _el(rst, NS_WST, "UseKey")
        ref = _el(use_key, NS_WSSE, "SecurityTokenReference")
        data = etree.SubElement(ref, "{http://www.w3.org/2000/09/xmldsig#}X509Data")
        etree.SubElement(data, "{http://www.w3.org/2000/09/xmldsig#}X509Certificate").text = self._cert_b64()
        return rst

    def legacy_request(self, now: datetime) -> etree._Element:
        cert = self.keystore.authentication.certificate
        subject_dn, issuer_dn = cert.subject.rfc4514_string(), cert.issuer.rfc4514_string()
        S, P = saml.NS_SAML, saml.NS_SAMLP
        req = etree.Element(f"{{{P}}}Request", nsmap={"samlp": P, "saml": S})
        req.set("RequestID", f"request-{uuid.uuid4()}")
        req.set("MajorVersion", "1")
        req.set("MinorVersion", "1")
        req.set("IssueInstant", utc_ms(now))
        query = _el(req, P, "AttributeQuery")

        def name_id(parent: etree._Element) -> None:
            _el(parent, S, "NameIdentifier", subject_dn, Format=saml.X509_SUBJECT, NameQualifier=issuer_dn)

        subject = _el(query, S, "Subject")
        name_id(subject)
        conf = _el(subject, S, "SubjectConfirmation")
        _el(conf, S, "ConfirmationMethod", saml.HOK)
        data = _el(conf, S, "SubjectConfirmationData")
        inner = _el(data, S, "Assertion", AssertionID=f"assertion-{uuid.uuid4()}", IssueInstant=utc_ms(now),
                    Issuer=subject_dn, MajorVersion="1", MinorVersion="1")
        _el(inner, S, "Conditions", NotBefore=utc_ms(now), NotOnOrAfter=utc_ms(now + self.lifetime))
        stmt = _el(inner, S, "AttributeStatement")
        name_id(_el(stmt, S, "Subject"))
        for name, value in self.asserted:
            attr = _el(stmt, S, "Attribute", AttributeName=name, AttributeNamespace=saml.attribute_namespace(name))
            _el(attr, S, "AttributeValue", value)
        key_info = etree.SubElement(conf, "{http://www.w3.org/2000/09/xmldsig#}KeyInfo")
        x5 = etree.SubElement(key_info, "{http://www.w3.org/2000/09/xmldsig#}X509Data")
        etree.SubElement(x5, "{http://www.w3.org/2000/09/xmldsig#}X509Certificate").text = self._cert_b64()
        for name in dict.fromkeys([*(n for n, _ in self.asserted), *self.designators]):
            _el(query, S, "AttributeDesignator", AttributeName=name, AttributeNamespace=saml.attribute_namespace(name))
        return req

    # -- the exchange -----------------------------------------------------------------------------

    def request_token(self, *, run: Any = None) -> SamlToken:
        """Ask the STS for a new token and check it; raises a typed error on any refusal."""
        now = self._now()
        self.keystore.check_validity(now)
        body = self.legacy_request(now) if self.legacy else self.wstrust_request(now)
        action = ACTION_LEGACY if self.legacy else ACTION_WSTRUST
        self.calls += 1
        security = X509Security(self.keystore.authentication, clock=self.clock)
        reply = self.soap.call(self.url, action, body, security=security, idempotent=True, run=run)
        challenge = reply.body_child.find(f".//{{{NS_WST}}}SignChallenge") if reply.body_child is not None else None
        if challenge is not None and not self.legacy:
            # WS-Trust SignChallenge: sign the challenge back with the holder-of-key (here: the same) key.
            rstr = reply.body_child if reply.body_child.tag.endswith("RequestSecurityTokenResponse") else \
                reply.body_child.find(f".//{{{NS_WST}}}RequestSecurityTokenResponse")
            context = (rstr.get("Context") if rstr is not None else None) or body.get("Context") or ""
            answer = etree.Element(f"{{{NS_WST}}}RequestSecurityTokenResponse", nsmap={"wst": NS_WST})
            answer.set("Context", context)
            response = _el(answer, NS_WST, "SignChallengeResponse")
            _el(response, NS_WST, "Challenge", (challenge.findtext(f"{{{NS_WST}}}Challenge") or "").strip())
            reply = self.soap.call(self.url, ACTION_CHALLENGE, answer, security=security, idempotent=False, run=run)
        assertion = self._assertion_from(reply.body_child, body)
        _check_answer_shape(reply.envelope, assertion)
        raw = saml.extract_raw(reply.raw, assertion)
        token_el = saml.parse_xml(raw, what="SAML assertion")
        signer = saml.verify_assertion_signature(token_el, trust=self.trust, allow_sha1=self.allow_sha1, now=now)
        token = saml.parse_assertion(token_el, raw=raw)
        token = _with_signer(token, signer)
        if signer == self.keystore.authentication.certificate:
            # With a CA as trust anchor any certificate it issued would pass: never accept a self-made token.
            raise SecurityError("the assertion is signed by our own certificate, not by the STS", code="SAML_UNTRUSTED")
        if token.hok_certificate != self.keystore.authentication.certificate:
            raise SecurityError("the STS token is not bound to our authentication certificate", code="STS_HOK")
        if token.issuer != saml.STS_ISSUER:
            raise SecurityError(f"unexpected token issuer {token.issuer!r}", code="STS_ISSUER")
        if not token.not_on_or_after > now:
            raise SecurityError("the STS returned an already expired token", code="STS_EXPIRED_TOKEN",
                                hint="check the computer clock")
        if run is not None:
            run.reference("saml:AssertionID", token.assertion_id)
        return token

    def _assertion_from(self, child: etree._Element | None, request: etree._Element) -> etree._Element:
        if child is None:
            raise MalformedResponseError("the STS answered an empty Body", origin="STS", code="STS_EMPTY")
        if self.legacy:
            status = child.find(f"{{{saml.NS_SAMLP}}}Status/{{{saml.NS_SAMLP}}}StatusCode")
            value = (status.get("Value") if status is not None else "") or ""
            if not value.endswith("Success"):
                message = (child.findtext(f".//{{{saml.NS_SAMLP}}}StatusMessage") or "").strip()
                sub = status.find(f"{{{saml.NS_SAMLP}}}StatusCode") if status is not None else None
                code = (sub.get("Value") if sub is not None else value) or "STS_REFUSED"
                raise SecurityError(f"the STS refused the request: {message or value}", code=code, origin="STS")
            if child.get("InResponseTo") not in (None, request.get("RequestID")):
                raise SecurityError("the STS answer does not match our request (InResponseTo)", code="STS_MISMATCH")
        elif child.find(f".//{{{NS_WST}}}SignChallenge") is not None:
            raise SecurityError("the STS asked for a second SignChallenge", code="STS_CHALLENGE", origin="STS")
        assertion = saml.find_assertion(child)
        if assertion is None:
            raise MalformedResponseError("the STS answer holds no SAML assertion", origin="STS", code="STS_NO_TOKEN")
        return assertion


_TOKEN_PARENTS = frozenset({f"{{{NS_WST}}}RequestedSecurityToken", f"{{{saml.NS_SAMLP}}}Response"})


def _check_answer_shape(envelope: etree._Element, assertion: etree._Element) -> None:
    """Wrapping defences on the STS answer (issue 15.4), before the token's signature is even looked at.

    One Body, no duplicated Id (the shared WS-Security checker's shape rules), and exactly one assertion
    in the whole answer, in its place (wst:RequestedSecurityToken or samlp:Response): a second assertion,
    wrapped or not, is refused rather than chosen between.
    """
    problems = wss_verify.shape_problems(envelope)
    if problems:
        raise SecurityError(f"the STS answer is refused: {problems[0].message}", code=problems[0].code,
                            origin="STS")
    found = list(envelope.iter(f"{{{saml.NS_SAML}}}Assertion"))
    parent = assertion.getparent()
    if found != [assertion] or parent is None or parent.tag not in _TOKEN_PARENTS:
        raise SecurityError("the STS answer must hold exactly one assertion, in RequestedSecurityToken "
                            f"(found {len(found)})", code="STS_WRAPPING", origin="STS",
                            hint="the answer was altered on its way (wrapping attack?)")


def _with_signer(token: SamlToken, signer: x509.Certificate) -> SamlToken:
    import attrs

    return attrs.evolve(token, signer_certificate=signer)
