"""API tokens of the gateway: one per workstation or user, with a role, stored hashed, shown once.

A token is ``mcdg_<id>_<secret>`` (32 random bytes of secret). Only the SHA-256 of the whole token is
kept: the secret has full entropy, so a slow password hash would add nothing but latency on every
request. Looking a token up by its ``id`` and comparing the hash in constant time keeps timing from
telling a guessed secret apart from a wrong one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

import attrs

from ..errors import UsageError
from ..registrations import ROLES, TableSpec
from ..storage import Storage
from ..timeutil import parse_datetime, utc_ms

TABLES = TableSpec(
    name="gateway.tokens",
    migrations=[
        """
        CREATE TABLE gateway_token (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL,
            role TEXT NOT NULL,
            hash TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT,
            revoked_at TEXT
        );
        CREATE TABLE gateway_status_link (
            hash TEXT PRIMARY KEY,
            token_id TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            used_at TEXT
        )
        """,
    ],
)
PREFIX = "mcdg"


@attrs.frozen
class ApiToken:
    """A token as listed (never its secret)."""

    id: str
    user_id: str
    role: str
    created_at: str
    expires_at: str | None = None
    revoked_at: str | None = None

    def valid_at(self, now: dt.datetime) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or parse_datetime(self.expires_at) > now


@attrs.frozen
class NewToken:
    """What ``add`` returns: the listed token and its secret value, shown once and never stored."""

    token: ApiToken
    secret: str = attrs.field(repr=False)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _row(row: object) -> ApiToken:
    return ApiToken(id=row["id"], user_id=row["user_id"], role=row["role"], created_at=row["created_at"],  # type: ignore[index]
                    expires_at=row["expires_at"], revoked_at=row["revoked_at"])  # type: ignore[index]


class TokenStore:
    """Add, list, revoke and check tokens in the core storage."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        storage.migrate([TABLES])

    def add(self, user: str, role: str, *, days: int | None = None, now: dt.datetime | None = None) -> NewToken:
        user = user.strip()
        if not user or len(user) > 64 or not user.isprintable():
            raise UsageError("--user: a user name of 1 to 64 printable characters", location="--user")
        if role not in ROLES:
            raise UsageError(f"--role: one of {', '.join(ROLES)}, got {role!r}", location="--role")
        if days is not None and not 0 < days <= 3660:
            raise UsageError("--days: between 1 and 3660", location="--days")
        now = now or dt.datetime.now(dt.timezone.utc)
        token_id = secrets.token_hex(4)
        secret = f"{PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
        expires = utc_ms(now + dt.timedelta(days=days)) if days else None
        self.storage.execute(
            "INSERT INTO gateway_token(id, user_id, role, hash, created_at, expires_at) VALUES (?,?,?,?,?,?)",
            (token_id, user, role, _digest(secret), utc_ms(now), expires))
        return NewToken(self.get(token_id), secret)

    def get(self, token_id: str) -> ApiToken:
        row = self.storage.query_one("SELECT * FROM gateway_token WHERE id = ?", (token_id,))
        if row is None:
            raise UsageError(f"no token with id {token_id!r}", code="UNKNOWN_TOKEN", location="TOKEN_ID",
                             hint="see `mycarenet-dental gateway token list`")
        return _row(row)

    def list(self) -> list[ApiToken]:
        return [_row(r) for r in self.storage.query("SELECT * FROM gateway_token ORDER BY created_at, id")]

    def revoke(self, token_id: str, *, now: dt.datetime | None = None) -> ApiToken:
        self.get(token_id)
        self.storage.execute("UPDATE gateway_token SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?",
                             (utc_ms(now), token_id))
        return self.get(token_id)

    def check(self, presented: str, *, now: dt.datetime) -> ApiToken | None:
        """The valid token ``presented`` is, else ``None`` (unknown, wrong secret, revoked or expired)."""
        parts = presented.split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX or len(presented) > 200:
            return None
        row = self.storage.query_one("SELECT * FROM gateway_token WHERE id = ?", (parts[1],))
        if row is None or not hmac.compare_digest(row["hash"], _digest(presented)):
            return None
        token = _row(row)
        return token if token.valid_at(now) else None

    # -- one-time links that open the status page on a phone --------------------------------------
    def status_link(self, token_id: str, *, now: dt.datetime, minutes: int = 10) -> str:
        """A single-use code, valid ``minutes``, that opens a status-page session for ``token_id``."""
        token = self.get(token_id)
        if not token.valid_at(now):
            raise UsageError(f"token {token_id} is revoked or expired", code="TOKEN_INVALID")
        code = secrets.token_urlsafe(24)
        self.storage.execute("INSERT INTO gateway_status_link(hash, token_id, expires_at) VALUES (?,?,?)",
                             (_digest(code), token_id, utc_ms(now + dt.timedelta(minutes=minutes))))
        return code

    def redeem_link(self, code: str, *, now: dt.datetime) -> ApiToken | None:
        """The token a link code opens, once; ``None`` when unknown, used or expired."""
        if len(code) > 100:
            return None
        with self.storage.transaction() as conn:
            row = conn.execute("SELECT * FROM gateway_status_link WHERE hash = ?", (_digest(code),)).fetchone()
            if row is None or row["used_at"] is not None or parse_datetime(row["expires_at"]) <= now:
                return None
            conn.execute("UPDATE gateway_status_link SET used_at = ? WHERE hash = ?", (utc_ms(now), row["hash"]))
        token = self.get(row["token_id"])
        return token if token.valid_at(now) else None
