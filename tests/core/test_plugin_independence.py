"""Removing a plugin removes its commands and nothing else; plugins never import each other."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from tests.conftest import cli_env

ROOT = Path(__file__).resolve().parents[2]
SERVICE_DISTS = sorted({ep.dist.name for ep in entry_points(group="mycarenet_dental")
                        if ep.dist and ep.dist.name.startswith("mycarenet-dental-")})

HIDE = """
import importlib.metadata as md, sys
_real = md.entry_points
def _hidden(**kw):
    return [ep for ep in _real(**kw) if not (ep.dist and ep.dist.name == {dist!r})]
md.entry_points = _hidden
from mycarenet_dental.cli.main import main
main(sys.argv[1:])
"""


def _cli_without(dist: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", HIDE.format(dist=dist), *args], capture_output=True, text=True,
                          env=cli_env(), timeout=60)


@pytest.mark.parametrize("dist", SERVICE_DISTS)
def test_cli_works_without_each_plugin(dist: str) -> None:
    helped = _cli_without(dist, "--help")
    assert helped.returncode == 0, helped.stderr
    listed = _cli_without(dist, "plugins", "--json")
    assert listed.returncode == 0, listed.stderr
    assert dist not in {p["distribution"] for p in json.loads(listed.stdout)["plugins"]}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_plugins_never_import_each_other() -> None:
    packages = {p.name for p in (ROOT / "plugins").glob("*/mycarenet_dental_*") if p.is_dir()}
    offenders = []
    for package in packages:
        for source in (ROOT / "plugins").glob(f"*/{package}/**/*.py"):
            others = (_imports(source) & packages) - {package}
            if others:
                offenders.append(f"{source.relative_to(ROOT)} imports {sorted(others)}")
    assert not offenders, offenders


def test_core_never_imports_a_plugin() -> None:
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "core").rglob("*.py")
                 if any(name.startswith("mycarenet_dental_") for name in _imports(p))]
    assert not offenders, offenders
