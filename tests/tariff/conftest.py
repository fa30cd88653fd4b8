"""Fixtures of the tariff tests: the dentist on the module's simulator (``sim``, tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="module")
def ctx(sim: Any) -> Iterator[Any]:
    """The dentist's context; the burst limit (R37-burst) is raised so that many tests can run in a minute."""
    context = sim.context(tables={"tariff": {"max_per_minute": 10_000}})
    try:
        yield context
    finally:
        context.close()

