"""A pytest plugin for vendors' own test suites (loaded automatically through ``pytest11``).

    def test_my_practice_flow(mycarenet_simulator):
        ctx = mycarenet_simulator.context()          # the dentist, configured against the simulator
        office = mycarenet_simulator.context(mandatary=True)

``mycarenet_simulator`` is one simulator per test; ``mycarenet_simulator_module`` one per test module
(the test PKI is the slow part), which the project's own test folders share.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .testing import SimEnv


@pytest.fixture
def mycarenet_simulator(tmp_path: Path) -> Iterator[SimEnv]:
    """A test PKI, the simulator with every installed plugin over TLS on loopback, and configs."""
    with SimEnv.running(tmp_path / "mycarenet-sim") as env:
        yield env


@pytest.fixture(scope="module")
def mycarenet_simulator_module(request: pytest.FixtureRequest,
                               tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimEnv]:
    """The same, started once for the test module and stopped after its last test."""
    name = request.module.__name__.rpartition(".")[2]
    with SimEnv.running(tmp_path_factory.mktemp(f"sim-{name}")) as env:
        yield env
