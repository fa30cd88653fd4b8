"""Convention rules hold when several processes of one practice ask at the same moment (issue 15.12).

R34/R35 (once per contact) and the burst limits (R37-burst, R42-burst) used to read the store and
then send: N processes released together all read "not yet" and all sent. The check and its
reservation are now one write transaction. Real processes are raced through a file barrier against
the TLS simulator, and the requests are counted where they land: at the simulated insurer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mycarenet_dental.sim.population import base_population
from mycarenet_dental.storage import Storage, open_storage

from tests.racing import race

PEOPLE = base_population()
REGULAR = PEOPLE[0].ssin


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    pytest.importorskip("mycarenet_dental_assurability")
    pytest.importorskip("mycarenet_dental_tariff")
    pytest.importorskip("mycarenet_dental_dmg")
    from mycarenet_dental.sim.testing import SimEnv

    with SimEnv.running(tmp_path_factory.mktemp("race-sim")) as env:
        yield env


def _contact(sim: Any, db: Path | str, patient: str) -> str:
    ctx = sim.context(storage=open_storage(db))
    try:
        return ctx.open_contact(patient).id
    finally:
        ctx.close()


def _setup(sim: Any, db: Path | str, extra: str = "") -> str:
    return f"""
from mycarenet_dental.context import Context
from mycarenet_dental.errors import RuleRefusal
from mycarenet_dental.storage import open_storage
ctx = Context.from_config({str(sim.config_path)!r}, storage=open_storage({str(db)!r}))
ctx.storage
ctx.security.token()  # log in before the barrier: the race is about the rule check, not the STS
{extra}
"""


# A burst check that takes a moment after its count (a loaded disk, a big audit): with the check and
# the exchange row in one transaction the others wait; with a read-then-write they all count 0.
_SLOW_CHECK = """
import time
def _slow(check):
    def slow(exchange, context):
        verdict = check(exchange, context)
        time.sleep(0.15)
        return verdict
    return slow
ctx.__dict__["all_rules"] = [attrs.evolve(r, check=_slow(r.check)) if r.id == "{rule}" else r for r in ctx.all_rules]
"""


def _requests(sim: Any, path: str) -> int:
    return int(sim.state.counters.get(f"requests:{path}", 0))


@pytest.mark.parametrize("n", [2, 8])
def test_r34_insurability_once_per_contact_under_race(sim: Any, tmp_path: Path, n: int) -> None:
    from mycarenet_dental.protocols.memberdata import PATH

    db = tmp_path / "practice.sqlite"
    contact = _contact(sim, db, REGULAR)
    before = _requests(sim, PATH)
    body = f"""
from mycarenet_dental_assurability import consult_insurability
try:
    answer = consult_insurability(ctx, ctx.contact({contact!r}))
    result = {{"fresh": not any(x.code == "R34" for x in answer.notices)}}
except RuleRefusal as exc:
    result = {{"refused": exc.rule_id, "message": exc.reason}}
"""
    outcomes = race(tmp_path / "race", n, _setup(sim, db), body, env=sim.env)
    assert all(code == 0 for code, _, _ in outcomes), [err for _, _, err in outcomes]
    results = [r for _, r, _ in outcomes]
    assert _requests(sim, PATH) - before == 1, results  # one request reached the insurer
    assert sum(1 for r in results if r.get("fresh")) == 1
    others = [r for r in results if not r.get("fresh")]
    # the others were refused while it was in flight, or got the answer it kept on the contact
    assert all(r.get("refused") == "R34" or r.get("fresh") is False for r in others), others
    ctx = sim.context(storage=Storage(db))
    assert ctx.storage.query("SELECT * FROM rule_reservation") == []  # released by the outcome
    assert ctx.audit.verify().ok
    ctx.close()


def test_r34_two_workstations_on_a_shared_postgresql_store(sim: Any, tmp_path: Path, postgres_url: str) -> None:
    """Reception and chair, two processes on one PostgreSQL store, the same patient's insurability in
    the same contact at the same moment: exactly one request goes out, the other is refused by R34."""
    from mycarenet_dental.protocols.memberdata import PATH

    patient = PEOPLE[2].ssin
    contact = _contact(sim, postgres_url, patient)
    before = _requests(sim, PATH)
    body = f"""
from mycarenet_dental_assurability import consult_insurability
try:
    answer = consult_insurability(ctx, ctx.contact({contact!r}))
    result = {{"fresh": not any(x.code == "R34" for x in answer.notices)}}
except RuleRefusal as exc:
    result = {{"refused": exc.rule_id}}
"""
    outcomes = race(tmp_path / "race", 2, _setup(sim, postgres_url), body, env=sim.env)
    assert all(code == 0 for code, _, _ in outcomes), [err for _, _, err in outcomes]
    results = [r for _, r, _ in outcomes]
    assert _requests(sim, PATH) - before == 1, results  # one request reached the insurer
    assert sorted(map(str, results)) == sorted(map(str, [{"fresh": True}, {"refused": "R34"}])) or \
        sorted(map(str, results)) == sorted(map(str, [{"fresh": True}, {"fresh": False}])), results
    ctx = sim.context(storage=open_storage(postgres_url))
    assert ctx.storage.query("SELECT * FROM rule_reservation") == []
    assert ctx.audit.verify().ok
    ctx.close()


def test_r35_tariff_once_per_contact_under_race(sim: Any, tmp_path: Path) -> None:
    from mycarenet_dental_tariff.simulator import PATH

    db = tmp_path / "practice.sqlite"
    patient = PEOPLE[1].ssin
    contact = _contact(sim, db, patient)
    before = _requests(sim, PATH)
    # each process asks another service, so the client cannot answer from the contact: R35 must refuse
    body = f"""
from mycarenet_dental_tariff import consult_tariff
codes = ["301011", "302153:36", "304415:46", "302153:37", "304415:45", "302153:16"]
try:
    answer = consult_tariff(ctx, ctx.contact({contact!r}), [codes[{{k}}]])
    result = {{"fresh": not answer.from_contact}}
except RuleRefusal as exc:
    result = {{"refused": exc.rule_id}}
except Exception as exc:  # an insurer's business refusal still means the request went out
    result = {{"sent": type(exc).__name__}}
""".replace("{{k}}", "{k}")
    outcomes = race(tmp_path / "race", 6, _setup(sim, db), body, env=sim.env)
    assert all(code == 0 for code, _, _ in outcomes), [err for _, _, err in outcomes]
    results = [r for _, r, _ in outcomes]
    assert _requests(sim, PATH) - before == 1, results
    assert sorted(r.get("refused", "sent") for r in results) == ["R35"] * 5 + ["sent"], results


def test_r42_dmg_burst_limit_under_race(sim: Any, tmp_path: Path) -> None:
    """Limit 3 a minute, 8 processes at once for 8 patients: exactly 3 requests reach the insurer."""
    from mycarenet_dental_dmg.plugin import GMF_PATH

    db = tmp_path / "practice.sqlite"
    patients = [p.ssin for p in PEOPLE[:8]]
    contacts = [_contact(sim, db, p) for p in patients]
    before = _requests(sim, GMF_PATH)
    extra = """
import attrs
raw = dict(ctx.config.raw)
raw["dmg"] = {"max_per_minute": 3, "route": "gmf"}
ctx.config = attrs.evolve(ctx.config, raw=raw)
""" + _SLOW_CHECK.format(rule="R42-burst")
    body = f"""
from mycarenet_dental_dmg import consult_dmg
patients, contacts = {patients!r}, {contacts!r}
try:
    consult_dmg(ctx, ctx.contact(contacts[{{k}}]))
    result = "sent"
except RuleRefusal as exc:
    result = exc.rule_id
except Exception as exc:  # an insurer refusal still means the request went out
    result = "sent:" + type(exc).__name__
""".replace("{{k}}", "{k}")
    outcomes = race(tmp_path / "race", 8, _setup(sim, db, extra), body, env=sim.env)
    results = [r for _, r, _ in outcomes]
    assert all(code == 0 for code, _, _ in outcomes), [err for _, _, err in outcomes]
    assert _requests(sim, GMF_PATH) - before == 3, results
    assert sorted(r if r == "R42-burst" else "sent" for r in results) == ["R42-burst"] * 5 + ["sent"] * 3


def test_reservation_of_a_dead_process_expires(make_context: Any) -> None:
    """A process killed mid-exchange leaves its reservation; after [rules] reservation_ttl it is taken over."""
    from mycarenet_dental import reservations

    ctx = make_context()
    assert ctx.storage is not None  # migrates
    now = dt.datetime.now(dt.timezone.utc)
    ttl = dt.timedelta(seconds=120)
    with ctx.storage.transaction() as conn:
        assert reservations.take(conn, "R34", "assurability:c1", "dead", now=now - dt.timedelta(seconds=300),
                                 ttl=ttl) is None
    with ctx.storage.transaction() as conn:
        held = reservations.take(conn, "R34", "assurability:c2", "live", now=now, ttl=ttl)
        assert held is None
        assert reservations.take(conn, "R34", "assurability:c2", "other", now=now, ttl=ttl).exchange_id == "live"
        assert reservations.take(conn, "R34", "assurability:c1", "new", now=now, ttl=ttl) is None  # stale: taken
    rows = {r["key"]: r["exchange_id"] for r in ctx.storage.query("SELECT * FROM rule_reservation")}
    assert rows == {"assurability:c1": "new", "assurability:c2": "live"}


def test_reservation_ttl_must_be_seconds(make_context: Any) -> None:
    from mycarenet_dental import reservations
    from mycarenet_dental.errors import ConfigError

    with pytest.raises(ConfigError, match="reservation_ttl"):
        reservations.ttl_of({"reservation_ttl": "soon"})
    assert reservations.ttl_of({}).total_seconds() == reservations.DEFAULT_TTL_SECONDS


def test_r37_tariff_burst_limit_under_race(sim: Any, tmp_path: Path) -> None:
    """The tariff burst rule (same factory as R42-burst): limit 2 a minute, 6 processes, 6 patients."""
    from mycarenet_dental_tariff.simulator import PATH

    db = tmp_path / "practice.sqlite"
    patients = [p.ssin for p in PEOPLE[:6]]
    contacts = [_contact(sim, db, p) for p in patients]
    before = _requests(sim, PATH)
    extra = """
import attrs
raw = dict(ctx.config.raw)
raw["tariff"] = {"max_per_minute": 2}
ctx.config = attrs.evolve(ctx.config, raw=raw)
""" + _SLOW_CHECK.format(rule="R37-burst")
    body = f"""
from mycarenet_dental_tariff import consult_tariff
patients, contacts = {patients!r}, {contacts!r}
try:
    consult_tariff(ctx, ctx.contact(contacts[{{k}}]), ["301011"])
    result = "sent"
except RuleRefusal as exc:
    result = exc.rule_id
except Exception as exc:  # an insurer's business refusal still means the request went out
    result = "sent:" + type(exc).__name__
""".replace("{{k}}", "{k}")
    outcomes = race(tmp_path / "race", 6, _setup(sim, db, extra), body, env=sim.env)
    results = [r for _, r, _ in outcomes]
    assert all(code == 0 for code, _, _ in outcomes), [err for _, _, err in outcomes]
    assert _requests(sim, PATH) - before == 2, results
    assert sorted(r if r == "R37-burst" else "sent" for r in results) == ["R37-burst"] * 4 + ["sent"] * 2


def test_two_processes_saving_the_token_cache_at_once(sim: Any, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Each save goes through a temporary file of its own. They used to share one name: a second
    process saving between the first one's write and rename made the first fail (FileNotFoundError)
    — seen when racing logins above."""
    import os

    from mycarenet_dental.ehealth import tokens

    first = sim.context(storage=Storage(tmp_path / "a.sqlite"))
    second = sim.context(storage=Storage(tmp_path / "b.sqlite"))
    token = first.security.token()
    real_replace = os.replace
    interleaved = []

    def replace(src: Any, dst: Any) -> None:
        if not interleaved:  # the other process saves right now, between this one's write and rename
            interleaved.append(src)
            second.security.tokens._save(token)
        real_replace(src, dst)

    monkeypatch.setattr(tokens.os, "replace", replace)
    first.security.tokens._save(token)
    assert interleaved
    cache = Path(first.config.token_cache)
    assert cache.stat().st_mode & 0o777 == 0o600 and not list(cache.parent.glob(cache.name + ".*tmp"))
    first.close()
    second.close()


def test_a_check_alone_holds_no_reservation(make_context: Any) -> None:
    """``check_rules`` without an exchange (a dry run) must not block the contact afterwards."""
    from mycarenet_dental.plugins import PluginManager

    from tests.core.test_exchanges import PATIENT, FakeService

    plugins = PluginManager().load(allow=["core-only"], extra=[("fakesvc", FakeService())])
    ctx = make_context(plugins=plugins)
    contact = ctx.open_contact(PATIENT)
    ctx.check_rules(ctx.new_exchange("fakesvc", "Consult", patient=PATIENT, contact_id=contact.id))
    assert ctx.storage.query("SELECT * FROM rule_reservation") == []
    with ctx.exchange(ctx.new_exchange("fakesvc", "Consult", patient=PATIENT, contact_id=contact.id)) as run:
        assert len(ctx.storage.query("SELECT * FROM rule_reservation")) == 1  # held while in flight
        run.keep("fakesvc.result", {"answer": 1})
    assert ctx.storage.query("SELECT * FROM rule_reservation") == []
