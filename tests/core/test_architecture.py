"""The dependency rule of ``docs/architecture.md``, checked on the code (imports read with ``ast``,
function-level and ``TYPE_CHECKING`` imports included):

    kernel  <-  ehealth  <-  protocols  <-  plugins          sim beside, never imported by production

* ehealth imports no protocols and no sim; protocols import no sim;
* the kernel imports no ehealth/protocols/sim except through the seams listed in ``KERNEL_SEAMS``;
* nothing reachable from a production entry point (kernel, each plugin's ``mycarenet_dental``
  entry point) imports the sim package, a plugin's simulator side, or Werkzeug;
* nothing in the core imports a plugin.
"""

from __future__ import annotations

import ast
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "core"
KERNEL_ROOTS = ("mycarenet_dental.cli.main", "mycarenet_dental.context", "mycarenet_dental.plugins",
                "mycarenet_dental.rules.builtin", "mycarenet_dental.cli.security_cmds")
#: Where the kernel reaches ehealth on purpose (documented in docs/architecture.md, "Seams").
KERNEL_SEAMS = {
    ("mycarenet_dental.context", "mycarenet_dental.ehealth.session"),  # ctx.security: token, signing
    ("mycarenet_dental.context", "mycarenet_dental.ehealth.transport"),  # ctx.transport: the SOAP client
    ("mycarenet_dental.context", "mycarenet_dental.ehealth.keystore"),  # from_config opens the keystore
    ("mycarenet_dental.cli.security_cmds", "mycarenet_dental.ehealth.verify"),  # `security verify`
    ("mycarenet_dental.cli.main", "mycarenet_dental.ehealth.keystore"),  # `audit verify` signs checkpoints
    ("mycarenet_dental.testing", "mycarenet_dental.sim.testing"),  # vendors' old name of SimEnv (tests only)
}


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    bases = [CORE] + [d for d in (ROOT / "plugins").iterdir() if d.is_dir()]
    for base in bases:
        for path in base.glob("mycarenet_dental*/**/*.py"):
            parts = path.relative_to(base).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = _modules()


@cache
def third_party_of(module: str) -> frozenset[str]:
    """Top-level names of the non-project modules ``module`` imports (stdlib included)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out.add(node.module.split(".")[0])
    return frozenset(n for n in out if not n.startswith("mycarenet_dental"))


@cache
def imports_of(module: str) -> frozenset[str]:
    """Project modules (and ``werkzeug``) that ``module`` imports, anywhere in its body."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [f"{target}.{a.name}" if f"{target}.{a.name}" in MODULES else target for a in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] == "werkzeug":
                out.add("werkzeug")
                continue
            while name and name not in MODULES:  # import of a name inside a module
                name = name.rpartition(".")[0]
            if name and name != module:
                out.add(name)
    return frozenset(out)


def closure(roots: list[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        module = todo.pop()
        if module in seen or module not in MODULES:
            continue
        seen.add(module)
        todo.extend(imports_of(module) - seen)
    return seen | ({"werkzeug"} if any("werkzeug" in imports_of(m) for m in seen) else set())


def layer(module: str) -> str:
    if not module.startswith("mycarenet_dental."):
        return "plugin" if module.startswith("mycarenet_dental_") else "kernel"
    second = module.split(".")[1]
    return second if second in ("ehealth", "protocols", "sim") else "kernel"


def _violations(source_layer: str, forbidden: set[str]) -> list[tuple[str, str]]:
    return sorted((m, dep) for m in MODULES if layer(m) == source_layer
                  for dep in imports_of(m) if dep != "werkzeug" and layer(dep) in forbidden)


def test_the_module_table_sees_every_layer() -> None:
    assert {layer(m) for m in MODULES} == {"kernel", "ehealth", "protocols", "sim", "plugin"}
    assert "mycarenet_dental.ehealth.session" in imports_of("mycarenet_dental.context")  # the walker reads imports


def test_ehealth_imports_neither_protocols_nor_sim() -> None:
    assert _violations("ehealth", {"protocols", "sim", "plugin"}) == []


def test_protocols_import_no_sim() -> None:
    assert _violations("protocols", {"sim", "plugin"}) == []


def test_the_kernel_reaches_other_layers_only_through_the_listed_seams() -> None:
    found = set(_violations("kernel", {"ehealth", "protocols", "sim", "plugin"}))
    assert found - KERNEL_SEAMS == set(), "undocumented kernel -> layer import (add a seam to docs and KERNEL_SEAMS?)"
    assert KERNEL_SEAMS - found == set(), "a listed seam is gone: remove it from KERNEL_SEAMS and the docs"


def test_the_kernel_never_reaches_the_simulator_or_a_plugin() -> None:
    reached = closure(list(KERNEL_ROOTS))
    assert sorted(m for m in reached if layer(m) in ("sim", "plugin") or m == "werkzeug") == []


SERVICE_EPS = sorted((ep.name, ep.value) for ep in entry_points(group="mycarenet_dental")
                     if ep.dist and ep.dist.name != "mycarenet-dental")
SIM_EPS = {ep.name: ep.value for ep in entry_points(group="mycarenet_dental.simulator")}


@pytest.mark.parametrize(("name", "module"), SERVICE_EPS)
def test_a_plugins_production_side_never_reaches_the_simulator(name: str, module: str) -> None:
    if module not in MODULES:
        pytest.skip(f"{module} is not in this checkout")
    reached = closure([module])
    assert "werkzeug" not in reached
    assert sorted(m for m in reached if layer(m) == "sim") == []
    if name in SIM_EPS:
        assert SIM_EPS[name] not in reached, f"{name}'s production side imports its simulator side"


def test_every_installed_service_plugin_has_a_simulator_side() -> None:
    for name, _ in SERVICE_EPS:
        if name in ("example-rule",):
            continue
        assert name in SIM_EPS, f"plugin {name} registers no `mycarenet_dental.simulator` entry point"


def test_a_simulator_hook_in_a_production_plugin_is_refused_with_the_way_out() -> None:
    """The production manager does not know the simulator hooks: a plugin that still implements one in
    its production module fails to load, and the hint names the simulator's hookspec and group."""
    from mycarenet_dental.hookspec import hookimpl
    from mycarenet_dental.plugins import PluginLoadError, PluginManager

    class OldStyle:
        @hookimpl
        def mycarenet_dental_simulator_routes(self) -> list[object]:
            return []

    with pytest.raises(PluginLoadError) as info:
        PluginManager().load(entrypoints=False, extra=[("old-style", OldStyle())])
    assert "mycarenet_dental.sim.hookspec" in (info.value.hint or "")
    assert "mycarenet_dental.simulator" in (info.value.hint or "")


def test_the_simulator_manager_refuses_a_production_hook_in_a_simulator_side() -> None:
    from mycarenet_dental.plugins import PluginLoadError
    from mycarenet_dental.sim.hookspec import hookimpl
    from mycarenet_dental.sim.plugins import make_sim_plugin_manager

    class Confused:
        @hookimpl
        def mycarenet_dental_rules(self) -> list[object]:
            return []

    with pytest.raises(PluginLoadError):
        make_sim_plugin_manager(extra=[("confused", Confused())])


def _requirement_name(requirement: str) -> str:
    import re

    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_what_only_the_simulator_imports_is_in_the_simulator_extra_not_in_the_base_install() -> None:
    """Werkzeug (and any server library the simulator adopts) ships with ``[simulator]`` only."""
    from importlib.metadata import packages_distributions

    from mycarenet_dental.config import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    base = {_requirement_name(r) for r in project["dependencies"]}
    extra = {_requirement_name(r) for r in project["optional-dependencies"]["simulator"]}
    production_roots = list(KERNEL_ROOTS) + [m for _, m in SERVICE_EPS if m in MODULES]
    production = closure(production_roots)
    sim_side = {m for m in MODULES if layer(m) == "sim"} | closure([m for m in SIM_EPS.values() if m in MODULES])
    dists = packages_distributions()
    used_by_production = {d.lower() for m in production if m != "werkzeug" for n in third_party_of(m)
                          for d in dists.get(n, ())}
    sim_only = {d.lower().replace("_", "-") for m in sim_side - production - {"werkzeug"} for n in third_party_of(m)
                for d in dists.get(n, ())} - used_by_production - {"mycarenet-dental"}
    sim_only = {d for d in sim_only if not d.startswith("mycarenet-dental")}
    sim_only -= {"pytest"}  # sim/pytest_plugin.py runs only inside the vendor's own pytest
    assert "werkzeug" in sim_only  # the check sees the simulator's own imports
    assert sim_only & base == set(), f"simulator-only libraries in the base install: {sorted(sim_only & base)}"
    assert sim_only - extra == set(), f"simulator libraries missing from the 'simulator' extra: {sorted(sim_only - extra)}"


# -- the gateway (issue 17): an optional part of the core; the web framework stays inside it ---------

WEB_FRAMEWORK = frozenset({"litestar", "uvicorn", "jinja2", "starlette", "msgspec", "anyio"})


def test_plugins_never_import_the_web_framework() -> None:
    """Plugins give the gateway framework-neutral RouteSpec records; only the gateway imports Litestar."""
    found = sorted((m, n) for m in MODULES if layer(m) == "plugin" for n in third_party_of(m) & WEB_FRAMEWORK)
    assert found == []


def test_only_the_gateway_imports_the_web_framework_and_production_never_reaches_it() -> None:
    outside = sorted((m, n) for m in MODULES if not m.startswith("mycarenet_dental.gateway")
                     for n in third_party_of(m) & WEB_FRAMEWORK)
    assert outside == []
    assert "litestar" in third_party_of("mycarenet_dental.gateway.app")  # the check sees the gateway's imports
    production = closure(list(KERNEL_ROOTS) + [m for _, m in SERVICE_EPS if m in MODULES])
    assert sorted(m for m in production if m.startswith("mycarenet_dental.gateway")) == []


def test_the_web_framework_is_in_the_gateway_extra_not_in_the_base_install() -> None:
    from mycarenet_dental.config import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    base = {_requirement_name(r) for r in project["dependencies"]}
    extra = {_requirement_name(r) for r in project["optional-dependencies"]["gateway"]}
    assert {"litestar", "uvicorn", "jinja2"} <= extra
    assert base & extra == set()
