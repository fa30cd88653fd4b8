"""``storage status`` / ``migrate`` / ``copy``: the schema versions of the store and moving it to PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..errors import ExitCode, UsageError
from . import emit, json_option, pass_context, print_table


@click.group("storage")
def storage_group() -> None:
    """The store (SQLite file or PostgreSQL database): schema versions, migrations, moving it."""


def _open(ctx: Any) -> Any:
    from ..storage import open_storage

    return open_storage(ctx.config.storage_url or ctx.config.storage_path, ctx.config.section("storage"))


def _status(ctx: Any, storage: Any) -> dict[str, Any]:
    schemas = [{"schema": name, "store": have, "software": want,
                "state": "current" if have == want else ("pending" if have < want else "newer")}
               for name, have, want in storage.pending(ctx.table_specs())]
    return {"store": storage.path, "backend": storage.dialect, "schemas": schemas}


def _show(data: dict[str, Any]) -> None:
    click.echo(f"store: {data['store']} ({data['backend']})")
    print_table(["schema", "in store", "this software", "state"],
                [[s["schema"], s["store"], s["software"], s["state"]] for s in data["schemas"]])


@storage_group.command("status")
@json_option
@pass_context
def storage_status(ctx: Any, as_json: bool) -> None:
    """Each schema's version in the store and in this software; exit 1 when migrations are pending."""
    storage = _open(ctx)
    try:
        data = _status(ctx, storage)
    finally:
        storage.close()
    code = ExitCode.REFUSED if any(s["state"] == "pending" for s in data["schemas"]) else ExitCode.OK
    emit({**data, "exit_code": int(code)}, as_json, lambda: _show(data))
    if code:
        raise click.exceptions.Exit(int(code))


@storage_group.command("migrate")
@json_option
@pass_context
def storage_migrate(ctx: Any, as_json: bool) -> None:
    """Apply the pending migrations (each once, atomically; safe while other processes run)."""
    storage = _open(ctx)
    try:
        storage.migrate(ctx.table_specs())
        data = _status(ctx, storage)
    finally:
        storage.close()
    emit(data, as_json, lambda: _show(data))


@storage_group.command("copy")
@click.option("--to", "to_url", required=True, metavar="URL",
              help="The new, empty PostgreSQL database: postgresql://user@host/database (no password).")
@click.option("--checkpoints", "checkpoint_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Verify against this checkpoint file instead of [audit] checkpoints.")
@json_option
@pass_context
def storage_copy(ctx: Any, to_url: str, checkpoint_path: Path | None, as_json: bool) -> None:
    """Copy every table of the SQLite store into PostgreSQL, then verify the audit trail there.

    The password comes from PGPASSWORD, ~/.pgpass or PGSERVICE, never from the command line.
    """
    from ..audit import verify_store
    from ..audit_checkpoint import CheckpointFile, CheckpointFileError, path_from_config
    from ..storage import open_storage
    from ..storage_copy import copy_store
    from ..storage_pg import mask_url

    if not to_url.startswith(("postgresql://", "postgres://")):
        raise UsageError("--to must be a postgresql:// URL")
    if "@" in to_url and ":" in to_url.split("://", 1)[1].split("@", 1)[0]:
        raise UsageError("the password must not be written on the command line (it stays in the shell history)",
                         hint="set PGPASSWORD, or use ~/.pgpass or a PGSERVICE file")
    checkpoints = CheckpointFile(checkpoint_path or path_from_config(ctx.config))
    try:
        items = checkpoints.read()
    except CheckpointFileError as exc:
        raise UsageError(f"cannot read the audit checkpoints: {exc}") from None
    source = _open(ctx)
    target = open_storage(to_url, ctx.config.section("storage"))
    try:
        report = copy_store(source, target, ctx.table_specs())
    finally:
        source.close()
        target.close()
    result = verify_store(to_url, items)
    # a practice that never exchanged anything has an empty trail on both sides: nothing to verify
    fresh = result.problem == "EMPTY" and dict(report.tables).get("audit", 0) == 0 and not items
    data = {"to": mask_url(to_url), "rows": report.rows, "tables": dict(report.tables),
            "audit": {"ok": result.ok or fresh, "rows": result.rows, "problem": "" if fresh else result.problem,
                      "reason": "the trail is empty (nothing exchanged yet)" if fresh else result.reason,
                      "checkpoint": result.checkpoint}}

    def human() -> None:
        click.echo(f"copied {report.rows} rows in {len(report.tables)} tables to {data['to']}")
        if fresh:
            click.echo("audit trail empty on both sides: nothing exchanged yet")
        elif result.ok:
            click.echo(f"audit trail on the target intact: {result.rows} entries"
                       + (f", matches the checkpoint of entry {result.checkpoint['seq']}" if result.checkpoint else ""))
        else:
            click.echo(f"audit trail on the target BROKEN [{result.problem}]: {result.reason}")

    code = ExitCode.OK if result.ok or fresh else ExitCode.REFUSED
    emit({**data, "exit_code": int(code)}, as_json, human)
    if code:
        raise click.exceptions.Exit(int(code))
