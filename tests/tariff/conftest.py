"""Fixtures of the tariff tests: one TLS simulator per test module (module scope keeps the folder fast)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A running simulator (TLS on loopback) with every installed plugin."""
    from mycarenet_dental.sim.testing import SimEnv

    env = SimEnv.start(tmp_path_factory.mktemp("tariff-sim"))
    try:
        yield env
    finally:
        env.stop()


@pytest.fixture(scope="module")
def ctx(sim: Any) -> Iterator[Any]:
    """The dentist's context; the burst limit (R37-burst) is raised so that many tests can run in a minute."""
    import attrs
    from mycarenet_dental.context import Context

    base = sim.context()
    config = attrs.evolve(base.config, raw={**base.config.raw, "tariff": {"max_per_minute": 10_000}})
    base.close()
    context = Context(config, pm=sim.pm)
    try:
        yield context
    finally:
        context.close()

