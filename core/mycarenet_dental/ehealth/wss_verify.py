"""The one WS-Security checker (issue 15.4): simulator (services and STS), ``security verify`` and client.

A signature is only worth what it is proven to cover. Wrapping attacks (XSW) move a signed element
elsewhere and put a forged one where the reader looks; an Id search still finds the signed copy, so the
digests verify. This checker therefore decides *by position* what is signed:

* exactly one ``soap:Body`` (the Envelope's child), one ``wsse:Security`` (the Header's child) and one
  ``wsu:Timestamp`` (the Security header's child) in the whole message; one ``ds:Signature`` in Security;
* no Id value (``wsu:Id``, ``xml:id``, ``Id``, ``ID``, ``AssertionID``) used twice, and no signed reference
  to an Id that occurs twice in any ID-like attribute;
* a part counts as signed only if a verified reference targets that very element (or an ancestor);
  the policy says which parts must be signed (Body and Timestamp by default);
* the signing key must resolve (BinarySecurityToken of this header, HoK assertion of this header or an
  X509Data certificate) and the SignatureValue must verify with it: an unresolved key is a failure.

:func:`inspect` lists every problem (for diagnostics); :func:`check` raises :class:`WssCheckError` (a
``SecurityError``) on the first. Trust in the key (CA, STS assertion signature) is the caller's job.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from datetime import datetime, timedelta

import attrs
from cryptography import x509
from lxml import etree

from ..errors import SecurityError
from ..timeutil import parse_utc, utc_ms
from . import saml, xmldsig
from .wssecurity import NS_SOAP, NS_WSSE, NS_WSU, SAML_ASSERTION_ID

BST, SAML_KEY, X509_DATA = "BinarySecurityToken", "SAMLAssertionID", "X509Data"
ALL_KEY_SOURCES = frozenset({BST, SAML_KEY, X509_DATA})

_ENVELOPE, _HEADER, _BODY = (f"{{{NS_SOAP}}}{n}" for n in ("Envelope", "Header", "Body"))
_SECURITY, _REFERENCE, _KEY_IDENTIFIER, _BST, _USERNAME_TOKEN = (
    f"{{{NS_WSSE}}}{n}" for n in ("Security", "Reference", "KeyIdentifier", "BinarySecurityToken", "UsernameToken"))
_TIMESTAMP, _CREATED, _EXPIRES = (f"{{{NS_WSU}}}{n}" for n in ("Timestamp", "Created", "Expires"))
_ASSERTION = f"{{{saml.NS_SAML}}}Assertion"
_SIGNATURE = xmldsig.ds("Signature")
_KEYINFO_STR = f"{xmldsig.ds('KeyInfo')}/{{{NS_WSSE}}}SecurityTokenReference"
_X509_CERT = f"{xmldsig.ds('KeyInfo')}/{xmldsig.ds('X509Data')}/{xmldsig.ds('X509Certificate')}"
_XML_ID = "{http://www.w3.org/XML/1998/namespace}id"
_WEAK_ID = "id"  # an unqualified/foreign "id": business payloads reuse it (MDA facets), so only its
# collision with a *referenced* Id is refused


@attrs.frozen
class WssPolicy:
    """What a verifying path requires: the signed parts, the accepted key sources, SHA-1, clock skew."""

    required: frozenset[str] = frozenset({"Body", "Timestamp"})
    key_sources: frozenset[str] = ALL_KEY_SOURCES
    allow_sha1: bool = False
    skew: timedelta = timedelta(0)

    @classmethod
    def holder_of_key(cls, *, timestamp_only: bool = False, allow_sha1: bool = False,
                      skew: timedelta = timedelta(0)) -> WssPolicy:
        """A MyCareNet service request: SAML HoK key, Body and Timestamp signed (Timestamp only: async)."""
        required = {"Timestamp"} if timestamp_only else {"Body", "Timestamp"}
        return cls(frozenset(required), frozenset({SAML_KEY}), allow_sha1, skew)

    @classmethod
    def x509_token(cls, *, allow_sha1: bool = False, skew: timedelta = timedelta(0)) -> WssPolicy:
        """An STS request: X.509 BinarySecurityToken signing Body, Timestamp and the token itself."""
        return cls(frozenset({"Body", "Timestamp", BST}), frozenset({BST}), allow_sha1, skew)


@attrs.frozen
class WssProblem:
    code: str
    message: str


@attrs.frozen
class WssReport:
    """What the checker found; ``problems`` is empty when the message passes the policy."""

    envelope: etree._Element = attrs.field(repr=False)
    body: etree._Element | None = attrs.field(repr=False)
    security: etree._Element | None = attrs.field(repr=False)
    timestamp: etree._Element | None = attrs.field(repr=False)
    created: datetime | None
    expires: datetime | None
    signature: etree._Element | None = attrs.field(repr=False)
    signature_report: xmldsig.SignatureReport | None
    key_source: str | None
    signer_certificate: x509.Certificate | None = attrs.field(repr=False)
    assertion: etree._Element | None = attrs.field(repr=False)  # the HoK assertion the key comes from
    signed: frozenset[str]  # among Body, Timestamp, BinarySecurityToken, UsernameToken, Assertion
    problems: tuple[WssProblem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


class WssCheckError(SecurityError):
    """A WS-Security message refused by :func:`check`; ``report`` holds every problem found."""

    default_code = "WSS_INVALID"

    def __init__(self, report: WssReport) -> None:
        first = report.problems[0]
        super().__init__(first.message, code=first.code, origin="WS-Security",
                         hint="the message was altered, wrapped or signed with the wrong key")
        self.report = report


def check(envelope: etree._Element, *, policy: WssPolicy, now: datetime | None = None) -> WssReport:
    """:func:`inspect`, raising :class:`WssCheckError` when any problem was found."""
    report = inspect(envelope, policy=policy, now=now)
    if report.problems:
        raise WssCheckError(report)
    return report


def shape_problems(envelope: etree._Element, *, _scan: _Scan | None = None) -> list[WssProblem]:
    """SOAP-level wrapping defences that need no signature: one Body, one Header, no duplicated Id.

    Used alone on answers whose trust comes from elsewhere (the STS answer: its assertion is signed).
    """
    problems: list[WssProblem] = []
    if envelope.tag != _ENVELOPE:
        return [WssProblem("WSS_NOT_SOAP", "not a SOAP 1.1 envelope")]
    scan = _scan or _Scan.of(envelope)
    bodies = scan.found[_BODY]
    if len(bodies) != 1 or bodies[0].getparent() is not envelope:
        problems.append(WssProblem("WSS_BODY", f"exactly one soap:Body, child of the Envelope, is allowed; found "
                                   f"{len(bodies)} (a moved or duplicated Body is a wrapping attack)"))
    headers = scan.found[_HEADER]
    if len(headers) > 1 or (headers and headers[0].getparent() is not envelope):
        problems.append(WssProblem("WSS_HEADER", "at most one soap:Header, child of the Envelope, is allowed"))
    for value, names in sorted(scan.duplicates.items()):
        if any(_strong(name) for name in names):
            problems.append(WssProblem("WSS_DUPLICATE_ID", f"the Id {value!r} appears {len(names)} times"))
    return problems


_COUNTED = (_BODY, _HEADER, _SECURITY, _TIMESTAMP)


@attrs.frozen
class _Scan:
    """One pass over the message: the Id index, duplicated Ids and every element the rules count."""

    ids: dict[str, etree._Element | None]
    duplicates: dict[str, list[str]]
    found: dict[str, list[etree._Element]]

    @classmethod
    def of(cls, root: etree._Element) -> _Scan:
        ids, duplicates = scan_ids(root)
        found: dict[str, list[etree._Element]] = {tag: [] for tag in _COUNTED}
        for el in root.iter(*_COUNTED):
            found[el.tag].append(el)
        return cls(ids, duplicates, found)


def _strong(name: str) -> bool:
    return name == _XML_ID or etree.QName(name).localname != _WEAK_ID


def scan_ids(root: etree._Element) -> tuple[dict[str, etree._Element | None], dict[str, list[str]]]:
    """(Id index as :func:`xmldsig.id_index` builds it, duplicated values -> the attribute names used).

    Every attribute of every element, ID-like by local name in any namespace. Measured alternatives were not
    faster: an XPath over ``local-name()`` costs twice this loop (libxml2 builds a string per attribute), and
    a per-name verdict cache or ``items()`` saves nothing on a message's few dozen attributes.
    """
    index: dict[str, etree._Element | None] = {}
    seen: dict[str, list[str]] = {}
    ids = frozenset(xmldsig.ID_ATTRIBUTES)
    for el in root.iter(etree.Element):
        for name in el.keys():
            if name in ids or (name[0] == "{" and name[name.rfind("}") + 1:] in ids):
                value = el.get(name)
                seen.setdefault(value, []).append(name)
                index[value] = None if value in index else el
    return index, {v: names for v, names in seen.items() if len(names) > 1}


def _covered(targets: list[etree._Element | None], element: etree._Element) -> bool:
    """Does a verified reference to one of ``targets`` cover ``element`` (the element itself or a descendant)?"""
    node: etree._Element | None = element
    while node is not None:
        if any(node is target for target in targets):
            return True
        node = node.getparent()
    return False


def _resolve_key(sig: etree._Element, sec: etree._Element, ids: dict[str, etree._Element | None],
                 assertions: list[etree._Element], problems: list[WssProblem]
                 ) -> tuple[str | None, x509.Certificate | None, etree._Element | None]:
    str_el = sig.find(_KEYINFO_STR)
    if str_el is not None:
        ref = str_el.find(_REFERENCE)
        kid = str_el.find(_KEY_IDENTIFIER)
        if ref is not None:
            target = ids.get((ref.get("URI") or "").removeprefix("#"))
            if target is None or target.tag != _BST or target.getparent() is not sec:
                problems.append(WssProblem("WSS_KEY", "the signing key is not resolvable: the SecurityTokenReference "
                                           "does not point at a BinarySecurityToken of this header"))
                return BST, None, None
            try:
                return BST, saml.certificate_from_b64(target.text or ""), None
            except ValueError:
                problems.append(WssProblem("WSS_KEY", "the BinarySecurityToken is not a certificate"))
                return BST, None, None
        if kid is not None and kid.get("ValueType") == SAML_ASSERTION_ID:
            wanted = saml.text_of(kid)
            matching = [a for a in assertions if a.get("AssertionID") == wanted]
            if len(matching) != 1:
                problems.append(WssProblem("WSS_KEY", f"the signing key is not resolvable: no assertion with "
                                           f"AssertionID {wanted} in the Security header"))
                return SAML_KEY, None, None
            cert = saml.hok_certificate_of(matching[0])
            if cert is None:
                problems.append(WssProblem("WSS_KEY", "the signing key is not resolvable: the referenced assertion "
                                           "has no holder-of-key certificate"))
            return SAML_KEY, cert, matching[0]
        problems.append(WssProblem("WSS_KEY", "the signing key is not resolvable: unsupported "
                                   "SecurityTokenReference"))
        return None, None, None
    cert_el = sig.find(_X509_CERT)
    if cert_el is not None and (cert_el.text or "").strip():
        try:
            cert = x509.load_der_x509_certificate(base64.b64decode("".join(saml.text_of(cert_el).split())))
            return X509_DATA, cert, None
        except ValueError:
            pass
    problems.append(WssProblem("WSS_KEY", "the signing key is not resolvable: the signature has no usable KeyInfo"))
    return None, None, None


def _time(ts: etree._Element, tag: str) -> datetime:
    found = ts.findall(tag)
    if len(found) != 1:
        raise ValueError("one Created and one Expires are required")
    return parse_utc(saml.text_of(found[0]))


def _parts(envelope: etree._Element, body: etree._Element | None, sec: etree._Element,
           ts: etree._Element | None) -> Iterable[tuple[str, etree._Element | None]]:
    yield "Body", body
    yield "Timestamp", ts
    for tag, name in ((_BST, BST), (_USERNAME_TOKEN, "UsernameToken"), (_ASSERTION, "Assertion")):
        found = sec.findall(tag)
        yield name, found[0] if len(found) == 1 else None


def inspect(envelope: etree._Element, *, policy: WssPolicy, now: datetime | None = None) -> WssReport:
    """Every problem of ``envelope`` under ``policy``; ``now`` also judges the Timestamp's freshness."""
    if envelope.tag != _ENVELOPE:
        raise SecurityError("not a SOAP 1.1 envelope", code="WSS_NOT_SOAP")
    scan = _Scan.of(envelope)
    problems = shape_problems(envelope, _scan=scan)
    body = envelope.find(_BODY)
    secs = scan.found[_SECURITY]
    header = envelope.find(_HEADER)
    sec = secs[0] if len(secs) == 1 and header is not None and secs[0].getparent() is header else None

    def report(**kw: object) -> WssReport:
        base: dict[str, object] = dict(envelope=envelope, body=body, security=sec, timestamp=None, created=None,
                                       expires=None, signature=None, signature_report=None, key_source=None,
                                       signer_certificate=None, assertion=None, signed=frozenset(),
                                       problems=tuple(problems))
        base.update(kw)
        return WssReport(**base)  # type: ignore[arg-type]

    if sec is None:
        problems.append(WssProblem("WSS_SECURITY", "no wsse:Security header" if not secs else
                                   "exactly one wsse:Security header, child of soap:Header, is allowed"))
        return report()
    stamps = scan.found[_TIMESTAMP]
    ts = stamps[0] if len(stamps) == 1 and stamps[0].getparent() is sec else None
    created = expires = None
    if ts is None:
        problems.append(WssProblem("WSS_TIMESTAMP", "no wsu:Timestamp in the Security header" if not stamps else
                                   "exactly one wsu:Timestamp, child of wsse:Security, is allowed"))
    else:
        try:
            created, expires = _time(ts, _CREATED), _time(ts, _EXPIRES)
        except (ValueError, SecurityError):
            problems.append(WssProblem("WSS_TIMESTAMP", "the Timestamp has no valid Created/Expires"))
    if created is not None and expires is not None:
        if expires < created:
            problems.append(WssProblem("WSS_TIMESTAMP", "the Timestamp expires before it is created"))
        elif now is not None:
            if created > now + policy.skew:
                problems.append(WssProblem("WSS_TIMESTAMP_FUTURE", f"wsu:Timestamp not fresh at {utc_ms(now)}: it is "
                                           f"created {utc_ms(created)}, in the future (clock skew)"))
            elif expires <= now - policy.skew:
                problems.append(WssProblem("WSS_TIMESTAMP_EXPIRED", f"wsu:Timestamp not fresh at {utc_ms(now)}: it has "
                                           f"expired at {utc_ms(expires)} (replayed or delayed message)"))
    assertions = sec.findall(_ASSERTION)
    if len(assertions) > 1:
        problems.append(WssProblem("WSS_ASSERTION", "more than one SAML assertion in the Security header"))
    sigs = sec.findall(_SIGNATURE)
    if len(sigs) != 1:
        problems.append(WssProblem("WSS_SIGNATURE", "no ds:Signature in the Security header" if not sigs else
                                   "more than one ds:Signature in the Security header"))
        return report(timestamp=ts, created=created, expires=expires)
    sig = sigs[0]
    ids, duplicates = scan.ids, scan.duplicates
    key_source, cert, assertion = _resolve_key(sig, sec, ids, assertions, problems)
    if key_source is not None and key_source not in policy.key_sources:
        problems.append(WssProblem("WSS_KEY", f"a {key_source} key is not accepted here "
                                   f"(expected {', '.join(sorted(policy.key_sources))})"))
    public_key = cert.public_key() if cert is not None else None  # kept parsed by the certificate object
    result = xmldsig.verify(sig, public_key=public_key, ids=ids, allow_sha1=policy.allow_sha1)  # type: ignore[arg-type]
    for ref in result.references:
        if ref.uri.removeprefix("#") in duplicates:
            problems.append(WssProblem("WSS_DUPLICATE_ID", f"signed reference {ref.uri} is ambiguous: the Id "
                                       "appears more than once"))
        elif not ref.ok:
            problems.append(WssProblem("WSS_REFERENCE", f"signed reference {ref.uri} fails: {ref.reason}"))
    if result.value_ok is False:
        problems.append(WssProblem("WSS_SIGNATURE", f"the signature does not verify: {result.reason}"))
    if not result.references:
        problems.append(WssProblem("WSS_REFERENCE", "the signature has no reference"))
    targets = [ids.get(r.uri.removeprefix("#")) if r.uri else envelope for r in result.references if r.ok]
    signed = frozenset(name for name, part in _parts(envelope, body, sec, ts)
                       if part is not None and _covered(targets, part))
    missing = policy.required - signed
    if missing:
        problems.append(WssProblem("WSS_COVERAGE", f"the signature does not cover {', '.join(sorted(missing))} "
                                   "(in place: a signed copy elsewhere does not count)"))
    return report(timestamp=ts, created=created, expires=expires, signature=sig, signature_report=result,
                  key_source=key_source, signer_certificate=cert, assertion=assertion, signed=signed)
