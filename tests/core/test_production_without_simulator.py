"""Issue 13, properties 1 and 3: production never loads the simulator; any subset of plugins works.

Property 1 runs real consultations (tariff, insurability, DMG route A) in the ``acceptance`` and
``production`` profiles, in a child process where Werkzeug cannot be imported (the ``simulator``
extra not installed), against a simulator running in this process, and asserts on ``sys.modules``.
Property 3 runs each plugin's end-to-end demo with only that plugin allowed
(``MYCARENET_DENTAL_PLUGINS=<name>``), which governs the simulator's plugin sides too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import cli_env

CHILD = r"""
import importlib.abc, json, sys

class NoSimulatorExtra(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "werkzeug":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoSimulatorExtra())

from mycarenet_dental.cli.main import build_cli
from mycarenet_dental import Context
from mycarenet_dental_assurability import consult_insurability
from mycarenet_dental_dmg import consult_dmg
from mycarenet_dental_tariff import consult_tariff

config, profile, patient = sys.argv[1:4]
with Context.from_config(config, profile=profile) as ctx:
    build_cli(ctx.pm)  # the CLI with every plugin's commands
    contact = ctx.open_contact(patient)
    insured = consult_insurability(ctx, contact).insured
    priced = consult_tariff(ctx, contact, ["301011"]).lines[0].priced
    dmg = consult_dmg(ctx, contact, consent=True, route="memberdata").route.value
    profile_seen = ctx.config.profile
sim_side = {ep.value for ep in __import__("importlib.metadata").metadata.entry_points(group="mycarenet_dental.simulator")}
sim_modules = sorted(m for m in sys.modules if m == "mycarenet_dental.sim" or m.startswith("mycarenet_dental.sim.")
                     or m in sim_side or m.endswith("_sim"))
werkzeug = sorted(m for m in sys.modules if m.split(".")[0] == "werkzeug")
try:
    import mycarenet_dental.sim.app  # the positive control: the simulator cannot load here
    control = "loaded"
except ModuleNotFoundError as exc:
    control = exc.name
print(json.dumps({"profile": profile_seen, "insured": insured, "priced": priced, "dmg": dmg, "control": control,
                  "sim_modules": sim_modules, "werkzeug": werkzeug}))
"""


@pytest.mark.parametrize("profile", ["acceptance", "production"])
def test_a_production_consultation_imports_no_simulator_module_and_no_werkzeug(sim: Any, profile: str,
                                                                            tmp_path: Path) -> None:
    from mycarenet_dental.sim.population import base_population

    config = tmp_path / "config.toml"  # the simulator's config, its own store, the profile under test
    config.write_text(sim.config_path.read_text().replace('profile = "simulator"', f'profile = "{profile}"')
                      .replace('path = "store.sqlite"', f'path = "{tmp_path / "store.sqlite"}"')
                      .replace('"ca.pem"', f'"{sim.pki_dir / "ca.pem"}"').replace('"sts.pem"', f'"{sim.pki_dir / "sts.pem"}"')
                      .replace('"dentist.p12"', f'"{sim.pki_dir / "dentist.p12"}"')
                      .replace('"token-dentist.json"', f'"{tmp_path / "token.json"}"'), encoding="utf-8")
    patient = base_population()[0].ssin
    done = subprocess.run([sys.executable, "-c", CHILD, str(config), profile, patient], capture_output=True,
                          text=True, env=cli_env(**sim.env), timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert (seen["profile"], seen["insured"], seen["priced"], seen["dmg"]) == (profile, True, True, "memberdata")
    assert seen["control"] == "werkzeug"  # the child really runs without the simulator extra
    assert seen["sim_modules"] == [] and seen["werkzeug"] == []


PLUGINS = sorted(ep.name for ep in entry_points(group="mycarenet_dental")
                 if ep.dist and ep.dist.name.startswith("mycarenet-dental-"))
#: the demo step(s) each plugin contributes (the plugin's end-to-end flow on the simulator)
STEPS = {"assurability": "insurability", "tariff": "tariff consultation for the visit",
         "dmg": "DMG holder for the report to the treating physician",
         "billing": "eFact: the day's visits billed through to settlement",
         "mandates": "billing office working for the dentist under a mandate"}


@pytest.mark.parametrize("plugin", PLUGINS)
def test_the_simulator_follows_the_allow_list(plugin: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from mycarenet_dental.plugins import make_plugin_manager
    from mycarenet_dental.sim.app import build_app

    monkeypatch.setenv("MYCARENET_DENTAL_PLUGINS", plugin)
    pm = make_plugin_manager()
    app = build_app(pm, pki_dir=None)
    loaded = {name for name, _ in app.sim_pm.list_name_plugin()}
    assert loaded == {"core", plugin}
    services = pm.services()
    wanted = {path for spec, _ in services.values() for path in spec.endpoints.values()}
    hosted = set(app.routes)
    assert wanted <= hosted, f"{plugin} needs {sorted(wanted - hosted)} from the simulator"
    memberdata = "/MyCareNet/MemberData/v1"
    assert (memberdata in hosted) == bool(app.state.facets.ids())


@pytest.mark.parametrize("plugin", [p for p in PLUGINS if p in STEPS])
def test_each_plugin_alone_runs_its_end_to_end_flow(plugin: str, tmp_path: Path) -> None:
    """The demo with only this plugin installed-and-allowed: its steps run on the simulator, no other's."""
    done = subprocess.run([sys.executable, "-m", "mycarenet_dental", "demo", "--keep", str(tmp_path)],
                          capture_output=True, text=True, timeout=300,
                          env=cli_env(MYCARENET_DENTAL_PLUGINS=plugin))
    out = done.stdout + done.stderr
    assert done.returncode == 0 and "step failed" not in out, out[-3000:]
    assert f"== {STEPS[plugin]}" in out and ("chain intact" in out or "chain empty" in out)
    assert [name for name, step in STEPS.items() if name != plugin and f"== {step}" in out] == []
    if plugin == "billing":  # eFact alone: no tariff consultation recorded, so R36 keeps every line out
        assert "nothing to bill in third-party payment (R36)" in out
    elif plugin == "mandates":  # the register and R21 alone; the consulting services are absent
        assert "mandate(s) mirrored to the simulated MyCareNet register" in out and "no plugin installed" in out
    else:  # the plugin's exchanges really went through the simulator and were audited
        assert "chain intact" in out


NO_EXTRA_CLI = r"""
import importlib.abc, sys

class NoSimulatorExtra(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "werkzeug":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoSimulatorExtra())
import importlib.util
importlib.util.find_spec = (lambda real: lambda name, *a: None if name == "werkzeug" else real(name, *a))(
    importlib.util.find_spec)
from mycarenet_dental.cli.main import main
main(sys.argv[1:])
"""


@pytest.mark.parametrize("command", [["simulator"], ["simulator", "serve", "--pki", "."], ["demo"]])
def test_without_the_extra_the_cli_works_and_the_simulator_says_how_to_get_it(command: list[str],
                                                                           tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", NO_EXTRA_CLI, *args], capture_output=True, text=True,
                              timeout=60, env=cli_env(), cwd=tmp_path)

    helped = run("--help")
    assert helped.returncode == 0 and "simulator" in helped.stdout and "tariff" in helped.stdout, helped.stderr
    refused = run(*command)
    out = refused.stdout + refused.stderr
    assert refused.returncode == 2, out
    assert "pip install 'mycarenet-dental[simulator]'" in out and "Traceback" not in out
