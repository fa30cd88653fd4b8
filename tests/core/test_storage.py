"""Storage: plugin tables with migrations, applied once, refused when newer than the software."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from mycarenet_dental.errors import ConfigError
from mycarenet_dental.registrations import TableSpec
from mycarenet_dental.storage import Storage


def test_migrations_run_once_and_upgrade(tmp_path: Path) -> None:
    storage = Storage(tmp_path / "s.sqlite")
    v1 = TableSpec(name="plugin.x", migrations=["CREATE TABLE x (id INTEGER PRIMARY KEY, a TEXT)"])
    storage.migrate([v1])
    storage.migrate([v1])  # idempotent
    storage.execute("INSERT INTO x(a) VALUES ('kept')")
    v2 = TableSpec(name="plugin.x", migrations=[*v1.migrations, "ALTER TABLE x ADD COLUMN b TEXT; "
                                                 "UPDATE x SET b = 'new'"])
    storage.migrate([v2])
    assert storage.schema_version("plugin.x") == 2
    row = storage.query_one("SELECT a, b FROM x")
    assert (row["a"], row["b"]) == ("kept", "new")


def test_failed_migration_rolls_back(tmp_path: Path) -> None:
    storage = Storage(tmp_path / "s.sqlite")
    bad = TableSpec(name="plugin.y", migrations=["CREATE TABLE y (id INTEGER); CREATE TABLE y (id INTEGER)"])
    with pytest.raises(sqlite3.OperationalError):
        storage.migrate([bad])
    assert storage.schema_version("plugin.y") == 0
    assert storage.query_one("SELECT name FROM sqlite_master WHERE name = 'y'") is None


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    storage = Storage(tmp_path / "s.sqlite")
    storage.migrate([TableSpec(name="plugin.z", migrations=["CREATE TABLE z (a)", "ALTER TABLE z ADD COLUMN b"])])
    storage._mcn_migrated = False  # type: ignore[attr-defined]
    older = TableSpec(name="plugin.z", migrations=["CREATE TABLE z (a)"])
    storage.migrate([older])  # already at a newer version: nothing to do
    assert storage.schema_version("plugin.z") == 2


def test_wal_mode(tmp_path: Path) -> None:
    storage = Storage(tmp_path / "s.sqlite")
    assert storage.query_one("PRAGMA journal_mode")[0] == "wal"


def test_unwritable_location_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError):
        Storage(blocker / "sub" / "s.sqlite")
