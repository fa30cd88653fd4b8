"""The cheap paths of an exchange's store work give the answers of the general ones (issue 18): the
daily checkpoint decided from memory still notices a file changed behind the process, the kept results
written in one statement are the rows ``record`` writes, and the rules worked out once per service
follow a change of configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest
from mycarenet_dental import audit_checkpoint
from mycarenet_dental.errors import RuleRefusal
from mycarenet_dental.plugins import PluginManager, UndeclaredResultKindError

from tests.core.test_exchanges import PATIENT, FakeService


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from mycarenet_dental.sim.pki import generate_pki

    return generate_pki(tmp_path_factory.mktemp("store-path-pki"), key_type="ec")


@pytest.fixture
def plugins() -> PluginManager:
    return PluginManager().load(allow=["core-only"], extra=[("fakesvc", FakeService())])


def _exchange(ctx: Any) -> None:
    contact = ctx.open_contact(PATIENT)
    with ctx.exchange(ctx.new_exchange("fakesvc", "Consult", patient=PATIENT, contact_id=contact.id)):
        pass


def test_daily_checkpoint_reads_the_file_again_only_when_it_changed(make_context: Any, pki: Any, plugins: Any,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from mycarenet_dental.ehealth.keystore import Keystore

    ctx = make_context(plugins=plugins, fakesvc={"max_per_minute": 100})
    ctx._security = attrs.make_class("S", {"keystore": attrs.field()})(Keystore.load(pki.dentist_p12,
                                                                                      pki.keystore_password))
    path = Path(str(ctx.config.storage_path) + ".checkpoints")
    reads: list[int] = []
    latest = audit_checkpoint.CheckpointFile.latest
    monkeypatch.setattr(audit_checkpoint.CheckpointFile, "latest", lambda self: reads.append(1) or latest(self))

    _exchange(ctx)  # the first of the day is signed
    assert len(path.read_text().splitlines()) == 1
    reads.clear()
    _exchange(ctx)
    _exchange(ctx)
    assert reads == [] and len(path.read_text().splitlines()) == 1  # unchanged file, under a day: not read
    path.write_text("")  # truncated behind the process: no checkpoint today any more
    _exchange(ctx)
    assert reads and len(path.read_text().splitlines()) == 1  # read again at once, and signed again
    path.unlink()  # deleted
    _exchange(ctx)
    assert len(path.read_text().splitlines()) == 1
    kept = path.read_text()
    replacement = path.with_name("other")
    replacement.write_text(kept + kept)  # replaced by another file (a restore, a rename over it)
    replacement.replace(path)
    reads.clear()
    _exchange(ctx)
    assert reads  # another inode: read again (its latest checkpoint is recent: nothing more to sign)
    assert len(path.read_text().splitlines()) == 2


def test_kept_results_in_one_statement_are_the_rows_record_writes(make_context: Any, plugins: Any) -> None:
    ctx = make_context(plugins=plugins)
    log = ctx.log
    data = [{"line": 1, "amount": 2750, "name": "Zoë"}, {"line": 2, "tooth": None}]
    one = [log.record(exchange_id="e1", kind="fakesvc.result", service="fakesvc", status="ok", data=d,
                      patient=PATIENT, contact_id="c1", retention="contact") for d in data]
    with ctx.storage.transaction() as conn:
        log.record_all(conn, [("fakesvc.result", "ok", d, "contact") for d in data], exchange_id="e2",
                       service="fakesvc", patient=PATIENT, contact_id="c1")

    def rows(exchange_id: str) -> list[tuple[Any, ...]]:
        return [(r.kind, r.service, r.patient, r.contact_id, r.status, r.retention, dict(r.data))
                for r in log.find(service="fakesvc") if r.exchange_id == exchange_id]

    assert len(one) == 2 and rows("e1") == rows("e2") and len(rows("e2")) == 2
    raw = {r["exchange_id"]: r["data"] for r in ctx.storage.query("SELECT exchange_id, data FROM exchange_result")}
    assert raw["e1"] == raw["e2"]  # the same JSON text
    with pytest.raises(UndeclaredResultKindError), ctx.storage.transaction() as conn:
        log.record_all(conn, [("fakesvc.result", "ok", {}, "keep"), ("nobody.kind", "ok", {}, "keep")],
                       exchange_id="e3", service="fakesvc", patient=PATIENT, contact_id="c1")
    assert rows("e3") == []


def test_rules_worked_out_once_follow_the_configuration(make_context: Any, plugins: Any) -> None:
    ctx = make_context(plugins=plugins, fakesvc={"max_per_minute": 100})
    contact = ctx.open_contact(PATIENT)
    automatic = ctx.new_exchange("fakesvc", "Consult", patient=PATIENT, contact_id=contact.id, trigger="automatic")
    with pytest.raises(RuleRefusal) as info:
        ctx.check_rules(automatic)
    assert info.value.rule_id == "R37"
    ctx.config = attrs.evolve(ctx.config, rules_disabled=("R37",))
    ctx.check_rules(automatic)  # the rule set of the new configuration: R37 is off
