"""Load an eHealth PKCS#12 keystore and keep every key in it.

``cryptography.load_pkcs12`` verifies the MAC and returns the certificates but only the *first* private
key, so the key bags are walked with asn1crypto and decrypted one by one (``auth-crypto.md`` §4.3). Keys
are paired with certificates by public key. The entry aliased ``authentication`` signs WS-Security,
holder-of-key and CMS messages; the others are encryption (ETK) keys, kept all so old messages can still be
unsealed. Every problem is reported before anything is sent, without the password in the message.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

import attrs
from asn1crypto import pkcs12 as a_pkcs12
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12

from ..errors import ConfigError
from ..timeutil import as_utc, utc_now

AUTH_ALIAS = "authentication"
EXPIRY_WARNING_DAYS = 30


class KeystoreError(ConfigError):
    """The keystore can't be used: wrong password, missing entry, expired or not yet valid certificate."""

    default_code = "KEYSTORE"


@attrs.frozen
class KeyEntry:
    """A private key with its certificate and issuer chain (leaf first, then CAs found in the file)."""

    alias: str
    private_key: PrivateKeyTypes = attrs.field(repr=False)
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()


    @property
    def key_type(self) -> str:
        """``rsa`` or ``ec`` — decides the XML-DSig and CMS signature algorithms."""
        return "ec" if isinstance(self.private_key, ec.EllipticCurvePrivateKey) else "rsa"


def _public_der(key: object) -> bytes:
    return key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _utc(now: datetime | None) -> datetime:
    return as_utc(now) if now is not None else utc_now()


def _build_chain(leaf: x509.Certificate, pool: Iterable[x509.Certificate]) -> tuple[x509.Certificate, ...]:
    pool = list(pool)
    chain: list[x509.Certificate] = []
    current = leaf
    for _ in range(8):
        if current.issuer == current.subject:
            break
        issuer = next((c for c in pool if c.subject == current.issuer and c is not current), None)
        if issuer is None or issuer in chain:
            break
        chain.append(issuer)
        current = issuer
    return tuple(chain)


@attrs.frozen
class Keystore:
    """The eHealth keystore of one professional or organisation."""

    path: Path | None
    authentication: KeyEntry
    encryption_keys: tuple[KeyEntry, ...]
    certificates: tuple[x509.Certificate, ...] = attrs.field(repr=False, default=())

    @classmethod
    def load(cls, path: Path, password: str, *, now: datetime | None = None) -> Keystore:
        """Read and check the keystore at ``path`` (clear error when unusable)."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise KeystoreError(
                f"cannot read the keystore {path}: {exc.strerror}",
                hint="check the keystore path in the configuration",
            ) from None
        return cls.from_bytes(data, password, path=path, now=now)

    @classmethod
    def from_bytes(
        cls, data: bytes, password: str, *, path: Path | None = None, now: datetime | None = None
    ) -> Keystore:
        where = str(path) if path else "keystore"
        pw = password.encode("utf-8") if password is not None else None
        try:
            loaded = pkcs12.load_pkcs12(data, pw)
        except ValueError:
            raise KeystoreError(
                f"cannot open {where}: wrong password or not a PKCS#12 file",
                code="KEYSTORE_PASSWORD",
                hint="check the keystore password environment variable and that the file is the eHealth .p12",
            ) from None
        certs: list[tuple[x509.Certificate, str | None]] = []
        if loaded.cert is not None:
            certs.append((loaded.cert.certificate, _name(loaded.cert.friendly_name)))
        certs += [(c.certificate, _name(c.friendly_name)) for c in loaded.additional_certs]
        keys = _walk_keys(data, pw)
        if not keys and loaded.key is not None:
            keys = [(None, loaded.key)]
        entries: list[KeyEntry] = []
        pool = [c for c, _ in certs]
        for alias, key in keys:
            pub = _public_der(key.public_key())
            match = [(c, n) for c, n in certs if _public_der(c.public_key()) == pub]
            if not match:
                raise KeystoreError(f"{where}: a private key has no matching certificate", code="KEYSTORE_CERT")
            cert, cert_alias = match[0]
            entries.append(
                KeyEntry(
                    alias=alias or cert_alias or str(cert.serial_number),
                    private_key=key,
                    certificate=cert,
                    chain=_build_chain(cert, pool),
                )
            )
        auth = [e for e in entries if e.alias.lower() == AUTH_ALIAS]
        if not auth:
            # No explicit alias: the certificate with digitalSignature that is not self-issued-by-owner
            # (eHealth encryption certs have issuer == subject and keyEncipherment only).
            auth = [e for e in entries if _has_digital_signature(e.certificate)]
            if not auth:
                raise KeystoreError(
                    f"{where} has no '{AUTH_ALIAS}' entry",
                    code="KEYSTORE_ALIAS",
                    hint="use the eHealth keystore produced by the eHealth certificate manager",
                )
        authentication = auth[0]
        encryption = tuple(e for e in entries if e is not authentication)
        store = cls(path=path, authentication=authentication, encryption_keys=encryption, certificates=tuple(pool))
        store.check_validity(now)
        return store

    def check_validity(self, now: datetime | None = None) -> None:
        """Refuse an authentication certificate outside its validity period."""
        now = _utc(now)
        cert = self.authentication.certificate
        if now < cert.not_valid_before_utc:
            raise KeystoreError(
                f"the authentication certificate is not valid before {cert.not_valid_before_utc.isoformat()}",
                code="KEYSTORE_NOT_YET_VALID",
                hint="check the computer clock",
            )
        if now >= cert.not_valid_after_utc:
            raise KeystoreError(
                f"the authentication certificate expired on {cert.not_valid_after_utc.isoformat()}",
                code="KEYSTORE_EXPIRED",
                hint="renew the eHealth certificate with the eHealth certificate manager",
            )

    def expiry_warning(self, now: datetime | None = None) -> str | None:
        """A warning text when the authentication certificate expires within 30 days."""
        now = _utc(now)
        left = self.authentication.certificate.not_valid_after_utc - now
        if left <= timedelta(days=EXPIRY_WARNING_DAYS):
            days = max(0, left.days)
            return (
                f"the eHealth authentication certificate expires in {days} day(s) "
                f"({self.authentication.certificate.not_valid_after_utc.date().isoformat()}); renew it now"
            )
        return None

    def encryption_key_for(self, certificate: x509.Certificate) -> KeyEntry | None:
        """The encryption entry whose certificate is ``certificate`` (or has the same public key)."""
        pub = _public_der(certificate.public_key())
        for entry in (*self.encryption_keys, self.authentication):
            if _public_der(entry.certificate.public_key()) == pub:
                return entry
        return None

    @property
    def all_keys(self) -> tuple[KeyEntry, ...]:
        return (self.authentication, *self.encryption_keys)


def _name(raw: bytes | None) -> str | None:
    return raw.decode("utf-8", "replace") if raw else None


def _has_digital_signature(cert: x509.Certificate) -> bool:
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return bool(ku.digital_signature) and cert.issuer != cert.subject


def _walk_keys(data: bytes, password: bytes | None) -> list[tuple[str | None, PrivateKeyTypes]]:
    """Every shrouded key bag in the PFX, decrypted, with its friendly name."""
    out: list[tuple[str | None, PrivateKeyTypes]] = []
    pfx = a_pkcs12.Pfx.load(data)
    auth_safe = pfx["auth_safe"]
    if auth_safe["content_type"].native != "data":
        return out
    for info in a_pkcs12.AuthenticatedSafe.load(auth_safe["content"].native):
        if info["content_type"].native != "data":
            continue  # encrypted_data holds certificates (legacy RC2/3DES); load_pkcs12 gave them to us
        contents = a_pkcs12.SafeContents.load(info["content"].native)
        for bag in contents:
            kind = bag["bag_id"].native
            if kind not in ("pkcs8_shrouded_key_bag", "key_bag"):
                continue
            alias = None
            for attr in bag["bag_attributes"]:
                if attr["type"].native == "friendly_name":
                    alias = attr["values"][0].native
            der = bag["bag_value"].untag().dump()
            try:
                if kind == "key_bag":
                    key = serialization.load_der_private_key(der, None)
                else:
                    key = serialization.load_der_private_key(der, password)
            except (ValueError, TypeError):
                raise KeystoreError(
                    "a private key in the keystore cannot be decrypted with the keystore password",
                    code="KEYSTORE_PASSWORD",
                ) from None
            if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
                continue
            out.append((alias, key))
    return out


__all__ = ["AUTH_ALIAS", "KeyEntry", "Keystore", "KeystoreError"]
