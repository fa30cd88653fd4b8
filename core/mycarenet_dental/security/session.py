"""The security session the application context builds: keystore, STS, token cache, HoK signing, ETKs.

Created lazily by the CLI context; loading the keystore here means a wrong password or an expired
certificate is reported before any network call.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from .etk import Etk, fetch_etk
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
    ) -> None:
        self.keystore = Keystore.load(Path(keystore_path), password)
        self.soap = soap
        self.etk_depot_url = etk_depot_url
        self.sts = StsClient(sts_url, self.keystore, soap=soap, trust_anchor=trust_anchor, legacy=legacy,
                             designators=designators, allow_sha1=allow_sha1)
        self.tokens = TokenCache(self.sts, persist_path=token_cache_path)
        self._etks: dict[tuple[str, str, str | None], Etk] = {}
        self._lock = threading.Lock()

    def token(self, now: datetime | None = None, *, run: Any = None) -> SamlToken:
        """A valid holder-of-key token (one STS call per half life)."""
        return self.tokens.get(now, run=run)

    def hok(self, timestamp_only: bool = False, *, run: Any = None) -> HolderOfKeySecurity:
        """WS-Security for a service call: Body+Timestamp, or Timestamp only for GenericAsync."""
        return HolderOfKeySecurity(self.token(run=run), self.keystore.authentication, timestamp_only=timestamp_only)

    def x509(self) -> X509Security:
        return X509Security(self.keystore.authentication)

    def etk(self, identifier_type: str, value: str, application_id: str | None = None, *, run: Any = None) -> Etk:
        """The ETK of an identifier, fetched once from the ETK depot then cached."""
        key = (identifier_type.upper(), value, application_id)
        with self._lock:
            cached = self._etks.get(key)
        if cached is not None:
            return cached
        if not self.etk_depot_url:
            from ..errors import ConfigError

            raise ConfigError("no ETK depot endpoint configured", location="[endpoints] etk_depot")
        etk = fetch_etk(self.soap, self.etk_depot_url, identifier_type, value, application_id=application_id, run=run)
        with self._lock:
            self._etks[key] = etk
        return etk

    def expiry_warning(self, now: datetime | None = None) -> str | None:
        return self.keystore.expiry_warning(now)
