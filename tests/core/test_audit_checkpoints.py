"""Signed checkpoints make the audit trail tamper-proof up to the latest one (issue 15.7).

Every scenario plays the attack on the database file (or the checkpoint file) as someone with write
access but without the practice's private key would, then verifies. The hash chain alone let
scenarios marked "old: passed" through.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest
from mycarenet_dental.audit import FIELDS, GENESIS, TABLES, AuditLog, _row_hash, verify_store
from mycarenet_dental.audit_checkpoint import CheckpointFile, Signer, check_trail
from mycarenet_dental.storage import Storage

from tests.conftest import cli_env


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from mycarenet_dental.sim.pki import generate_pki

    return generate_pki(tmp_path_factory.mktemp("audit-pki"), key_type="ec")


@pytest.fixture(scope="module")
def signer(pki: Any) -> Signer:
    from mycarenet_dental.ehealth.keystore import Keystore

    return Signer.from_keystore(Keystore.load(pki.dentist_p12, pki.keystore_password))


def _attacker() -> Signer:
    """Someone who made a key and a certificate of their own, with the dentist's name on it."""
    from mycarenet_dental.sim.pki import DENTIST_SSIN, issue, new_key, person_subject

    key = new_key("ec256")
    cert = issue(person_subject(DENTIST_SSIN, "Anne SIMULAAR"), key.public_key(), issuer=None, issuer_key=key,
                 now=datetime.now(timezone.utc), days=30)
    return Signer(private_key=key, certificate=cert)


@pytest.fixture
def trail(tmp_path: Path) -> tuple[Path, AuditLog]:
    db = tmp_path / "practice.sqlite"
    storage = Storage(db)
    storage.migrate([TABLES])
    log = AuditLog(storage)
    for i in range(20):
        log.append("exchange", exchange_id=f"x{i}", service="tariff", operation="op", executor="user:alice",
                   patient="85073003328", outcome="sent", detail={"n": i})
    return db, log


def _cps(tmp_path: Path) -> CheckpointFile:
    return CheckpointFile(tmp_path / "practice.sqlite.checkpoints")


def _more(log: AuditLog, n: int = 5) -> None:
    for i in range(n):
        log.append("exchange", exchange_id=f"later{i}", service="tariff")


def _rechain(db: Path) -> None:
    """What an attacker without the key does after editing: recompute every hash and the head."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(f"SELECT {', '.join(FIELDS)} FROM audit ORDER BY seq").fetchall()
        conn.execute("DELETE FROM audit")
        prev = GENESIS
        for n, row in enumerate(rows, start=1):
            values = (n, *row[1:])
            digest = _row_hash(prev, values)
            conn.execute(f"INSERT INTO audit({', '.join(FIELDS)}, prev_hash, hash) VALUES "
                         f"({', '.join('?' * (len(FIELDS) + 2))})", (*values, prev, digest))
            prev = digest
        conn.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (len(rows), prev))


def _sql(db: Path, *statements: str) -> None:
    with sqlite3.connect(db) as conn:
        for statement in statements:
            conn.execute(statement)


def _checked(tmp_path: Path, db: Path, log: AuditLog, signer: Signer) -> None:
    """The practice verifies (a checkpoint is signed), then keeps working."""
    first = check_trail(db, _cps(tmp_path), signer)
    assert first.ok and first.signed and first.signed["seq"] == 20
    _more(log)


# -- the chain's blind spots, now closed -------------------------------------------------------------


def test_rewritten_row_with_recomputed_chain(tmp_path: Path, trail: Any, signer: Signer) -> None:
    db, log = trail
    _checked(tmp_path, db, log, signer)
    _sql(db, "UPDATE audit SET outcome = 'refused' WHERE seq = 7")
    _rechain(db)
    assert log.verify().ok  # old: passed
    result = check_trail(db, _cps(tmp_path), signer)
    assert not result.ok and result.problem == "CHAIN_REWRITTEN" and result.first_broken == 1
    assert "entries 1-20 were rewritten" in result.reason and result.signed is None


def test_tighter_checkpoints_narrow_the_rewritten_range(tmp_path: Path, trail: Any, signer: Signer) -> None:
    db, log = trail
    _checked(tmp_path, db, log, signer)  # checkpoint at 20, then 25 entries
    assert check_trail(db, _cps(tmp_path), signer).ok  # checkpoint at 25
    _sql(db, "UPDATE audit SET outcome = 'refused' WHERE seq = 23")
    _rechain(db)
    result = check_trail(db, _cps(tmp_path), signer)
    assert result.problem == "CHAIN_REWRITTEN" and result.first_broken == 21 and "entries 21-25" in result.reason


def test_tail_cut_and_head_fixed(tmp_path: Path, trail: Any, signer: Signer) -> None:
    db, log = trail
    _checked(tmp_path, db, log, signer)
    assert check_trail(db, _cps(tmp_path), signer).ok  # checkpoint at 25
    _sql(db, "DELETE FROM audit WHERE seq > 17")
    _rechain(db)
    assert log.verify().ok  # old: passed
    result = check_trail(db, _cps(tmp_path), signer)
    assert result.problem == "ROWS_REMOVED" and result.first_broken == 18 and "18-25" in result.reason


def test_everything_deleted_and_head_reset(tmp_path: Path, trail: Any, signer: Signer) -> None:
    db, log = trail
    _checked(tmp_path, db, log, signer)
    _sql(db, "DELETE FROM audit", f"UPDATE audit_head SET seq = 0, hash = '{GENESIS}'")
    result = check_trail(db, _cps(tmp_path), signer)
    assert result.problem == "ROWS_REMOVED" and "emptied" in result.reason


def test_empty_trail_is_never_intact(tmp_path: Path, trail: Any) -> None:
    db, log = trail
    _sql(db, "DELETE FROM audit", f"UPDATE audit_head SET seq = 0, hash = '{GENESIS}'")
    result = log.verify()
    assert not result.ok and result.problem == "EMPTY"  # old: "intact: 0 entries"


def test_forged_row_inserted_before_the_checkpoint(tmp_path: Path, trail: Any, signer: Signer) -> None:
    db, log = trail
    _checked(tmp_path, db, log, signer)
    _sql(db, "UPDATE audit SET seq = seq + 1000", "UPDATE audit SET seq = seq - 999 WHERE seq > 1010",
         "UPDATE audit SET seq = seq - 1000 WHERE seq > 1000",
         f"INSERT INTO audit({', '.join(FIELDS)}, prev_hash, hash) VALUES (11, '2026-01-01T00:00:00.000Z', 'exchange', "
         "'forged', 'tariff', NULL, NULL, 'user:alice', NULL, NULL, NULL, 'ok', NULL, NULL, '{}', '', '')")
    _rechain(db)
    assert log.verify().ok  # old: passed
    result = check_trail(db, _cps(tmp_path), signer)
    assert result.problem == "CHAIN_REWRITTEN"


def test_forged_row_appended_after_the_latest_checkpoint_is_only_chained(tmp_path: Path, trail: Any,
                                                                        signer: Signer) -> None:
    """The documented limit: rows after the latest checkpoint are protected by the chain only; verify says
    which ones they are (and signs them: the next checkpoint is the practice's statement)."""
    db, log = trail
    _checked(tmp_path, db, log, signer)
    log.append("exchange", exchange_id="forged-after")  # indistinguishable from a real row
    result = check_trail(db, _cps(tmp_path), signer, sign=False)
    assert result.ok and any("entries 21-26 were written after the latest checkpoint" in w for w in result.warnings)


def test_restoring_an_older_database(tmp_path: Path, trail: Any, signer: Signer) -> None:
    db, log = trail
    old = tmp_path / "old.sqlite"
    with sqlite3.connect(db) as src, sqlite3.connect(old) as dst:
        src.backup(dst)
    _checked(tmp_path, db, log, signer)
    assert check_trail(db, _cps(tmp_path), signer).ok
    result = check_trail(old, _cps(tmp_path), signer)
    assert result.problem == "ROWS_REMOVED"


# -- the store itself ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("damage", "problem"), [
    ("zero", "EMPTY"), ("garbage", "NOT_A_DATABASE"), ("truncated", "TRUNCATED"), ("dropped", "DROPPED"),
    ("missing", "MISSING"), ("header_only", "TRUNCATED"),
])
def test_damaged_store_is_a_named_failure(tmp_path: Path, trail: Any, damage: str, problem: str) -> None:
    db, log = trail
    log.storage.close()
    for extra in (Path(str(db) + "-wal"), Path(str(db) + "-shm")):
        extra.unlink(missing_ok=True)
    size = db.stat().st_size
    if damage == "zero":
        db.write_bytes(b"")
    elif damage == "garbage":
        db.write_bytes(os.urandom(8192))
    elif damage == "truncated":
        with open(db, "r+b") as fh:
            fh.truncate(size // 2 + 100)
    elif damage == "header_only":
        with open(db, "r+b") as fh:
            fh.truncate(60)
    elif damage == "dropped":
        _sql(db, "DROP TABLE audit")
    elif damage == "missing":
        db.unlink()
    result = verify_store(db)
    assert not result.ok and result.problem == problem, result


# -- the checkpoint file --------------------------------------------------------------------------


def test_checkpoint_file_is_0600_and_one_line_per_verify(tmp_path: Path, trail: Any, signer: Signer) -> None:
    db, log = trail
    for _ in range(2):
        assert check_trail(db, _cps(tmp_path), signer).ok
    path = _cps(tmp_path).path
    assert path.stat().st_mode & 0o777 == 0o600
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["seq"] == 20 and json.loads(lines[0])["reason"] == "verify"


def test_edited_checkpoint_is_refused(tmp_path: Path, trail: Any, signer: Signer) -> None:
    db, log = trail
    _checked(tmp_path, db, log, signer)
    _sql(db, "DELETE FROM audit WHERE seq > 10")
    _rechain(db)
    path = _cps(tmp_path).path
    line = json.loads(path.read_text())
    line.update(seq=10, hash=log.storage.query_one("SELECT hash FROM audit WHERE seq = 10")["hash"])
    path.write_text(json.dumps(line) + "\n")
    result = check_trail(db, _cps(tmp_path), signer)
    assert result.problem == "BAD_CHECKPOINT_SIGNATURE"


def test_checkpoint_signed_by_another_key_is_refused(tmp_path: Path, trail: Any, signer: Signer) -> None:
    db, log = trail
    _checked(tmp_path, db, log, signer)
    _sql(db, "UPDATE audit SET outcome = 'refused' WHERE seq = 3")
    _rechain(db)
    path = _cps(tmp_path).path
    path.unlink()
    attacker = _attacker()
    assert check_trail(db, _cps(tmp_path), attacker).ok  # the attacker signs the rewritten trail
    result = check_trail(db, _cps(tmp_path), signer)
    assert result.problem == "UNKNOWN_SIGNER" and "not with the practice's key" in result.reason


def test_damaged_checkpoint_file(tmp_path: Path, trail: Any, signer: Signer) -> None:
    db, log = trail
    _checked(tmp_path, db, log, signer)
    with open(_cps(tmp_path).path, "a") as fh:
        fh.write("not a checkpoint\n")
    result = check_trail(db, _cps(tmp_path), signer)
    assert result.problem == "BAD_CHECKPOINT_FILE" and "line 2" in result.reason


def test_deleted_checkpoint_file_is_caught_by_its_backup(tmp_path: Path, trail: Any, signer: Signer) -> None:
    db, log = trail
    _checked(tmp_path, db, log, signer)
    backup = tmp_path / "backup.checkpoints"
    backup.write_bytes(_cps(tmp_path).path.read_bytes())
    _cps(tmp_path).path.unlink()
    _sql(db, "DELETE FROM audit WHERE seq > 5")
    _rechain(db)
    local = check_trail(db, _cps(tmp_path), signer, sign=False)
    assert local.ok and any("no checkpoint" in w for w in local.warnings)  # the local file is gone: only a warning
    result = check_trail(db, CheckpointFile(backup), signer, sign=False)
    assert result.problem == "ROWS_REMOVED"


def test_checkpoint_of_a_renewed_certificate_is_still_trusted(tmp_path: Path, trail: Any, pki: Any,
                                                              signer: Signer) -> None:
    from mycarenet_dental.sim.pki import issue, load_pem_cert, load_pem_key, new_key

    db, log = trail
    assert check_trail(db, _cps(tmp_path), signer).ok
    ca, ca_key = load_pem_cert(pki.ca), load_pem_key(pki.ca_key)
    key = new_key("ec256")
    renewed = issue(signer.certificate.subject, key.public_key(), issuer=ca, issuer_key=ca_key,
                    now=datetime.now(timezone.utc), days=365)
    new_signer = Signer(private_key=key, certificate=renewed, issuers=(ca,))
    _more(log)
    assert check_trail(db, _cps(tmp_path), new_signer).ok


def test_without_a_key_nothing_is_signed_and_it_says_so(tmp_path: Path, trail: Any) -> None:
    db, _ = trail
    result = check_trail(db, _cps(tmp_path), None)
    assert result.ok and result.signed is None and not _cps(tmp_path).exists()
    assert any("tamper-evident, not tamper-proof" in w for w in result.warnings)


# -- the daily checkpoint ---------------------------------------------------------------------------


def test_daily_checkpoint_after_an_exchange(make_context: Any, pki: Any) -> None:
    from mycarenet_dental.ehealth.keystore import Keystore
    from mycarenet_dental.plugins import PluginManager

    from tests.core.test_exchanges import PATIENT, FakeService

    plugins = PluginManager().load(allow=["core-only"], extra=[("fakesvc", FakeService())])
    now = [datetime.now(timezone.utc)]
    ctx = make_context(plugins=plugins, clock=lambda: now[0])
    ctx._security = attrs.make_class("S", {"keystore": attrs.field()})(Keystore.load(pki.dentist_p12,
                                                                                      pki.keystore_password))
    path = Path(str(ctx.config.storage_path) + ".checkpoints")
    for hours in (0, 1, 25):
        now[0] = now[0] + timedelta(hours=hours)
        contact = ctx.open_contact(PATIENT)
        with ctx.exchange(ctx.new_exchange("fakesvc", "Consult", patient=PATIENT, contact_id=contact.id)):
            pass
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [cp["reason"] for cp in lines] == ["daily", "daily"]  # the first day, then 26 hours later
    assert path.stat().st_mode & 0o777 == 0o600
    sig = base64.b64decode(lines[0]["sig"])
    assert sig and lines[1]["seq"] > lines[0]["seq"]
    result = check_trail(ctx.config.storage_path, CheckpointFile(path), Signer.from_keystore(ctx._security.keystore))
    assert result.ok and result.checkpoint and result.checkpoint["seq"] == lines[1]["seq"]


# -- the command line -------------------------------------------------------------------------------


def _config(tmp_path: Path, pki: Any) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(f"""
profile = "simulator"
[dentist]
nihii = "31234592001"
ssin = "85073003328"
[keystore]
path = {json.dumps(str(pki.dentist_p12))}
password_env = "TEST_AUDIT_KEYSTORE_PASSWORD"
[storage]
path = "practice.sqlite"
""")
    return config


def _verify(config: Path, pki: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = cli_env(TEST_AUDIT_KEYSTORE_PASSWORD=pki.keystore_password)
    return subprocess.run([sys.executable, "-m", "mycarenet_dental", "--config", str(config), "audit", "verify",
                           "--json", *args], capture_output=True, text=True, timeout=60, env=env)


def test_cli_signs_then_names_the_rewrite(tmp_path: Path, trail: Any, pki: Any) -> None:
    db, log = trail
    config = _config(tmp_path, pki)
    first = _verify(config, pki)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["signed"]["seq"] == 20
    _sql(db, "UPDATE audit SET outcome = 'refused' WHERE seq = 2")
    _rechain(db)
    broken = _verify(config, pki)
    assert broken.returncode == 1 and json.loads(broken.stdout)["problem"] == "CHAIN_REWRITTEN"
    assert "Traceback" not in broken.stderr and pki.keystore_password not in broken.stdout + broken.stderr


@pytest.mark.parametrize(("content", "problem"), [(b"", "EMPTY"), (b"\x00garbage" * 500, "NOT_A_DATABASE")])
def test_cli_damaged_store_exits_1_without_traceback(tmp_path: Path, pki: Any, content: bytes, problem: str) -> None:
    config = _config(tmp_path, pki)
    (tmp_path / "practice.sqlite").write_bytes(content)
    proc = _verify(config, pki)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert json.loads(proc.stdout)["problem"] == problem
    assert (tmp_path / "practice.sqlite").read_bytes() == content  # verify created nothing


def test_verify_while_another_process_writes(tmp_path: Path, trail: Any) -> None:
    """Rows and head are read in one snapshot: a writer appending meanwhile is no false alarm."""
    db, log = trail
    for i in range(3000):
        log.append("exchange", exchange_id=f"bulk{i}", service="tariff")
    stop = tmp_path / "stop"
    script = (f"import os, sys; sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})\n"
              "from mycarenet_dental.audit import AuditLog\nfrom mycarenet_dental.storage import Storage\n"
              f"log = AuditLog(Storage({str(db)!r}))\nn = 0\n"
              f"while not os.path.exists({str(stop)!r}) and n < 20000:\n"
              "    log.append('exchange', exchange_id=f'w{n}'); n += 1\n")
    writer = subprocess.Popen([sys.executable, "-c", script])
    try:
        import time

        deadline = time.monotonic() + 30
        while log.storage.query_one("SELECT seq FROM audit_head")["seq"] <= 3025 and time.monotonic() < deadline:
            time.sleep(0.01)  # the writer is running
        results = [verify_store(db) for _ in range(4)] + [log.verify() for _ in range(4)]
    finally:
        stop.touch()
        writer.wait(30)
    assert all(r.ok for r in results), [r.reason for r in results if not r.ok]
    assert results[-1].rows > 3020  # the writer really wrote meanwhile
