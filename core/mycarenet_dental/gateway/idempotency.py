"""``Idempotency-Key`` for the gateway's POSTs that send: a retried request gets the first answer and
the sending happens once.

The first request with a key claims it (a row in state ``pending``, in one write transaction, so two
concurrent requests cannot both claim it); its answer — whatever it is, an error included, since a
failed call may still have reached the insurer — is stored with the row. A retry with the same key
waits for a pending one and replays the stored answer; the same key with another body is refused.
Keys belong to one token, so two workstations cannot read each other's answers.
"""

from __future__ import annotations

import hashlib
import time

import attrs

from ..errors import UsageError
from ..registrations import TableSpec
from ..storage import Storage
from ..timeutil import utc_ms

TABLES = TableSpec(
    name="gateway.idempotency",
    migrations=[
        """
        CREATE TABLE gateway_idempotency (
            token_id TEXT NOT NULL,
            key TEXT NOT NULL,
            route TEXT NOT NULL,
            request_hash TEXT NOT NULL,
            state TEXT NOT NULL,
            status INTEGER,
            body BLOB,
            created_at TEXT NOT NULL,
            PRIMARY KEY (token_id, key)
        )
        """,
    ],
)


class IdempotencyConflict(UsageError):
    """The key was used for another request, or its first request is still running after the wait."""

    default_code = "IDEMPOTENCY_CONFLICT"


@attrs.frozen
class Replay:
    """The stored first answer of a key."""

    status: int
    body: bytes


class IdempotencyStore:
    """Claim keys and keep their answers in the core storage."""

    def __init__(self, storage: Storage, *, wait_s: float = 120.0) -> None:
        self.storage = storage
        self.wait_s = wait_s
        storage.migrate([TABLES])

    @staticmethod
    def fingerprint(route: str, body: bytes) -> str:
        return hashlib.sha256(route.encode() + b"\0" + body).hexdigest()

    def claim(self, token_id: str, key: str, route: str, body: bytes) -> Replay | None:
        """``None``: this request owns the key and must run; a :class:`Replay`: answer with it."""
        if not key or len(key) > 200 or not key.isprintable():
            raise UsageError("Idempotency-Key: 1 to 200 printable characters", location="Idempotency-Key")
        fingerprint = self.fingerprint(route, body)
        with self.storage.transaction() as conn:
            row = conn.execute("SELECT request_hash FROM gateway_idempotency WHERE token_id = ? AND key = ?",
                               (token_id, key)).fetchone()
            if row is None:
                conn.execute("INSERT INTO gateway_idempotency(token_id, key, route, request_hash, state, created_at) "
                             "VALUES (?,?,?,?, 'pending', ?)", (token_id, key, route, fingerprint, utc_ms()))
                return None
        if row["request_hash"] != fingerprint:
            raise IdempotencyConflict(f"Idempotency-Key {key!r} was used for another request",
                                      location="Idempotency-Key", hint="use a new key for a new request")
        return self._wait(token_id, key)

    def _wait(self, token_id: str, key: str) -> Replay:
        deadline = time.monotonic() + self.wait_s
        while True:
            row = self.storage.query_one("SELECT state, status, body FROM gateway_idempotency "
                                         "WHERE token_id = ? AND key = ?", (token_id, key))
            if row is not None and row["state"] == "done":
                return Replay(int(row["status"]), bytes(row["body"]))
            if time.monotonic() >= deadline:
                raise IdempotencyConflict(f"the first request with Idempotency-Key {key!r} is still running "
                                          "(or was interrupted: see the outbox before sending again)",
                                          location="Idempotency-Key")
            time.sleep(0.05)

    def finish(self, token_id: str, key: str, status: int, body: bytes) -> None:
        self.storage.execute("UPDATE gateway_idempotency SET state = 'done', status = ?, body = ? "
                             "WHERE token_id = ? AND key = ?", (status, body, token_id, key))
