"""Fixtures of the DMG plugin tests: contexts with their own store on the module's simulator (``sim``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mycarenet_dental.context import Context
from mycarenet_dental.shared_folder import shared_path

SHARED = shared_path()


@pytest.fixture
def dmg_context(sim: Any, tmp_path: Path) -> Iterator[Callable[..., Context]]:
    """``factory(mandatary=False, **dmg_settings)``: a context on the simulator with its own store,
    so audit-based rules (burst) of one test do not see another test's exchanges."""
    made: list[Context] = []

    def factory(*, mandatary: bool = False, **settings: Any) -> Context:
        ctx = sim.context(mandatary=mandatary, storage=tmp_path / f"store-{len(made)}.sqlite",
                          tables={"dmg": {"max_per_minute": 1000, **settings}})
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
