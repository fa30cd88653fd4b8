"""Shared helpers of the security tests (not fixtures)."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta, timezone

from lxml import etree
from mycarenet_dental.ehealth.keystore import Keystore
from mycarenet_dental.ehealth.transport import envelope_for
from mycarenet_dental.ehealth.wssecurity import HolderOfKeySecurity
from mycarenet_dental.sim.pki import PkiPaths
from mycarenet_dental.sim.sts import SimTrust, build_assertion


def body() -> etree._Element:
    el = etree.Element("{urn:test}Ping")
    el.text = "hello"
    return el


def now() -> datetime:
    return datetime.now(timezone.utc)


def issue_token(trust: SimTrust, ks: Keystore, *, nihii: str, ssin: str, lifetime=timedelta(hours=1),
                start: datetime | None = None, sts_key=None, sts_cert=None):
    """A token straight from the simulator's assertion builder (no network)."""
    from mycarenet_dental.ehealth import saml
    from mycarenet_dental.ehealth.saml import SamlToken

    start = start or now()
    t = trust
    if sts_key is not None:
        import attrs

        t = attrs.evolve(trust, sts_key=sts_key, sts_cert=sts_cert)
    raw = build_assertion(
        trust=t, hok_cert=ks.authentication.certificate, now=start, not_before=start - timedelta(minutes=5),
        not_on_or_after=start + lifetime,
        attributes=[(saml.ATTR_CERTHOLDER_SSIN, ssin), (saml.ATTR_PERSON_SSIN, ssin),
                    (saml.ATTR_DENTIST_NIHII, nihii), (saml.ATTR_DENTIST_PROFESSIONAL, "true")],
    )
    return SamlToken.from_bytes(raw)


def signed_envelope(pki: PkiPaths, trust: SimTrust, *, timestamp_only=False, clock=None, key=None, token=None,
                    keystore: Keystore | None = None) -> tuple[bytes, object, Keystore]:
    ks = keystore or load_keystore(pki.dentist_p12, pki.keystore_password)
    token = token or issue_token(trust, ks, nihii=pki.dentist_nihii, ssin=pki.dentist_ssin)
    sec = HolderOfKeySecurity(token, key or ks.authentication, timestamp_only=timestamp_only, clock=clock)
    return sec.apply(envelope_for(body())), token, ks


@functools.lru_cache(maxsize=32)
def load_keystore(path, password: str) -> Keystore:
    """Keystores are immutable: tests share one load per file (PBKDF2 makes loading slowish)."""
    return Keystore.load(path, password)
