"""One store for a group practice or a billing office: PostgreSQL shared by several processes and
machines. Eight processes append to one audit chain; a practice moves its SQLite store with
``storage copy`` and its chain and signed checkpoints verify unchanged; the password never sits in
the configuration and never shows in a message."""

from __future__ import annotations

import json
import multiprocessing as mp
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mycarenet_dental.audit import TABLES as AUDIT_TABLES
from mycarenet_dental.audit import AuditLog
from mycarenet_dental.config import config_from_mapping
from mycarenet_dental.errors import ConfigError
from mycarenet_dental.storage import open_storage

from tests.conftest import cli_env

WRITERS = 8
PER_WRITER = 40


def _writer(url: str, k: int) -> None:
    log = AuditLog(open_storage(url))
    for i in range(PER_WRITER):
        log.append("exchange", exchange_id=f"w{k}-{i}", service="tariff", executor=f"user:{k}", detail={"i": i})


def test_eight_processes_append_one_chain(postgres_url: str) -> None:
    """No fork, no gap, no lost row: the head row's lock orders appenders from every process."""
    storage = open_storage(postgres_url)
    storage.migrate([AUDIT_TABLES])
    storage.close()  # no pool thread or connection crosses the fork
    procs = [mp.get_context("fork").Process(target=_writer, args=(postgres_url, k)) for k in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    storage = open_storage(postgres_url)
    log = AuditLog(storage)
    result = log.verify()
    assert result.ok and result.rows == WRITERS * PER_WRITER, result
    ids = sorted(e.exchange_id for e in log.entries())
    assert ids == sorted(f"w{k}-{i}" for k in range(WRITERS) for i in range(PER_WRITER))  # every row, once
    storage.close()


def test_the_password_is_never_in_the_configuration() -> None:
    for url in ("postgresql://office:s3cret@db.example/practice", "postgresql://db/practice?password=s3cret"):
        with pytest.raises(ConfigError, match="password must not be written") as info:
            config_from_mapping({"storage": {"url": url}})
        assert "s3cret" not in str(info.value)
    config = config_from_mapping({"storage": {"url": "postgresql://office@db.example:5433/practice"}})
    assert config.storage_url == "postgresql://office@db.example:5433/practice"
    with pytest.raises(ConfigError, match="both path and url"):
        config_from_mapping({"storage": {"url": "postgresql://db/x", "path": "x.sqlite"}})
    with pytest.raises(ConfigError, match="synchronous_commit"):
        open_storage("postgresql://db/x", {"synchronous_commit": "sometimes"})


def test_a_connection_failure_masks_the_password(postgres_cluster: Any) -> None:
    url = f"postgresql://postgres:s3cret@127.0.0.1:{postgres_cluster.port}/no_such_database"
    with pytest.raises(ConfigError) as info:
        open_storage(url)
    text = str(info.value) + repr(info.value.__cause__) + str(info.value.hint)
    assert "no_such_database" in text and "s3cret" not in text and "***" in text


# -- moving a practice from SQLite to PostgreSQL ------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from mycarenet_dental.sim.pki import generate_pki

    return generate_pki(tmp_path_factory.mktemp("store-pki"), key_type="ec")


def _config(folder: Path, pki: Any, storage: str) -> Path:
    config = folder / "config.toml"
    config.write_text(f"""
profile = "simulator"
[dentist]
nihii = "31234592001"
ssin = "85073003328"
[keystore]
path = {json.dumps(str(pki.dentist_p12))}
password_env = "TEST_STORE_KEYSTORE_PASSWORD"
[storage]
{storage}
[audit]
checkpoints = "practice.checkpoints"
""", encoding="utf-8")
    return config


def _cli(config: Path, pki: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = cli_env(TEST_STORE_KEYSTORE_PASSWORD=pki.keystore_password)
    return subprocess.run([sys.executable, "-m", "mycarenet_dental", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=120, env=env)


def test_storage_copy_moves_the_practice_and_the_chain_verifies_unchanged(tmp_path: Path, pki: Any,
                                                                         postgres_url: str,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from mycarenet_dental.context import Context

    monkeypatch.setenv("TEST_STORE_KEYSTORE_PASSWORD", pki.keystore_password)

    sqlite_config = _config(tmp_path, pki, 'path = "practice.sqlite"')
    ctx = Context.from_config(sqlite_config)
    contact = ctx.open_contact("85073003328")
    for i in range(30):
        ctx.audit.append("exchange", exchange_id=f"x{i}", service="tariff", contact_id=contact.id,
                         message="naïve — ü", detail={"i": i})
    ctx.close()
    signed = _cli(sqlite_config, pki, "audit", "verify", "--json")
    assert signed.returncode == 0, signed.stderr
    head = json.loads(signed.stdout)["signed"]

    copied = _cli(sqlite_config, pki, "storage", "copy", "--to", postgres_url, "--json")
    assert copied.returncode == 0, copied.stderr + copied.stdout
    report = json.loads(copied.stdout)
    assert report["audit"]["ok"] and report["audit"]["checkpoint"]["seq"] == head["seq"] == 30
    assert report["tables"]["audit"] == 30 and report["tables"]["contact"] == 1

    again = _cli(sqlite_config, pki, "storage", "copy", "--to", postgres_url)
    assert again.returncode == 2 and "already holds data" in again.stderr  # never merged into a used store

    pg_config = _config(tmp_path, pki, f'url = "{postgres_url}"')
    status = _cli(pg_config, pki, "storage", "status", "--json")
    assert status.returncode == 0, status.stderr
    assert {s["state"] for s in json.loads(status.stdout)["schemas"]} == {"current"}
    ctx = Context.from_config(pg_config)
    ctx.audit.append("exchange", exchange_id="after-the-move", service="tariff")
    assert ctx.contacts.get(contact.id).patient == "85073003328"
    ctx.close()
    verified = _cli(pg_config, pki, "audit", "verify", "--json")
    assert verified.returncode == 0, verified.stderr
    data = json.loads(verified.stdout)
    assert data["rows"] == 31 and data["checkpoint"]["seq"] == 30 and data["signed"]["seq"] == 31

    storage = open_storage(postgres_url)
    storage.execute("UPDATE audit SET message = 'rewritten' WHERE seq = 7")
    storage.close()
    broken = _cli(pg_config, pki, "audit", "verify", "--json", "--no-sign")
    assert broken.returncode == 1 and json.loads(broken.stdout)["problem"] == "ENTRY_CHANGED"
    assert "Traceback" not in broken.stderr


def test_storage_status_and_migrate_on_a_new_database(tmp_path: Path, pki: Any, postgres_url: str) -> None:
    config = _config(tmp_path, pki, f'url = "{postgres_url}"')
    pending = _cli(config, pki, "storage", "status", "--json")
    assert pending.returncode == 1, pending.stderr
    data = json.loads(pending.stdout)
    assert data["backend"] == "postgresql" and {s["state"] for s in data["schemas"]} == {"pending"}
    assert any(s["schema"] == "core.audit" for s in data["schemas"])
    done = _cli(config, pki, "storage", "migrate")
    assert done.returncode == 0 and "current" in done.stdout, done.stderr
    assert _cli(config, pki, "storage", "status").returncode == 0
