"""WS-Security 1.0 headers: X.509 token profile (STS calls) and SAML holder-of-key (service calls).

``X509Security`` signs Body, Timestamp and the BinarySecurityToken (the STS ``ProtectTokens`` policy).
``HolderOfKeySecurity`` signs Body + Timestamp (or the Timestamp only, for GenericAsync) with the key bound
to the assertion, referenced through its AssertionID; the assertion's bytes are spliced into the serialised
envelope *after* signing, so it is never re-serialised (``auth-crypto.md`` §3.5). The analysis half
(:func:`analyse`) is shared by the simulator's checks and ``security verify``.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Protocol

import attrs
from cryptography.hazmat.primitives import serialization
from lxml import etree

from ..errors import SecurityError
from ..timeutil import utc_ms
from . import xmldsig
from .keystore import KeyEntry
from .saml import SamlToken

NS_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
NS_WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
NS_WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
NS_WSSE11 = "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd"
X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
BASE64 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
SAML_TOKEN_TYPE = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1"
SAML_ASSERTION_ID = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.0#SAMLAssertionID"
DEFAULT_TTL = 60
# Signing side only: verification is security/wss_verify.py (one checker for every verifying path).


def _random_hex() -> str:
    """128 random bits in hex for Ids and the splice marker (what ``uuid4().hex`` gave, minus its overhead)."""
    return os.urandom(16).hex()


def q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


_SOAP_ENVELOPE, _SOAP_HEADER, _SOAP_BODY = (q(NS_SOAP, n) for n in ("Envelope", "Header", "Body"))


class ExchangeRunLike(Protocol):
    def reference(self, name: str, value: str) -> None: ...
    def disturbance(self, kind: str, detail: str) -> None: ...


def _now(clock: Callable[[], datetime] | None) -> datetime:
    return clock() if clock else datetime.now(timezone.utc)


def _parts(envelope: etree._Element) -> tuple[etree._Element, etree._Element]:
    if envelope.tag != _SOAP_ENVELOPE:
        raise SecurityError("not a SOAP 1.1 envelope", code="WSS_NOT_SOAP")
    body = envelope.find(_SOAP_BODY)
    if body is None:
        raise SecurityError("the envelope has no Body", code="WSS_NOT_SOAP")
    header = envelope.find(_SOAP_HEADER)
    if header is None:
        header = etree.Element(_SOAP_HEADER)
        envelope.insert(0, header)
    return header, body


def _security(header: etree._Element) -> etree._Element:
    sec = etree.Element(q(NS_WSSE, "Security"), nsmap={"wsse": NS_WSSE, "wsu": NS_WSU})
    sec.set(q(NS_SOAP, "mustUnderstand"), "1")
    header.insert(0, sec)
    return sec


def _timestamp(sec: etree._Element, now: datetime, ttl: int) -> tuple[etree._Element, str]:
    ts_id = f"TS-{_random_hex()}"
    ts = etree.SubElement(sec, q(NS_WSU, "Timestamp"))
    ts.set(q(NS_WSU, "Id"), ts_id)
    etree.SubElement(ts, q(NS_WSU, "Created")).text = utc_ms(now)
    etree.SubElement(ts, q(NS_WSU, "Expires")).text = utc_ms(now + timedelta(seconds=ttl))
    return ts, ts_id


def _body_id(body: etree._Element) -> str:
    existing = body.get(q(NS_WSU, "Id"))
    if existing:
        return existing
    body_id = f"id-{_random_hex()}"
    body.set(q(NS_WSU, "Id"), body_id)
    return body_id


def _report(run: ExchangeRunLike | None, name: str, value: str) -> None:
    if run is not None:
        run.reference(name, value)


@attrs.frozen
class X509Security:
    """X.509 token profile signature by ``entry`` (used for STS requests)."""

    entry: KeyEntry
    ttl: int = DEFAULT_TTL
    clock: Callable[[], datetime] | None = None

    def apply(self, envelope: etree._Element, *, run: ExchangeRunLike | None = None) -> bytes:
        header, body = _parts(envelope)
        sec = _security(header)
        ts, ts_id = _timestamp(sec, _now(self.clock), self.ttl)
        bst_id = f"X509-{_random_hex()}"
        bst = etree.SubElement(sec, q(NS_WSSE, "BinarySecurityToken"))
        bst.set("EncodingType", BASE64)
        bst.set("ValueType", X509V3)
        bst.set(q(NS_WSU, "Id"), bst_id)
        bst.text = base64.b64encode(self.entry.certificate.public_bytes(serialization.Encoding.DER)).decode()
        body_id = _body_id(body)
        key_info = etree.Element(xmldsig.ds("KeyInfo"))
        str_el = etree.SubElement(key_info, q(NS_WSSE, "SecurityTokenReference"), nsmap={"wsse": NS_WSSE})
        ref = etree.SubElement(str_el, q(NS_WSSE, "Reference"))
        ref.set("URI", f"#{bst_id}")
        ref.set("ValueType", X509V3)
        xmldsig.sign(
            [xmldsig.Ref(f"#{body_id}", body), xmldsig.Ref(f"#{ts_id}", ts), xmldsig.Ref(f"#{bst_id}", bst)],
            self.entry.private_key,
            parent=sec,
            key_info=key_info,
        )
        _report(run, "wsu:Timestamp", ts_id)
        _report(run, "soap:Body", body_id)
        return etree.tostring(envelope, encoding="UTF-8", xml_declaration=False)


@attrs.frozen
class HolderOfKeySecurity:
    """SAML holder-of-key signature: Body + Timestamp, or the Timestamp only (GenericAsync)."""

    token: SamlToken
    key: KeyEntry
    timestamp_only: bool = False
    ttl: int = DEFAULT_TTL
    clock: Callable[[], datetime] | None = None

    def apply(self, envelope: etree._Element, *, run: ExchangeRunLike | None = None) -> bytes:
        # The header is written directly in canonical form (exclusive c14n of the Timestamp and SignedInfo
        # is what a verifier recomputes from these bytes), which avoids building and re-canonicalising a
        # dozen elements per call; only the Body is canonicalised from the tree.
        header, body = _parts(envelope)
        if not _NCNAME.match(self.token.assertion_id):
            raise SecurityError("the token's AssertionID is not a valid XML id", code="WSS_ID")
        now = _now(self.clock)
        ts_id = f"TS-{_random_hex()}"
        timestamp = (
            f'<wsu:Timestamp xmlns:wsu="{NS_WSU}" wsu:Id="{ts_id}"><wsu:Created>{utc_ms(now)}</wsu:Created>'
            f"<wsu:Expires>{utc_ms(now + timedelta(seconds=self.ttl))}</wsu:Expires></wsu:Timestamp>"
        ).encode()
        refs = [(ts_id, timestamp)]
        body_id = None
        if not self.timestamp_only:
            body_id = _body_id(body)
            refs.insert(0, (body_id, xmldsig.c14n(body)))
        key = self.key.private_key
        method = xmldsig.signature_method_for(key)
        signed_info = _signed_info_c14n(method, refs)
        value = xmldsig.b64(xmldsig.sign_value(key, signed_info, method))
        security = b"".join(
            (
                f'<wsse:Security xmlns:wsse="{NS_WSSE}" xmlns:wsu="{NS_WSU}" xmlns:S11="{NS_SOAP}" '
                f'S11:mustUnderstand="1">'.encode(),
                timestamp,
                standalone_assertion_bytes(self.token.raw),
                f'<ds:Signature xmlns:ds="{xmldsig.NS_DS}">'.encode(),
                signed_info,
                f"<ds:SignatureValue>{value}</ds:SignatureValue><ds:KeyInfo>"
                f'<wsse:SecurityTokenReference xmlns:wsse11="{NS_WSSE11}" wsse11:TokenType="{SAML_TOKEN_TYPE}">'
                f'<wsse:KeyIdentifier ValueType="{SAML_ASSERTION_ID}">{self.token.assertion_id}</wsse:KeyIdentifier>'
                "</wsse:SecurityTokenReference></ds:KeyInfo></ds:Signature></wsse:Security>".encode(),
            )
        )
        marker = f"mcn-security-{_random_hex()}"
        header.insert(0, etree.Comment(marker))
        data = etree.tostring(envelope, encoding="UTF-8", xml_declaration=False)
        placeholder = f"<!--{marker}-->".encode()
        if data.count(placeholder) != 1:
            raise SecurityError("could not place the WS-Security header", code="WSS_SPLICE")
        _report(run, "wsu:Timestamp", ts_id)
        if body_id:
            _report(run, "soap:Body", body_id)
        _report(run, "saml:AssertionID", self.token.assertion_id)
        return data.replace(placeholder, security)


_NCNAME = re.compile(r"^[A-Za-z_][\w.-]*$")


def _signed_info_c14n(method: str, refs: list[tuple[str, bytes]]) -> bytes:
    """Exclusive-c14n form of a SignedInfo with one exc-c14n/SHA-256 reference per (id, canonical bytes)."""
    parts = [
        f'<ds:SignedInfo xmlns:ds="{xmldsig.NS_DS}"><ds:CanonicalizationMethod Algorithm="{xmldsig.C14N_EXC}">'
        f'</ds:CanonicalizationMethod><ds:SignatureMethod Algorithm="{method}"></ds:SignatureMethod>'
    ]
    for ref_id, canonical in refs:
        if not _NCNAME.match(ref_id):
            raise SecurityError("invalid reference id", code="WSS_ID")
        parts.append(
            f'<ds:Reference URI="#{ref_id}"><ds:Transforms><ds:Transform Algorithm="{xmldsig.C14N_EXC}">'
            f'</ds:Transform></ds:Transforms><ds:DigestMethod Algorithm="{xmldsig.DIGEST_SHA256}"></ds:DigestMethod>'
            f"<ds:DigestValue>{xmldsig.b64(xmldsig.digest(canonical))}</ds:DigestValue></ds:Reference>"
        )
    parts.append("</ds:SignedInfo>")
    return "".join(parts).encode()


def standalone_assertion_bytes(raw: bytes) -> bytes:
    """Assertion bytes without XML declaration/BOM, ready to be spliced into a header."""
    data = raw.lstrip(b"\xef\xbb\xbf").lstrip()
    if data.startswith(b"<?xml"):
        end = data.find(b"?>")
        data = data[end + 2 :].lstrip()
    return data.rstrip()

