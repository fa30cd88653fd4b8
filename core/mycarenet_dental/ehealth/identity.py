"""Who a certificate belongs to, read from an eHealth subject (``auth-crypto.md`` §4.2).

Identity is always derived from the certificate, never by comparing DN strings (Java, RFC 2253 and the
STS echo render them differently).
"""

from __future__ import annotations

import re

import attrs
from cryptography import x509
from cryptography.x509.oid import NameOID

_IDENT = re.compile(r"^([A-Z][A-Z_-]*)=([0-9]+)$")
_GENERIC_OU = {"eHealth-platform Belgium", "Federal Government"}


@attrs.frozen
class CertIdentity:
    """Identifier type/value (``SSIN``, ``CBE``, ``NIHII``...), owner name and application id."""

    kind: str  # "person" or "organisation"
    identifier_type: str
    identifier: str
    name: str | None
    application: str | None

    @property
    def ssin(self) -> str | None:
        return self.identifier if self.identifier_type == "SSIN" else None

    @property
    def cbe(self) -> str | None:
        return self.identifier if self.identifier_type == "CBE" else None


def identity_of(cert: x509.Certificate) -> CertIdentity | None:
    subject = cert.subject
    serial = subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    cns = [a.value for a in subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    cn = str(cns[0]) if cns else ""
    ous = [str(a.value) for a in subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)]
    ident_type = ident = None
    name = application = None
    for ou in ous:
        m = _IDENT.match(ou)
        if m and ident is None:
            ident_type, ident = m.group(1), m.group(2)
        elif m or ou in _GENERIC_OU:
            continue
        elif cn.endswith(ou) and cn != ou:
            application = ou
        else:
            name = name or ou
    if ident is None and serial and not ous:
        # eID certificate: SSIN in serialNumber
        value = str(serial[0].value)
        if value.isdigit() and len(value) == 11:
            ident_type, ident = "SSIN", value
            name = cn or None
    if ident is None or ident_type is None:
        return None
    kind = "person" if ident_type == "SSIN" else "organisation"
    return CertIdentity(kind=kind, identifier_type=ident_type, identifier=ident, name=name, application=application)
