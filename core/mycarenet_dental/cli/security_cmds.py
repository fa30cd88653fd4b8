"""CLI: ``login`` (get a holder-of-key token and show it) and ``security verify`` (diagnostic verifier)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import ExitCode, UsageError
from . import emit, json_option, pass_context, print_json

if TYPE_CHECKING:  # pragma: no cover
    from ..context import Context


@click.command("login")
@json_option
@pass_context
def login_command(ctx: Context, as_json: bool) -> None:
    """Get an eHealth holder-of-key token (STS) and show its subject, attributes and validity."""
    session = ctx.security
    token = session.token()
    data = token.to_dict()
    warning = session.expiry_warning()
    data["certificate_expiry_warning"] = warning
    data["sts_calls"] = session.tokens.sts_calls

    def human() -> None:
        click.echo(f"subject:      {token.subject}")
        click.echo(f"assertion:    {token.assertion_id}")
        click.echo(f"valid:        {data['not_before']} -> {data['not_on_or_after']}")
        for attr in token.attributes:
            click.echo(f"  {attr.name} = {', '.join(attr.values)}")
        if warning:
            click.echo(f"warning: {warning}", err=True)

    emit(data, as_json, human)


@click.group("security")
def security_group() -> None:
    """eHealth security diagnostics."""


def _parse_at(value: str | None) -> datetime | None:
    if not value:
        return None
    from ..timeutil import parse_utc

    try:
        return parse_utc(value)  # a date alone is its midnight UTC
    except ValueError:
        raise UsageError(f"--at: not an ISO 8601 time: {value!r}", location="--at",
                         hint="e.g. 2023-12-12T06:58:30Z") from None


def _load_trust(paths: tuple[Path, ...]) -> list[Any]:
    from cryptography import x509

    out: list[Any] = []
    for path in paths:
        data = path.read_bytes()
        try:
            out += x509.load_pem_x509_certificates(data) if b"-----BEGIN" in data else [
                x509.load_der_x509_certificate(data)]
        except ValueError:
            raise UsageError(f"--trust: {path} is not a certificate (PEM or DER)", location="--trust") from None
    return out


@security_group.command("verify")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--trust", "trust_paths", multiple=True, type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="Certificate (PEM/DER) the signer must be or chain to; repeatable.")
@click.option("--at", "at", default=None, help="Judge timestamps and validity at this time (ISO 8601).")
@click.option("--timestamp-only", is_flag=True,
              help="The envelope signs its Timestamp but not its Body (GenericAsync profile).")
@json_option
def verify_command(file: Path, trust_paths: tuple[Path, ...], at: str | None, timestamp_only: bool,
                   as_json: bool) -> None:
    """Verify the signatures of a WS-Security SOAP envelope, a SAML 1.1 assertion or a sealed CMS message.

    Uses the run-time checker: one Body, one Security header and Timestamp, signed in place; no duplicated
    Id; a resolvable signing key. Reports each reference and why one fails. Exit code 0 when everything
    verifies (verdict "valid"), 1 when something is refused, including a signing key that cannot be resolved.
    """
    from ..ehealth.verify import format_report, verify_bytes

    report = verify_bytes(file.read_bytes(), trust=_load_trust(trust_paths), at=_parse_at(at),
                          timestamp_only=timestamp_only)
    report["file"] = str(file)
    code = ExitCode.REFUSED if report["verdict"] == "invalid" else ExitCode.OK
    report["exit_code"] = int(code)
    if as_json:
        print_json(report)
    else:
        click.echo(format_report(report))
    if code:
        raise click.exceptions.Exit(int(code))
