"""The template of a separately installable plugin, written by ``mycarenet-dental plugin new NAME``.

The files are package data (``data/*.tmpl``) filled with :class:`string.Template` (no template
engine to install). What comes out installs with pip and passes its own tests as written: a service
with its client function, its insurer side for the simulator, a rule, a CLI command, a README and
pytest tests on the ``mycarenet_simulator`` fixtures (``tests/core/test_plugin_template.py`` proves it).
"""

from __future__ import annotations

import re
import string
from importlib import resources
from importlib.metadata import PackageNotFoundError, entry_points, version
from pathlib import Path

from ..errors import UsageError
from ..hookspec import API_VERSION

#: a plugin name: a Python identifier in lower case (it names the service, the command, the package)
NAME = re.compile(r"[a-z][a-z0-9_]{1,29}")

#: file written (relative to the plugin folder) -> its template; ``{package}``/``{name}`` filled in
FILES = {
    "pyproject.toml": "pyproject.toml.tmpl",
    "README.md": "README.md.tmpl",
    "{package}/__init__.py": "init.py.tmpl",
    "{package}/names.py": "names.py.tmpl",
    "{package}/plugin.py": "plugin.py.tmpl",
    "{package}/model.py": "model.py.tmpl",
    "{package}/client.py": "client.py.tmpl",
    "{package}/rules.py": "rules.py.tmpl",
    "{package}/cli.py": "cli.py.tmpl",
    "{package}/simulator.py": "simulator.py.tmpl",
    "{package}/py.typed": None,
    "tests/test_{name}.py": "test_plugin.py.tmpl",
}


def core_range(core_version: str) -> str:
    """The core versions a new plugin accepts: this minor series before 1.0, this major after."""
    parts = [int(p) for p in re.findall(r"\d+", core_version)[:2]] + [0, 0]
    major, minor = parts[0], parts[1]
    if major == 0:
        return f"mycarenet-dental>=0.{minor},<0.{minor + 1}"
    return f"mycarenet-dental>={major}.{minor},<{major + 1}"


def names_for(name: str) -> dict[str, str]:
    """Every name the templates use, derived from the plugin name (refused when unusable)."""
    if not NAME.fullmatch(name):
        raise UsageError(f"plugin name {name!r}: expected a lower-case identifier of 2 to 30 characters "
                         "(letters, digits, underscores; a letter first)", location="NAME")
    taken = {ep.name for ep in entry_points(group="mycarenet_dental")}
    if name in taken:
        raise UsageError(f"a plugin named {name!r} is already installed", location="NAME",
                         hint="two plugins may not provide the same service: choose another name")
    try:
        core = version("mycarenet-dental")
    except PackageNotFoundError:  # pragma: no cover - the core runs from a source tree
        core = "0.1"
    klass = "".join(part.capitalize() for part in name.split("_"))
    return {"name": name, "dist": "mycarenet-dental-" + name.replace("_", "-"), "package": f"mycarenet_dental_{name}",
            "klass": klass, "title": klass, "rule_id": f"X-{name.upper()}-1", "api": API_VERSION,
            "core_range": core_range(core)}


def render(name: str, directory: Path) -> tuple[Path, list[Path]]:
    """Write the plugin ``name`` into ``directory/<distribution name>``; (that folder, the files written)."""
    values = names_for(name)
    target = directory / values["dist"]
    if target.exists() and any(target.iterdir()):
        raise UsageError(f"{target} exists and is not empty", location="--dir",
                         hint="choose another --dir, or remove the folder")
    data = resources.files(__package__) / "data"
    written = []
    for relative, template in FILES.items():
        path = target / relative.format(**values)
        text = "" if template is None else string.Template((data / template).read_text("utf-8")).substitute(values)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror or exc}", location="--dir") from None
        written.append(path)
    return target, written
