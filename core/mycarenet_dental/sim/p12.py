"""Build multi-key PKCS#12 files (eHealth keystore shape) without a JDK.

``cryptography`` can only serialise one private key per PKCS#12, while an eHealth keystore holds the
``authentication`` key plus every encryption key ever issued. This writer puts each key in a
PKCS#8-shrouded bag (PBES2/AES-256 from ``cryptography``), every certificate in a cert bag, and adds a
SHA-256 HMAC computed with the RFC 7292 appendix B key derivation.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Sequence

import attrs
from asn1crypto import algos, cms, core, pkcs12
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

MAC_ITERATIONS = 2048


@attrs.frozen
class P12Entry:
    """One private key with its certificate and chain, stored under ``alias``."""

    alias: str
    private_key: PrivateKeyTypes = attrs.field(repr=False)
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()


def pkcs12_kdf(password: str, salt: bytes, ident: int, iterations: int, length: int) -> bytes:
    """RFC 7292 appendix B.2 key derivation with SHA-256 (u=32, v=64)."""
    v = 64  # block size of SHA-256; output size u = 32
    diversifier = bytes([ident]) * v
    pwd = password.encode("utf-16-be") + b"\x00\x00"

    def stretch(data: bytes) -> bytes:
        if not data:
            return b""
        n = v * ((len(data) + v - 1) // v)
        return (data * (n // len(data) + 1))[:n]

    block = stretch(salt) + stretch(pwd)
    out = b""
    while len(out) < length:
        a = diversifier + block
        for _ in range(iterations):
            a = hashlib.sha256(a).digest()
        out += a
        b = int.from_bytes(stretch(a), "big") + 1
        chunks = []
        for i in range(0, len(block), v):
            value = (int.from_bytes(block[i : i + v], "big") + b) % (1 << (8 * v))
            chunks.append(value.to_bytes(v, "big"))
        block = b"".join(chunks)
    return out[:length]


def _attrs(alias: str, local_id: bytes) -> pkcs12.Attributes:
    return pkcs12.Attributes(
        [
            {"type": "friendly_name", "values": [core.BMPString(alias)]},
            {"type": "local_key_id", "values": [core.OctetString(local_id)]},
        ]
    )


def build_pkcs12(entries: Sequence[P12Entry], password: str) -> bytes:
    """Serialise ``entries`` (each key with its certificate and chain) as one PKCS#12 file."""
    bags = []
    seen: set[bytes] = set()
    for entry in entries:
        local_id = hashlib.sha1(entry.certificate.public_bytes(serialization.Encoding.DER)).digest()
        key_der = entry.private_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(password.encode("utf-8")),
        )
        bags.append(
            pkcs12.SafeBag(
                {
                    "bag_id": "pkcs8_shrouded_key_bag",
                    "bag_value": pkcs12.EncryptedPrivateKeyInfo.load(key_der),
                    "bag_attributes": _attrs(entry.alias, local_id),
                }
            )
        )
        for position, cert in enumerate((entry.certificate, *entry.chain)):
            der = cert.public_bytes(serialization.Encoding.DER)
            if der in seen:
                continue
            seen.add(der)
            cert_bag = pkcs12.CertBag({"cert_id": "x509", "cert_value": core.ParsableOctetString(der)})
            bag: dict[str, object] = {"bag_id": "cert_bag", "bag_value": cert_bag}
            if position == 0:
                bag["bag_attributes"] = _attrs(entry.alias, local_id)
            bags.append(pkcs12.SafeBag(bag))
    safe = pkcs12.SafeContents(bags)
    auth_safe = pkcs12.AuthenticatedSafe(
        [cms.ContentInfo({"content_type": "data", "content": core.OctetString(safe.dump())})]
    )
    auth_safe_der = auth_safe.dump()
    salt = os.urandom(16)
    mac_key = pkcs12_kdf(password, salt, 3, MAC_ITERATIONS, 32)
    mac = hmac.new(mac_key, auth_safe_der, hashlib.sha256).digest()
    pfx = pkcs12.Pfx(
        {
            "version": "v3",
            "auth_safe": cms.ContentInfo({"content_type": "data", "content": core.OctetString(auth_safe_der)}),
            "mac_data": {
                "mac": {"digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}), "digest": mac},
                "mac_salt": salt,
                "iterations": MAC_ITERATIONS,
            },
        }
    )
    return pfx.dump()


__all__ = ["P12Entry", "build_pkcs12", "pkcs12_kdf"]
