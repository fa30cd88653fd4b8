"""The security session the application context builds: keystore, STS, token cache, HoK signing, ETKs.

Created lazily by the CLI context; loading the keystore here means a wrong password or an expired
certificate is reported before any network call. ETKs are verified (RA signature, owner chain to the
configured ETK trust anchors, owner identity) before they are cached or used: only verified ETKs are kept.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..errors import SecurityError
from .etk import Etk, fetch_etks
from .keystore import Keystore
from .saml import SamlToken
from .sts import StsClient
from .tokens import TokenCache
from .wssecurity import HolderOfKeySecurity, X509Security


class SecuritySession:
    """Everything needed to sign eHealth/MyCareNet requests as the keystore's owner."""

    def __init__(
        self,
        *,
        keystore_path: Path,
        password: str,
        sts_url: str,
        soap: Any,
        trust_anchor: Path | None,
        token_cache_path: Path | None,
        etk_depot_url: str | None,
        legacy: bool = False,
        designators: Sequence[str] | None = None,
        allow_sha1: bool = False,
        etk_trust_anchor: Path | None = None,
        etk_trust: Sequence[x509.Certificate] = (),
    ) -> None:
        self.keystore = Keystore.load(Path(keystore_path), password)
        self.soap = soap
        self.etk_depot_url = etk_depot_url
        self.sts = StsClient(sts_url, self.keystore, soap=soap, trust_anchor=trust_anchor, legacy=legacy,
                             designators=designators, allow_sha1=allow_sha1)
        self.tokens = TokenCache(self.sts, persist_path=token_cache_path)
        self._etks: dict[tuple[str, str, str | None], tuple[Etk, ...]] = {}
        self.etk_trust: tuple[x509.Certificate, ...] = tuple(etk_trust) + _load_pem(etk_trust_anchor)
        self._lock = threading.Lock()

    def token(self, now: datetime | None = None, *, run: Any = None) -> SamlToken:
        """A valid holder-of-key token (one STS call per half life)."""
        return self.tokens.get(now, run=run)

    def hok(self, timestamp_only: bool = False, *, run: Any = None) -> HolderOfKeySecurity:
        """WS-Security for a service call: Body+Timestamp, or Timestamp only for GenericAsync."""
        return HolderOfKeySecurity(self.token(run=run), self.keystore.authentication, timestamp_only=timestamp_only)

    def x509(self) -> X509Security:
        return X509Security(self.keystore.authentication)

    def etks(self, identifier_type: str, value: str, application_id: str | None = None, *,
             run: Any = None, now: datetime | None = None) -> tuple[Etk, ...]:
        """Every ETK of an identifier, fetched once from the ETK depot, each verified before it is cached.

        A single ETK that fails verification fails the call (typed SecurityError, nothing cached); among
        several matching ETKs, only the verified ones are kept, and none verified is an error too."""
        key = (identifier_type.upper(), value, application_id)
        with self._lock:
            cached = self._etks.get(key)
        moment = now or datetime.now(timezone.utc)
        if cached is not None and all(e.certificate.not_valid_after_utc > moment for e in cached):
            return cached
        if not self.etk_depot_url:
            from ..errors import ConfigError

            raise ConfigError("no ETK depot endpoint configured", location="[endpoints] etk_depot")
        fetched = fetch_etks(self.soap, self.etk_depot_url, identifier_type, value, application_id=application_id,
                             run=run)
        verified: list[Etk] = []
        failure: SecurityError | None = None
        for etk in fetched:
            try:
                etk.verify_for(identifier_type, value, application_id, trust=self.etk_trust, now=moment)
            except SecurityError as exc:
                failure = failure or exc
                continue
            verified.append(etk)
        if not verified:
            assert failure is not None
            raise failure
        result = tuple(verified)
        with self._lock:
            self._etks[key] = result
        return result

    def etk(self, identifier_type: str, value: str, application_id: str | None = None, *, run: Any = None,
            now: datetime | None = None) -> Etk:
        """One verified ETK of an identifier: the one our keystore can decrypt for when there are several
        (our own reply-to ETK), else the most recently issued."""
        found = self.etks(identifier_type, value, application_id, run=run, now=now)
        if len(found) == 1:
            return found[0]
        ours = {_public_der(k.certificate.public_key()) for k in self.keystore.encryption_keys}
        mine = [e for e in found if _public_der(e.certificate.public_key()) in ours]
        pool = mine or list(found)
        return max(pool, key=lambda e: e.certificate.not_valid_before_utc)

    def expiry_warning(self, now: datetime | None = None) -> str | None:
        return self.keystore.expiry_warning(now)


def _load_pem(path: Path | None) -> tuple[x509.Certificate, ...]:
    if path is None:
        return ()
    from ..errors import ConfigError

    try:
        return tuple(x509.load_pem_x509_certificates(Path(path).read_bytes()))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the ETK trust anchors {path}: {exc}",
                          location="[security] etk_trust_anchor") from None


def _public_der(key: Any) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
