# ruff: noqa: F811  (pytest fixtures imported from flow_fixtures)
"""Crash at every step boundary, restart, and every invoice is settled exactly once.

A crash is simulated by raising :class:`SimulatedCrash` (a BaseException, as a kill leaves no
handler running) at the outbox's step boundaries, then abandoning the client and its storage
handle and starting a new context on the same database file; one test kills a real process
(``os._exit``) right after the post. The simulator counts the files and invoices it took in.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap

import pytest
from mycarenet_dental.errors import SoapFaultError, TransportError
from mycarenet_dental.storage import Storage
from mycarenet_dental_billing.outbox import CRASH_POINTS, Outbox, SendingState, SimulatedCrash

from tests.billing.flow_fixtures import (  # noqa: F401  (fixtures)
    LUCAS,
    MARIE,
    NOAH,
    REPO,
    consulted_invoice,
    env,
    receipts,
    today,
)


def test_crash_points_cover_every_step():
    assert set(CRASH_POINTS) == {"after_post", "after_get", "after_store", "after_confirm"}


def _crash_at(point: str):
    def hook(name: str) -> None:
        if name == point:
            raise SimulatedCrash(name)

    return hook


def _practice(env, tmp_path):
    ctx = env.context(storage=Storage(tmp_path / "practice.sqlite"))
    day = today() - dt.timedelta(days=1)
    invoices = [
        consulted_invoice(ctx, 9001, LUCAS, [("301011", day, 36, 2500), ("301033", day, 37, 1500)]),
        consulted_invoice(ctx, 9002, MARIE, [("301011", day, 16, 2500)]),
        consulted_invoice(ctx, 9003, NOAH, [("301011", day, 75, 2100)]),
    ]
    return ctx, invoices


def _restart_and_settle(env, tmp_path):
    ctx = env.context(storage=Storage(tmp_path / "practice.sqlite"))  # a new process, same database
    outbox = Outbox(ctx)
    statuses = outbox.settle(max_polls=6)
    return ctx, outbox, statuses


def _assert_settled_once(env, ctx, outbox, statuses):
    assert sorted(s.state.value for s in statuses) == ["settled", "settled", "settled"]
    assert all(s.received for s in statuses)
    nihii = ctx.config.require_dentist().nihii
    assert receipts(env) == {f"{nihii}:9001": 1, f"{nihii}:9002": 1, f"{nihii}:9003": 1}
    assert sum(v for k, v in env.state.counters.items() if k.startswith("billing.receipts:")) == 3
    lines = [ln for s in statuses for ln in outbox.lines(s.id)]
    assert sorted(ln.state for ln in lines) == ["paid"] * 4
    assert sum(ln.paid for ln in lines) == 8600


@pytest.mark.parametrize("point", ["after_post", "after_store"])  # after_get/after_confirm: real kills below
def test_crash_and_restart(env, tmp_path, point):
    ctx, invoices = _practice(env, tmp_path)
    outbox = Outbox(ctx, crash_hook=_crash_at(point))
    outbox.build(invoices)
    with pytest.raises(SimulatedCrash):
        outbox.settle(max_polls=3)
    del outbox, ctx  # abandoned, as a killed process
    ctx2, outbox2, statuses = _restart_and_settle(env, tmp_path)
    _assert_settled_once(env, ctx2, outbox2, statuses)
    if point == "after_post":
        # the post's answer never reached the database: reconciled through get, never posted again
        assert env.state.counters.get("billing.duplicate_posts", 0) == 0
        assert all(s.post_attempts == 1 for s in statuses)


def test_post_answer_lost_is_reconciled_not_reposted(env, tmp_path):
    ctx, invoices = _practice(env, tmp_path)
    env.state.switches.extra["billing.drop"] = {"post": 1}
    outbox = Outbox(ctx)
    built = outbox.build(invoices)
    first = built.sendings[0]
    with pytest.raises(TransportError):
        outbox.send(first.id)
    assert outbox.get(first.id).state is SendingState.POSTING
    assert not outbox.get(first.id).received
    statuses = outbox.settle(max_polls=6)
    _assert_settled_once(env, ctx, outbox, statuses)
    assert outbox.get(first.id).post_attempts == 1
    assert env.state.counters.get("billing.duplicate_posts", 0) == 0


def test_lost_get_and_confirm_answers(env, tmp_path):
    ctx, invoices = _practice(env, tmp_path)
    env.state.switches.extra["billing.drop"] = {"get": 2, "confirm": 2}
    outbox = Outbox(ctx)
    outbox.build(invoices)
    statuses = outbox.settle(max_polls=8)
    _assert_settled_once(env, ctx, outbox, statuses)
    assert env.state.counters.get("billing.dropped:get", 0) == 2


def test_post_refused_by_platform_then_sent_again(env, tmp_path):
    ctx, invoices = _practice(env, tmp_path)
    path = "/mycarenet-ws/async/generic/hcpfac"
    env.state.switches.down.add(path)
    outbox = Outbox(ctx)
    built = outbox.build(invoices)
    try:
        with pytest.raises(SoapFaultError):
            outbox.send(built.sendings[0].id)
        assert outbox.get(built.sendings[0].id).state is SendingState.FAILED
    finally:
        env.state.switches.down.discard(path)
    statuses = outbox.settle(max_polls=6)
    _assert_settled_once(env, ctx, outbox, statuses)


@pytest.mark.parametrize("point", ["after_post", "after_get", "after_confirm"])
def test_process_killed(env, tmp_path, point):
    """A real process exits abruptly (os._exit) at the step boundary; a new process finishes the work."""
    ctx, invoices = _practice(env, tmp_path)
    Outbox(ctx).build(invoices)
    ctx.close()
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(REPO)!r})
        from mycarenet_dental.context import Context
        from mycarenet_dental.storage import Storage
        from mycarenet_dental_billing.outbox import Outbox
        ctx = Context.from_config({str(env.config_path)!r}, storage=Storage({str(tmp_path / "practice.sqlite")!r}))
        def hook(point):
            if point == {point!r}:
                os._exit(9)
        outbox = Outbox(ctx, crash_hook=hook)
        outbox.send_all()
        outbox.poll()
        os._exit(0)
    """)
    proc = subprocess.run([sys.executable, "-c", script], env={**os.environ, **env.env}, capture_output=True,
                          timeout=60)
    assert proc.returncode == 9, proc.stderr.decode()[-2000:]
    ctx2, outbox2, statuses = _restart_and_settle(env, tmp_path)
    _assert_settled_once(env, ctx2, outbox2, statuses)
    assert env.state.counters.get("billing.duplicate_posts", 0) == 0


def test_repost_met_by_the_insurers_duplicate_check(env, tmp_path):
    """Worst case: post answer lost, no async TAck, answers late, platform does not dedupe: the re-post is
    refused as a duplicate (920999 3011/40) and the outbox keeps waiting for the first copy's answers."""
    env.state.switches.extra.update({"billing.drop": {"post": 1}, "billing.async_tack": False,
                                     "billing.delay_polls": 2, "billing.platform_dedupe": False})
    ctx, invoices = _practice(env, tmp_path)
    outbox = Outbox(ctx)
    outbox.build(invoices[:1])
    statuses = outbox.settle(max_polls=10)
    (status,) = statuses
    assert status.state is SendingState.SETTLED and status.post_attempts == 2
    nihii = ctx.config.require_dentist().nihii
    assert receipts(env) == {f"{nihii}:9001": 1}
    types = [r["message_type"] for r in ctx.storage.query("SELECT message_type FROM billing_message "
                                                          "WHERE kind = 'message' ORDER BY id")]
    assert "920999" in types and types.count("920900") == 1
