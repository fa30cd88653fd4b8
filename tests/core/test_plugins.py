"""Plugin manager: loading, unknown hooks, conflicts, allow/block lists, documented hooks."""

from __future__ import annotations

import inspect
import json
import os
import types
from pathlib import Path

import pytest
from mycarenet_dental import hookspec
from mycarenet_dental.hookspec import hookimpl
from mycarenet_dental.plugins import PluginConflictError, PluginLoadError, PluginManager
from mycarenet_dental.registrations import ServiceSpec
from mycarenet_dental.sim import hookspec as sim_hookspec

HOOKS = [name for name in dir(hookspec) if name.startswith("mycarenet_dental_")]
SIM_HOOKS = [name for name in dir(sim_hookspec) if name.startswith("mycarenet_dental_")]
ALL_HOOKS = [(hookspec, name) for name in HOOKS] + [(sim_hookspec, name) for name in SIM_HOOKS]


def _plugin(**hooks: object) -> types.SimpleNamespace:
    return types.SimpleNamespace(**hooks)


@pytest.mark.parametrize(("spec", "name"), ALL_HOOKS)
def test_every_hook_is_documented_with_an_example(spec: types.ModuleType, name: str) -> None:
    doc = inspect.getdoc(getattr(spec, name)) or ""
    assert len(doc.splitlines()[0]) > 10, f"{name} has no summary line"
    assert "Example::" in doc and "@hookimpl" in doc, f"{name} has no example"


def test_hooks_are_listed_in_the_plugin_guide() -> None:
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[2] / "docs" / "plugin-guide.md").read_text()
    missing = [h for _, h in ALL_HOOKS if h not in guide]
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


# -- property 4 of issue 13: the configuration's [plugins] lists govern the CLI ------------------


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from mycarenet_dental.cli.main import main

    with pytest.raises(SystemExit) as info:
        main(args)
        raise SystemExit(0)
    out = capsys.readouterr()
    return int(info.value.code or 0), out.out, out.err


def _write_config(path: Path, plugins: str) -> Path:
    path.write_text('profile = "simulator"\n'
                    f'[storage]\npath = "{(path.parent / "store.sqlite").as_posix()}"\n'
                    f"[plugins]\n{plugins}\n")
    return path


def _tariff_rule_ids() -> set[str]:
    full = PluginManager().load()
    return {spec.id for name, spec in full.collect("mycarenet_dental_rules") if name == "tariff"}


def test_config_file_block_list_removes_the_plugin_from_the_cli(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A plugin blocked in the file: its command, its rules and its hooks are absent (the CLI used to
    build the plugin manager before reading --config, so the block was ignored)."""
    tariff_rules = _tariff_rule_ids()
    assert tariff_rules, "the tariff plugin contributes rules in this install"
    config = _write_config(tmp_path / "config.toml", 'block = ["tariff"]')
    code, out, _ = _cli(["--config", str(config), "plugins", "--json"], capsys)
    listed = json.loads(out)
    assert code == 0
    assert "tariff" not in {p["name"] for p in listed["plugins"]}
    assert {"name": "tariff", "reason": "blocked"} in listed["skipped"]
    code, out, _ = _cli(["--config", str(config), "rules", "--all", "--json"], capsys)
    assert code == 0 and not tariff_rules & {r["id"] for r in json.loads(out)}
    code, _, err = _cli(["--config", str(config), "tariff", "--help"], capsys)
    assert code == 2 and "No such command 'tariff'" in err
    # the same file through $MYCARENET_DENTAL_CONFIG, option spelled --config=PATH wins over it
    code, out, _ = _cli([f"--config={config}", "plugins", "--json"], capsys)
    assert "tariff" not in {p["name"] for p in json.loads(out)["plugins"]}


def test_config_file_through_the_environment_and_allow_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    config = _write_config(tmp_path / "config.toml", 'allow = ["billing"]')
    monkeypatch.setenv("MYCARENET_DENTAL_CONFIG", str(config))
    code, out, _ = _cli(["plugins", "--json"], capsys)
    names = {p["name"] for p in json.loads(out)["plugins"]}
    assert code == 0 and "billing" in names and "builtin-rules" in names
    assert not names & {"tariff", "dmg", "mandates", "assurability"}
    code, _, err = _cli(["dmg", "--help"], capsys)
    assert code == 2 and "No such command 'dmg'" in err


def test_environment_narrows_the_file_never_widens_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Documented precedence: blocks from either source apply; two allow lists must both allow."""
    config = _write_config(tmp_path / "config.toml", 'allow = ["tariff", "billing"]\nblock = ["dmg"]')
    monkeypatch.setenv("MYCARENET_DENTAL_PLUGINS", "billing,dmg,mandates")
    code, out, _ = _cli(["--config", str(config), "plugins", "--json"], capsys)
    names = {p["name"] for p in json.loads(out)["plugins"]}
    assert code == 0 and "billing" in names
    assert not names & {"tariff", "dmg", "mandates"}
    monkeypatch.setenv("MYCARENET_DENTAL_PLUGINS", "-billing")
    code, out, _ = _cli(["--config", str(config), "plugins", "--json"], capsys)
    names = {p["name"] for p in json.loads(out)["plugins"]}
    assert "tariff" in names and "billing" not in names


@pytest.mark.parametrize("text", ['[plugins]\nblock = "tariff"\n', "[plugins]\nallow = [1]\n",
                                  'plugins = "tariff"\n'])
def test_bad_plugin_lists_in_the_file_exit_2_without_traceback(tmp_path: Path, text: str,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text(text)
    code, out, err = _cli(["--config", str(config), "plugins"], capsys)
    assert code == 2
    assert "[plugins]" in err and "Traceback" not in err + out


def test_unreadable_config_file_exits_2_before_any_plugin_loads(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(["--config", str(tmp_path / "missing.toml"), "plugins"], capsys)
    assert code == 2 and "not found" in err and "Traceback" not in err
    (tmp_path / "bad.toml").write_text("[plugins\n")
    code, out, _ = _cli(["--config", str(tmp_path / "bad.toml"), "plugins", "--json"], capsys)
    assert code == 2 and json.loads(out)["code"] == "CONFIG" and "not valid TOML" in out


def test_blocked_plugin_through_the_console_script(tmp_path: Path) -> None:
    """The same through a real process (what a vendor's script runs)."""
    import subprocess
    import sys

    config = _write_config(tmp_path / "config.toml", 'block = ["dmg"]')
    env = {k: v for k, v in os.environ.items() if not k.startswith("MYCARENET_DENTAL_")}
    proc = subprocess.run([sys.executable, "-m", "mycarenet_dental", "--config", str(config), "dmg", "--help"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2 and "No such command 'dmg'" in proc.stderr


# -- property 2 of issue 13: simulator couplings go through hooks -------------------------------


def _sim_app(tmp_path: Path, *plugins: tuple[str, object]):  # type: ignore[no-untyped-def]
    """A simulator with only the given simulator sides (no entry points)."""
    from mycarenet_dental.sim.app import build_app
    from mycarenet_dental.sim.plugins import SimPluginManager

    sim_pm = SimPluginManager().load(entrypoints=False, extra=plugins)
    return build_app(PluginManager().load(entrypoints=False), pki_dir=tmp_path, sim_pm=sim_pm)


def test_memberdata_facets_come_from_the_hook_per_simulator(tmp_path: Path) -> None:
    """Facets are collected per simulator from ``mycarenet_dental_simulator_facets``: a dmg-only
    simulator hosts MemberData with the DMG facet only, whatever another simulator of the process holds
    (a module-level registry filled at import leaked facets between simulators)."""
    dmg = pytest.importorskip("mycarenet_dental_dmg.simulator")
    assurability = pytest.importorskip("mycarenet_dental_assurability.simulator")
    from mycarenet_dental.protocols import memberdata as md
    from mycarenet_dental.sim import memberdata as md_sim
    from mycarenet_dental_dmg.model import FACET as GMF_FACET

    both = _sim_app(tmp_path, ("assurability", assurability), ("dmg", dmg))
    assert md.FACET_INSURABILITY in both.state.facets.ids() and len(both.state.facets.ids()) == 4
    dmg_only = _sim_app(tmp_path, ("dmg", dmg))
    assert dmg_only.state.facets.ids() == (GMF_FACET,)
    assert md.PATH in dmg_only.routes  # MemberData is hosted because a plugin answers a facet
    bare = _sim_app(tmp_path)
    assert bare.state.facets.ids() == () and md.PATH not in bare.routes
    for module in (md, md_sim):
        assert not hasattr(module, "register_facet") and not hasattr(module, "FACETS")


def test_one_facet_answered_by_two_plugins_is_refused(tmp_path: Path) -> None:
    from mycarenet_dental.sim import memberdata as md
    from mycarenet_dental.sim.hookspec import hookimpl as sim_hookimpl

    def _facet_plugin() -> types.SimpleNamespace:
        @sim_hookimpl
        def mycarenet_dental_simulator_facets() -> list[object]:
            return [md.FacetHandler("urn:test:facet", build=lambda request: md.FacetAnswer())]

        return _plugin(mycarenet_dental_simulator_facets=mycarenet_dental_simulator_facets)

    with pytest.raises(PluginConflictError, match="'one' and 'two'"):
        _sim_app(tmp_path, ("one", _facet_plugin()), ("two", _facet_plugin()))


CORE_SRC = Path(__file__).resolve().parents[2] / "core" / "mycarenet_dental"
PLUGINS_SRC = Path(__file__).resolve().parents[2] / "plugins"


@pytest.mark.parametrize(("spec", "name"), ALL_HOOKS)
def test_every_hook_is_called_by_the_core(spec: types.ModuleType, name: str) -> None:
    """A hook in a hookspec (production or simulator) that nothing calls is a promise the framework
    does not keep."""
    import re

    call = re.compile(rf"""(\bhook\.{name}\(|collect\(\s*["']{name}["'])""")
    callers = [p for p in CORE_SRC.rglob("*.py") if p.name != "hookspec.py" and call.search(p.read_text())]
    assert callers, f"{name} is declared in hookspec.py but never called (pm.hook.{name}(...) or pm.collect)"


def test_no_string_keyed_couplings_between_plugins_and_core() -> None:
    """Plugins and the core meet through hooks only: no ``context.extensions[...]`` bag and no
    ``plugin_state["other.thing"]`` lookups (a plugin keeps its own state with ``state_for``)."""
    import re

    from mycarenet_dental.context import Context

    assert not hasattr(Context, "extensions") and "extensions" not in Context.__init__.__code__.co_names
    pattern = re.compile(r"""(?<!cert)\.extensions(\[|\.get\()|plugin_state(\[|\.get\()\s*["'A-Z]""")
    offenders = [f"{p.relative_to(p.parents[2])}:{i}" for root in (CORE_SRC, PLUGINS_SRC)
                 for p in root.rglob("*.py") for i, line in enumerate(p.read_text().splitlines(), 1)
                 if pattern.search(line)]
    assert not offenders, offenders
