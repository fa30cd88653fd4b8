"""Holder-of-key token cache: reuse until half life, renew before expiry, fail loudly.

A token is reused while less than half of its lifetime has passed (the connector's sliding window). After
that it is renewed (a fresh Issue, simpler than WS-Trust Renew). If renewal fails the error propagates:
the cache never falls back to a token silently (freehealth-connector did, engineering-notes §4). The token
can be persisted (file 0600): only the assertion bytes — never the private key, which stays in the
keystore and is needed anyway to use the token.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization

from ..errors import SecurityError
from .saml import SamlToken


def _fingerprint(cert: Any) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


class TokenCache:
    """Gives a valid token for ``sts_client``'s keystore, calling the STS only when needed."""

    def __init__(self, sts_client: Any, *, persist_path: Path | None = None, min_remaining: float = 60.0) -> None:
        self.sts = sts_client
        self.persist_path = Path(persist_path) if persist_path else None
        self.min_remaining = min_remaining
        self._token: SamlToken | None = None
        self._lock = threading.Lock()
        self.sts_calls = 0
        if self.persist_path is not None:
            self._token = self._load()

    @property
    def current(self) -> SamlToken | None:
        return self._token

    def _cert(self) -> Any:
        return self.sts.keystore.authentication.certificate

    def fresh_enough(self, token: SamlToken, now: datetime) -> bool:
        if not token.is_valid(now):
            return False
        half = token.not_before + (token.not_on_or_after - token.not_before) / 2
        remaining = (token.not_on_or_after - now).total_seconds()
        return now < half and remaining > self.min_remaining

    def get(self, now: datetime | None = None, *, run: Any = None) -> SamlToken:
        """A token usable now; renews past half life; raises if renewal fails."""
        now = now or datetime.now(timezone.utc)
        with self._lock:
            token = self._token
            if token is not None and self.fresh_enough(token, now):
                return token
            self.sts_calls += 1
            try:
                new = self.sts.request_token(run=run)
            except Exception:
                if token is not None and not token.is_valid(now):
                    self._token = None  # never keep an expired token around
                raise
            if not new.is_valid(now) and new.not_before > now:
                # Clock skew: the STS backdates NotBefore, so a future NotBefore means our clock is off.
                raise SecurityError("the new token is not yet valid: check the computer clock", code="TOKEN_CLOCK")
            self._token = new
            self._save(new)
            return new

    # -- persistence ---------------------------------------------------------------------------------

    def _save(self, token: SamlToken) -> None:
        if self.persist_path is None:
            return
        self.persist_path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "version": 1,
            "certificate_sha256": _fingerprint(self._cert()),
            "assertion": base64.b64encode(token.raw).decode("ascii"),
            "signer": base64.b64encode(token.signer_certificate.public_bytes(serialization.Encoding.DER)).decode()
            if token.signer_certificate is not None
            else None,
        }
        # a name of its own: processes of one practice logging in at once each replace the cache whole
        tmp = self.persist_path.with_name(f"{self.persist_path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.persist_path)

    def _load(self) -> SamlToken | None:
        assert self.persist_path is not None
        try:
            payload = json.loads(self.persist_path.read_text("utf-8"))
            if payload.get("certificate_sha256") != _fingerprint(self._cert()):
                return None  # a token of another keystore: ignore it
            raw = base64.b64decode(payload["assertion"])
            token = SamlToken.from_bytes(raw)
        except (OSError, ValueError, KeyError, SecurityError):
            return None
        # Re-check the STS signature: the file could have been edited.
        from ..xmlsafe import parse_xml
        from .saml import verify_assertion_signature

        try:
            verify_assertion_signature(parse_xml(raw), trust=self.sts.trust, allow_sha1=self.sts.allow_sha1)
        except SecurityError:
            return None
        if token.hok_certificate != self._cert():
            return None
        return token
