"""The documentation site builds with ``mkdocs build --strict`` (a broken reference, a page missing from
the nav, an API name mkdocstrings cannot find all fail it), and its generated pages hold what the
code holds: every command, every hook, every plugin's public names and error codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (the `docs` extra; `make test` installs it)")
    pytest.importorskip("mkdocstrings", reason="mkdocstrings is not installed (the `docs` extra)")
    out = tmp_path_factory.mktemp("site")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MYCARENET_DENTAL_")}
    env["NO_MKDOCS_2_WARNING"] = "1"
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
                           cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)
    assert built.returncode == 0, built.stdout + built.stderr
    return out


def _text(site: Path, page: str) -> str:
    return (site / page / "index.html").read_text(encoding="utf-8")


def test_cli_reference_has_every_command(site: Path) -> None:
    import click
    from mycarenet_dental.cli.main import build_cli
    from mycarenet_dental.plugins import make_plugin_manager

    root = build_cli(make_plugin_manager())
    ctx = click.Context(root, info_name="mycarenet-dental")
    page = _text(site, "cli")
    for name in root.list_commands(ctx):
        assert f"mycarenet-dental {name}" in page, name
    assert "mycarenet-dental billing build" in page and "--until-settled" in page


def test_hook_reference_has_every_hook(site: Path) -> None:
    from mycarenet_dental import hookspec
    from mycarenet_dental.sim import hookspec as sim_hookspec

    page = _text(site, "hooks")
    for module in (hookspec, sim_hookspec):
        for name, func in vars(module).items():
            if hasattr(func, f"{module.PROJECT}_spec"):
                assert f"id=\"{name}\"" in page or name in page, name


def test_vendor_api_and_error_codes_per_plugin(site: Path) -> None:
    for plugin in sorted(p.parent.name for p in ROOT.glob("plugins/*/pyproject.toml")):
        package = next((ROOT / "plugins" / plugin).glob("mycarenet_dental_*/__init__.py")).parent
        api = _text(site, f"api/{plugin}")
        module = __import__(package.name)
        for name in getattr(module, "__all__", None) or module._EXPORTS:
            assert re.search(rf'id="[\w.]+\.{name}"', api), (plugin, name)  # its own mkdocstrings section
        errors = _text(site, f"errors/{plugin}")
        for catalogue in (package / "data").glob("*errors*.json"):
            codes = json.loads(catalogue.read_text(encoding="utf-8"))
            table = codes.get("codes") or codes.get("memberdata")
            assert table, catalogue
            assert all(f"<code>{code}</code>" in errors for code in table if not code.startswith("_")), catalogue
    core = _text(site, "errors/core")
    assert "SOA-01002" in core and "RULE_REFUSAL" in core
