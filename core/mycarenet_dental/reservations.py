"""Reservations: what makes a convention rule's check and the exchange it allows one atomic step.

A rule such as "insurability only once per contact" (R34, R35) reads the store and then lets an
exchange go out. Two processes checking at the same moment would both read "not yet" and both send.
So the core runs every rule check, the reservations the checks take and the exchange's first audit
row in one write transaction (``BEGIN IMMEDIATE``: one writer at a time across processes), and a
rule that needs to hold its ground until the answer is in takes a *reservation*: a row under a
unique key (rule, key). The outcome of the exchange releases it in the transaction that records the
results, so the next check sees either the reservation (in flight) or the results (done), never
neither.

A process that dies mid-exchange leaves its reservation behind; it is taken over once older than
``[rules] reservation_ttl`` seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from .errors import ConfigError
from .registrations import TableSpec
from .timeutil import utc_ms

TABLES = TableSpec(
    name="core.reservations",
    migrations=[
        """
        CREATE TABLE rule_reservation (
            rule_id TEXT NOT NULL,
            key TEXT NOT NULL,
            exchange_id TEXT NOT NULL,
            taken_at TEXT NOT NULL,
            PRIMARY KEY (rule_id, key)
        );
        CREATE INDEX rule_reservation_exchange ON rule_reservation(exchange_id)
        """,
    ],
)

# UNSURE: how long an unanswered reservation blocks the contact after a crash. The synchronous
# services answer within seconds (R33) and the client gives up after its read timeout, so anything
# older than a few timeouts is a dead process; 120 s by default, ``[rules] reservation_ttl``.
DEFAULT_TTL_SECONDS = 120.0


@attrs.frozen
class Holder:
    """The exchange holding a reservation another exchange asked for."""

    exchange_id: str
    taken_at: str


def take(conn: Any, rule_id: str, key: str, exchange_id: str, *, now: datetime,
         ttl: timedelta) -> Holder | None:
    """Reserve (rule_id, key) for ``exchange_id``; the live holder if someone else has it.

    One statement decides, under the primary key's constraint: the row is inserted, or taken over
    when it is this exchange's own or older than ``ttl`` (a dead process); otherwise it stays and
    the holder is returned. No read-then-write: two workstations asking at the same moment on a
    shared PostgreSQL store queue on the key and exactly one gets it.
    """
    cur = conn.execute(
        "INSERT INTO rule_reservation(rule_id, key, exchange_id, taken_at) VALUES (?,?,?,?) "
        "ON CONFLICT(rule_id, key) DO UPDATE SET exchange_id = excluded.exchange_id, taken_at = excluded.taken_at "
        "WHERE rule_reservation.exchange_id = excluded.exchange_id OR rule_reservation.taken_at <= ?",
        (rule_id, key, exchange_id, utc_ms(now), utc_ms(now - ttl)))
    if cur.rowcount == 1:
        return None
    row = conn.execute("SELECT exchange_id, taken_at FROM rule_reservation WHERE rule_id = ? AND key = ?",
                       (rule_id, key)).fetchone()
    return Holder(exchange_id=row[0], taken_at=row[1])


def release(conn: Any, exchange_id: str) -> None:
    """Drop every reservation of an exchange (its outcome is recorded, or it was refused)."""
    conn.execute("DELETE FROM rule_reservation WHERE exchange_id = ?", (exchange_id,))


def ttl_of(section: Mapping[str, Any]) -> timedelta:
    """``[rules] reservation_ttl`` (seconds) or the default."""
    value = section.get("reservation_ttl", DEFAULT_TTL_SECONDS)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 1:
        raise ConfigError("[rules] reservation_ttl must be a number of seconds (at least 1)",
                          location="[rules] reservation_ttl")
    return timedelta(seconds=float(value))
