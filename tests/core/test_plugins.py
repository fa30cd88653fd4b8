"""Plugin manager: loading, unknown hooks, conflicts, allow/block lists, documented hooks."""

from __future__ import annotations

import inspect
import types

import pytest
from mycarenet_dental import hookspec
from mycarenet_dental.hookspec import hookimpl
from mycarenet_dental.plugins import PluginConflictError, PluginLoadError, PluginManager
from mycarenet_dental.registrations import ServiceSpec

HOOKS = [name for name in dir(hookspec) if name.startswith("mycarenet_dental_")]


def _plugin(**hooks: object) -> types.SimpleNamespace:
    return types.SimpleNamespace(**hooks)


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_is_documented_with_an_example(name: str) -> None:
    doc = inspect.getdoc(getattr(hookspec, name)) or ""
    assert len(doc.splitlines()[0]) > 10, f"{name} has no summary line"
    assert "Example::" in doc and "@hookimpl" in doc, f"{name} has no example"


def test_hooks_are_listed_in_the_plugin_guide() -> None:
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[2] / "docs" / "plugin-guide.md").read_text()
    missing = [h for h in HOOKS if h not in guide]
    assert not missing, f"hooks missing from docs/plugin-guide.md: {missing}"


def test_entry_points_load_builtin_rules(pm: PluginManager) -> None:
    names = {info.name for info in pm.info()}
    assert "builtin-rules" in names
    builtin = next(i for i in pm.info() if i.name == "builtin-rules")
    assert builtin.distribution == "mycarenet-dental" and builtin.builtin
    assert "mycarenet_dental_rules" in builtin.hooks


def test_misspelled_hook_fails_loudly() -> None:
    @hookimpl
    def mycarenet_dental_rulez() -> list[object]:  # typo on purpose
        return []

    with pytest.raises(PluginLoadError, match="unknown hook"):
        PluginManager().load(entrypoints=False, extra=[("typo", _plugin(mycarenet_dental_rulez=mycarenet_dental_rulez))])


def _service_plugin(name: str) -> types.SimpleNamespace:
    @hookimpl
    def mycarenet_dental_services() -> list[ServiceSpec]:
        return [ServiceSpec(name=name, title=name, annex="Annex 3")]

    return _plugin(mycarenet_dental_services=mycarenet_dental_services)


def test_two_plugins_claiming_one_service_are_refused() -> None:
    with pytest.raises(PluginConflictError) as info:
        PluginManager().load(entrypoints=False, extra=[("one", _service_plugin("tariff")),
                                                       ("two", _service_plugin("tariff"))])
    assert "'one'" in str(info.value) and "'two'" in str(info.value)
    assert info.value.exit_code == 2


def test_block_list_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYCARENET_DENTAL_PLUGINS", "-example-rule")
    pm = PluginManager().load()
    assert not pm.has_plugin("example-rule")
    assert ("example-rule", "blocked") in pm.skipped
    assert pm.has_plugin("builtin-rules")


def test_allow_list_keeps_builtins(monkeypatch: pytest.MonkeyPatch) -> None:
    pm = PluginManager().load(allow=["nothing-else"])
    assert pm.has_plugin("builtin-rules")
    assert not pm.has_plugin("example-rule")


def test_broken_third_party_plugin_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib.metadata import EntryPoint

    import mycarenet_dental.plugins as plugins_mod

    broken = EntryPoint(name="broken", value="no_such_module_xyz", group="mycarenet_dental")
    real = plugins_mod.entry_points
    monkeypatch.setattr(plugins_mod, "entry_points", lambda group: [*real(group=group), broken])
    pm = PluginManager().load()
    assert any(name == "broken" and "failed to load" in why for name, why in pm.skipped)


def test_failing_command_hook_is_left_out_but_failing_rules_hook_is_fatal() -> None:
    @hookimpl
    def mycarenet_dental_commands() -> list[object]:
        raise ImportError("cli module missing")

    @hookimpl
    def mycarenet_dental_rules() -> list[object]:
        raise ImportError("rules module missing")

    pm = PluginManager().load(entrypoints=False, extra=[("shaky", _plugin(mycarenet_dental_commands=mycarenet_dental_commands,
                                                                          mycarenet_dental_rules=mycarenet_dental_rules))])
    assert pm.collect("mycarenet_dental_commands", tolerant=True) == []
    assert any(name == "shaky" for name, _ in pm.skipped)
    with pytest.raises(PluginLoadError, match="rules module missing"):
        pm.collect("mycarenet_dental_rules")
