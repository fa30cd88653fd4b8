"""mkdocs hook: the pages generated from the code, so that they cannot drift from it.

* ``cli.md`` — the CLI reference, from the click tree the ``mycarenet-dental`` command builds (core
  commands and every plugin's, lazy ones included);
* ``hooks.md`` — the hook reference, from ``mycarenet_dental.hookspec`` and ``mycarenet_dental.sim.hookspec``;
* ``api/<plugin>.md`` — each plugin's vendor API: its package docstring and every public name
  (``__all__``) rendered by mkdocstrings from the docstrings of the module that defines it;
* ``errors/<plugin>.md`` (and ``errors/core.md``) — the error codes, from the catalogues the code
  reads (``data/*.json`` of each plugin, the core's SOA codes and typed exceptions).

The plugins are the folders under ``plugins/`` (a new plugin gets its pages and its nav entries
without editing ``mkdocs.yml``). Nothing generated is written into ``docs/``: the pages exist only in
the build. ``exit-codes.md`` and ``glossary.md`` are written by hand; until they exist a page saying
so keeps ``mkdocs build --strict`` meaningful for the rest.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "plugins"
HAND_WRITTEN_LATER = {
    "exit-codes.md": "Exit codes",
    "glossary.md": "Glossary",
}


def _plugins() -> list[tuple[str, str]]:
    """``(name, package)`` of every plugin folder, in name order."""
    found = []
    for pyproject in sorted(PLUGINS.glob("*/pyproject.toml")):
        packages = sorted(p.parent.name for p in pyproject.parent.glob("mycarenet_dental_*/__init__.py"))
        if packages:
            found.append((pyproject.parent.name, packages[0]))
    return found


# -- navigation --------------------------------------------------------------------------------


def on_config(config: Any) -> Any:
    """Fill the nav sections "Vendor API" and "Error codes" with one generated page per plugin."""
    plugins = _plugins()
    for entry in config["nav"] or []:
        if not isinstance(entry, dict):
            continue
        (title, children), = entry.items()
        if title == "Vendor API":
            entry[title] = [{name: f"api/{name}.md"} for name, _ in plugins]
        elif title == "Error codes":
            entry[title] = [{"core and eHealth": "errors/core.md"}] + [
                {name: f"errors/{name}.md"} for name, _ in plugins]
    return config


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    pages = {"cli.md": cli_reference(), "hooks.md": hook_reference(), "errors/core.md": core_errors()}
    for name, package in _plugins():
        pages[f"api/{name}.md"] = api_page(name, package)
        pages[f"errors/{name}.md"] = plugin_errors(name, package)
    for path, title in HAND_WRITTEN_LATER.items():
        if files.get_file_from_path(path) is None:
            pages[path] = f"# {title}\n\nThis page is being written (see issue 14).\n"
    for path, content in pages.items():
        files.append(File.generated(config, path, content=content))
    return files


# -- CLI reference -----------------------------------------------------------------------------


def cli_reference() -> str:
    """Every command's ``--help``, walked from the root group the console script builds."""
    import click
    from mycarenet_dental.cli.main import build_cli
    from mycarenet_dental.plugins import make_plugin_manager

    root = build_cli(make_plugin_manager())
    out = ["# CLI reference", "",
           "Generated from the click commands of `mycarenet-dental` and of the plugins installed with the",
           "documentation build (every plugin of this repository). Exit codes: see [Exit codes](exit-codes.md).",
           ""]

    def walk(command: click.Command, ctx: click.Context, depth: int) -> None:
        ctx.max_content_width = ctx.terminal_width = 78  # the width of the page's code blocks
        out.extend([f"{'#' * min(depth + 1, 6)} {ctx.command_path}", ""])
        summary = command.get_short_help_str(limit=200)
        if summary:
            out.extend([summary, ""])
        out.extend(["```text", command.get_help(ctx).rstrip(), "```", ""])
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None and not sub.hidden:
                    walk(sub, click.Context(sub, info_name=name, parent=ctx), depth + 1)

    walk(root, click.Context(root, info_name="mycarenet-dental"), 1)
    return "\n".join(out)


# -- hook reference ----------------------------------------------------------------------------


def _inline(text: str) -> str:
    """Roles and double backticks of one line of prose as Markdown code spans."""
    return _ROLE.sub(r"`\1`", text).replace("``", "`")


_ROLE = re.compile(r":(?:class|func|mod|meth|attr|data|exc):`~?([^`]+)`")


def rst_to_markdown(text: str) -> str:
    """A docstring's ``Example::`` literal blocks as fenced Python, its roles and ````x```` as code spans."""
    lines = inspect.cleandoc(text).splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.rstrip().endswith("::"):
            head = line.rstrip()[:-2].rstrip()
            out.extend([_inline(head + (":" if head and not head.endswith(":") else "")), ""])
            i += 1
            block: list[str] = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith("    ")):
                block.append(lines[i][4:])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            while block and not block[0].strip():
                block.pop(0)
            out.extend(["```python", *block, "```", ""])
            continue
        out.append(_inline(line))
        i += 1
    return "\n".join(out)


def _signature(name: str, func: Any) -> str:
    """``def name(params) -> result`` with the annotations as written (postponed, unquoted)."""
    sig = inspect.signature(func)
    params = ", ".join(str(p).replace("'", "") for p in sig.parameters.values())
    result = sig.return_annotation
    tail = "" if result is inspect.Signature.empty else f" -> {str(result).strip(chr(39))}"
    return f"def {name}({params}){tail}"


def hook_reference() -> str:
    out = ["# Hook reference", "",
           "Generated from the hook specifications: every hook a plugin can implement, its signature and",
           "what it is for. See the [plugin guide](plugin-guide.md) for how a plugin is put together.", ""]
    for module_name, title in (("mycarenet_dental.hookspec", "Production hooks"),
                               ("mycarenet_dental.sim.hookspec", "Simulator hooks")):
        module = importlib.import_module(module_name)
        marker = f"{module.PROJECT}_spec"
        out.extend([f"## {title}", "", f"Module `{module_name}`, entry-point group `{_group(module)}`.", "",
                    rst_to_markdown(module.__doc__ or ""), ""])
        hooks = [(n, f) for n, f in vars(module).items() if callable(f) and hasattr(f, marker)]
        for name, func in sorted(hooks, key=lambda item: inspect.getsourcelines(item[1])[1]):
            opts = {k: v for k, v in (getattr(func, marker) or {}).items() if v}
            out.extend([f"### `{name}`", ""])
            if opts:
                out.extend(["Options: " + ", ".join(f"`{k}`" for k in sorted(opts)), ""])
            out.extend(["```python", _signature(name, func), "```", "",
                        rst_to_markdown(func.__doc__ or "(undocumented)"), ""])
    return "\n".join(out)


def _group(module: Any) -> str:
    return "mycarenet_dental" if module.PROJECT == "mycarenet_dental" else "mycarenet_dental.simulator"


# -- vendor API --------------------------------------------------------------------------------


def _defining_module(package: Any, name: str) -> str:
    """The module whose docstrings describe ``package.name`` (a lazy re-export resolved)."""
    obj = getattr(package, name)
    module = getattr(obj, "__module__", None)
    if isinstance(module, str) and (inspect.isclass(obj) or inspect.isfunction(obj)):
        return module  # a re-export from the core is documented where it is defined
    for mod_name, mod in sorted(sys.modules.items()):
        if mod_name.startswith(package.__name__ + ".") and mod is not None and name in vars(mod):
            source = inspect.getsource(mod)
            if re.search(rf"^{re.escape(name)}\b", source, re.M):
                return mod_name
    return package.__name__


def api_page(name: str, package_name: str) -> str:
    package = importlib.import_module(package_name)
    public = list(getattr(package, "__all__", None) or getattr(package, "_EXPORTS", {}))
    out = [f"# {name}", "", f"`pip install mycarenet-dental-{name}` — package `{package_name}`, its README is "
           f"`plugins/{name}/README.md`.", "", rst_to_markdown(package.__doc__ or ""), "",
           "## Public names", "",
           "Every name below is importable from the package root (`from "
           f"{package_name} import ...`); each is documented from the module that defines it.", ""]
    for public_name in sorted(public, key=lambda n: (not inspect.isroutine(getattr(package, n)), n.lower())):
        out.extend([f"::: {_defining_module(package, public_name)}.{public_name}", "    options:",
                    "      show_root_full_path: false", "      heading_level: 3", ""])
    return "\n".join(out)


# -- error codes -------------------------------------------------------------------------------

_TEXT_KEYS = ("en", "fr", "nl")


def _tables(node: Any, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], dict[str, dict[str, Any]]]]:
    """Every mapping of code -> entry (an entry has an English text) in a catalogue, with its path."""
    if not isinstance(node, dict):
        return []
    entries = {k: v for k, v in node.items() if not k.startswith("_")}
    if entries and all(isinstance(v, dict) and "en" in v for v in entries.values()):
        return [(path, entries)]
    found = []
    for key, value in node.items():
        if not key.startswith("_"):
            found.extend(_tables(value, (*path, key)))
    return found


def _cell(value: Any) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _catalogue_markdown(title: str, data: dict[str, Any]) -> list[str]:
    about = next((str(v) for k, v in data.items() if k.lstrip("_") in ("about", "source") and isinstance(v, str)), "")
    out = [f"## {title}", "", about, ""] if about else [f"## {title}", ""]
    for path, entries in _tables(data, ()):
        extra = sorted({k for v in entries.values() for k, x in v.items()
                        if k not in _TEXT_KEYS and not isinstance(x, dict)})
        if path:
            out.extend([f"### {' / '.join(path)}", ""])
        columns = ["code", *extra, *_TEXT_KEYS]
        out.extend(["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)])
        for code, entry in entries.items():
            out.append("| " + " | ".join([f"`{code}`", *(_cell(entry.get(c, "")) for c in columns[1:])]) + " |")
        out.append("")
    return out


def plugin_errors(name: str, package_name: str) -> str:
    package = importlib.import_module(package_name)
    data_dir = Path(package.__file__).parent / "data"
    out = [f"# Error codes: {name}", "",
           f"Generated from the catalogues of `{package_name}` (`data/*.json`), the texts the plugin shows.", ""]
    catalogues = sorted(p for p in data_dir.glob("*.json") if _tables(json.loads(p.read_text("utf-8")), ()))
    for path in catalogues:
        out.extend(_catalogue_markdown(f"`{path.name}`", json.loads(path.read_text("utf-8"))))
    if not catalogues:
        out.extend([f"`{package_name}` has no code catalogue of its own: its errors are the core's "
                    "(see [core and eHealth](core.md)).", ""])
    return "\n".join(out)


def core_errors() -> str:
    from mycarenet_dental import errors

    out = ["# Error codes: core and eHealth", "",
           "## Typed errors", "",
           "Every error is one of these classes (module `mycarenet_dental.errors`); `code` is the default",
           "when the error has no remote code of its own.", "",
           "| class | default code | exit code | what |", "| --- | --- | --- | --- |"]
    classes = [c for c in vars(errors).values()
               if inspect.isclass(c) and issubclass(c, errors.MyCareNetDentalError) and c.__module__ == errors.__name__]
    for cls in classes:
        doc = _cell((inspect.getdoc(cls) or "").split("\n\n")[0])
        out.append(f"| `{cls.__name__}` | `{cls.default_code}` | {cls.exit_code} | {doc} |")
    out.append("")
    soa = Path(errors.__file__).parent / "data" / "soa_codes.json"
    out.extend(_catalogue_markdown("eHealth SOA codes (`soa_codes.json`)", json.loads(soa.read_text("utf-8"))))
    return "\n".join(out)
