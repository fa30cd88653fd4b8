"""A pytest plugin for vendors' own test suites (loaded automatically through ``pytest11``).

    def test_my_practice_flow(mycarenet_simulator):
        ctx = mycarenet_simulator.context()          # the dentist, configured against the simulator
        office = mycarenet_simulator.context(mandatary=True)

``mycarenet_simulator`` is one simulator per test; ``mycarenet_simulator_module`` one per test module
(the test PKI is the slow part), which the project's own test folders share.

``postgres_url`` is a fresh, empty database on a throwaway PostgreSQL cluster (one cluster per test
session, started on first use, stopped at the end); the test skips, saying why, where PostgreSQL
cannot be started.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .pg_cluster import ClusterUnavailable, PgCluster
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


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PgCluster]:
    """One throwaway cluster for the session (``initdb`` in a temporary folder, stopped at the end)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("PostgreSQL tests need the 'postgresql' extra (psycopg); `make test` installs it")
    try:
        cluster = PgCluster.start()
    except ClusterUnavailable as exc:
        pytest.skip(f"PostgreSQL cannot be started here: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: PgCluster) -> str:
    """A URL (no password) of a new, empty database of the session's cluster."""
    return postgres_cluster.create_database()
