"""Test PKI for the simulator: a CA, eHealth-style keystores, TLS/STS credentials and MyCareNet's ETK.

Everything is generated fresh (keys are never committed). Subjects follow the eHealth shapes of
``auth-crypto.md`` §4.2/§6.3: a person cert carries ``SSIN=`` in CN and OU, an organisation ``CBE=``; the
NIHII and the profession are *not* in the certificate — the STS certifies them (the simulator reads them
from ``identities.json``). Encryption certs are issued by the owner's authentication key, as eHealth does.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import datetime, timedelta, timezone
from ipaddress import IPv4Address
from pathlib import Path

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..ehealth.etk import build_etk
from .p12 import P12Entry, build_pkcs12

# Identities of the simulated world (valid check digits; see domain.md §1).
DENTIST_SSIN = "85073003328"  # 850730 033 + 97 - (850730033 mod 97)
DENTIST_NIHII = "31234592001"  # dentist (3), base 312345, check 92, qualification 001 (general dentist)
DENTIST_GIVEN_NAME = "Anne"
DENTIST_SURNAME = "SIMULAAR"
MANDATARY_CBE = "0412345614"  # 04123456 + 97 - (4123456 mod 97)
MANDATARY_NAME = "SIM BILLING OFFICE"
MYCARENET_CBE = "0820563481"
MYCARENET_APPLICATION = "MYCARENET"
STS_CBE = "0809394427"
STS_APPLICATION = "SIMSTS"


@attrs.frozen
class PkiPaths:
    """Where :func:`generate_pki` wrote everything, and the identities it used."""

    out_dir: Path
    ca: Path
    ca_key: Path
    dentist_p12: Path
    mandatary_p12: Path
    tls_cert: Path
    tls_key: Path
    sts_cert: Path
    sts_key: Path
    mycarenet_enc_cert: Path
    mycarenet_enc_key: Path
    mycarenet_etk: Path
    mycarenet_p12: Path
    dentist_etk: Path
    mandatary_etk: Path
    etk_ra_cert: Path
    etk_ra_key: Path
    identities: Path
    keystore_password: str = attrs.field(repr=False)
    # MyCareNet's authentication certificate and key: what signs its answers (sealed ETEE, XAdES)
    mycarenet_auth_cert: Path | None = None
    mycarenet_auth_key: Path | None = None
    key_type: str = "rsa"
    dentist_ssin: str = DENTIST_SSIN
    dentist_nihii: str = DENTIST_NIHII
    dentist_given_name: str = DENTIST_GIVEN_NAME
    dentist_surname: str = DENTIST_SURNAME
    mandatary_cbe: str = MANDATARY_CBE
    mandatary_name: str = MANDATARY_NAME
    mycarenet_cbe: str = MYCARENET_CBE
    mycarenet_application: str = MYCARENET_APPLICATION


def _name(*parts: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in parts])


def person_subject(ssin: str, display_name: str) -> x509.Name:
    """eHealth person subject (DER order of a 2025 cert)."""
    return _name(
        (NameOID.COUNTRY_NAME, "BE"),
        (NameOID.ORGANIZATION_NAME, "Federal Government"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, f"SSIN={ssin}"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, display_name),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "eHealth-platform Belgium"),
        (NameOID.COMMON_NAME, f"SSIN={ssin}"),
    )


def organisation_subject(cbe: str, name: str, application: str | None = None) -> x509.Name:
    """eHealth organisation subject; an application id appears as an extra OU that ends the CN."""
    parts: list[tuple[x509.ObjectIdentifier, str]] = [
        (NameOID.COUNTRY_NAME, "BE"),
        (NameOID.ORGANIZATION_NAME, "Federal Government"),
    ]
    if application:
        parts.append((NameOID.ORGANIZATIONAL_UNIT_NAME, application))
    parts += [
        (NameOID.ORGANIZATIONAL_UNIT_NAME, f"CBE={cbe}"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, name),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "eHealth-platform Belgium"),
        (NameOID.COMMON_NAME, f"CBE={cbe}, {application}" if application else f"CBE={cbe}"),
    ]
    return _name(*parts)


def new_key(kind: str) -> PrivateKeyTypes:
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "ec":
        return ec.generate_private_key(ec.SECP384R1())
    if kind == "ec256":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"unknown key type {kind!r}")


def _sign_hash(issuer_key: PrivateKeyTypes) -> hashes.HashAlgorithm:
    if isinstance(issuer_key, ec.EllipticCurvePrivateKey) and issuer_key.curve.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()


def issue(
    subject: x509.Name,
    public_key: object,
    *,
    issuer: x509.Certificate | None,
    issuer_key: PrivateKeyTypes,
    now: datetime,
    days: int,
    ca: bool = False,
    key_usage: str = "auth",
    san: list[x509.GeneralName] | None = None,
    eku: list[x509.ObjectIdentifier] | None = None,
    not_before: datetime | None = None,
) -> x509.Certificate:
    """Issue one certificate (a small helper also used by tests to make expired/untrusted certs)."""
    issuer_name = issuer.subject if issuer is not None else subject
    start = not_before or (now - timedelta(days=1))  # tolerate skewed clocks in tests and demos
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(int.from_bytes(secrets.token_bytes(8), "big") | 1 << 62)
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)  # type: ignore[arg-type]
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key()), critical=False  # type: ignore[arg-type]
        )
    usages = {
        "ca": dict(key_cert_sign=True, crl_sign=True, digital_signature=True),
        "auth": dict(digital_signature=True, content_commitment=True, key_encipherment=True),
        "enc": dict(key_encipherment=True, data_encipherment=True),
        "tls": dict(digital_signature=True, key_encipherment=True),
        "sign": dict(digital_signature=True, content_commitment=True),
    }[key_usage]
    flags = dict(
        digital_signature=False, content_commitment=False, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
    )
    flags.update(usages)
    builder = builder.add_extension(x509.KeyUsage(**flags), critical=True)
    if key_usage == "auth" and eku is None:
        eku = [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.EMAIL_PROTECTION]
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(issuer_key, _sign_hash(issuer_key))  # type: ignore[arg-type]


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _pem_key(key: PrivateKeyTypes) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write(path: Path, data: bytes, *, secret: bool = False) -> Path:
    path.write_bytes(data)
    os.chmod(path, 0o600 if secret else 0o644)
    return path


def generate_pki(out_dir: Path, *, key_type: str = "rsa", now: datetime | None = None) -> PkiPaths:
    """Write the simulator's test PKI into ``out_dir`` (see module docstring); fast (< 2 s).

    Long because: a flat list of the certificates and keystores of the test PKI, one short block each in
    issuing order (CA, STS, MyCareNet, TLS, dentist, office, ETKs).
    """
    if key_type not in ("rsa", "ec"):
        raise ValueError("key_type must be 'rsa' or 'ec'")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    now = now or datetime.now(timezone.utc)
    password = secrets.token_urlsafe(12)

    ca_key = new_key("ec")
    ca_name = _name(
        (NameOID.COUNTRY_NAME, "BE"),
        (NameOID.ORGANIZATION_NAME, "SIM Trust Services (test only)"),
        (NameOID.SERIAL_NUMBER, "001"),
        (NameOID.COMMON_NAME, "SIM eHealth issuing CA 001"),
    )
    ca_cert = issue(ca_name, ca_key.public_key(), issuer=None, issuer_key=ca_key, now=now, days=3650,
                    ca=True, key_usage="ca")

    def keystore(subject: x509.Name, auth_kind: str) -> tuple[P12Entry, P12Entry]:
        auth_key = new_key(auth_kind)
        auth_cert = issue(subject, auth_key.public_key(), issuer=ca_cert, issuer_key=ca_key, now=now,
                          days=3 * 365)
        enc_key = new_key("rsa")
        # eHealth ETK encryption cert: issuer = subject = owner, signed by the owner's auth key, ~15 months.
        enc_cert = issue(subject, enc_key.public_key(), issuer=auth_cert, issuer_key=auth_key, now=now,
                         days=456, key_usage="enc")
        enc_cert_alias = str(enc_cert.serial_number)
        return (
            P12Entry("authentication", auth_key, auth_cert, (ca_cert,)),
            P12Entry(enc_cert_alias, enc_key, enc_cert, (auth_cert, ca_cert)),
        )

    dentist = keystore(person_subject(DENTIST_SSIN, f"{DENTIST_GIVEN_NAME} {DENTIST_SURNAME}"), key_type)
    mandatary = keystore(organisation_subject(MANDATARY_CBE, MANDATARY_NAME), "rsa")
    mycarenet = keystore(
        organisation_subject(MYCARENET_CBE, "MyCareNet", MYCARENET_APPLICATION), "rsa"
    )

    tls_key = new_key("ec256")
    tls_cert = issue(
        _name((NameOID.COUNTRY_NAME, "BE"), (NameOID.COMMON_NAME, "localhost")),
        tls_key.public_key(), issuer=ca_cert, issuer_key=ca_key, now=now, days=825, key_usage="tls",
        san=[x509.DNSName("localhost"), x509.IPAddress(IPv4Address("127.0.0.1"))],
        eku=[ExtendedKeyUsageOID.SERVER_AUTH],
    )
    sts_key = new_key("rsa")
    sts_cert = issue(organisation_subject(STS_CBE, "EHEALTH-PLATFORM", STS_APPLICATION), sts_key.public_key(),
                     issuer=ca_cert, issuer_key=ca_key, now=now, days=3 * 365)
    ra_key = new_key("ec256")
    ra_cert = issue(
        _name((NameOID.COUNTRY_NAME, "BE"), (NameOID.ORGANIZATION_NAME, "Federal Government"),
              (NameOID.ORGANIZATIONAL_UNIT_NAME, "eHealth-platform Belgium"), (NameOID.COMMON_NAME, "ETK-RA")),
        ra_key.public_key(), issuer=ca_cert, issuer_key=ca_key, now=now, days=3650, key_usage="sign",
    )

    def etk_of(pair: tuple[P12Entry, P12Entry]) -> bytes:
        return build_etk(pair[1].certificate, owner_certificate=pair[0].certificate, ra_key=ra_key,
                         ra_certificate=ra_cert, extra_certificates=(ca_cert,))

    paths = PkiPaths(
        out_dir=out,
        ca=_write(out / "ca.pem", _pem_cert(ca_cert)),
        ca_key=_write(out / "ca-key.pem", _pem_key(ca_key), secret=True),
        dentist_p12=_write(out / "dentist.p12", build_pkcs12(dentist, password), secret=True),
        mandatary_p12=_write(out / "mandatary.p12", build_pkcs12(mandatary, password), secret=True),
        tls_cert=_write(out / "tls.pem", _pem_cert(tls_cert) + _pem_cert(ca_cert)),
        tls_key=_write(out / "tls-key.pem", _pem_key(tls_key), secret=True),
        sts_cert=_write(out / "sts.pem", _pem_cert(sts_cert)),
        sts_key=_write(out / "sts-key.pem", _pem_key(sts_key), secret=True),
        mycarenet_enc_cert=_write(out / "mycarenet-enc.pem", _pem_cert(mycarenet[1].certificate)),
        mycarenet_enc_key=_write(out / "mycarenet-enc-key.pem", _pem_key(mycarenet[1].private_key), secret=True),
        mycarenet_etk=_write(out / "mycarenet.etk", etk_of(mycarenet)),
        mycarenet_p12=_write(out / "mycarenet.p12", build_pkcs12(mycarenet, password), secret=True),
        dentist_etk=_write(out / "dentist.etk", etk_of(dentist)),
        mandatary_etk=_write(out / "mandatary.etk", etk_of(mandatary)),
        etk_ra_cert=_write(out / "etk-ra.pem", _pem_cert(ra_cert)),
        etk_ra_key=_write(out / "etk-ra-key.pem", _pem_key(ra_key), secret=True),
        identities=out / "identities.json",
        keystore_password=password,
        mycarenet_auth_cert=_write(out / "mycarenet-auth.pem", _pem_cert(mycarenet[0].certificate)),
        mycarenet_auth_key=_write(out / "mycarenet-auth-key.pem", _pem_key(mycarenet[0].private_key), secret=True),
        key_type=key_type,
    )
    identities = {
        "dentist": {
            "ssin": DENTIST_SSIN, "nihii": DENTIST_NIHII, "given_name": DENTIST_GIVEN_NAME,
            "surname": DENTIST_SURNAME, "quality": "dentist", "keystore": "dentist.p12", "etk": "dentist.etk",
            "key_type": key_type,
        },
        "mandatary": {
            "cbe": MANDATARY_CBE, "name": MANDATARY_NAME, "quality": "billing_office",
            "keystore": "mandatary.p12", "etk": "mandatary.etk",
        },
        "mycarenet": {
            "cbe": MYCARENET_CBE, "application": MYCARENET_APPLICATION, "etk": "mycarenet.etk",
            "keystore": "mycarenet.p12",
        },
        "sts": {"cbe": STS_CBE, "application": STS_APPLICATION},
    }
    _write(paths.identities, json.dumps(identities, indent=2).encode("utf-8"))
    return paths


def load_pem_key(path: Path) -> PrivateKeyTypes:
    return serialization.load_pem_private_key(Path(path).read_bytes(), None)


def load_pem_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(path).read_bytes())
