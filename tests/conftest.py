"""Fixtures shared by the whole suite: a plugin manager, a configured Context, the shared/ folder."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from mycarenet_dental.config import config_from_mapping
from mycarenet_dental.context import Context
from mycarenet_dental.plugins import PluginManager, make_plugin_manager
from mycarenet_dental.shared_folder import shared_dir as find_shared_dir

# CI replays the same examples on every run (a red CI must be reproducible and not depend on luck);
# a developer's run explores new ones (HYPOTHESIS_PROFILE=ci to replay CI's).
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI") or os.environ.get("HYPOTHESIS_PROFILE") == "ci":
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parents[1]

# A dentist with valid numbers (the simulator PKI's dentist).
DENTIST_NIHII = "31234592001"
DENTIST_SSIN = "85073003328"
PATIENT = "85073003328"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No user configuration or plugin selection leaks into a test."""
    for name in ("MYCARENET_DENTAL_CONFIG", "MYCARENET_DENTAL_PROFILE", "MYCARENET_DENTAL_PLUGINS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    found = find_shared_dir()
    if found is None:
        pytest.skip("../shared is not present beside the project")
    return found


@pytest.fixture(scope="module")
def sim(mycarenet_simulator_module: Any) -> Any:
    """The module's running simulator (the shipped pytest plugin's fixture); build contexts on it with
    ``sim.context(mandatary=, storage=, tables=, clock=)`` -- the one way tests get a configured Context."""
    return mycarenet_simulator_module


@pytest.fixture(scope="session")
def pm() -> PluginManager:
    return make_plugin_manager()


def base_config(tmp: Path, **tables: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "profile": "simulator",
        "dentist": {"nihii": DENTIST_NIHII, "ssin": DENTIST_SSIN, "name": "Anne Simulaar"},
        "storage": {"path": str(tmp / "store.sqlite")},
    }
    for name, table in tables.items():
        data[name] = table
    return data


@pytest.fixture
def make_context(tmp_path: Path, pm: PluginManager) -> Iterator[Callable[..., Context]]:
    made: list[Context] = []

    def factory(*, plugins: PluginManager | None = None, clock: Any = None, **tables: Any) -> Context:
        cfg = config_from_mapping(base_config(tmp_path, **tables), path=tmp_path / "config.toml")
        ctx = Context(cfg, pm=plugins or pm, clock=clock)
        made.append(ctx)
        return ctx

    yield factory
    for ctx in made:
        ctx.close()


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MYCARENET_DENTAL_")}
    env.update(extra)
    return env
