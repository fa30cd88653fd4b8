"""Compatibility name for vendors' test suites: :class:`SimEnv` lives in :mod:`mycarenet_dental.sim.testing`.

Importing this module loads the simulator (it needs the ``simulator`` extra); production code never
imports it.
"""

from __future__ import annotations

from .sim.testing import SimEnv

__all__ = ["SimEnv"]
