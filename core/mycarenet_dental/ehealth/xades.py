"""XAdES-BES over a GenericAsync Blob (``auth-crypto.md`` §5.5), detached, as a standalone ds:Signature.

Reference 1 points at the Blob (``#blob``) with the transforms base64 → ``optional-deflate`` → exc-c14n
(the latter only for ``text/xml``): its digest is SHA-256 of the decoded, inflated business content.
Reference 2 covers ``xades:SignedProperties`` (SigningTime, SigningCertificate digest + issuer/serial).
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone

import attrs
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from lxml import etree

from ..errors import MalformedResponseError, SecurityError
from ..timeutil import parse_utc, utc_ms
from ..xmlsafe import parse_xml
from . import xmldsig
from .chain import issued_by
from .deflate import RAW_DEFLATE, inflate_blob
from .keystore import KeyEntry
from .saml import certificate_from_b64

NS_XADES = "http://uri.etsi.org/01903/v1.3.2#"
BASE64_TRANSFORM = "http://www.w3.org/2000/09/xmldsig#base64"
OPTIONAL_DEFLATE = "urn:nippin:xml:sig:transform:optional-deflate"
SIGNED_PROPERTIES_TYPE = "http://uri.etsi.org/01903#SignedProperties"


def _x(tag: str) -> str:
    return f"{{{NS_XADES}}}{tag}"


#: Bound of the nippin transform's inflation (a whole eFact file fits; a bomb does not).
MAX_DIGEST_INFLATE = 200 * 1024 * 1024


def optional_inflate(data: bytes) -> bytes:
    """Raw-DEFLATE inflate when the octets are deflated, else pass through (nippin transform), bounded."""
    return inflate_blob(data, max_bytes=MAX_DIGEST_INFLATE, formats=RAW_DEFLATE)[0]


def blob_digest_input(blob: bytes, *, content_type: str = "text/plain") -> bytes:
    """What reference 1 digests: inflated content, exc-c14n'ed when it is XML."""
    content = optional_inflate(blob)
    if content_type == "text/xml":
        return xmldsig.c14n(parse_xml(content, what="Blob content"))
    return content


def sign_blob(
    blob: bytes,
    *,
    key: KeyEntry,
    blob_id: str = "blob",
    content_type: str = "text/plain",
    now: datetime | None = None,
) -> bytes:
    """XAdES-BES (serialised ds:Signature) over ``blob`` — the Blob's octets (after base64 decoding)."""
    now = now or datetime.now(timezone.utc)
    sig_id = f"xmldsig-{uuid.uuid4()}"
    props_id = f"{sig_id}-xades-signedprops"
    method = xmldsig.signature_method_for(key.private_key)
    sig = etree.Element(xmldsig.ds("Signature"), nsmap={"ds": xmldsig.NS_DS})
    sig.set("Id", sig_id)
    info = etree.SubElement(sig, xmldsig.ds("SignedInfo"))
    etree.SubElement(info, xmldsig.ds("CanonicalizationMethod")).set("Algorithm", xmldsig.C14N_EXC)
    etree.SubElement(info, xmldsig.ds("SignatureMethod")).set("Algorithm", method)
    ref1 = etree.SubElement(info, xmldsig.ds("Reference"))
    ref1.set("URI", f"#{blob_id}")
    transforms = etree.SubElement(ref1, xmldsig.ds("Transforms"))
    etree.SubElement(transforms, xmldsig.ds("Transform")).set("Algorithm", BASE64_TRANSFORM)
    etree.SubElement(transforms, xmldsig.ds("Transform")).set("Algorithm", OPTIONAL_DEFLATE)
    if content_type == "text/xml":
        etree.SubElement(transforms, xmldsig.ds("Transform")).set("Algorithm", xmldsig.C14N_EXC)
    etree.SubElement(ref1, xmldsig.ds("DigestMethod")).set("Algorithm", xmldsig.DIGEST_SHA256)
    etree.SubElement(ref1, xmldsig.ds("DigestValue")).text = xmldsig.b64(
        hashlib.sha256(blob_digest_input(blob, content_type=content_type)).digest()
    )
    ref2 = etree.SubElement(info, xmldsig.ds("Reference"))
    ref2.set("Type", SIGNED_PROPERTIES_TYPE)
    ref2.set("URI", f"#{props_id}")
    t2 = etree.SubElement(ref2, xmldsig.ds("Transforms"))
    etree.SubElement(t2, xmldsig.ds("Transform")).set("Algorithm", xmldsig.C14N_EXC)
    etree.SubElement(ref2, xmldsig.ds("DigestMethod")).set("Algorithm", xmldsig.DIGEST_SHA256)
    digest2 = etree.SubElement(ref2, xmldsig.ds("DigestValue"))
    value = etree.SubElement(sig, xmldsig.ds("SignatureValue"))
    key_info = etree.SubElement(sig, xmldsig.ds("KeyInfo"))
    x5 = etree.SubElement(key_info, xmldsig.ds("X509Data"))
    for cert in (key.certificate, *key.chain):
        etree.SubElement(x5, xmldsig.ds("X509Certificate")).text = xmldsig.b64(
            cert.public_bytes(serialization.Encoding.DER)
        )
    obj = etree.SubElement(sig, xmldsig.ds("Object"))
    qp = etree.SubElement(obj, _x("QualifyingProperties"), nsmap={"xades": NS_XADES})
    qp.set("Target", f"#{sig_id}")
    props = etree.SubElement(qp, _x("SignedProperties"))
    props.set("Id", props_id)
    ssp = etree.SubElement(props, _x("SignedSignatureProperties"))
    etree.SubElement(ssp, _x("SigningTime")).text = utc_ms(now)
    cert_el = etree.SubElement(etree.SubElement(ssp, _x("SigningCertificate")), _x("Cert"))
    digest_el = etree.SubElement(cert_el, _x("CertDigest"))
    etree.SubElement(digest_el, xmldsig.ds("DigestMethod")).set("Algorithm", xmldsig.DIGEST_SHA256)
    etree.SubElement(digest_el, xmldsig.ds("DigestValue")).text = xmldsig.b64(
        hashlib.sha256(key.certificate.public_bytes(serialization.Encoding.DER)).digest()
    )
    serial = etree.SubElement(cert_el, _x("IssuerSerial"))
    etree.SubElement(serial, xmldsig.ds("X509IssuerName")).text = key.certificate.issuer.rfc4514_string()
    etree.SubElement(serial, xmldsig.ds("X509SerialNumber")).text = str(key.certificate.serial_number)
    digest2.text = xmldsig.b64(hashlib.sha256(xmldsig.c14n(props)).digest())
    value.text = xmldsig.b64(xmldsig.sign_value(key.private_key, xmldsig.c14n(info), method))
    return etree.tostring(sig, encoding="UTF-8", xml_declaration=False)


@attrs.frozen
class XadesCheck:
    signer_certificate: x509.Certificate
    signing_time: datetime
    signature_method: str


def _fail(message: str, code: str = "XADES_INVALID") -> SecurityError:
    return SecurityError(f"XAdES: {message}", code=code)


def verify_blob(
    blob: bytes,
    xades_bytes: bytes,
    *,
    content_type: str = "text/plain",
    trust: Sequence[x509.Certificate] | None = None,
    allow_sha1: bool = False,
) -> XadesCheck:
    """Verify a XAdES-BES produced over ``blob`` (raise SecurityError saying what is wrong)."""
    try:
        sig = parse_xml(xades_bytes, what="XAdES signature")
    except MalformedResponseError as exc:
        raise _fail(exc.message, "XADES_MALFORMED") from None
    if sig.tag != xmldsig.ds("Signature"):
        raise _fail("root element is not ds:Signature", "XADES_MALFORMED")
    info = sig.find(xmldsig.ds("SignedInfo"))
    certs_el = sig.findall(f"{xmldsig.ds('KeyInfo')}/{xmldsig.ds('X509Data')}/{xmldsig.ds('X509Certificate')}")
    props = sig.find(f"{xmldsig.ds('Object')}/{_x('QualifyingProperties')}/{_x('SignedProperties')}")
    if info is None or not certs_el or props is None:
        raise _fail("SignedInfo, KeyInfo certificate and SignedProperties are required", "XADES_MALFORMED")
    certs = [certificate_from_b64(c.text or "") for c in certs_el]  # typed error when not base64 DER
    cert_digest = props.findtext(f".//{_x('CertDigest')}/{xmldsig.ds('DigestValue')}")
    signer = next((c for c in certs if xmldsig.b64(
        hashlib.sha256(c.public_bytes(serialization.Encoding.DER)).digest()) == (cert_digest or "").strip()), None)
    if signer is None:
        raise _fail("SigningCertificate digest matches no certificate of KeyInfo")
    serial_text = props.findtext(f".//{_x('IssuerSerial')}/{xmldsig.ds('X509SerialNumber')}")
    if (serial_text or "").strip() != str(signer.serial_number):
        raise _fail("SigningCertificate serial number does not match")
    signing_time_text = props.findtext(f".//{_x('SigningTime')}")
    if not signing_time_text:
        raise _fail("SigningTime is missing")
    signing_time = parse_utc(signing_time_text)
    refs = info.findall(xmldsig.ds("Reference"))
    props_ok = blob_ok = False
    for ref in refs:
        dm = ref.find(xmldsig.ds("DigestMethod"))
        algo = dm.get("Algorithm", "") if dm is not None else ""
        if algo in xmldsig.WEAK and not allow_sha1:
            raise _fail("SHA-1 digest refused", "XADES_WEAK")
        expected = base64.b64decode("".join((ref.findtext(xmldsig.ds("DigestValue")) or "").split()))
        if ref.get("Type") == SIGNED_PROPERTIES_TYPE:
            if ref.get("URI") != "#" + (props.get("Id") or ""):
                raise _fail("the SignedProperties reference does not point at the SignedProperties")
            if xmldsig.digest(xmldsig.c14n(props), algo) != expected:
                raise _fail("SignedProperties digest mismatch (signing time or certificate changed)")
            props_ok = True
        else:
            if xmldsig.digest(blob_digest_input(blob, content_type=content_type), algo) != expected:
                raise _fail("the Blob digest does not match: the content was changed after signing")
            blob_ok = True
    if not (props_ok and blob_ok):
        raise _fail("both the Blob and the SignedProperties must be referenced")
    method = (info.find(xmldsig.ds("SignatureMethod")).get("Algorithm", ""))  # type: ignore[union-attr]
    if method in xmldsig.WEAK and not allow_sha1:
        raise _fail("SHA-1 signature refused", "XADES_WEAK")
    try:
        value = base64.b64decode("".join((sig.findtext(xmldsig.ds("SignatureValue")) or "").split()))
        xmldsig.verify_value(signer.public_key(), xmldsig.c14n(info), value, method)
    except (InvalidSignature, ValueError, KeyError):
        raise _fail("SignatureValue does not verify") from None
    if not (signer.not_valid_before_utc <= signing_time < signer.not_valid_after_utc):
        raise _fail("the signing certificate was not valid at the signing time", "XADES_CERT_VALIDITY")
    if trust is not None:
        if not any(issued_by(signer, anchor) for anchor in trust):
            raise _fail("the signing certificate is not trusted", "XADES_UNTRUSTED")
    return XadesCheck(signer_certificate=signer, signing_time=signing_time, signature_method=method)


