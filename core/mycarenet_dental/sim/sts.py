"""Simulated eHealth STS (WS-Trust and legacy SAMLP), checking in the order of ``auth-crypto.md`` §6.1.

Checks: SOAP + SOAPAction, timestamp freshness and skew, the X.509 signature (covering Body, Timestamp and
BinarySecurityToken), the certificate chain to the simulator CA with validity/revocation/key usage, the
body, the asserted identity against the certificate, then certified attributes from the persona registry.
It issues a SAML 1.1 holder-of-key assertion signed by the simulator's STS key.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from lxml import etree

from ..ehealth import saml, wss_verify, xmldsig
from ..ehealth.identity import identity_of
from ..ehealth.saml import NS_SAML, NS_SAMLP
from ..ehealth.sts import (
    ACTION_CHALLENGE,
    ACTION_LEGACY,
    ACTION_WSTRUST,
    KEY_TYPE_PUBLIC,
    KEY_TYPE_PUBLIC_OASIS,
    NS_AUTH,
    NS_WST,
    REQUEST_ISSUE,
    TOKEN_TYPE_SAML11,
)
from ..ehealth.wss_verify import WssPolicy
from ..ehealth.wssecurity import NS_WSSE, NS_WSU
from ..errors import MalformedResponseError, SecurityError
from ..timeutil import parse_utc, utc_ms
from ..xmlsafe import parse_xml
from .wss_check import SimSoapFault

NS_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
STS_PATH = "/IAM/SecurityTokenService/v1"
ACCEPTED_ACTIONS = {ACTION_WSTRUST, ACTION_LEGACY, ACTION_CHALLENGE, ""}
REQUEST_RENEW = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Renew"


def _pem_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(path).read_bytes())


def _pem_key(path: Path) -> PrivateKeyTypes:
    return serialization.load_pem_private_key(Path(path).read_bytes(), None)


@attrs.frozen
class SimTrust:
    """Everything the simulator trusts and signs with, loaded from the PKI directory."""

    pki_dir: Path
    ca_cert: x509.Certificate = attrs.field(repr=False)
    ca_key: PrivateKeyTypes = attrs.field(repr=False)
    sts_cert: x509.Certificate = attrs.field(repr=False)
    sts_key: PrivateKeyTypes = attrs.field(repr=False)
    mycarenet_enc_cert: x509.Certificate = attrs.field(repr=False)
    mycarenet_enc_key: PrivateKeyTypes = attrs.field(repr=False)
    mycarenet_etk: bytes = attrs.field(repr=False)
    identities: dict = attrs.field(repr=False, factory=dict)
    etks: dict = attrs.field(repr=False, factory=dict)  # (type, value, application|None) -> ETK DER
    revoked_serials: frozenset[int] = frozenset()
    skew: timedelta = timedelta(minutes=5)
    token_cap: timedelta = timedelta(hours=24)
    allow_sha1: bool = True  # the real STS accepts rsa-sha1 (EHI, e-Contract legacy); strict mode: False
    challenge: str = "when-keys-differ"  # WS-Trust SignChallenge: "never", "when-keys-differ" or "always"
    # MyCareNet's authentication key signs its answers (outer ETEE signature, XAdES); None for an old PKI folder
    mycarenet_auth_cert: x509.Certificate | None = attrs.field(default=None, repr=False)
    mycarenet_auth_key: PrivateKeyTypes | None = attrs.field(default=None, repr=False)
    # The real STS is only known to accept KeyType ".../ws-sx/wstrust/200512/PublicKey" (no hyphen);
    # the WS-Trust 1.3 spelling ".../ws-sx/ws-trust/200512/PublicKey" is accepted only behind this switch.
    # UNSURE: whether the production STS also takes the hyphenated URI; no reference client sends it.
    accept_oasis_key_type: bool = False

    @classmethod
    def load(cls, pki_dir: Path, **overrides: object) -> SimTrust:
        d = Path(pki_dir)
        identities = json.loads((d / "identities.json").read_text("utf-8")) if (d / "identities.json").exists() else {}
        etks: dict[tuple[str, str, str | None], bytes] = {}
        mcn = identities.get("mycarenet", {})
        etk_bytes = (d / "mycarenet.etk").read_bytes()
        etks[("CBE", mcn.get("cbe", "0820563481"), mcn.get("application", "MYCARENET"))] = etk_bytes
        dentist = identities.get("dentist")
        if dentist and (d / dentist.get("etk", "dentist.etk")).exists():
            etks[("SSIN", dentist["ssin"], None)] = (d / dentist.get("etk", "dentist.etk")).read_bytes()
        mandatary = identities.get("mandatary")
        if mandatary and (d / mandatary.get("etk", "mandatary.etk")).exists():
            etks[("CBE", mandatary["cbe"], None)] = (d / mandatary.get("etk", "mandatary.etk")).read_bytes()
        return cls(
            pki_dir=d,
            ca_cert=_pem_cert(d / "ca.pem"),
            ca_key=_pem_key(d / "ca-key.pem"),
            sts_cert=_pem_cert(d / "sts.pem"),
            sts_key=_pem_key(d / "sts-key.pem"),
            mycarenet_enc_cert=_pem_cert(d / "mycarenet-enc.pem"),
            mycarenet_enc_key=_pem_key(d / "mycarenet-enc-key.pem"),
            mycarenet_etk=etk_bytes,
            mycarenet_auth_cert=_pem_cert(d / "mycarenet-auth.pem") if (d / "mycarenet-auth.pem").exists() else None,
            mycarenet_auth_key=(_pem_key(d / "mycarenet-auth-key.pem")
                                if (d / "mycarenet-auth-key.pem").exists() else None),
            identities=identities,
            etks=etks,
            **overrides,  # type: ignore[arg-type]
        )

    def answer_signer(self) -> Any:
        """The key MyCareNet signs its answers with: its authentication key (auth-crypto.md §5.2: the outer
        ETEE signature is the sender's authentication certificate), with the CA as chain."""
        from ..ehealth.keystore import KeyEntry

        if self.mycarenet_auth_key is None or self.mycarenet_auth_cert is None:
            raise RuntimeError("the simulator PKI has no MyCareNet authentication key (regenerate it)")
        return KeyEntry(alias="authentication", private_key=self.mycarenet_auth_key,
                        certificate=self.mycarenet_auth_cert, chain=(self.ca_cert,))

    def persona_by_ssin(self, ssin: str) -> dict | None:
        for persona in self.identities.values():
            if isinstance(persona, dict) and persona.get("ssin") == ssin:
                return persona
        return None

    def persona_by_cbe(self, cbe: str) -> dict | None:
        for persona in self.identities.values():
            if isinstance(persona, dict) and persona.get("cbe") == cbe:
                return persona
        return None

    def check_certificate(self, cert: x509.Certificate, now: datetime) -> None:
        """Chain to the simulator CA, validity, revocation and key usage (SOA-01001 otherwise)."""
        if cert.issuer != self.ca_cert.subject:
            raise SimSoapFault("SOA-01001", "The certificate is not issued by a trusted eHealth CA")
        try:
            cert.verify_directly_issued_by(self.ca_cert)
        except (ValueError, TypeError, InvalidSignature):
            raise SimSoapFault("SOA-01001", "The certificate is not issued by a trusted eHealth CA") from None
        if not (cert.not_valid_before_utc <= now + self.skew and now - self.skew < cert.not_valid_after_utc):
            raise SimSoapFault("SOA-01001", "The certificate is expired or not yet valid")
        if cert.serial_number in self.revoked_serials:
            raise SimSoapFault("SOA-01001", "The certificate is revoked")
        try:
            ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
            if not ku.digital_signature:
                raise SimSoapFault("SOA-01001", "The certificate may not sign (key usage)")
        except x509.ExtensionNotFound:
            pass


# --- request parsing -----------------------------------------------------------------------------------


@attrs.frozen
class _Request:
    legacy: bool
    hok_cert: x509.Certificate
    asserted: tuple[tuple[str, str], ...]
    designators: tuple[str, ...]
    start: datetime | None
    end: datetime | None
    context: str | None
    request_id: str | None


def _cert_from(el: etree._Element | None) -> x509.Certificate | None:
    if el is None or not (el.text or "").strip():
        return None
    try:
        return x509.load_der_x509_certificate(base64.b64decode("".join(el.text.split())))  # type: ignore[union-attr]
    except ValueError:
        return None


def _parse_wstrust(rst: etree._Element, *, accept_oasis_key_type: bool = False) -> _Request:
    W = NS_WST
    token_type = (rst.findtext(f"{{{W}}}TokenType") or "").strip()
    request_type = (rst.findtext(f"{{{W}}}RequestType") or "").strip()
    key_type = (rst.findtext(f"{{{W}}}KeyType") or "").strip()
    if token_type != TOKEN_TYPE_SAML11:
        raise SimSoapFault("SOA-03007", f"Unsupported TokenType {token_type or '(none)'}")
    if request_type == REQUEST_RENEW:
        raise SimSoapFault("SOA-03007", "Renew is not supported by the simulator: request a new token (Issue)")
    if request_type != REQUEST_ISSUE:
        raise SimSoapFault("SOA-03007", f"Unsupported RequestType {request_type or '(none)'}")
    accepted = (KEY_TYPE_PUBLIC, KEY_TYPE_PUBLIC_OASIS) if accept_oasis_key_type else (KEY_TYPE_PUBLIC,)
    if key_type not in accepted:
        raise SimSoapFault("SOA-03007", f"Unsupported KeyType {key_type or '(none)'}: expected {KEY_TYPE_PUBLIC}")
    cert = _cert_from(rst.find(f"{{{W}}}UseKey//{{{xmldsig.NS_DS}}}X509Certificate"))
    if cert is None:
        raise SimSoapFault("SOA-03007", "UseKey must carry the holder-of-key certificate")
    asserted: list[tuple[str, str]] = []
    designators: list[str] = []
    for claim in rst.iter(f"{{{NS_AUTH}}}ClaimType"):
        uri = claim.get("Uri") or ""
        value = claim.find(f"{{{NS_AUTH}}}Value")
        if value is not None:
            asserted.append((uri, (value.text or "").strip()))
        designators.append(uri)
    start = end = None
    lifetime = rst.find(f"{{{W}}}Lifetime")
    if lifetime is not None:
        try:
            start = parse_utc(lifetime.findtext(f"{{{NS_WSU}}}Created"))
            end = parse_utc(lifetime.findtext(f"{{{NS_WSU}}}Expires"))
        except ValueError:
            raise SimSoapFault("SOA-03007", "Lifetime must have Created and Expires") from None
    context = rst.get("Context") or rst.get(f"{{{W}}}Context")
    return _Request(False, cert, tuple(asserted), tuple(dict.fromkeys(designators)), start, end, context, None)


def _parse_legacy(req: etree._Element, bst_cert: x509.Certificate) -> _Request:
    S = NS_SAML
    if req.get("MajorVersion") != "1" or req.get("MinorVersion") != "1" or not req.get("RequestID"):
        raise SimSoapFault("SOA-03007", "samlp:Request must be SAML 1.1 with a RequestID")
    queries = req.findall(f"{{{NS_SAMLP}}}AttributeQuery")
    if len(queries) != 1:
        raise SimSoapFault("SOA-03007", "samlp:Request must hold exactly one AttributeQuery")
    query = queries[0]
    conf = query.find(f"{{{S}}}Subject/{{{S}}}SubjectConfirmation")
    if conf is None or (conf.findtext(f"{{{S}}}ConfirmationMethod") or "").strip() != saml.HOK:
        raise SimSoapFault("SOA-03007", "ConfirmationMethod must be holder-of-key")
    cert = _cert_from(conf.find(f"{{{xmldsig.NS_DS}}}KeyInfo//{{{xmldsig.NS_DS}}}X509Certificate"))
    if cert is None:
        raise SimSoapFault("SOA-03007", "SubjectConfirmation must carry the holder-of-key certificate")
    sig = req.find(xmldsig.ds("Signature"))
    if cert != bst_cert or sig is not None:
        if sig is None:
            raise SimSoapFault("SOA-01001", "The request must be signed by the holder-of-key when the keys differ")
        report = xmldsig.verify(sig, public_key=cert.public_key(), ids={req.get("RequestID", ""): req},
                                allow_sha1=True)
        if not report.ok:
            raise SimSoapFault("SOA-01001", "The holder-of-key signature of the request does not verify")
    asserted: list[tuple[str, str]] = []
    start = end = None
    inner = conf.find(f"{{{S}}}SubjectConfirmationData/{{{S}}}Assertion")
    if inner is not None:
        for attr in inner.iter(f"{{{S}}}Attribute"):
            for value in attr.findall(f"{{{S}}}AttributeValue"):
                asserted.append((attr.get("AttributeName", ""), (value.text or "").strip()))
        cond = inner.find(f"{{{S}}}Conditions")
        if cond is not None:
            try:
                start, end = parse_utc(cond.get("NotBefore")), parse_utc(cond.get("NotOnOrAfter"))
            except ValueError:
                start = end = None
    designators = [d.get("AttributeName", "") for d in query.findall(f"{{{S}}}AttributeDesignator")]
    return _Request(True, cert, tuple(asserted), tuple(dict.fromkeys(designators)), start, end, None,
                    req.get("RequestID"))


# --- attribute resolution ----------------------------------------------------------------------------


class _SamlRefusal(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _resolve(request: _Request, trust: SimTrust) -> list[tuple[str, str]]:
    ident = identity_of(request.hok_cert)
    if ident is None:
        raise _SamlRefusal("the certificate carries no eHealth identity")
    values: dict[str, str] = {}
    for name, value in request.asserted:
        if name in (saml.ATTR_CERTHOLDER_SSIN, saml.ATTR_PERSON_SSIN):
            if ident.ssin is None or value != ident.ssin:
                raise _SamlRefusal(f"asserted {name} does not match the certificate")
        elif name in (saml.ATTR_CERTHOLDER_CBE, saml.ATTR_ENTERPRISE_CBE):
            if ident.cbe is None or value != ident.cbe:
                raise _SamlRefusal(f"asserted {name} does not match the certificate")
        values[name] = value
    persona = trust.persona_by_ssin(ident.ssin) if ident.ssin else trust.persona_by_cbe(ident.identifier)
    persona = persona or {}
    is_dentist = persona.get("quality") == "dentist"
    certified: dict[str, str | None] = {
        saml.ATTR_CERTHOLDER_SSIN: ident.ssin,
        saml.ATTR_PERSON_SSIN: ident.ssin,
        saml.ATTR_CERTHOLDER_CBE: ident.cbe,
        saml.ATTR_ENTERPRISE_CBE: ident.cbe,
        saml.ATTR_DENTIST_PROFESSIONAL: "true" if is_dentist else "false",
        saml.ATTR_DENTIST_FPSPH: "true" if is_dentist else "false",
        saml.ATTR_DENTIST_NIHII: persona.get("nihii") if is_dentist else None,
        saml.ATTR_GIVENNAME: persona.get("given_name"),
        saml.ATTR_SURNAME: persona.get("surname"),
    }
    out: list[tuple[str, str]] = []
    for name in dict.fromkeys([*(n for n, _ in request.asserted), *request.designators]):
        value = values.get(name) or certified.get(name)
        if value is None and name.endswith(":boolean"):
            value = "false"  # unknown/unauthorised boolean: "false" (UNSURE real behaviour, spec §8.1)
        if value is not None:
            out.append((name, value))
    return out


# --- assertion and responses -------------------------------------------------------------------------


def build_assertion(
    *,
    trust: SimTrust,
    hok_cert: x509.Certificate,
    attributes: list[tuple[str, str]],
    now: datetime,
    not_before: datetime,
    not_on_or_after: datetime,
) -> bytes:
    """A signed SAML 1.1 HoK assertion in the genuine token's layout (default namespace, ds: signature)."""
    S = NS_SAML
    assertion_id = "_" + uuid.uuid4().hex
    a = etree.Element(f"{{{S}}}Assertion", nsmap={None: S})
    a.set("AssertionID", assertion_id)
    a.set("IssueInstant", utc_ms(now))
    a.set("Issuer", saml.STS_ISSUER)
    a.set("MajorVersion", "1")
    a.set("MinorVersion", "1")
    cond = etree.SubElement(a, f"{{{S}}}Conditions")
    cond.set("NotBefore", utc_ms(not_before))
    cond.set("NotOnOrAfter", utc_ms(not_on_or_after))
    cert_b64 = base64.b64encode(hok_cert.public_bytes(serialization.Encoding.DER)).decode()
    subject_dn = hok_cert.subject.rfc4514_string()
    issuer_dn = hok_cert.issuer.rfc4514_string()

    def subject(parent: etree._Element, with_conf: bool) -> None:
        sub = etree.SubElement(parent, f"{{{S}}}Subject")
        nid = etree.SubElement(sub, f"{{{S}}}NameIdentifier")
        nid.set("Format", saml.X509_SUBJECT)
        nid.set("NameQualifier", issuer_dn)
        nid.text = subject_dn
        if with_conf:
            conf = etree.SubElement(sub, f"{{{S}}}SubjectConfirmation")
            etree.SubElement(conf, f"{{{S}}}ConfirmationMethod").text = saml.HOK
            ki = etree.SubElement(conf, xmldsig.ds("KeyInfo"), nsmap={"ds": xmldsig.NS_DS})
            x5 = etree.SubElement(ki, xmldsig.ds("X509Data"))
            etree.SubElement(x5, xmldsig.ds("X509Certificate")).text = cert_b64

    auth = etree.SubElement(a, f"{{{S}}}AuthenticationStatement")
    auth.set("AuthenticationInstant", utc_ms(now))
    auth.set("AuthenticationMethod", "urn:oasis:names:tc:SAML:1.0:am:X509-PKI")
    subject(auth, True)
    stmt = etree.SubElement(a, f"{{{S}}}AttributeStatement")
    subject(stmt, False)
    for name, value in attributes:
        attr = etree.SubElement(stmt, f"{{{S}}}Attribute")
        attr.set("AttributeName", name)
        attr.set("AttributeNamespace", saml.attribute_namespace(name))
        etree.SubElement(attr, f"{{{S}}}AttributeValue").text = value
    key_info = etree.Element(xmldsig.ds("KeyInfo"))
    x5 = etree.SubElement(key_info, xmldsig.ds("X509Data"))
    etree.SubElement(x5, xmldsig.ds("X509Certificate")).text = base64.b64encode(
        trust.sts_cert.public_bytes(serialization.Encoding.DER)
    ).decode()
    xmldsig.sign([xmldsig.Ref(f"#{assertion_id}", a, enveloped=True)], trust.sts_key, parent=a, key_info=key_info)
    return etree.tostring(a, encoding="UTF-8", xml_declaration=False)


def _response(body_child: etree._Element, now: datetime, *, assertion: bytes | None = None) -> bytes:
    env = etree.Element(f"{{{NS_SOAP}}}Envelope", nsmap={"soapenv": NS_SOAP})
    header = etree.SubElement(env, f"{{{NS_SOAP}}}Header")
    sec = etree.SubElement(header, f"{{{NS_WSSE}}}Security", nsmap={"wsse": NS_WSSE, "wsu": NS_WSU})
    ts = etree.SubElement(sec, f"{{{NS_WSU}}}Timestamp")
    ts.set(f"{{{NS_WSU}}}Id", f"TS-{uuid.uuid4().hex}")
    etree.SubElement(ts, f"{{{NS_WSU}}}Created").text = utc_ms(now)
    etree.SubElement(ts, f"{{{NS_WSU}}}Expires").text = utc_ms(now + timedelta(minutes=5))
    body = etree.SubElement(env, f"{{{NS_SOAP}}}Body")
    body.append(body_child)
    data = etree.tostring(env, encoding="UTF-8", xml_declaration=True)
    if assertion is not None:
        data = data.replace(b"<!--assertion-->", assertion)
    return data


def _wstrust_response(request: _Request, assertion: bytes, nb: datetime, na: datetime, now: datetime) -> bytes:
    W = NS_WST
    rstr = etree.Element(f"{{{W}}}RequestSecurityTokenResponse", nsmap={"wst": W})
    if request.context:
        rstr.set("Context", request.context)
    etree.SubElement(rstr, f"{{{W}}}TokenType").text = TOKEN_TYPE_SAML11
    rst = etree.SubElement(rstr, f"{{{W}}}RequestedSecurityToken")
    rst.append(etree.Comment("assertion"))
    life = etree.SubElement(rstr, f"{{{W}}}Lifetime")
    etree.SubElement(life, f"{{{NS_WSU}}}Created", nsmap={"wsu": NS_WSU}).text = utc_ms(nb)
    etree.SubElement(life, f"{{{NS_WSU}}}Expires", nsmap={"wsu": NS_WSU}).text = utc_ms(na)
    return _response(rstr, now, assertion=assertion)


def _samlp_response(request: _Request, now: datetime, *, assertion: bytes | None = None,
                    refusal: str | None = None) -> bytes:
    P = NS_SAMLP
    resp = etree.Element(f"{{{P}}}Response", nsmap={"samlp": P})
    resp.set("ResponseID", "_" + uuid.uuid4().hex)
    if request.request_id:
        resp.set("InResponseTo", request.request_id)
    resp.set("MajorVersion", "1")
    resp.set("MinorVersion", "1")
    resp.set("IssueInstant", utc_ms(now))
    status = etree.SubElement(resp, f"{{{P}}}Status")
    code = etree.SubElement(status, f"{{{P}}}StatusCode")
    code.set("Value", "samlp:Requester" if refusal else "samlp:Success")
    if refusal:
        etree.SubElement(status, f"{{{P}}}StatusMessage").text = refusal
    else:
        resp.append(etree.Comment("assertion"))
    return _response(resp, now, assertion=assertion)


_CHALLENGES: dict[str, tuple[str, datetime, _Request]] = {}
_CHALLENGE_LOCK = threading.Lock()
CHALLENGE_TTL = timedelta(minutes=5)


def _issue_challenge(request: _Request, now: datetime) -> bytes:
    """A WS-Trust SignChallenge: the client must sign it back with the holder-of-key (UseKey) certificate."""
    context = request.context or f"uuid-{uuid.uuid4()}"
    challenge = base64.b64encode(os.urandom(24)).decode()
    with _CHALLENGE_LOCK:
        for key in [k for k, (_, exp, _) in _CHALLENGES.items() if exp <= now]:
            del _CHALLENGES[key]
        _CHALLENGES[context] = (challenge, now + CHALLENGE_TTL, request)
    W = NS_WST
    rstr = etree.Element(f"{{{W}}}RequestSecurityTokenResponse", nsmap={"wst": W})
    rstr.set("Context", context)
    sign = etree.SubElement(rstr, f"{{{W}}}SignChallenge")
    etree.SubElement(sign, f"{{{W}}}Challenge").text = challenge
    return _response(rstr, now)


def _answer_challenge(rstr: etree._Element, bst_cert: x509.Certificate, now: datetime) -> _Request:
    context = rstr.get("Context") or rstr.get(f"{{{NS_WST}}}Context") or ""
    answer = (rstr.findtext(f"{{{NS_WST}}}SignChallengeResponse/{{{NS_WST}}}Challenge") or "").strip()
    with _CHALLENGE_LOCK:
        entry = _CHALLENGES.pop(context, None)  # single use
    if entry is None or entry[1] <= now:
        raise SimSoapFault("SOA-01001", "The user is not authenticated: unknown or expired challenge")
    challenge, _, request = entry
    if answer != challenge:
        raise SimSoapFault("SOA-01001", "The user is not authenticated: wrong challenge answer")
    if bst_cert != request.hok_cert:
        raise SimSoapFault("SOA-01001", "The user is not authenticated: the challenge must be signed with the "
                           "holder-of-key (UseKey) certificate")
    return request


def handle_sts_request(body: bytes, *, soap_action: str, trust: SimTrust, now: datetime) -> bytes:
    """Answer one STS request (full SOAP envelope); raises :class:`SimSoapFault` for faults.

    The host returns ``fault.to_response_bytes()`` with ``fault.http_status`` for a SimSoapFault.
    """
    now = now.astimezone(timezone.utc)
    action = (soap_action or "").strip().strip('"')
    # 1. SOAP envelope and action
    try:
        envelope = parse_xml(body, what="STS request")
    except MalformedResponseError as exc:
        raise SimSoapFault("SOA-03002", f"Message must be SOAP: {exc.message}") from None
    if envelope.tag != f"{{{NS_SOAP}}}Envelope" or envelope.find(f"{{{NS_SOAP}}}Body") is None:
        raise SimSoapFault("SOA-03002", "Message must be a SOAP 1.1 envelope")
    if action not in ACCEPTED_ACTIONS:
        raise SimSoapFault("SOA-03005", f"Unknown SOAPAction {action!r} for the STS")
    body_el = envelope.find(f"{{{NS_SOAP}}}Body")
    assert body_el is not None
    child = next(iter(body_el.iterchildren(etree.Element)), None)
    if child is None:
        raise SimSoapFault("SOA-03003", "Message body is empty")
    # 2./3. Security header, timestamp, X.509 signature covering Body, Timestamp and the token (wss_verify)
    policy = WssPolicy.x509_token(allow_sha1=trust.allow_sha1, skew=trust.skew)
    try:
        report = wss_verify.check(envelope, policy=policy, now=now)
    except SecurityError as exc:
        raise SimSoapFault("SOA-01001", f"The user is not authenticated: {exc.message}") from None
    bsts = report.security.findall(f"{{{NS_WSSE}}}BinarySecurityToken") if report.security is not None else []
    if len(bsts) != 1 or report.signer_certificate is None:
        raise SimSoapFault("SOA-01001", "The user is not authenticated: one X509 BinarySecurityToken must sign")
    # 4. certificate
    bst_cert = report.signer_certificate
    trust.check_certificate(bst_cert, now)
    # 5. body
    if child.tag == f"{{{NS_WST}}}RequestSecurityToken":
        request = _parse_wstrust(child, accept_oasis_key_type=trust.accept_oasis_key_type)
        differ = request.hok_cert != bst_cert
        # UNSURE when the real STS challenges (auth-crypto §2.4): configurable, default when the keys differ.
        if trust.challenge == "always" or (differ and trust.challenge == "when-keys-differ"):
            return _issue_challenge(request, now)
        if differ:
            raise SimSoapFault("SOA-01001", "UseKey certificate differs from the signing certificate")
    elif child.tag == f"{{{NS_WST}}}RequestSecurityTokenResponse":
        request = _answer_challenge(child, bst_cert, now)
    elif child.tag == f"{{{NS_SAMLP}}}Request":
        request = _parse_legacy(child, bst_cert)
    else:
        raise SimSoapFault("SOA-03005", f"Unexpected STS request {etree.QName(child).localname}")
    trust.check_certificate(request.hok_cert, now)
    # 6./9. lifetime
    start = request.start or now
    end = request.end or now + trust.token_cap
    not_before = start - timedelta(minutes=5)
    not_on_or_after = min(end, now + trust.token_cap, request.hok_cert.not_valid_after_utc)
    if not_on_or_after <= now:
        raise SimSoapFault("SOA-03007", "The requested token lifetime has already ended")
    # 7./8. attributes
    try:
        attributes = _resolve(request, trust)
    except _SamlRefusal as refusal:
        if request.legacy:
            return _samlp_response(request, now, refusal=refusal.message)
        raise SimSoapFault("SOA-01002", f"The user has no access: {refusal.message}") from None
    assertion = build_assertion(trust=trust, hok_cert=request.hok_cert, attributes=attributes, now=now,
                                not_before=not_before, not_on_or_after=not_on_or_after)
    if request.legacy:
        return _samlp_response(request, now, assertion=assertion)
    return _wstrust_response(request, assertion, not_before, not_on_or_after, now)
