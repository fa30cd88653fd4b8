"""Fixtures of the DMG plugin tests: one TLS simulator per module, contexts with their own store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from mycarenet_dental.context import Context

SHARED = Path(__file__).resolve().parents[2].parent / "shared"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A running simulator (TLS on loopback) with every installed plugin, once per test module."""
    from mycarenet_dental.sim.testing import SimEnv

    env = SimEnv.start(tmp_path_factory.mktemp("dmg-sim"))
    yield env
    env.stop()


@pytest.fixture
def dmg_context(sim: Any, tmp_path: Path) -> Iterator[Callable[..., Context]]:
    """``factory(mandatary=False, **dmg_settings)``: a context on the simulator with its own store,
    so audit-based rules (burst) of one test do not see another test's exchanges."""
    from mycarenet_dental.storage import Storage

    made: list[Context] = []

    def factory(*, mandatary: bool = False, **settings: Any) -> Context:
        storage = Storage(tmp_path / f"store-{len(made)}.sqlite")
        ctx = sim.context(mandatary=mandatary, storage=storage)
        raw = dict(ctx.config.raw)
        raw["dmg"] = {"max_per_minute": 1000, **settings}
        ctx.config = attrs.evolve(ctx.config, raw=raw)
        made.append(ctx)
        return ctx

    yield factory
    for ctx in made:
        ctx.close()


@pytest.fixture
def switches(sim: Any) -> Iterator[dict[str, Any]]:
    """The simulator's plugin switches, restored after the test."""
    extra = sim.state.switches.extra
    saved = dict(extra)
    yield extra
    extra.clear()
    extra.update(saved)
