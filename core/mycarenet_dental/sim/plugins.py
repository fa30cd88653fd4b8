"""The simulator's plugin manager: the insurer sides of the loaded plugins, and nothing else.

It loads the entry-point group ``mycarenet_dental.simulator`` with the same allow/block policy as
the production manager, and additionally skips a simulator side whose production plugin (same
entry-point name) is not loaded: ``MYCARENET_DENTAL_PLUGINS=tariff`` or ``[plugins] allow`` thus
give a simulator with the tariff service only. The core's own simulator side (STS, ETK depot,
MemberData host, demo login) is always loaded.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import EntryPoint
from typing import Any

from ..plugins import PluginManager
from ..registrations import ResultKind, ServiceSpec
from . import hookspec


class SimPluginManager(PluginManager):
    """pluggy manager of the simulator hooks (:mod:`mycarenet_dental.sim.hookspec`)."""

    project = hookspec.PROJECT
    specs = hookspec
    group = hookspec.GROUP
    check_api = False  # a simulator side loads only with its production plugin, whose API was checked

    def __init__(self, production: PluginManager | None = None) -> None:
        super().__init__()
        self.production = production

    def _wanted(self, ep: EntryPoint) -> bool:
        if self.production is None or self.production.has_plugin(ep.name):
            return True
        self.skipped.append((ep.name, "its plugin is not loaded"))
        return False

    def services(self) -> dict[str, tuple[ServiceSpec, str]]:
        return {}  # the simulator hooks declare no service

    def result_kinds(self) -> dict[str, tuple[ResultKind, str]]:
        return {}  # nor result kinds


def make_sim_plugin_manager(production: PluginManager | None = None, *,
                            extra: Iterable[tuple[str, Any]] = ()) -> SimPluginManager:
    """The simulator sides of the plugins ``production`` loaded (all installed ones when None)."""
    return SimPluginManager(production).load(extra=extra)
