"""``mycarenet-dental plugin new NAME``: start a plugin from the template that installs and tests as written."""

from __future__ import annotations

from pathlib import Path

import click

from . import emit, json_option


@click.group("plugin")
def plugin_group() -> None:
    """Write a new plugin from the template (service, simulator side, rule, command, tests)."""


@plugin_group.command("new")
@click.argument("name")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Where to create the plugin's folder.")
@json_option
def plugin_new(name: str, directory: Path, as_json: bool) -> None:
    """Create the plugin NAME (a lower-case identifier) in DIR/mycarenet-dental-NAME."""
    from ..plugin_template import render

    target, written = render(name, directory)

    def human() -> None:
        click.echo(f"plugin {name!r} written to {target}:")
        for path in written:
            click.echo(f"  {path.relative_to(target)}")
        click.echo(f"next: pip install -e '{target}[test]' && pytest {target}  "
                   "(restart a running `simulator serve` to load it)")

    emit({"name": name, "path": str(target), "files": [str(p.relative_to(target)) for p in written]}, as_json,
         human)
