"""SAML 1.1 holder-of-key assertions issued by the eHealth STS.

A :class:`SamlToken` keeps the assertion's **exact bytes**: re-serialising it could re-prefix namespaces and
break the STS signature (``auth-crypto.md`` §3.5), so WS-Security splices these bytes into each request.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache

import attrs
from cryptography import x509
from lxml import etree

from ..errors import MalformedCertificateError, SecurityError
from ..timeutil import parse_utc, utc_ms
from ..xmlsafe import parse_xml
from . import chain, xmldsig

NS_SAML = "urn:oasis:names:tc:SAML:1.0:assertion"
NS_SAMLP = "urn:oasis:names:tc:SAML:1.0:protocol"
HOK = "urn:oasis:names:tc:SAML:1.0:cm:holder-of-key"
STS_ISSUER = "urn:be:fgov:ehealth:sts:1_0"
NS_IDENTIFICATION = "urn:be:fgov:identification-namespace"
NS_CERTIFIED = "urn:be:fgov:certified-namespace:ehealth"
X509_SUBJECT = "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName"

ATTR_CERTHOLDER_SSIN = "urn:be:fgov:ehealth:1.0:certificateholder:person:ssin"
ATTR_PERSON_SSIN = "urn:be:fgov:person:ssin"
ATTR_DENTIST_NIHII = "urn:be:fgov:person:ssin:ehealth:1.0:nihii:dentist:nihii11"
ATTR_DENTIST_PROFESSIONAL = "urn:be:fgov:person:ssin:ehealth:1.0:professional:dentist:boolean"
ATTR_DENTIST_FPSPH = "urn:be:fgov:person:ssin:ehealth:1.0:fpsph:dentist:boolean"
ATTR_GIVENNAME = "urn:be:fgov:person:ssin:ehealth:1.0:givenname"
ATTR_SURNAME = "urn:be:fgov:person:ssin:ehealth:1.0:surname"
# Organisation (billing office) profile. UNSURE: no eHealth attribute set for a billing office was found
# (auth-crypto.md §2.5); modelled on the organisation profiles (``...:<org>:cbe-number``).
ATTR_CERTHOLDER_CBE = "urn:be:fgov:ehealth:1.0:certificateholder:enterprise:cbe-number"
ATTR_ENTERPRISE_CBE = "urn:be:fgov:kbo-bce:organization:cbe-number"

DENTIST_DESIGNATORS: tuple[str, ...] = (
    ATTR_CERTHOLDER_SSIN,
    ATTR_PERSON_SSIN,
    ATTR_DENTIST_FPSPH,
    ATTR_DENTIST_NIHII,
    ATTR_DENTIST_PROFESSIONAL,
)
ORGANISATION_DESIGNATORS: tuple[str, ...] = (ATTR_CERTHOLDER_CBE, ATTR_ENTERPRISE_CBE)
IDENTIFICATION_ATTRIBUTES = frozenset(
    {ATTR_CERTHOLDER_SSIN, ATTR_PERSON_SSIN, ATTR_CERTHOLDER_CBE, ATTR_ENTERPRISE_CBE}
)


def attribute_namespace(name: str) -> str:
    """Namespace an attribute name belongs to (WS-Trust claims carry names only)."""
    return NS_IDENTIFICATION if name in IDENTIFICATION_ATTRIBUTES else NS_CERTIFIED


@attrs.frozen
class SamlAttribute:
    namespace: str
    name: str
    values: tuple[str, ...]


@attrs.frozen
class SamlToken:
    """A holder-of-key assertion with its exact bytes and the facts read from it."""

    raw: bytes = attrs.field(repr=False)
    assertion_id: str
    issuer: str
    issue_instant: datetime
    not_before: datetime
    not_on_or_after: datetime
    subject: str
    subject_qualifier: str | None
    attributes: tuple[SamlAttribute, ...]
    hok_certificate: x509.Certificate | None = attrs.field(repr=False)
    signer_certificate: x509.Certificate | None = attrs.field(repr=False, default=None)

    def attribute(self, name: str) -> str | None:
        for attr in self.attributes:
            if attr.name == name and attr.values:
                return attr.values[0]
        return None


    def is_valid(self, now: datetime) -> bool:
        return self.not_before <= now < self.not_on_or_after

    def to_dict(self) -> dict[str, object]:
        return {
            "assertion_id": self.assertion_id,
            "issuer": self.issuer,
            "issue_instant": utc_ms(self.issue_instant),
            "not_before": utc_ms(self.not_before),
            "not_on_or_after": utc_ms(self.not_on_or_after),
            "subject": self.subject,
            "attributes": [
                {"name": a.name, "namespace": a.namespace, "values": list(a.values)} for a in self.attributes
            ],
        }

    @classmethod
    def from_bytes(cls, raw: bytes) -> SamlToken:
        """Parse a standalone assertion (the bytes are kept as they are)."""
        return parse_assertion(parse_xml(raw, what="SAML assertion"), raw=raw)


@lru_cache(maxsize=256)
def certificate_from_b64(text: str) -> x509.Certificate:
    """Parse a base64 DER certificate (cached: the same token certificate arrives with every call)."""
    try:
        return x509.load_der_x509_certificate(base64.b64decode("".join(text.split()), validate=True))
    except (ValueError, TypeError):
        raise MalformedCertificateError("a certificate in the message is not base64 DER",
                                        code="CERT_MALFORMED") from None


def _s(tag: str) -> str:
    return f"{{{NS_SAML}}}{tag}"


def find_assertion(root: etree._Element) -> etree._Element | None:
    if root.tag == _s("Assertion"):
        return root
    return next(root.iter(_s("Assertion")), None)


def text_of(el: etree._Element) -> str:
    """The character data of a signed leaf element exactly as exclusive c14n sees it (issue 15.8).

    ``el.text`` stops at the first comment, while c14n without comments drops the comment and keeps every
    text node: ``CN=SSIN=<!---->7906...`` would be read as ``CN=SSIN=`` under a valid signature. All text
    nodes are joined instead, and an element child (never present in the fields read here) is refused.
    """
    if not len(el):
        return (el.text or "").strip()  # no child node at all: the one text node is the whole content
    if any(isinstance(child.tag, str) for child in el):
        raise SecurityError(f"the STS assertion has markup inside {etree.QName(el).localname}",
                            code="SAML_MALFORMED")
    return "".join(el.itertext()).strip()


def check_no_comments(assertion: etree._Element) -> None:
    """Refuse comments and processing instructions inside an assertion (the STS never writes them).

    A comment is invisible to the signature (c14n drops it) but splits a text node; a processing
    instruction is signed but has no business in a token. Either one means the token was tampered with.
    """
    for node in assertion.iter(etree.Comment, etree.ProcessingInstruction):
        kind = "comment" if isinstance(node, etree._Comment) else "processing instruction"
        raise SecurityError(f"the STS assertion contains a {kind}: refused (text read under a signature "
                            "must be what the signature covers)", code="SAML_COMMENT",
                            hint="the token was altered after the STS signed it")


_STATEMENTS = frozenset(f"{{{NS_SAML}}}{n}" for n in
                        ("AuthenticationStatement", "AttributeStatement", "AuthorizationDecisionStatement"))


def _statements(assertion: etree._Element) -> list[etree._Element]:
    """The statements of ``assertion``, by position (direct children), never from inside ds:Signature."""
    return [child for child in assertion if child.tag in _STATEMENTS]


_SUBJECT, _CONFIRMATION, _METHOD = (f"{{{NS_SAML}}}{n}" for n in ("Subject", "SubjectConfirmation", "ConfirmationMethod"))
_KEYINFO_CERT = f"{xmldsig.ds('KeyInfo')}/{xmldsig.ds('X509Data')}/{xmldsig.ds('X509Certificate')}"


def _subjects(assertion: etree._Element) -> list[etree._Element]:
    return [sub for st in _statements(assertion) for sub in st.findall(_SUBJECT)]


def hok_certificate_of(assertion: etree._Element) -> x509.Certificate | None:
    """The holder-of-key certificate of a statement's Subject (read by position, as signed)."""
    for subject in _subjects(assertion):
        for conf in subject.findall(_CONFIRMATION):
            methods = [text_of(m) for m in conf.findall(_METHOD)]
            if HOK not in methods:
                continue
            cert_el = conf.find(_KEYINFO_CERT)
            if cert_el is not None:
                text = text_of(cert_el)
                if text:
                    return certificate_from_b64(text)
    return None


def parse_assertion(assertion: etree._Element, *, raw: bytes) -> SamlToken:
    """Read the facts of an assertion element whose exact bytes are ``raw``."""
    try:
        conditions = assertion.find(_s("Conditions"))
        if conditions is None:
            raise ValueError("no Conditions")
        # By position: the first statement's Subject (content inside ds:Signature is never read).
        name_id = next((nid for sub in _subjects(assertion) for nid in sub.findall(_s("NameIdentifier"))), None)
        attributes = []
        for stmt in _statements(assertion):
            for attr in stmt.findall(_s("Attribute")):
                attributes.append(
                    SamlAttribute(
                        namespace=attr.get("AttributeNamespace", ""),
                        name=attr.get("AttributeName", ""),
                        values=tuple(text_of(v) for v in attr.findall(_s("AttributeValue"))),
                    )
                )
        sig_cert = None
        sig = assertion.find(xmldsig.ds("Signature"))
        if sig is not None:
            cert_el = sig.find(f".//{xmldsig.ds('X509Certificate')}")
            if cert_el is not None and cert_el.text:
                sig_cert = certificate_from_b64(cert_el.text)
        return SamlToken(
            raw=raw,
            assertion_id=assertion.get("AssertionID") or "",
            issuer=assertion.get("Issuer") or "",
            issue_instant=parse_utc(assertion.get("IssueInstant")),
            not_before=parse_utc(conditions.get("NotBefore")),
            not_on_or_after=parse_utc(conditions.get("NotOnOrAfter")),
            subject=text_of(name_id) if name_id is not None else "",
            subject_qualifier=name_id.get("NameQualifier") if name_id is not None else None,
            attributes=tuple(attributes),
            hok_certificate=hok_certificate_of(assertion),
            signer_certificate=sig_cert,
        )
    except (ValueError, TypeError) as exc:
        raise SecurityError(f"the STS assertion is malformed: {exc}", code="SAML_MALFORMED") from None


def assertion_signature(
    assertion: etree._Element, *, allow_sha1: bool = False
) -> tuple[x509.Certificate | None, xmldsig.SignatureReport]:
    """The one check of an assertion's STS signature, short of trust: (signer certificate, report).

    Refuses (SecurityError) what wrapping attacks need: comments or PIs (15.8), no or several enveloped
    signatures, a signature that is not the assertion's last child (SAML 1.1 schema) or that carries a
    ds:Object (content there is outside the digest), and a signature not referencing the assertion itself
    exactly once. The reference is resolved to ``assertion`` by position, never by an Id search.
    """
    check_no_comments(assertion)
    sigs = assertion.findall(xmldsig.ds("Signature"))
    if not sigs:
        raise SecurityError("the assertion is not signed", code="SAML_UNSIGNED")
    children = [c for c in assertion if isinstance(c.tag, str)]
    sig = sigs[0]
    if len(sigs) != 1 or children[-1] is not sig:
        raise SecurityError("the assertion's ds:Signature must be its one and last child", code="SAML_SIGNATURE",
                            hint="the assertion was rearranged after the STS signed it (wrapping attack?)")
    if sig.find(xmldsig.ds("Object")) is not None:
        raise SecurityError("the assertion's ds:Signature carries a ds:Object (unsigned content)",
                            code="SAML_SIGNATURE", hint="the token was altered after the STS signed it")
    cert_el = sig.find(f"{xmldsig.ds('KeyInfo')}/{xmldsig.ds('X509Data')}/{xmldsig.ds('X509Certificate')}")
    signer = None
    if cert_el is not None:
        text = text_of(cert_el)
        if text:
            signer = certificate_from_b64(text)  # a broken one is a typed CERT_MALFORMED (SecurityError)
    aid = assertion.get("AssertionID", "")
    report = xmldsig.verify(sig, public_key=signer.public_key() if signer is not None else None,
                            ids={aid: assertion}, allow_sha1=allow_sha1)
    if [r.uri for r in report.references] != [f"#{aid}"]:
        raise SecurityError("the STS signature must reference the assertion itself, once", code="SAML_SIGNATURE",
                            hint="the signature covers something else than the token (wrapping attack?)")
    return signer, report


def verify_assertion_signature(
    assertion: etree._Element,
    *,
    trust: Sequence[x509.Certificate],
    allow_sha1: bool = False,
    now: datetime | None = None,
) -> x509.Certificate:
    """Check the enveloped STS signature; the signer must be a trusted cert or issued by a trusted CA."""
    signer, report = assertion_signature(assertion, allow_sha1=allow_sha1)
    if signer is None:
        raise SecurityError("the assertion signature carries no certificate", code="SAML_SIGNER")
    if not trust:
        raise SecurityError("no trust anchor configured for STS assertions", code="SAML_TRUST",
                            hint="configure the STS certificate or its CA")
    if not any(chain.issued_by(signer, anchor) for anchor in trust):
        raise SecurityError(
            f"the assertion is signed by an untrusted certificate ({signer.subject.rfc4514_string()})",
            code="SAML_UNTRUSTED",
            hint="the token does not come from the configured STS",
        )
    if now is not None and not (signer.not_valid_before_utc <= now < signer.not_valid_after_utc):
        raise SecurityError("the STS signing certificate is outside its validity", code="SAML_SIGNER_EXPIRED")
    if not report.ok:
        reasons = [r.reason for r in report.references if r.reason] + ([report.reason] if report.reason else [])
        raise SecurityError(
            "the STS signature on the assertion does not verify: " + ("; ".join(reasons) or "bad reference"),
            code="SAML_SIGNATURE",
            hint="the assertion was altered (or re-serialised) after the STS signed it",
        )
    return signer


_START = re.compile(rb"<(?:([A-Za-z_][\w.-]*):)?Assertion[\s>/]")


def extract_raw(source: bytes, assertion: etree._Element) -> bytes:
    """The assertion's original bytes from ``source`` when they stand alone, else a faithful serialisation.

    The slice is accepted only if it parses on its own and canonicalises exactly like the element in the
    document, which guarantees the STS signature still verifies on the spliced bytes.
    """
    expected = xmldsig.c14n(assertion)
    for match in _START.finditer(source):
        prefix = match.group(1)
        end_tag = b"</" + (prefix + b":" if prefix else b"") + b"Assertion>"
        end = source.find(end_tag, match.start())
        if end < 0:
            continue
        candidate = source[match.start() : end + len(end_tag)]
        try:
            parsed = parse_xml(candidate, what="SAML assertion")
        except Exception:  # noqa: BLE001 - any failure means "not standalone", fall back below
            continue
        if parsed.get("AssertionID") == assertion.get("AssertionID") and xmldsig.c14n(parsed) == expected:
            return candidate
    return etree.tostring(assertion)
