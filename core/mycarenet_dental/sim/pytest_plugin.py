"""A pytest plugin for vendors' own test suites (loaded automatically through ``pytest11``).

    def test_my_practice_flow(mycarenet_simulator):
        ctx = mycarenet_simulator.context()          # the dentist, configured against the simulator
        office = mycarenet_simulator.context(mandatary=True)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .testing import SimEnv


@pytest.fixture
def mycarenet_simulator(tmp_path: Path) -> Iterator[SimEnv]:
    """A test PKI, the simulator with every installed plugin over TLS on loopback, and configs."""
    env = SimEnv.start(tmp_path / "mycarenet-sim")
    try:
        yield env
    finally:
        env.stop()
