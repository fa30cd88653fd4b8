"""``mycarenet-dental gateway``: serve the HTTP gateway, manage its API tokens, write its contract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..cli import emit, json_option, pass_context, print_table
from ..registrations import ROLES
from .tokens import TokenStore


@click.group("gateway")
def gateway_group() -> None:
    """The local HTTP gateway: every service as JSON over HTTP (extra 'gateway')."""


@gateway_group.command("serve")
@click.option("--host", default=None, help="Address to listen on (default [gateway] host, else 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port (0: a free one).")
@click.option("--port-file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the URL and port chosen here (JSON), e.g. for a test harness.")
@pass_context
def serve_command(ctx: Any, host: str | None, port: int | None, port_file: Path | None) -> None:
    """Serve the gateway; another address than loopback needs [gateway] tls_cert and tls_key."""
    from .serve import serve
    from .settings import settings_from

    base = ctx.config.path.parent if ctx.config.path else None
    settings = settings_from(ctx.config.section("gateway"), base, host=host, port=port)
    serve(ctx, settings, port_file=port_file, announce=lambda text: click.echo(text, err=True))


@gateway_group.command("openapi")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the contract to this file instead of stdout.")
def openapi_command(out: Path | None) -> None:
    """Print the OpenAPI 3.1 contract of the gateway with the installed plugins (no configuration needed)."""
    import tempfile

    from ..config import config_from_mapping
    from ..context import Context
    from .serve import require_extra

    require_extra()
    from .app import build_app, contract

    with tempfile.TemporaryDirectory() as scratch:  # the app needs a store; the contract does not use it
        config = config_from_mapping({"profile": "simulator", "storage": {"path": f"{scratch}/contract.sqlite"}})
        with Context(config) as ctx:
            text = json.dumps(contract(build_app(ctx)), indent=2, sort_keys=True) + "\n"
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}", err=True)


@gateway_group.group("token")
def token_group() -> None:
    """API tokens: one per workstation or user; its user is the executor of its exchanges (R7)."""


@token_group.command("add")
@click.option("--user", required=True, help="Who uses it (a user name, or the dentist's NIHII).")
@click.option("--role", required=True, type=click.Choice(ROLES),
              help="reception consults; dentist and billing may also send invoices and mandates.")
@click.option("--days", type=int, default=None, help="Valid this many days (default: until revoked).")
@json_option
@pass_context
def token_add(ctx: Any, user: str, role: str, days: int | None, as_json: bool) -> None:
    """Create a token; its value is shown once (only its hash is kept)."""
    new = TokenStore(ctx.storage).add(user, role, days=days, now=ctx.now())
    ctx.audit.append("gateway_token", code="TOKEN_ADDED", outcome="ok",
                     message=f"token {new.token.id} for user {new.token.user_id}, role {new.token.role}")
    emit({"token": new.secret, "id": new.token.id, "user": new.token.user_id, "role": new.token.role,
          "expires_at": new.token.expires_at}, as_json,
         lambda: click.echo(f"{new.secret}\n(token {new.token.id} for {user}, role {role}: shown once, keep it "
                            "safe)"))


@token_group.command("list")
@json_option
@pass_context
def token_list(ctx: Any, as_json: bool) -> None:
    """List tokens (never their value)."""
    tokens = TokenStore(ctx.storage).list()
    emit(tokens, as_json, lambda: print_table(["id", "user", "role", "created", "expires", "revoked"],
                                              [[t.id, t.user_id, t.role, t.created_at, t.expires_at or "-",
                                                t.revoked_at or "-"] for t in tokens]))


@token_group.command("revoke")
@click.argument("token_id")
@json_option
@pass_context
def token_revoke(ctx: Any, token_id: str, as_json: bool) -> None:
    """Revoke a token at once."""
    token = TokenStore(ctx.storage).revoke(token_id, now=ctx.now())
    ctx.audit.append("gateway_token", code="TOKEN_REVOKED", outcome="ok", message=f"token {token.id} revoked")
    emit(token, as_json, lambda: click.echo(f"revoked {token.id}"))


@token_group.command("link")
@click.argument("token_id")
@pass_context
def token_link(ctx: Any, token_id: str) -> None:
    """Print a one-time path (10 minutes) that opens the status page for this token, e.g. on a phone."""
    code = TokenStore(ctx.storage).status_link(token_id, now=ctx.now())
    click.echo(f"/status/login?code={code}")
