"""ETK (eHealth encryption token): a CMS SignedData by the ETK-RA wrapping the owner's encryption cert.

Parsing keeps the encryption certificate (what a sender seals to) and the owner's authentication cert (the
encryption cert is issued by it, RFC 3820 "proxy" style). ``Etk.verify`` checks the RA signature against a
configured anchor, which some connectors skip (``auth-crypto.md`` §5.1). Also the ETK depot client.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from functools import lru_cache

import attrs
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs7
from lxml import etree

from ..errors import MalformedResponseError, SecurityError
from . import cmsutil

ETKDEPOT_NS = "urn:be:fgov:ehealth:etkdepot:1_0:protocol"
ETKDEPOT_CORE_NS = "urn:be:fgov:ehealth:etkdepot:1_0:core"


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
            if not any(_issued_by(signer, anchor) or signer == anchor for anchor in trust):
                raise SecurityError("ETK signer is not trusted", code="ETK_UNTRUSTED")
        if self.auth_certificate is not None and not _issued_by(self.certificate, self.auth_certificate):
            raise SecurityError("ETK encryption certificate is not issued by its owner's key", code="ETK_PROXY")
        now = now or datetime.now(timezone.utc)
        if not (self.certificate.not_valid_before_utc <= now < self.certificate.not_valid_after_utc):
            raise SecurityError("ETK encryption certificate is outside its validity period", code="ETK_EXPIRED")


@lru_cache(maxsize=128)
def _parse_cached(der: bytes) -> Etk:
    return Etk._parse(der)


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except (ValueError, TypeError, InvalidSignature):
        return False


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


def fetch_etk(
    soap: object,
    url: str,
    identifier_type: str,
    value: str,
    *,
    application_id: str | None = None,
    run: object | None = None,
) -> Etk:
    """Fetch an ETK from the (unsecured) ETK depot, as in production."""
    import base64

    reply = soap.call(  # type: ignore[attr-defined]
        url, "", build_get_etk_request(identifier_type, value, application_id),
        security=None, idempotent=True, run=run,
    )
    child = reply.body_child
    status = child.find(f".//{{{ETKDEPOT_CORE_NS}}}Status") if child is not None else None
    etks = child.findall(f".//{{{ETKDEPOT_NS}}}ETK") if child is not None else []
    if not etks and child is not None:
        etks = child.findall(".//{*}ETK")
    if not etks:
        message = ""
        if status is not None:
            message = " ".join(t.strip() for t in status.itertext() if t.strip())
        raise MalformedResponseError(
            f"ETK depot has no ETK for {identifier_type}={value}"
            + (f" (application {application_id})" if application_id else "")
            + (f": {message}" if message else ""),
            code="ETK_NOT_FOUND",
            origin="EtkDepot",
        )
    try:
        der = base64.b64decode("".join(etks[0].itertext()), validate=False)
    except ValueError:
        raise MalformedResponseError("ETK depot answered a non-base64 ETK", code="ETK_MALFORMED") from None
    return Etk.parse(der)
