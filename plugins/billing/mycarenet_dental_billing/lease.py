"""Which billing worker works for which dentist: a lease row per dentist in the shared store.

Several workers (on several machines) share one store; each dentist's outbox is worked by one of them
at a time. The unit is the dentist, not the sending: GenericAsync ``get`` and ``confirm`` work on the
care provider's whole mailbox, MyCareNet throttles ``get`` per care provider, and the one-file-a-day
and sending-number rules are per dentist -- two workers polling one mailbox would only fight.

Why a lease and not ``SELECT … FOR UPDATE SKIP LOCKED``: a row lock lasts as long as its transaction,
and a dentist's turn holds network calls (post, get, confirm: seconds with a slow insurer). Holding a
transaction that long would hold SQLite's one write lock and pin a PostgreSQL connection. A lease is a
row (holder, expiry) taken by one conditional upsert, atomic on both engines without a read-then-write
race; a worker killed with ``kill -9`` leaves a lease that simply expires, and the next holder resolves
what it left with the outbox's own recovery rules (a sending left ``posting`` is looked up through
``get`` before any re-post). The post itself is claimed in the same transaction that checks the lease
is still held (:meth:`Lease.holds`), so a worker that stalled past its expiry cannot post any more.

The row also carries the dentist's polling back-off (``next_at``, ``idle_polls``), so back-off survives
from one worker to the next.

UNSURE: times are the workers' clocks (UTC, fixed-width text that sorts as it compares); machines of one
office are taken to be NTP-synchronised to well under the lease time (default 60 s).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Collection
from typing import Any

import attrs
from mycarenet_dental.timeutil import utc_ms

from .outbox_state import MAX_POST_ATTEMPTS, SendingState

#: states in which a dentist's outbox has work for a worker (posting, or waiting for answers)
WORK_STATES = (SendingState.BUILT, SendingState.VALIDATED, SendingState.FAILED, SendingState.POSTING,
               SendingState.POSTED, SendingState.RECEIVED, SendingState.ACCEPTED, SendingState.PARTLY)


def stamp(moment: dt.datetime) -> str:
    """A UTC instant as fixed-width text: compares as the instants do, on every engine."""
    return utc_ms(moment)


@attrs.frozen
class Lease:
    """A worker's hold on one dentist's outbox (until the expiry kept in its row)."""

    storage: Any = attrs.field(repr=False)
    third_party: str
    holder: str
    clock: Any = attrs.field(repr=False)

    def holds(self, conn: Any) -> bool:
        """Inside a transaction: this worker still holds the dentist (not expired, not taken over)."""
        row = conn.execute("SELECT 1 FROM billing_lease WHERE third_party = ? AND holder = ? AND expires_at > ?",
                           (self.third_party, self.holder, stamp(self.clock()))).fetchone()
        return row is not None

    def release(self, *, next_at: dt.datetime | None, idle_polls: int = 0) -> None:
        """Give the dentist back; the next worker looks at it from ``next_at`` (None: when work appears)."""
        self.storage.execute(
            "UPDATE billing_lease SET expires_at = '', next_at = ?, idle_polls = ? WHERE third_party = ? AND holder = ?",
            ("" if next_at is None else stamp(next_at), idle_polls, self.third_party, self.holder))

    def idle_polls(self) -> int:
        row = self.storage.query_one("SELECT idle_polls FROM billing_lease WHERE third_party = ?", (self.third_party,))
        return int(row["idle_polls"]) if row is not None else 0


def due(storage: Any, *, now: dt.datetime, among: Collection[str] | None, limit: int) -> list[str]:
    """Dentists with work whose lease is free and whose back-off has passed, in a shuffled order (so that
    workers starting together do not all race for the same first rows)."""
    states = tuple(s.value for s in WORK_STATES)
    marks = ",".join("?" * len(states))
    t = stamp(now)
    rows = storage.query(
        "SELECT s.third_party, MIN(COALESCE(l.next_at, '')) AS next_at FROM billing_sending s "
        "LEFT JOIN billing_lease l ON l.third_party = s.third_party "
        f"WHERE s.state IN ({marks}) AND (s.state <> ? OR s.post_attempts < ?) "
        "AND (l.third_party IS NULL OR (l.expires_at <= ? AND l.next_at <= ?)) "
        "GROUP BY s.third_party ORDER BY next_at, s.third_party", (*states, SendingState.FAILED.value,
                                                                  MAX_POST_ATTEMPTS, t, t))
    found = [r["third_party"] for r in rows if among is None or r["third_party"] in among]
    head = found[:max(limit * 4, 16)]
    random.shuffle(head)
    return head


def claim(storage: Any, third_party: str, *, holder: str, clock: Any, seconds: float) -> Lease | None:
    """Take the dentist if its lease is free (or already ours) and its back-off passed; None otherwise."""
    now = clock()
    expires = stamp(now + dt.timedelta(seconds=seconds))
    t = stamp(now)
    with storage.transaction() as conn:
        taken = conn.execute(
            "INSERT INTO billing_lease(third_party, holder, expires_at, next_at, idle_polls) VALUES (?,?,?,'',0) "
            "ON CONFLICT(third_party) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
            "WHERE (billing_lease.holder = excluded.holder OR billing_lease.expires_at <= ?) "
            "AND billing_lease.next_at <= ?", (third_party, holder, expires, t, t)).rowcount
    if not taken:
        return None
    return Lease(storage=storage, third_party=third_party, holder=holder, clock=clock)
