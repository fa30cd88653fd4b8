# ruff: noqa: F811  (pytest fixtures imported from flow_fixtures)
"""The billing worker and its lease (issue 16): one holder per dentist, a stalled holder cannot post, the
command's exit codes, its health lines, and a graceful stop on SIGTERM that gives every dentist back."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mycarenet_dental.cli.main import main
from mycarenet_dental.storage import open_storage
from mycarenet_dental_billing.lease import claim, due
from mycarenet_dental_billing.outbox import Outbox, SendingState

from tests.billing.flow_fixtures import (  # noqa: F401  (fixtures)
    LUCAS,
    MARIE,
    consulted_invoice,
    env,
    make_invoice,
    receipts,
    today,
)


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The practice's store: a SQLite file, or a fresh PostgreSQL database (skipped where none starts)."""
    if request.param == "sqlite":
        return str(tmp_path / "practice.sqlite")
    return str(request.getfixturevalue("postgres_url"))


def _practice(env: Any, tmp_path: Path, *, consulted: bool = True, target: str | None = None) -> tuple[Any, str]:
    ctx = env.context(storage=open_storage(target or str(tmp_path / "practice.sqlite")))
    day = today() - dt.timedelta(days=1)
    if consulted:
        invoices = [consulted_invoice(ctx, 9101, LUCAS, [("301011", day, 36, 2500)]),
                    consulted_invoice(ctx, 9102, MARIE, [("301011", day, 16, 2500)])]
    else:
        invoices = [make_invoice(9101, LUCAS, [("301011", day, 36, 2500)], provider=ctx.config.require_dentist().nihii)]
    Outbox(ctx).build(invoices, check_r36=False)
    return ctx, ctx.config.require_dentist().nihii


def _config(env: Any, tmp_path: Path, target: str | None = None, **billing: float) -> Path:
    text = env.config_path.read_text("utf-8")
    target = target or str(tmp_path / "practice.sqlite")
    key = "url" if "://" in target else "path"
    text = re.sub(r'(?m)^path = "store\.sqlite"$', f"{key} = {json.dumps(target)}", text)
    settings = {"worker_poll_seconds": 0.05, "worker_poll_max_seconds": 0.2, "worker_idle_seconds": 0.05, **billing}
    text += "\n[billing]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items())
    path = env.config_path.parent / f"config-worker-{tmp_path.name}.toml"  # beside the PKI it names
    path.write_text(text, "utf-8")
    return path


def test_one_holder_per_dentist_and_a_stalled_holder_cannot_post(env: Any, tmp_path: Path, target: str) -> None:
    ctx, nihii = _practice(env, tmp_path, target=target)
    clock = Clock()
    assert due(ctx.storage, now=clock(), among=None, limit=4) == [nihii]
    first = claim(ctx.storage, nihii, holder="a", clock=clock, seconds=10)
    assert first is not None
    assert claim(ctx.storage, nihii, holder="b", clock=clock, seconds=10) is None  # held
    assert due(ctx.storage, now=clock(), among=None, limit=4) == []
    clock.now += dt.timedelta(seconds=11)  # "a" stalled past its lease: "b" takes the dentist over
    second = claim(ctx.storage, nihii, holder="b", clock=clock, seconds=10)
    assert second is not None
    stalled = Outbox(ctx, lease=first)
    sending = stalled.list()[0]
    after = stalled.send(sending.id)  # validated, then the post claim sees the lease is gone
    assert after.state is SendingState.VALIDATED and after.post_attempts == 0
    assert receipts(env) == {}
    posted = Outbox(ctx, lease=second).send(sending.id)
    assert posted.state is SendingState.POSTED and posted.post_attempts == 1
    second.release(next_at=clock() + dt.timedelta(seconds=30))
    assert claim(ctx.storage, nihii, holder="c", clock=clock, seconds=10) is None  # backing off
    clock.now += dt.timedelta(seconds=31)
    assert claim(ctx.storage, nihii, holder="c", clock=clock, seconds=10) is not None
    ctx.close()


def _worker(config: Path, *args: str) -> int:
    try:
        main(["--config", str(config), "billing", "worker", *args])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_worker_settles_everything_then_exits_0_with_a_health_line_per_cycle(
        env: Any, tmp_path: Path, target: str, capsys: pytest.CaptureFixture[str]) -> None:
    ctx, nihii = _practice(env, tmp_path, target=target)
    assert _worker(_config(env, tmp_path, target), "--until-idle", "--concurrency", "2") == 0
    assert [s.state for s in Outbox(ctx).list()] == [SendingState.SETTLED] * 2
    assert receipts(env) == {f"{nihii}:9101": 1, f"{nihii}:9102": 1}
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]  # one JSON object a line
    health = [e for e in lines if e["event"] == "health"]
    assert health and all(h["level"] == "info" and h["dentists"] == 1 for h in health)
    assert [h["cycle"] for h in health] == list(range(1, len(health) + 1))
    events = [e["event"] for e in lines if e["event"] != "health"]
    assert events[0] == "started" and events[-1] == "idle" and "turn" in events
    rows = ctx.storage.query("SELECT holder, expires_at FROM billing_lease")
    assert rows and all(r["expires_at"] == "" for r in rows)  # every dentist given back
    ctx.close()


def test_exit_codes(env: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ctx, _ = _practice(env, tmp_path, consulted=False)  # R36 refuses the post: a person must act
    config = _config(env, tmp_path)
    assert _worker(config, "--until-idle") == 1
    out, err = capsys.readouterr()
    assert json.loads(out.splitlines()[-1])["need_a_person"] == 1 and err.startswith("error: [NEED_A_PERSON]")
    office = env.mandatary_config_path.read_text("utf-8").replace(
        'path = "store-mandatary.sqlite"', f"path = {json.dumps(str(tmp_path / 'office.sqlite'))}")
    office_path = env.config_path.parent / f"config-office-{tmp_path.name}.toml"
    office_path.write_text(office, "utf-8")
    assert _worker(office_path, "--until-idle") == 2  # an office without any mandate
    assert "no billing mandate" in capsys.readouterr().err
    assert _worker(config, "--concurrency", "0") == 2
    ctx.close()


def test_insurer_unreachable_exits_3(env: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ctx, _ = _practice(env, tmp_path)
    env.state.switches.extra["billing.drop"] = {"post": 100, "get": 100}  # every answer lost (HTTP 504)
    assert _worker(_config(env, tmp_path, worker_give_up_seconds=0.3), "--until-idle") == 3
    assert capsys.readouterr().err.startswith("error: [INSURER_UNREACHABLE]")
    ctx.close()


def test_sigterm_finishes_the_turn_and_gives_every_dentist_back(env: Any, tmp_path: Path) -> None:
    ctx, _ = _practice(env, tmp_path)
    env.state.switches.latency_s = 0.3  # a slow insurer: the signal arrives while a turn is under way
    config = _config(env, tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "mycarenet_dental", "--config", str(config), "billing", "worker"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **env.env})
    try:
        assert proc.stdout is not None
        while json.loads(proc.stdout.readline())["event"] != "health":  # a cycle ran
            pass
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        env.state.switches.latency_s = 0.0
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()[-2000:]
    events = [e for e in map(json.loads, out.decode().splitlines()) if e["event"] != "health"]
    assert events[-1]["event"] == "stopped" and (events[-1]["reason"], events[-1]["signal"]) == ("signal", "SIGTERM")
    rows = ctx.storage.query("SELECT expires_at FROM billing_lease")
    assert rows and all(r["expires_at"] == "" for r in rows)
    ctx.close()
