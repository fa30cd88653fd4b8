"""The store work of one tariff consultation is counted, not timed: every SQL statement is listed.

Two write transactions — the first phase (contact, kept result, rules, reservation, start row) before
the network call and the outcome (results, outcome row, release) after it — with no statement
repeated and no write lock held while the insurer is asked. A new repeated lookup, an extra
transaction or a read moved outside them fails here (issue 18).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from typing import Any

import pytest
from mycarenet_dental.sim.population import base_population
from mycarenet_dental_tariff import consult_tariff

SERVICES = ["301011", "302153:36", "304415:46"]

# (statement kind, table) in order; the SQL text itself is free to change
EXPECTED = [
    ("BEGIN", ""),
    ("SELECT", "contact"), ("SELECT", "exchange_result"),  # the contact and its kept results: read once
    ("INSERT", "rule_reservation"),  # R35 reserves the contact (one statement when it is free)
    ("SELECT", "audit"),  # the burst rule counts the last minute's exchanges
    ("SELECT", "audit_head"), ("INSERT", "audit"), ("UPDATE", "audit_head"),  # the start row
    ("COMMIT", ""),
    ("BEGIN", ""),
    ("INSERT", "exchange_result"),  # every priced line in one multi-row INSERT
    ("SELECT", "audit_head"), ("INSERT", "audit"), ("UPDATE", "audit_head"),  # the outcome row
    ("DELETE", "rule_reservation"),
    ("COMMIT", ""),
]


def _shape(sql: str) -> tuple[str, str]:
    """(verb, first table named) of a statement."""
    words = sql.replace("(", " ").split()
    upper = [w.upper() for w in words]
    for index, word in enumerate(upper[:-1]):
        if word in ("FROM", "INTO", "UPDATE") and upper[index + 1] != "SELECT":
            return upper[0], words[index + 1]
    return upper[0], ""


def test_one_consultation_runs_two_transactions_without_repeated_queries(sim: Any) -> None:
    ctx = sim.context(tables={"tariff": {"max_per_minute": 10_000}})
    try:
        conn = getattr(ctx.storage, "_conn", None)
        if not isinstance(conn, sqlite3.Connection):
            pytest.skip("the statement count is taken on the SQLite store")
        patient = base_population()[0].ssin
        consult_tariff(ctx, ctx.open_contact(patient), SERVICES)  # warm-up
        contact = ctx.open_contact(patient)
        seen: list[str] = []
        calls: list[str] = []
        real_call = ctx.soap.call

        def call(*args: Any, **kwargs: Any) -> Any:
            calls.append("network")
            assert not conn.in_transaction, "a write transaction is held across the network call"
            return real_call(*args, **kwargs)

        ctx.soap.call = call
        conn.set_trace_callback(seen.append)
        try:
            result = consult_tariff(ctx, contact, SERVICES)
        finally:
            conn.set_trace_callback(None)
        assert len(result.lines) == 3 and calls == ["network"]
        assert [_shape(s) for s in seen] == EXPECTED, "\n".join(seen)
        # no query twice in one transaction (the audit head is read in each: another process may append between)
        first = seen.index("COMMIT")
        for transaction in (seen[:first], seen[first + 1:]):
            reads = Counter(s for s in transaction if s.lstrip().upper().startswith("SELECT"))
            assert max(reads.values()) == 1, f"repeated query: {reads.most_common(1)}"
        # a second consultation of the same contact is answered from it: one read-only transaction
        seen.clear()
        conn.set_trace_callback(seen.append)
        try:
            again = consult_tariff(ctx, contact, SERVICES)
        finally:
            conn.set_trace_callback(None)
        assert again.from_contact and calls == ["network"]
        assert [_shape(s) for s in seen] == [("BEGIN", ""), ("SELECT", "contact"), ("SELECT", "exchange_result"),
                                             ("COMMIT", "")]
    finally:
        ctx.close()
