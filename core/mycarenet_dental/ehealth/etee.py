"""ETEE "triple wrap" seal/unseal (``auth-crypto.md`` §5.2).

seal: inner CMS SignedData (no certificate, no attributes, RSA-PSS SHA-256 salt 32 / ECDSA) → EnvelopedData
(AES-128-CBC, RSA key transport to each recipient's ETK certificate) → outer SignedData by the same
sender's authentication key with its certificate embedded.

unseal: verify the outer signature, decrypt with whichever of our encryption keys is a recipient, then verify
the inner signature *with the outer signer's certificate* — tying both layers to one sender. The older form
(SHA-1, PKCS#1 v1.5, signed attributes contentType/signingTime/messageDigest) is accepted on unseal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timezone
from functools import lru_cache

import attrs
from asn1crypto import algos, cms
from asn1crypto import x509 as a_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from ..errors import SecurityError
from . import cmsutil
from .cmsutil import issued_by
from .etk import Etk
from .keystore import KeyEntry

_HASH = {"sha1": hashes.SHA1, "sha256": hashes.SHA256}


@attrs.frozen
class Unsealed:
    """The opened content and who sealed it."""

    content: bytes = attrs.field(repr=False)
    signer_certificate: x509.Certificate
    outer: cmsutil.SignerCheck
    inner: cmsutil.SignerCheck
    recipient: str  # alias of the key that opened it

    @property
    def weak(self) -> bool:
        return self.outer.weak or self.inner.weak


# --- DER building -------------------------------------------------------------------------------------
# Building the SignedData with asn1crypto objects costs ~30 ms per call (object trees, re-encoding the
# certificate); the structure is fixed, so the variable parts (content, signature) are written as DER
# directly around DER fragments computed once per (certificate, digest, signature scheme).

_INT_V1 = b"\x02\x01\x01"
_OID_DATA = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x01"
_OID_SIGNED_DATA = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02"


def _tlv(tag: int, *parts: bytes) -> bytes:
    content = b"".join(parts)
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(raw))) + raw + content


@attrs.frozen
class _SignerParts:
    """DER fragments of a SignerInfo/SignedData that depend only on the certificate and the algorithms."""

    sid: bytes
    digest_algorithm: bytes
    signature_algorithm: bytes
    certificate: bytes


@lru_cache(maxsize=64)
def _signer_parts(cert: x509.Certificate, digest: str, scheme: str) -> _SignerParts:
    cert_der = cert.public_bytes(serialization.Encoding.DER)
    a_cert = a_x509.Certificate.load(cert_der)
    sid = cms.SignerIdentifier(
        "issuer_and_serial_number",
        cms.IssuerAndSerialNumber({"issuer": a_cert.issuer, "serial_number": a_cert.serial_number}),
    )
    if scheme == "pss":
        sig_alg = algos.SignedDigestAlgorithm(
            {
                "algorithm": "rsassa_pss",
                "parameters": algos.RSASSAPSSParams(
                    {
                        "hash_algorithm": {"algorithm": digest},
                        "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": digest}},
                        "salt_length": 32,
                    }
                ),
            }
        )
    elif scheme == "pkcs1":
        sig_alg = algos.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"})
    else:
        sig_alg = algos.SignedDigestAlgorithm({"algorithm": f"{digest}_ecdsa"})
    return _SignerParts(
        sid=sid.dump(),
        digest_algorithm=algos.DigestAlgorithm({"algorithm": digest}).dump(),
        signature_algorithm=sig_alg.dump(),
        certificate=cms.CertificateChoices("certificate", a_cert).dump(),
    )


def signed_data(
    content: bytes,
    key: KeyEntry,
    *,
    digest: str = "sha256",
    pss: bool = True,
    signed_attributes: bool = False,
    include_certificate: bool = True,
    signing_time: datetime | None = None,
) -> bytes:
    """A CMS ContentInfo(SignedData) with embedded content (both eHealth forms), encoded as DER."""
    hash_cls = _HASH[digest]
    private = key.private_key
    if isinstance(private, rsa.RSAPrivateKey):
        scheme = "pss" if pss else "pkcs1"
    elif isinstance(private, ec.EllipticCurvePrivateKey):
        scheme = "ecdsa"
    else:
        raise SecurityError("unsupported key for CMS signatures", code="CMS_ALGORITHM")
    parts = _signer_parts(key.certificate, digest, scheme)
    to_sign = content
    signed_attrs_der = b""
    if signed_attributes:
        attrs_ = cms.CMSAttributes(
            [
                cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
                cms.CMSAttribute(
                    {"type": "signing_time", "values": [cms.Time({"utc_time": signing_time or datetime.now(timezone.utc)})]}
                ),
                cms.CMSAttribute({"type": "message_digest", "values": [hashlib.new(digest, content).digest()]}),
            ]
        )
        to_sign = attrs_.dump()  # signed as an explicit SET OF; carried as [0] IMPLICIT
        signed_attrs_der = b"\xa0" + to_sign[1:]
    if scheme == "pss":
        sig = private.sign(to_sign, padding.PSS(padding.MGF1(hash_cls()), 32), hash_cls())  # type: ignore[union-attr]
    elif scheme == "pkcs1":
        sig = private.sign(to_sign, padding.PKCS1v15(), hash_cls())  # type: ignore[union-attr]
    else:
        sig = private.sign(to_sign, ec.ECDSA(hash_cls()))  # type: ignore[call-arg,union-attr]  # CMS keeps ECDSA in DER
    signer_info = _tlv(0x30, _INT_V1, parts.sid, parts.digest_algorithm, signed_attrs_der,
                       parts.signature_algorithm, _tlv(0x04, sig))
    encap = _tlv(0x30, _OID_DATA, _tlv(0xA0, _tlv(0x04, content)))
    certificates = _tlv(0xA0, parts.certificate) if include_certificate else b""
    sd = _tlv(0x30, _INT_V1, _tlv(0x31, parts.digest_algorithm), encap, certificates, _tlv(0x31, signer_info))
    return _tlv(0x30, _OID_SIGNED_DATA, _tlv(0xA0, sd))


def _recipient_cert(recipient: Etk | x509.Certificate) -> x509.Certificate:
    return recipient.certificate if isinstance(recipient, Etk) else recipient


def seal(
    content: bytes,
    *,
    sender: KeyEntry,
    recipients: Sequence[Etk | x509.Certificate],
    legacy: bool = False,
) -> bytes:
    """Seal ``content`` for ``recipients`` (``legacy=True`` makes the older SHA-1/attributes form, for tests)."""
    if not recipients:
        raise SecurityError("seal needs at least one recipient", code="ETEE_NO_RECIPIENT")
    digest = "sha1" if legacy else "sha256"
    inner = signed_data(content, sender, digest=digest, pss=not legacy, signed_attributes=legacy,
                        include_certificate=False)
    builder = pkcs7.PKCS7EnvelopeBuilder().set_data(inner)
    for recipient in recipients:
        cert = _recipient_cert(recipient)
        if not isinstance(cert.public_key(), rsa.RSAPublicKey):
            # UNSURE (auth-crypto §5.2): EC ETKs would need KeyAgree recipients; not implemented.
            raise SecurityError("only RSA recipient keys (KeyTrans) are supported", code="ETEE_RECIPIENT_KEY")
        if cert.public_key().key_size < 2048:  # type: ignore[union-attr]
            raise SecurityError("recipient RSA keys must be at least 2048 bits", code="ETEE_RECIPIENT_KEY")
        builder = builder.add_recipient(cert)
    enveloped = builder.encrypt(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    return signed_data(enveloped, sender, digest=digest, pss=not legacy, signed_attributes=legacy)


def unseal(
    sealed: bytes,
    *,
    recipient_keys: Sequence[KeyEntry],
    trust: Sequence[x509.Certificate] | None = None,
    allow_sha1: bool = True,
    now: datetime | None = None,
) -> Unsealed:
    """Open a sealed message (see module docstring); raise SecurityError saying which layer failed."""
    enveloped, outer = cmsutil.open_signed(sealed, what="sealed message (outer)", signer_what="outer signature",
                                           allow_sha1=allow_sha1)
    signer = outer.certificate
    assert signer is not None
    if trust is not None:
        if not any(issued_by(signer, anchor) for anchor in trust):
            raise SecurityError("the sender's certificate is not trusted", code="ETEE_UNTRUSTED")
        moment = now or datetime.now(timezone.utc)
        if not (signer.not_valid_before_utc <= moment < signer.not_valid_after_utc):
            raise SecurityError("the sender's certificate is outside its validity", code="ETEE_SIGNER_EXPIRED")
    named = cmsutil.ktri_recipients(enveloped, what="the sealed message")
    chosen: KeyEntry | None = None
    for issuer, serial in named:
        for entry in recipient_keys:
            cert = entry.certificate
            if cert.serial_number == serial and cmsutil.issuer_der(cert) == issuer:
                chosen = entry
                break
        if chosen:
            break
    if chosen is None:
        raise SecurityError(
            "the message is not sealed for any of our encryption keys (old or foreign ETK?)",
            code="ETEE_NOT_RECIPIENT",
            hint="keep every encryption key of the keystore; check the recipient ETK",
        )
    try:
        inner_der = pkcs7.pkcs7_decrypt_der(enveloped, chosen.certificate, chosen.private_key, [])  # type: ignore[arg-type]
    except (ValueError, TypeError):
        raise SecurityError("decryption failed", code="ETEE_DECRYPT") from None
    content, inner = cmsutil.open_signed(inner_der, what="sealed message (inner)", signer_what="inner signature",
                                         candidates=[signer], allow_sha1=allow_sha1)
    if inner.certificate != signer:
        raise SecurityError("inner and outer signers differ", code="ETEE_SIGNER_MISMATCH")
    return Unsealed(content=content, signer_certificate=signer, outer=outer, inner=inner, recipient=chosen.alias)
