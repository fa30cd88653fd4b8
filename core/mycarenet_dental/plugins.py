"""The plugin manager: loads the entry-point group ``mycarenet_dental`` and checks what it loaded.

- the built-in rules are registered through the same entry-point path as third-party plugins;
- a hook name that the hookspec does not know makes loading fail (``check_pending``);
- two plugins claiming the same service are refused with a message naming both;
- allow/block lists come from the configuration (``[plugins] allow/block``) and from
  ``MYCARENET_DENTAL_PLUGINS`` (``"tariff,billing"`` allows only these; ``"-dmg"`` blocks one),
  matched on the entry-point name or the distribution name. Precedence: the environment can narrow
  what the file allows, never widen it — a plugin blocked by either is not loaded, and when both
  give an allow list a plugin must be in both (an administrator's block in the file cannot be undone
  by a variable set in a shell). Built-in plugins ignore allow lists but can be blocked;
- a third-party plugin that fails to import is reported and skipped (strict mode re-raises);
- a third-party plugin built for another plugin API (``MYCARENET_DENTAL_API`` in its module, compared
  with :data:`mycarenet_dental.hookspec.API_VERSION`) is refused at load with a configuration error
  naming it, its version and the supported range — not left to fail at its first call.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import attrs
import pluggy

from . import hookspec
from .errors import ConfigError
from .registrations import ResultKind, ServiceSpec

log = logging.getLogger(__name__)

GROUP = "mycarenet_dental"
ENV_PLUGINS = "MYCARENET_DENTAL_PLUGINS"
CORE_DISTRIBUTION = "mycarenet-dental"


class PluginConflictError(ConfigError):
    default_code = "PLUGIN_CONFLICT"


class PluginLoadError(ConfigError):
    default_code = "PLUGIN_LOAD"


class PluginApiError(PluginLoadError):
    """A plugin built for a plugin API this core does not implement (or that declares none)."""

    default_code = "PLUGIN_API"


def supported_api_range(api: str = hookspec.API_VERSION) -> str:
    """The API versions a plugin may declare: the core's major, any minor up to the core's."""
    major, minor = api.split(".")
    return f">={major}.0,<={major}.{minor}"


def _api_parts(value: object) -> tuple[int, int] | None:
    if not isinstance(value, str):
        return None
    major, _, minor = value.strip().partition(".")
    if not (major.isdigit() and minor.isdigit()):
        return None
    return int(major), int(minor)


def check_plugin_api(name: str, plugin: object, *, distribution: str | None, version: str | None) -> None:
    """Refuse ``plugin`` unless the API version it declares is one this core implements."""
    declared = getattr(plugin, hookspec.API_ATTRIBUTE, None)
    wanted = _api_parts(declared)
    core_major, core_minor = _api_parts(hookspec.API_VERSION) or (0, 0)
    if wanted is not None and wanted[0] == core_major and wanted[1] <= core_minor:
        return
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        core = dist_version(CORE_DISTRIBUTION)
    except PackageNotFoundError:  # pragma: no cover - the core runs from a source tree
        core = "?"
    who = f"plugin {name!r} ({distribution or 'no distribution'} {version or '?'})"
    said = (f"is built for plugin API {declared}" if wanted is not None
            else f"declares no usable plugin API version ({hookspec.API_ATTRIBUTE} = {declared!r})")
    raise PluginApiError(
        f"{who} {said}; {CORE_DISTRIBUTION} {core} supports plugin API {supported_api_range()}",
        hint=f"install a version of {distribution or name} made for {CORE_DISTRIBUTION} {core}, or leave it "
             f"out with {ENV_PLUGINS}=-{name}")


class UndeclaredResultKindError(PluginLoadError):
    """A result kept in the exchange log under a kind no plugin declares (``mycarenet_dental_result_kinds``):
    a reader asking by the declared kind would never find it."""

    default_code = "RESULT_KIND"


@attrs.frozen
class PluginInfo:
    name: str
    distribution: str | None
    version: str | None
    hooks: tuple[str, ...]
    builtin: bool = False


def _split_env(value: str | None) -> tuple[list[str], list[str]]:
    allow: list[str] = []
    block: list[str] = []
    for item in (value or "").split(","):
        item = item.strip()
        if not item:
            continue
        (block if item.startswith("-") else allow).append(item.lstrip("-"))
    return allow, block


class PluginManager(pluggy.PluginManager):
    """pluggy's manager with loading policy, conflict checks and reporting."""

    #: the pluggy project, its hook specifications and the entry-point group (the simulator's
    #: manager, :class:`mycarenet_dental.sim.plugins.SimPluginManager`, sets its own)
    project: str = hookspec.PROJECT
    specs: Any = hookspec
    group: str = GROUP
    #: whether third-party plugins must declare a compatible plugin API (the simulator sides are
    #: loaded only with their production plugin, which was checked)
    check_api: bool = True

    def __init__(self) -> None:
        super().__init__(self.project)
        self.add_hookspecs(self.specs)
        self._dists: dict[str, tuple[str | None, str | None]] = {}
        self.skipped: list[tuple[str, str]] = []

    # -- loading -------------------------------------------------------------------------------
    def load(self, *, allow: Sequence[str] = (), block: Sequence[str] = (), entrypoints: bool = True,
             extra: Iterable[tuple[str, Any]] = (), strict: bool = False) -> PluginManager:
        env_allow, env_block = _split_env(os.environ.get(ENV_PLUGINS))
        allow_lists = [set(names) for names in (allow, env_allow) if names]
        blocked = set(block) | set(env_block)
        if entrypoints:
            for ep in sorted(entry_points(group=self.group), key=lambda e: e.name):
                dist = ep.dist.name if ep.dist else None
                builtin = dist == CORE_DISTRIBUTION
                names = {ep.name, dist or ""}
                if names & blocked:
                    self.skipped.append((ep.name, "blocked"))
                    continue
                if not builtin and not all(names & allowed for allowed in allow_lists):
                    self.skipped.append((ep.name, "not in the allow list"))
                    continue
                if not builtin and not self._wanted(ep):
                    continue
                self._load_entrypoint(ep, strict=strict or builtin)
        for name, plugin in extra:
            self.register(plugin, name=name)
            self._dists[name] = (None, None)
        try:
            self.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginLoadError(f"a plugin implements an unknown hook: {exc}",
                                  hint=f"check the hook name against {self.specs.__name__} (the simulator's "
                                       "hooks are in mycarenet_dental.sim.hookspec, loaded through the "
                                       "entry-point group mycarenet_dental.simulator)") from exc
        self.services()  # refuse conflicts at load time
        self.result_kinds()
        return self

    def _wanted(self, ep: EntryPoint) -> bool:
        """A further condition on a third-party entry point (the simulator's manager: its plugin is loaded)."""
        return True

    def _load_entrypoint(self, ep: EntryPoint, *, strict: bool) -> None:
        if self.has_plugin(ep.name):
            return
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken third-party plugin must not break the CLI
            if strict:
                raise PluginLoadError(f"plugin {ep.name!r} failed to load: {exc}") from exc
            log.warning("plugin %s failed to load and is skipped: %s", ep.name, exc)
            self.skipped.append((ep.name, f"failed to load: {exc}"))
            return
        dist, version = (ep.dist.name, ep.dist.version) if ep.dist else (None, None)
        if self.check_api and dist != CORE_DISTRIBUTION:
            check_plugin_api(ep.name, plugin, distribution=dist, version=version)
        try:
            self.register(plugin, name=ep.name)
        except pluggy.PluginValidationError as exc:
            raise PluginLoadError(f"plugin {ep.name!r} is invalid: {exc}") from exc
        self._dists[ep.name] = (dist, version)

    # -- what the plugins provide --------------------------------------------------------------
    def collect(self, hook_name: str, *, tolerant: bool = False) -> list[tuple[str, Any]]:
        """Flatten a registration hook's iterables into (plugin name, record) pairs.

        ``tolerant`` (CLI commands, demo steps): a third-party plugin whose hook fails is reported
        and left out, so one broken plugin cannot take the CLI down. Rules, services and tables are
        never tolerant: a rule that cannot load must stop the exchanges, not vanish.
        """
        hook = getattr(self.hook, hook_name)
        out: list[tuple[str, Any]] = []
        for impl in hook.get_hookimpls():
            try:
                records = list(impl.function() or ())
            except Exception as exc:
                dist = self._dists.get(impl.plugin_name, (None, None))[0]
                if not tolerant or dist == CORE_DISTRIBUTION:
                    raise PluginLoadError(f"plugin {impl.plugin_name!r} failed in {hook_name}: {exc}") from exc
                log.warning("plugin %s failed in %s and is left out: %s", impl.plugin_name, hook_name, exc)
                self.skipped.append((impl.plugin_name, f"{hook_name} failed: {exc}"))
                continue
            out.extend((impl.plugin_name, record) for record in records)
        return out

    def result_kinds(self) -> dict[str, tuple[ResultKind, str]]:
        """Every declared result kind with the plugin declaring it; one kind declared twice is refused."""
        seen: dict[str, tuple[ResultKind, str]] = {}
        for plugin_name, kind in self.collect("mycarenet_dental_result_kinds"):
            if kind.name in seen and seen[kind.name][1] != plugin_name:
                raise PluginConflictError(
                    f"result kind {kind.name!r} is declared by two plugins: {seen[kind.name][1]!r} and {plugin_name!r}")
            seen[kind.name] = (kind, plugin_name)
        return seen

    def services(self) -> dict[str, tuple[ServiceSpec, str]]:
        seen: dict[str, tuple[ServiceSpec, str]] = {}
        for plugin_name, spec in self.collect("mycarenet_dental_services"):
            if spec.name in seen:
                raise PluginConflictError(
                    f"service {spec.name!r} is claimed by two plugins: {seen[spec.name][1]!r} and {plugin_name!r}",
                    hint=f"uninstall one of them, or block one with {ENV_PLUGINS}=-{plugin_name}",
                )
            seen[spec.name] = (spec, plugin_name)
        return seen

    def info(self) -> list[PluginInfo]:
        infos = []
        for name, plugin in sorted(self.list_name_plugin(), key=lambda p: p[0] or ""):
            if plugin is None or name is None:
                continue
            hooks = tuple(sorted(h.name for h in self.get_hookcallers(plugin) or ()))
            dist, version = self._dists.get(name, (None, None))
            infos.append(PluginInfo(name=name, distribution=dist, version=version, hooks=hooks,
                                    builtin=dist == CORE_DISTRIBUTION))
        return infos


def make_plugin_manager(*, allow: Sequence[str] = (), block: Sequence[str] = (), entrypoints: bool = True,
                        extra: Iterable[tuple[str, Any]] = ()) -> PluginManager:
    return PluginManager().load(allow=allow, block=block, entrypoints=entrypoints, extra=extra)
