"""ETK (eHealth encryption token): a CMS SignedData by the ETK-RA wrapping the owner's encryption cert.

Parsing keeps the encryption certificate (what a sender seals to) and the owner's authentication cert (the
encryption cert is issued by it, RFC 3820 "proxy" style). Nothing is sealed to an ETK before
:meth:`Etk.verify_for` has checked the RA signature, the owner's chain to the configured trust anchors and
the owner's identity against what was asked of the depot (``auth-crypto.md`` §5.1: some connectors skip
this; a hostile depot answer would otherwise get the patient's data sealed to an attacker's key). Also the
ETK depot client, which follows up ``MatchingEtk`` answers the way the official connector does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from functools import lru_cache

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs7
from lxml import etree

from ..errors import MalformedResponseError, SecurityError
from . import chain, cmsutil
from .identity import identity_of

ETKDEPOT_NS = "urn:be:fgov:ehealth:etkdepot:1_0:protocol"
# GetEtkResponse extends eHealth commons 1.0 ResponseType: its Status is commons core 1.0 (unqualified
# Code/Message), not an "etkdepot core" namespace (ehealth-etkdepot-schema-protocol-1_0.xsd).
ETKDEPOT_CORE_NS = "urn:be:fgov:ehealth:commons:1_0:core"
MAX_CHAIN = 4  # intermediate CAs between an owner certificate and a configured anchor


@attrs.frozen
class Etk:
    """A parsed ETK: encryption certificate, owner's authentication certificate, and the bundle."""

    raw: bytes = attrs.field(repr=False)
    certificate: x509.Certificate
    auth_certificate: x509.Certificate | None
    signer_certificate: x509.Certificate | None
    certificates: tuple[x509.Certificate, ...] = attrs.field(repr=False, default=())

    @classmethod
    def parse(cls, der: bytes) -> Etk:
        """Parse the DER of an ETK (raises SecurityError when it is not one).

        The same few ETKs arrive with every sealed exchange (the reply-to ETK of each request), so parsed
        ETKs are kept by their exact bytes: an Etk is immutable and parsing is a pure function of the DER.
        """
        if cls is Etk:
            return _parse_cached(bytes(der))
        return cls._parse(der)

    @classmethod
    def _parse(cls, der: bytes) -> Etk:
        signed, content = cmsutil.signed_data(der, what="ETK")
        try:
            enc = x509.load_der_x509_certificate(content)
        except ValueError:
            raise SecurityError("ETK content is not a certificate", code="ETK_MALFORMED") from None
        certs = cmsutil.certificates_of(signed)
        auth = next((c for c in certs if c.subject == enc.issuer and c.serial_number != enc.serial_number), None)
        signer = None
        try:
            signer = cmsutil.verify_signer(signed, content, what="ETK").certificate
        except SecurityError:
            signer = None  # reported by verify(); parse stays lenient so old ETKs can still be inspected
        return cls(raw=bytes(der), certificate=enc, auth_certificate=auth, signer_certificate=signer,
                   certificates=tuple(certs))

    def verify(self, *, trust: Sequence[x509.Certificate] = (), now: datetime | None = None) -> None:
        """Check RA signature (against ``trust`` when given), proxy link and validity."""
        signed, content = cmsutil.signed_data(self.raw, what="ETK")
        check = cmsutil.verify_signer(signed, content, what="ETK")
        if trust:
            signer = check.certificate
            assert signer is not None
            if not chain.chains_to(signer, trust, pool=self.certificates, max_depth=MAX_CHAIN):
                raise SecurityError("ETK signer is not trusted", code="ETK_UNTRUSTED")
        if self.auth_certificate is not None and not chain.signed_by(self.certificate, self.auth_certificate):
            raise SecurityError("ETK encryption certificate is not issued by its owner's key", code="ETK_PROXY")
        now = now or datetime.now(timezone.utc)
        if not (self.certificate.not_valid_before_utc <= now < self.certificate.not_valid_after_utc):
            raise SecurityError("ETK encryption certificate is outside its validity period", code="ETK_EXPIRED")

    def verify_for(self, identifier_type: str, value: str, application_id: str | None = None, *,
                   trust: Sequence[x509.Certificate], now: datetime | None = None) -> None:
        """Everything :meth:`verify` checks, against ``trust`` (required), plus: the owner's authentication
        certificate is present, valid and chains to ``trust``, and it names the identifier asked for.

        Raises SecurityError ``ETK_TRUST`` (no anchor configured), ``ETK_UNTRUSTED``, ``ETK_PROXY``,
        ``ETK_EXPIRED`` or ``ETK_IDENTITY``.
        """
        if not trust:
            raise SecurityError("no trust anchor configured for ETKs: an ETK cannot be checked", code="ETK_TRUST",
                                hint="set [security] etk_trust_anchor to a PEM file with the CA of the ETK-RA "
                                     "certificate and the root of the owners' certificates")
        now = now or datetime.now(timezone.utc)
        self.verify(trust=trust, now=now)
        owner = self.auth_certificate
        if owner is None:
            raise SecurityError("the ETK carries no owner certificate", code="ETK_PROXY")
        if not chain.chains_to(owner, trust, pool=self.certificates, max_depth=MAX_CHAIN):
            raise SecurityError("the ETK owner's certificate is not issued by a trusted CA", code="ETK_UNTRUSTED")
        if not (owner.not_valid_before_utc <= now < owner.not_valid_after_utc):
            raise SecurityError("the ETK owner's certificate is outside its validity period", code="ETK_EXPIRED")
        ident = identity_of(owner)
        wanted_type, wanted = _norm_identifier(identifier_type, value)
        if ident is None or _norm_identifier(ident.identifier_type, ident.identifier) != (wanted_type, wanted):
            found = f"{ident.identifier_type}={ident.identifier}" if ident else "no eHealth identifier"
            raise SecurityError(f"the ETK belongs to {found}, not to {wanted_type}={wanted}", code="ETK_IDENTITY")
        if application_id is not None and (ident.application or "").upper() != application_id.upper():
            raise SecurityError(f"the ETK is of application {ident.application or '(none)'}, not {application_id}",
                                code="ETK_IDENTITY")


def _norm_identifier(identifier_type: str, value: str) -> tuple[str, str]:
    kind = identifier_type.strip().upper()
    v = value.strip()
    if kind in ("CBE", "KBO") and v.isdigit():
        return "CBE", v.zfill(10)
    return kind, v


@lru_cache(maxsize=128)
def _parse_cached(der: bytes) -> Etk:
    return Etk._parse(der)


def build_etk(
    encryption_certificate: x509.Certificate,
    *,
    owner_certificate: x509.Certificate,
    ra_key: PrivateKeyTypes,
    ra_certificate: x509.Certificate,
    extra_certificates: Sequence[x509.Certificate] = (),
) -> bytes:
    """Build an ETK the way the eHealth ETK-RA publishes it (used by the test PKI and the simulator)."""
    content = encryption_certificate.public_bytes(serialization.Encoding.DER)
    builder = pkcs7.PKCS7SignatureBuilder().set_data(content)
    if isinstance(ra_key, rsa.RSAPrivateKey):
        builder = builder.add_signer(ra_certificate, ra_key, hashes.SHA256(), rsa_padding=padding.PKCS1v15())
    elif isinstance(ra_key, ec.EllipticCurvePrivateKey):
        builder = builder.add_signer(ra_certificate, ra_key, hashes.SHA256())
    else:
        raise TypeError("unsupported ETK-RA key")
    for cert in (owner_certificate, *extra_certificates):
        builder = builder.add_certificate(cert)
    return builder.sign(
        serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary, pkcs7.PKCS7Options.NoAttributes]
    )


def build_get_etk_request(identifier_type: str, value: str, application_id: str | None = None) -> etree._Element:
    """``GetEtkRequest/SearchCriteria/Identifier`` body element."""
    root = etree.Element(f"{{{ETKDEPOT_NS}}}GetEtkRequest", nsmap={"etk": ETKDEPOT_NS})
    criteria = etree.SubElement(root, f"{{{ETKDEPOT_NS}}}SearchCriteria")
    ident = etree.SubElement(criteria, f"{{{ETKDEPOT_NS}}}Identifier")
    etree.SubElement(ident, f"{{{ETKDEPOT_NS}}}Type").text = identifier_type
    etree.SubElement(ident, f"{{{ETKDEPOT_NS}}}Value").text = value
    if application_id:
        etree.SubElement(ident, f"{{{ETKDEPOT_NS}}}ApplicationID").text = application_id
    return root


@attrs.frozen
class DepotAnswer:
    """What one GetEtk call returned: the ETK, or the identifiers of several matching ETKs."""

    etk: bytes | None
    matching: tuple[tuple[str, str, str | None], ...]
    status: str


def _depot_call(soap: object, url: str, identifier_type: str, value: str, application_id: str | None,
                run: object | None) -> DepotAnswer:
    import base64

    reply = soap.call(  # type: ignore[attr-defined]
        url, "", build_get_etk_request(identifier_type, value, application_id),
        security=None, idempotent=True, run=run,
    )
    child = reply.body_child
    if child is None or etree.QName(child).localname != "GetEtkResponse":
        raise MalformedResponseError("the ETK depot answer is not a GetEtkResponse", code="ETK_MALFORMED",
                                     origin="EtkDepot")
    status = child.find(f"{{{ETKDEPOT_CORE_NS}}}Status")
    if status is None:
        status = child.find("{*}Status")
    message = ""
    code = ""
    if status is not None:
        code = (status.findtext("Code") or status.findtext("{*}Code") or "").strip()
        message = " ".join(t.strip() for t in status.itertext() if t.strip())
    etks = child.findall(f"{{{ETKDEPOT_NS}}}ETK")
    der = None
    if etks:
        try:
            der = base64.b64decode("".join(etks[0].itertext()), validate=False)
        except ValueError:
            raise MalformedResponseError("ETK depot answered a non-base64 ETK", code="ETK_MALFORMED") from None
    matching: list[tuple[str, str, str | None]] = []
    for match in child.findall(f"{{{ETKDEPOT_NS}}}MatchingEtk"):
        ident = match.find(f"{{{ETKDEPOT_NS}}}Identifier")  # the official connector follows the first one
        if ident is None:
            continue
        matching.append(((ident.findtext(f"{{{ETKDEPOT_NS}}}Type") or "").strip(),
                         (ident.findtext(f"{{{ETKDEPOT_NS}}}Value") or "").strip(),
                         (ident.findtext(f"{{{ETKDEPOT_NS}}}ApplicationID") or "").strip() or None))
    return DepotAnswer(etk=der, matching=tuple(matching), status=message or code)


def _not_found(identifier_type: str, value: str, application_id: str | None, message: str) -> MalformedResponseError:
    return MalformedResponseError(
        f"ETK depot has no ETK for {identifier_type}={value}"
        + (f" (application {application_id})" if application_id else "")
        + (f": {message}" if message else ""),
        code="ETK_NOT_FOUND",
        origin="EtkDepot",
    )


def fetch_etks(
    soap: object,
    url: str,
    identifier_type: str,
    value: str,
    *,
    application_id: str | None = None,
    run: object | None = None,
    max_matches: int = 8,
) -> tuple[Etk, ...]:
    """Fetch the ETK(s) of an identifier from the (unsecured) ETK depot, unverified.

    When the depot answers ``MatchingEtk`` (several ETKs match, e.g. an SSIN with and without an
    application id) each one is fetched with its own identifier, as the official connector does.
    The caller verifies every ETK (:meth:`Etk.verify_for`) before using it.
    """
    answer = _depot_call(soap, url, identifier_type, value, application_id, run)
    if answer.etk is not None:
        return (Etk.parse(answer.etk),)
    if not answer.matching:
        raise _not_found(identifier_type, value, application_id, answer.status)
    if len(answer.matching) > max_matches:
        raise MalformedResponseError(f"the ETK depot answered {len(answer.matching)} matching ETKs (at most "
                                     f"{max_matches} are followed)", code="ETK_MALFORMED", origin="EtkDepot")
    found: list[Etk] = []
    for m_type, m_value, m_app in answer.matching:
        follow = _depot_call(soap, url, m_type or identifier_type, m_value or value, m_app, run)
        if follow.etk is None:  # a matching identifier must name exactly one ETK
            raise _not_found(m_type, m_value, m_app, follow.status or "the matching ETK is not returned")
        found.append(Etk.parse(follow.etk))
    return tuple(found)


def fetch_etk(
    soap: object,
    url: str,
    identifier_type: str,
    value: str,
    *,
    application_id: str | None = None,
    run: object | None = None,
) -> Etk:
    """The first ETK :func:`fetch_etks` finds (unverified: see :meth:`Etk.verify_for`)."""
    return fetch_etks(soap, url, identifier_type, value, application_id=application_id, run=run)[0]
