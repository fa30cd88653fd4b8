"""Small CMS helpers shared by ETK and ETEE: verify a SignedData signer with asn1crypto + cryptography.

``cryptography`` builds CMS but cannot verify it (no public API), so SignedData is parsed with asn1crypto
and each signer checked by hand: over the content when there are no signed attributes, else over the DER of
the signed attributes after checking their ``messageDigest`` (both forms exist at eHealth).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from functools import lru_cache

import attrs
from asn1crypto import algos, cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from ..errors import SecurityError

_HASHES = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


@attrs.frozen
class SignerCheck:
    """The outcome of checking one CMS signer."""

    certificate: x509.Certificate | None
    digest_algorithm: str
    signature_algorithm: str
    signed_attributes: bool
    weak: bool


@lru_cache(maxsize=256)
def _load_certificate(der: bytes) -> x509.Certificate:
    # The same signer certificates come with every message; x509.Certificate is immutable.
    return x509.load_der_x509_certificate(der)


@lru_cache(maxsize=256)
def issuer_der(cert: x509.Certificate) -> bytes:
    return cert.issuer.public_bytes()


def certificates_of(signed: cms.SignedData) -> list[x509.Certificate]:
    out = []
    for choice in signed["certificates"] or []:
        if choice.name == "certificate":
            out.append(_load_certificate(choice.chosen.dump()))
    return out


def _matches(cert: x509.Certificate, sid: cms.SignerIdentifier) -> bool:
    if sid.name == "issuer_and_serial_number":
        ias = sid.chosen
        return cert.serial_number == ias["serial_number"].native and issuer_der(cert) == ias["issuer"].dump()
    try:
        ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return False
    return ski == sid.chosen.native


def verify_signer(
    signed: cms.SignedData,
    content: bytes,
    *,
    candidates: Sequence[x509.Certificate] = (),
    allow_sha1: bool = True,
    what: str = "CMS message",
) -> SignerCheck:
    """Verify the (single) signer of ``signed`` over ``content``; return what was checked."""
    infos = list(signed["signer_infos"])
    if len(infos) != 1:
        raise SecurityError(f"{what}: expected one signer, found {len(infos)}", code="CMS_SIGNERS")
    info = infos[0]
    pool = [*certificates_of(signed), *candidates]
    cert = next((c for c in pool if _matches(c, info["sid"])), None)
    cert = _chosen_certificate(cert, candidates, what)
    digest_name = info["digest_algorithm"]["algorithm"].native
    _check_digest(digest_name, allow_sha1, what)
    signed_attrs = info["signed_attrs"]
    if signed_attrs.native is not None and len(signed_attrs):
        digest = None
        for attr in signed_attrs:
            if attr["type"].native == "message_digest":
                digest = attr["values"][0].native
        h = hashlib.new(digest_name, content).digest()
        if digest != h:
            raise SecurityError(f"{what}: messageDigest does not match the content", code="CMS_DIGEST")
        to_verify = signed_attrs.untag().dump(force=True)
        # The signature covers the attributes encoded as an explicit SET OF (tag 0x31).
        to_verify = b"\x31" + to_verify[1:]
        has_attrs = True
    else:
        to_verify = content
        has_attrs = False
    sig_algo = info["signature_algorithm"]
    sig_name = sig_algo["algorithm"].native

    def pss_params() -> tuple[str, int]:
        params = sig_algo["parameters"]
        return params["hash_algorithm"]["algorithm"].native, params["salt_length"].native

    _verify_value(cert, info["signature"].native, to_verify, digest_name, sig_name, pss_params, what)
    return SignerCheck(
        certificate=cert,
        digest_algorithm=digest_name,
        signature_algorithm=sig_name,
        signed_attributes=has_attrs,
        weak=digest_name == "sha1",
    )


def _chosen_certificate(cert: x509.Certificate | None, candidates: Sequence[x509.Certificate],
                        what: str) -> x509.Certificate:
    if cert is None and candidates:
        cert = candidates[0]  # inner seal layer carries no certificate: tied to the outer signer
    if cert is None:
        raise SecurityError(f"{what}: signer certificate not found", code="CMS_SIGNER_UNKNOWN")
    return cert


def _check_digest(digest_name: str, allow_sha1: bool, what: str) -> None:
    if digest_name not in _HASHES:
        raise SecurityError(f"{what}: unsupported digest {digest_name}", code="CMS_ALGORITHM")
    if digest_name == "sha1" and not allow_sha1:
        raise SecurityError(f"{what}: SHA-1 signature refused", code="CMS_WEAK_ALGORITHM")


@lru_cache(maxsize=256)
def _public_key(cert: x509.Certificate) -> object:
    return cert.public_key()


def _verify_value(cert: x509.Certificate, sig: bytes, to_verify: bytes, digest_name: str, sig_name: str,
                  pss_params: Callable[[], tuple[str, int]], what: str) -> None:
    hash_cls = _HASHES[digest_name]
    key = _public_key(cert)
    try:
        if isinstance(key, rsa.RSAPublicKey):
            if sig_name == "rsassa_pss":
                pss_hash_name, salt = pss_params()
                pss_hash = _HASHES[pss_hash_name]
                key.verify(sig, to_verify, padding.PSS(padding.MGF1(pss_hash()), salt), pss_hash())
            else:
                key.verify(sig, to_verify, padding.PKCS1v15(), hash_cls())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(sig, to_verify, ec.ECDSA(hash_cls()))
        else:
            raise SecurityError(f"{what}: unsupported signer key", code="CMS_ALGORITHM")
    except InvalidSignature:
        raise SecurityError(f"{what}: signature does not verify", code="CMS_SIGNATURE") from None


# --- fast path: strict DER walk of the common SignedData shape ------------------------------------------
# asn1crypto's lazy object model costs ~1-2 ms per message to reach the signer; the sealed messages of
# every consultation have one fixed shape (DER, embedded ``data`` content, one signer without signed
# attributes). That shape is read directly; anything else (BER, signed attributes, several signers, other
# content types, trailing bytes) falls back to the asn1crypto path above, which keeps its exact messages.

_OID_DATA = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x01"
_OID_SIGNED_DATA = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02"


class _NotFast(Exception):
    pass


def _tlv(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the DER element at ``pos``; _NotFast on anything unusual."""
    if pos + 2 > end:
        raise _NotFast
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise _NotFast  # high tag numbers never occur here
    first = buf[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > end:
            raise _NotFast  # indefinite length (BER) or absurd
        length = int.from_bytes(buf[pos : pos + count], "big")
        pos += count
    if pos + length > end:
        raise _NotFast
    return tag, pos, pos + length


@attrs.frozen
class _FastSigner:
    content: bytes
    certificates: tuple[bytes, ...]
    sid_issuer: bytes | None
    sid_serial: int | None
    sid_ski: bytes | None
    digest_algorithm: bytes
    signature_algorithm: bytes
    signature: bytes


def _content_info(der: bytes, oid: bytes) -> tuple[int, int] | None:
    """(start, end) of the [0] content of a DER ContentInfo whose contentType is ``oid``; None when
    the bytes are not exactly that shape (the fast readers then leave it to asn1crypto)."""
    tag, start, end = _tlv(der, 0, len(der))
    if tag != 0x30 or end != len(der):
        return None
    _tag, _s, e = _tlv(der, start, end)
    if der[start:e] != oid:
        return None
    tag, s, e0 = _tlv(der, e, end)
    if tag != 0xA0 or e0 != end:
        return None
    return s, e0


def _parse_fast(der: bytes) -> _FastSigner:
    """Read the SignedData fields the verifier needs straight from the DER (``_NotFast``: use asn1crypto).

    Long because: one linear walk over the DER of a SignedData, field after field in the order of RFC 5652;
    any surprise falls back to asn1crypto (issue 13 property 6 removes this path).
    """
    body = _content_info(der, _OID_SIGNED_DATA)
    if body is None:
        raise _NotFast
    tag, pos, sd_end = _tlv(der, *body)
    if tag != 0x30 or sd_end != body[1]:
        raise _NotFast
    tag, _s, pos = _tlv(der, pos, sd_end)  # version
    if tag != 0x02:
        raise _NotFast
    tag, _s, pos = _tlv(der, pos, sd_end)  # digestAlgorithms
    if tag != 0x31:
        raise _NotFast
    tag, s, encap_end = _tlv(der, pos, sd_end)
    if tag != 0x30:
        raise _NotFast
    pos = encap_end
    tag, s2, e2 = _tlv(der, s, encap_end)
    if der[s:e2] != _OID_DATA:
        raise _NotFast
    tag, s3, e3 = _tlv(der, e2, encap_end)
    if tag != 0xA0 or e3 != encap_end:
        raise _NotFast
    tag, s4, e4 = _tlv(der, s3, e3)
    if tag != 0x04 or e4 != e3:
        raise _NotFast
    content = der[s4:e4]
    certificates: list[bytes] = []
    tag, s, e = _tlv(der, pos, sd_end)
    if tag == 0xA0:
        cpos = s
        while cpos < e:
            ctag, _cs, ce = _tlv(der, cpos, e)
            if ctag == 0x30:
                certificates.append(der[cpos:ce])
            cpos = ce
        pos = e
        tag, s, e = _tlv(der, pos, sd_end)
    if tag == 0xA1:  # crls
        pos = e
        tag, s, e = _tlv(der, pos, sd_end)
    if tag != 0x31 or e != sd_end:
        raise _NotFast
    tag, pos, si_end = _tlv(der, s, e)
    if tag != 0x30 or si_end != e:
        raise _NotFast  # zero or several signers: the asn1crypto path reports it
    tag, _s, pos = _tlv(der, pos, si_end)  # version
    if tag != 0x02:
        raise _NotFast
    tag, s, sid_end = _tlv(der, pos, si_end)
    sid_issuer = sid_ski = None
    sid_serial = None
    if tag == 0x30:
        ntag, _ns, ne = _tlv(der, s, sid_end)
        if ntag != 0x30:
            raise _NotFast
        itag, is_, ie = _tlv(der, ne, sid_end)
        if itag != 0x02 or ie != sid_end:
            raise _NotFast
        sid_issuer = der[s:ne]
        sid_serial = int.from_bytes(der[is_:ie], "big", signed=True)
    elif tag == 0x80:
        sid_ski = der[s:sid_end]
    else:
        raise _NotFast
    pos = sid_end
    tag, _s, e = _tlv(der, pos, si_end)
    if tag != 0x30:
        raise _NotFast
    digest_algorithm = der[pos:e]
    pos = e
    tag, _s, e = _tlv(der, pos, si_end)
    if tag != 0x30:
        raise _NotFast  # signed attributes ([0]) or something unexpected
    signature_algorithm = der[pos:e]
    tag, s, e = _tlv(der, e, si_end)
    if tag != 0x04:
        raise _NotFast
    signature = der[s:e]
    if e != si_end:
        tag, _s, e = _tlv(der, e, si_end)
        if tag != 0xA1 or e != si_end:
            raise _NotFast
    return _FastSigner(content, tuple(certificates), sid_issuer, sid_serial, sid_ski, digest_algorithm,
                       signature_algorithm, signature)


@lru_cache(maxsize=64)
def _digest_name(der: bytes) -> str:
    return str(algos.DigestAlgorithm.load(der)["algorithm"].native)


@lru_cache(maxsize=64)
def _signature_algorithm(der: bytes) -> str:
    return str(algos.SignedDigestAlgorithm.load(der)["algorithm"].native)


@lru_cache(maxsize=64)
def _pss_parameters(der: bytes) -> tuple[str, int]:
    # read only when the key is RSA and the algorithm RSASSA-PSS, as verify_signer does
    params = algos.SignedDigestAlgorithm.load(der)["parameters"]
    return params["hash_algorithm"]["algorithm"].native, params["salt_length"].native


@lru_cache(maxsize=256)
def _subject_key_id(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None


def open_signed(
    der: bytes,
    *,
    what: str,
    signer_what: str,
    candidates: Sequence[x509.Certificate] = (),
    allow_sha1: bool = True,
) -> tuple[bytes, SignerCheck]:
    """``signed_data`` + ``verify_signer`` in one step: the embedded content and its checked signer.

    Same results and errors as the two calls (``what`` names the structure, ``signer_what`` the signature).
    """
    try:
        fast = _parse_fast(der)
    except _NotFast:
        signed, content = signed_data(der, what=what)
        return content, verify_signer(signed, content, candidates=candidates, allow_sha1=allow_sha1,
                                      what=signer_what)
    pool = [*(_load_certificate(c) for c in fast.certificates), *candidates]
    if fast.sid_issuer is not None:
        cert = next((c for c in pool if c.serial_number == fast.sid_serial and issuer_der(c) == fast.sid_issuer),
                    None)
    else:
        cert = next((c for c in pool if _subject_key_id(c) == fast.sid_ski), None)
    cert = _chosen_certificate(cert, candidates, signer_what)
    digest_name = _digest_name(fast.digest_algorithm)
    _check_digest(digest_name, allow_sha1, signer_what)
    sig_name = _signature_algorithm(fast.signature_algorithm)
    _verify_value(cert, fast.signature, fast.content, digest_name, sig_name,
                  lambda: _pss_parameters(fast.signature_algorithm), signer_what)
    check = SignerCheck(certificate=cert, digest_algorithm=digest_name, signature_algorithm=sig_name,
                        signed_attributes=False, weak=digest_name == "sha1")
    return fast.content, check


def signed_data(der: bytes, *, what: str) -> tuple[cms.SignedData, bytes]:
    """Parse a ContentInfo(SignedData) and return it with its embedded content."""
    try:
        info = cms.ContentInfo.load(der)
        if info["content_type"].native != "signed_data":
            raise ValueError("not SignedData")
        signed = info["content"]
        content = signed["encap_content_info"]["content"].native
    except (ValueError, TypeError, KeyError) as exc:
        raise SecurityError(f"{what} is not a CMS SignedData structure ({exc})", code="CMS_MALFORMED") from None
    if content is None:
        raise SecurityError(f"{what} has no embedded content", code="CMS_MALFORMED")
    return signed, content


_OID_ENVELOPED_DATA = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x03"


def ktri_recipients_fast(der: bytes) -> list[tuple[bytes, int]] | None:
    """(issuer DER, serial) of each key-transport recipient named by issuer and serial number in a DER
    ContentInfo(EnvelopedData); None when the message is not of that plain shape (use asn1crypto then)."""
    try:
        body = _content_info(der, _OID_ENVELOPED_DATA)
        if body is None:
            return None
        tag, pos, ed_end = _tlv(der, *body)
        if tag != 0x30:
            return None
        tag, _s, pos = _tlv(der, pos, ed_end)  # version
        if tag != 0x02:
            return None
        tag, s, e = _tlv(der, pos, ed_end)
        if tag == 0xA0:  # originatorInfo
            tag, s, e = _tlv(der, e, ed_end)
        if tag != 0x31:
            return None
        out: list[tuple[bytes, int]] = []
        rpos = s
        while rpos < e:
            rtag, rs, re_ = _tlv(der, rpos, e)
            rpos = re_
            if rtag != 0x30:
                continue  # not a KeyTransRecipientInfo
            vtag, _vs, ve = _tlv(der, rs, re_)
            if vtag != 0x02:
                return None
            itag, is_, ie = _tlv(der, ve, re_)
            if itag != 0x30:
                continue  # subjectKeyIdentifier form
            ntag, _ns, ne = _tlv(der, is_, ie)
            stag, ss, se = _tlv(der, ne, ie)
            if ntag != 0x30 or stag != 0x02 or se != ie:
                return None
            out.append((der[is_:ne], int.from_bytes(der[ss:se], "big", signed=True)))
        return out
    except _NotFast:
        return None


def issued_by(cert: x509.Certificate, anchor: x509.Certificate) -> bool:
    """Whether ``cert`` is ``anchor`` itself or directly signed by it (one step of a chain check)."""
    if cert == anchor:
        return True
    if cert.issuer != anchor.subject:
        return False
    try:
        cert.verify_directly_issued_by(anchor)
        return True
    except Exception:  # noqa: BLE001 - any failure means "not issued by this anchor"
        return False
