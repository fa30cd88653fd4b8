"""Packaging as a vendor meets it: wheels and sdists from ``make dist``, installed into a fresh venv.

The dists are built once for this module (``python -m build --no-isolation``, as ``make dist``
does: sdist first, then the wheel from the sdist, so a file missing from the sdist shows); a
scratch venv then gets the core (with the ``simulator`` extra) and ONE plugin from those wheels by
the command the README gives, and runs a tariff consultation against the simulator with no source
tree on ``sys.path``. The plugin template (``mycarenet-dental plugin new``) is proven in the same
venv: the generated plugin installs with pip, passes its own tests there and is listed by
``mycarenet-dental plugins``.
"""

from __future__ import annotations

import ast
import email
import json
import os
import re
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from collections.abc import Iterator
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = [ROOT, *sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml"))]
LICENSE = (ROOT / "LICENSE").read_text(encoding="utf-8")
CORE_RANGE = "mycarenet-dental>=0.1,<0.2"


def _pyproject(project: Path) -> dict:
    return tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(req: str) -> str:
    return _norm(re.split(r"[\s;<>=!~\[]", req, maxsplit=1)[0])


# -- metadata, checked on the sources --------------------------------------------------------------


def _imports(package: Path) -> dict[str, str]:
    """Top-level module imported -> first file importing it (absolute imports only)."""
    found: dict[str, str] = {}
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name if p != ROOT else "core")
def test_every_import_is_a_declared_dependency(project: Path) -> None:
    meta = _pyproject(project)["project"]
    declared = {_requirement_name(r) for r in meta.get("dependencies", [])}
    own = _norm(meta["name"])
    if project == ROOT:  # the core: its extras count (the simulator's imports); pytest loads the pytest plugin
        declared |= {_requirement_name(r) for reqs in meta.get("optional-dependencies", {}).values() for r in reqs}
        declared |= {"pytest"}
        packages = [ROOT / "core" / "mycarenet_dental"]
    else:
        packages = sorted(p for p in project.glob("mycarenet_dental_*") if p.is_dir() and "egg-info" not in p.name)
    dists = packages_distributions()
    undeclared = []
    for package in packages:
        for module, where in _imports(package).items():
            if module in sys.stdlib_module_names or module == "__future__":
                continue
            names = {_norm(d) for d in dists.get(module, [module])}
            if not names & (declared | {own}):
                undeclared.append(f"{module} ({where}) -> {sorted(names)}")
    assert not undeclared, f"{meta['name']} imports what it does not declare:\n" + "\n".join(undeclared)


@pytest.mark.parametrize("project", PROJECTS[1:], ids=lambda p: p.name)
def test_plugin_metadata(project: Path) -> None:
    meta = _pyproject(project)["project"]
    assert meta["license"] == "Apache-2.0" and meta["license-files"] == ["LICENSE"]  # SPDX, not the old table
    assert (project / "LICENSE").read_text(encoding="utf-8") == LICENSE, "a copy of the root LICENSE"
    assert meta["readme"] == "README.md" and (project / "README.md").is_file()
    assert any(c.startswith("Programming Language :: Python :: 3") for c in meta["classifiers"])
    assert CORE_RANGE in meta["dependencies"]
    assert _pyproject(project)["build-system"]["requires"] == ["setuptools>=77"]  # SPDX licence needs 77


def test_core_metadata() -> None:
    meta = _pyproject(ROOT)["project"]
    assert meta["license"] == "Apache-2.0" and meta["license-files"] == ["LICENSE"]
    assert "Apache License" in LICENSE and "Version 2.0, January 2004" in LICENSE
    assert meta["version"].startswith("0.1."), f"plugins pin {CORE_RANGE}: move the range with the version"


# -- the built dists ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every wheel and sdist, built as ``make dist`` builds them."""
    pytest.importorskip("build", reason="the 'build' package is in the test extra (make venv)")
    from concurrent.futures import ThreadPoolExecutor

    out = tmp_path_factory.mktemp("dist")

    def build(project: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(project)],
                              capture_output=True, text=True, timeout=300)

    with ThreadPoolExecutor(max_workers=2) as pool:  # the machine's two cores
        for project, done in zip(PROJECTS, pool.map(build, PROJECTS), strict=True):
            assert done.returncode == 0, f"building {project} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return out


def _wheel_metadata(wheel: Path) -> tuple[email.message.Message, dict[str, bytes]]:
    with zipfile.ZipFile(wheel) as zf:
        files = {name: zf.read(name) for name in zf.namelist() if ".dist-info/" in name}
    meta = next(v for k, v in files.items() if k.endswith(".dist-info/METADATA"))
    return email.message_from_bytes(meta), files


def test_every_project_has_a_wheel_and_an_sdist_with_its_licence(dist: Path) -> None:
    for project in PROJECTS:
        name = _norm(_pyproject(project)["project"]["name"]).replace("-", "_")
        version = _pyproject(project)["project"]["version"]
        wheel = dist / f"{name}-{version}-py3-none-any.whl"
        sdist = dist / f"{name}-{version}.tar.gz"
        assert wheel.is_file() and sdist.is_file(), sorted(p.name for p in dist.iterdir())
        meta, files = _wheel_metadata(wheel)
        assert meta["License-Expression"] == "Apache-2.0"
        assert meta.get_all("License-File") == ["LICENSE"]
        assert files[f"{name}-{version}.dist-info/licenses/LICENSE"].decode("utf-8") == LICENSE
        assert meta["Description-Content-Type"] == "text/markdown" and len(meta.get_payload()) > 200
        assert any(c.startswith("Programming Language :: Python") for c in meta.get_all("Classifier"))
        assert not any(c.startswith("License ::") for c in meta.get_all("Classifier"))
        if project != ROOT:
            assert "mycarenet-dental<0.2,>=0.1" in meta.get_all("Requires-Dist")
        with tarfile.open(sdist) as tf:
            names = {Path(m).name for m in tf.getnames() if m.count("/") == 1}
        assert {"LICENSE", "README.md", "pyproject.toml"} <= names


# -- a fresh venv from the wheels ------------------------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    """No PYTHONPATH, no configuration or plugin selection of the developer's shell."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def scratch(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A venv holding the core (+ simulator extra) and the tariff plugin from the wheels, and pytest.

    Yields its python. Installed with the README's command (``--find-links dist``); pip runs from the
    test's interpreter (``--python``), so the venv needs no pip of its own.
    """
    venv = tmp_path_factory.mktemp("scratch-venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                           "--disable-pip-version-check", "--find-links", str(dist),
                           "mycarenet-dental[simulator]", "mycarenet-dental-tariff", "pytest"],
                          capture_output=True, text=True, timeout=600, env=clean_env())
    assert done.returncode == 0, done.stderr[-4000:]
    yield python


def run_in(python: Path, code: str, cwd: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in the scratch venv: isolated mode (no script folder, no PYTHON* variables)."""
    script = cwd / "script.py"
    script.write_text(textwrap.dedent(code), encoding="utf-8")
    return subprocess.run([str(python), "-I", str(script), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=clean_env())


CONSULT = """
    import json, sys, tempfile
    from importlib.metadata import distribution
    from pathlib import Path

    import mycarenet_dental, mycarenet_dental_tariff
    from mycarenet_dental.sim.population import base_population
    from mycarenet_dental.sim.testing import SimEnv
    from mycarenet_dental_tariff import consult_tariff

    with tempfile.TemporaryDirectory() as tmp, SimEnv.running(Path(tmp)) as env:
        with env.context() as ctx:
            contact = ctx.open_contact(base_population()[0].ssin)
            result = consult_tariff(ctx, contact, ["301011", "302153:36"])
    print(json.dumps({
        "lines": [[ln.code, ln.tooth, ln.status.value, ln.fee_cents] for ln in result.lines],
        "files": [mycarenet_dental.__file__, mycarenet_dental_tariff.__file__],
        "path": sys.path,
        "metadata": {d: distribution(d).read_text("METADATA") for d in ("mycarenet-dental", "mycarenet-dental-tariff")},
        "direct_url": [distribution(d).read_text("direct_url.json") for d in ("mycarenet-dental", "mycarenet-dental-tariff")],
    }))
"""


def test_core_and_one_plugin_from_the_wheels_price_a_tariff_against_the_simulator(
        scratch: Path, dist: Path, tmp_path: Path) -> None:
    done = run_in(scratch, CONSULT, tmp_path)
    assert done.returncode == 0, done.stderr[-4000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["lines"] == [["301011", None, "priced", out["lines"][0][3]], ["302153", 36, "priced", out["lines"][1][3]]]
    assert all(isinstance(line[3], int) and line[3] > 0 for line in out["lines"])
    site = scratch.parent.parent  # the venv
    assert all(Path(f).is_relative_to(site) for f in out["files"]), out["files"]
    assert not any(Path(p).resolve().is_relative_to(ROOT) for p in out["path"] if p), out["path"]
    assert out["direct_url"] == [None, None], "installed from the wheels, not from a source folder (editable)"
    for name, wheel in (("mycarenet-dental", "mycarenet_dental"), ("mycarenet-dental-tariff", "mycarenet_dental_tariff")):
        _, files = _wheel_metadata(dist / f"{wheel}-0.1.0-py3-none-any.whl")
        built = files[f"{wheel}-0.1.0.dist-info/METADATA"].decode("utf-8")
        assert out["metadata"][name] == built, f"{name} in the venv is not the wheel this test built"


def test_the_readme_documents_the_wheel_install() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make dist" in readme and "pip install --find-links dist mycarenet-dental-tariff" in readme


# -- the plugin template, proven in the same venv ---------------------------------------------------


def test_a_generated_plugin_installs_passes_its_own_tests_and_is_listed(
        scratch: Path, dist: Path, tmp_path: Path) -> None:
    cli = str(scratch.parent / "mycarenet-dental")
    # written by the core installed from its wheel: the templates are package data of the wheel
    new = subprocess.run([cli, "plugin", "new", "eattest", "--dir", str(tmp_path), "--json"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120, env=clean_env())
    assert new.returncode == 0, new.stderr
    plugin = Path(json.loads(new.stdout)["path"])
    assert {"pyproject.toml", "README.md", "mycarenet_dental_eattest/simulator.py", "mycarenet_dental_eattest/rules.py",
            "mycarenet_dental_eattest/cli.py", "mycarenet_dental_eattest/client.py", "tests/test_eattest.py"} <= \
        set(json.loads(new.stdout)["files"])
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(plugin)], cwd=plugin,
                          capture_output=True, text=True, timeout=120)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    pyproject = tomllib.loads((plugin / "pyproject.toml").read_text(encoding="utf-8"))
    assert CORE_RANGE in pyproject["project"]["dependencies"]
    assert pyproject["project"]["entry-points"]["mycarenet_dental.simulator"] == {"eattest": "mycarenet_dental_eattest.simulator"}
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(scratch), "install", "-q",
                           "--disable-pip-version-check", "--find-links", str(dist), str(plugin)],
                          capture_output=True, text=True, timeout=600, env=clean_env())
    assert done.returncode == 0, done.stderr[-4000:]
    # its own tests, in the venv, against the installed package (not the folder: isolated mode)
    tests = subprocess.run([str(scratch), "-I", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=plugin,
                           capture_output=True, text=True, timeout=300, env=clean_env())
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    assert re.search(r"\b4 passed\b", tests.stdout), tests.stdout[-2000:]
    listed = subprocess.run([cli, "plugins", "--json"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120, env=clean_env())
    assert listed.returncode == 0, listed.stderr
    plugins = {p["name"]: p for p in json.loads(listed.stdout)["plugins"]}
    assert plugins["eattest"]["distribution"] == "mycarenet-dental-eattest"
    assert plugins["eattest"]["service"] == "eattest" and plugins["eattest"]["version"] == "0.1.0"
    assert "tariff" in plugins and "mycarenet_dental_rules" in plugins["eattest"]["hooks"]
