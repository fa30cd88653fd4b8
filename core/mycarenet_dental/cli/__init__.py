"""CLI helpers shared by the core and the plugins' commands.

Plugins write ``@pass_context`` to receive the :class:`~mycarenet_dental.context.Context`, and
``emit(...)`` to print either JSON (``--json``) or a human table. A command ends by returning
(exit 0) or by raising: a typed error of ``mycarenet_dental.errors`` (its ``exit_code``) or
``click.exceptions.Exit(n)`` with n from :class:`~mycarenet_dental.errors.ExitCode`; anything else is
an internal error (4). ``docs/exit-codes.md`` is the contract.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def pass_context(f: F) -> F:
    """Give the command the application :class:`Context` as first argument (created on first use)."""

    @click.pass_context
    def wrapper(click_ctx: click.Context, *args: Any, **kwargs: Any) -> Any:
        root = click_ctx.find_root()
        factory = root.meta.get("mycarenet_dental.context_factory")
        if root.obj is None and factory is not None:
            root.obj = factory()
        return click_ctx.invoke(f, root.obj, *args, **kwargs)

    wrapper.__name__ = getattr(f, "__name__", "command")
    wrapper.__doc__ = f.__doc__
    return wrapper  # type: ignore[return-value]


class FiniteRange(click.FloatRange):
    """A float option within bounds; unlike click.FloatRange, ``nan`` and ``inf`` are refused (exit 2)."""

    name = "finite number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def to_jsonable(value: Any) -> Any:
    import attrs

    if attrs.has(type(value)):
        return to_jsonable(attrs.asdict(value, recurse=False))
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "value") and not isinstance(value, (str, int, float, bool)):
        return to_jsonable(value.value)
    return value


def print_json(data: Any) -> None:
    click.echo(json.dumps(to_jsonable(data), indent=2, ensure_ascii=False, default=str))


def print_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str | None = None) -> None:
    """A table for people. Every value is printed whole: on a terminal a long one wraps inside its cell;
    into a pipe or a file (no width to respect) each row stays on one line, however wide."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False, show_header=any(columns))
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*["" if v is None else str(v) for v in row])
    console = Console(file=sys.stdout, soft_wrap=False)
    if not console.is_terminal:
        console = Console(file=sys.stdout, soft_wrap=False, width=1_000_000)
    console.print(table)


def emit(data: Any, as_json: bool, human: Callable[[], None]) -> None:
    if as_json:
        print_json(data)
    else:
        human()


def fail(message: str, code: int = 2) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)
