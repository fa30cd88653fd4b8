"""``mycarenet-dental``: the command line. Core commands here; services add theirs through a hook."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import ExitCode, MyCareNetDentalError
from . import emit, json_option, pass_context, print_table, to_jsonable

if TYPE_CHECKING:  # pragma: no cover
    from ..context import Context


class LazyGroup(click.Group):
    """A group whose listed subcommands are imported only when used (keeps the CLI start fast)."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List lazy commands from their static summary, without importing them."""
        rows = []
        for name in self.list_commands(ctx):
            if name in self.commands:
                command = self.commands[name]
                if command.hidden:
                    continue
                rows.append((name, command.get_short_help_str()))
            else:
                rows.append((name, LAZY_HELP.get(name, "")))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy and name not in self.commands:
            module, attr = self.lazy[name].split(":")
            import importlib

            try:
                self.add_command(full_summaries(getattr(importlib.import_module(module), attr)), name)
            except ImportError as exc:  # a command whose module is missing must not break --help
                click.echo(f"warning: command {name!r} unavailable: {exc}", err=True)
                return None
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context) -> None:
        """Run the command and drop its return value: a command says how it ended by raising (a typed
        error, ``Exit(n)``), never by returning a number click would pass on as if it were ``Exit(n)``."""
        super().invoke(ctx)


def full_summaries(command: click.Command) -> click.Command:
    """Give ``command`` and its subcommands their docstring's whole first paragraph as ``--help`` summary.

    Click's default summary stops at the first period, which cut "for the art. 74 report" and
    "(protocol Art. 3)" in the middle; the listing wraps long summaries instead.
    """
    if command.short_help is None and command.help:
        import inspect

        first = inspect.cleandoc(command.help).split("\n\n", 1)[0]
        command.short_help = " ".join(first.split())
    for sub in getattr(command, "commands", {}).values():
        full_summaries(sub)
    return command


LAZY_HELP = {
    "simulator": "The offline twin of eHealth and MyCareNet (pki, serve, population; extra 'simulator').",
    "demo": "Run the day of a dental practice against the embedded simulator (extra 'simulator').",
    "login": "Get an eHealth token (STS) and show its subject, attributes and validity.",
    "security": "Verify signatures of SOAP/SAML/CMS messages (helpdesk diagnostics).",
    "storage": "The store: schema versions (status, migrate), moving it to PostgreSQL (copy).",
    "plugin": "Write a new plugin from the template (service, simulator side, rule, command, tests).",
}

CORE_LAZY = {
    "simulator": "mycarenet_dental.sim.cli:simulator_group",
    "demo": "mycarenet_dental.sim.demo:demo_command",
    "login": "mycarenet_dental.cli.security_cmds:login_command",
    "security": "mycarenet_dental.cli.security_cmds:security_group",
    "storage": "mycarenet_dental.cli.storage_cmds:storage_group",
    "plugin": "mycarenet_dental.cli.plugin_cmds:plugin_group",
}


def build_cli(pm: Any = None) -> click.Group:
    """The root command with the core commands and every loaded plugin's commands."""

    @click.group(cls=LazyGroup, lazy=CORE_LAZY, context_settings={"help_option_names": ["-h", "--help"]})
    @click.option("--config", "config_path", type=click.Path(path_type=Path), envvar="MYCARENET_DENTAL_CONFIG",
                  help="Configuration file (TOML). Default: $MYCARENET_DENTAL_CONFIG.")
    @click.option("--profile", type=click.Choice(["simulator", "acceptance", "production"]), default=None,
                  help="Override the configuration profile.")
    @click.option("--trace", "trace_dir", type=click.Path(path_type=Path), default=None,
                  help="Write the exact bytes sent and received per exchange into DIR (files 0600).")
    @click.version_option(package_name="mycarenet-dental")
    @click.pass_context
    def cli(click_ctx: click.Context, config_path: Path | None, profile: str | None, trace_dir: Path | None) -> None:
        """Belgian dentists' MyCareNet exchanges: insurability, tariffs, eFact billing, DMG, mandates.

        Exit codes: 0 success, 1 business refusal, 2 usage or configuration error,
        3 remote or transport failure, 4 internal error (a defect, to be reported).
        """

        def factory() -> Any:
            from ..context import Context

            # commands that need no credentials (contacts, rules, eFact files) must run without a keystore;
            # the ones that do meet the same ConfigError at their first use of ctx.security
            return Context.from_config(config_path, profile=profile, trace_dir=trace_dir, pm=pm,
                                       check_credentials=False)

        click_ctx.meta["mycarenet_dental.context_factory"] = factory

    for command in (plugins_command, rules_command, contact_group, audit_group):
        cli.add_command(full_summaries(command))
    if pm is not None:
        for _, spec in pm.collect("mycarenet_dental_commands", tolerant=True):
            if spec.name in cli.commands or spec.name in CORE_LAZY:
                raise click.UsageError(f"two commands are named {spec.name!r}")
            cli.add_command(full_summaries(spec.command), spec.name)
    return cli


# -- plugins and rules -------------------------------------------------------------------------


@click.command("plugins")
@json_option
@pass_context
def plugins_command(ctx: Context, as_json: bool) -> None:
    """List the loaded plugins, their distribution, version and hooks."""
    infos = ctx.pm.info()
    services = {plugin: name for name, (_, plugin) in ctx.pm.services().items()}
    data = [{"name": i.name, "distribution": i.distribution, "version": i.version, "builtin": i.builtin,
             "service": services.get(i.name), "hooks": list(i.hooks)} for i in infos]
    emit({"plugins": data, "skipped": [{"name": n, "reason": r} for n, r in ctx.pm.skipped]}, as_json,
         lambda: print_table(["plugin", "distribution", "version", "service", "hooks"],
                             [[d["name"], d["distribution"] or "-", d["version"] or "-", d["service"] or "-",
                               ", ".join(h.removeprefix("mycarenet_dental_") for h in d["hooks"])] for d in data]))


@click.command("rules")
@json_option
@click.option("--all", "show_all", is_flag=True, help="Also show rules switched off by configuration.")
@pass_context
def rules_command(ctx: Context, as_json: bool, show_all: bool) -> None:
    """List the active convention rules with their article of the 2016 protocol."""
    disabled = set(ctx.config.rules_disabled)
    rules = ctx.all_rules if show_all else ctx.active_rules
    data = [{"id": r.id, "article": r.article, "title": r.title, "services": sorted(r.services) or ["*"],
             "builtin": r.builtin, "enforced_by": "check" if r.check else "core", "active": r.id not in disabled}
            for r in rules]
    emit(data, as_json, lambda: print_table(["rule", "article", "services", "title"],
                                            [[d["id"] + ("" if d["active"] else " (off)"), d["article"],
                                              ",".join(d["services"]), d["title"]] for d in data]))


# -- contacts ----------------------------------------------------------------------------------


@click.group("contact")
def contact_group() -> None:
    """Patient contacts: consultations happen inside an open contact (R29)."""


@contact_group.command("open")
@click.option("--patient", required=True, help="The patient's SSIN.")
@json_option
@pass_context
def contact_open(ctx: Context, patient: str, as_json: bool) -> None:
    """Open a contact with a patient being treated; prints the contact id."""
    from ..identifiers import Ssin

    ssin = Ssin.parse(patient, field="--patient")
    contact = ctx.open_contact(ssin.value)
    emit(contact, as_json, lambda: click.echo(contact.id))


@contact_group.command("close")
@click.argument("contact_id")
@json_option
@pass_context
def contact_close(ctx: Context, contact_id: str, as_json: bool) -> None:
    """Close a contact (results kept only for the contact are erased)."""
    contact = ctx.contacts.close(contact_id, at=ctx.now())
    emit(contact, as_json, lambda: click.echo(f"closed {contact.id}"))


@contact_group.command("list")
@click.option("--open", "open_only", is_flag=True, help="Only open contacts.")
@click.option("--patient", default=None)
@json_option
@pass_context
def contact_list(ctx: Context, open_only: bool, patient: str | None, as_json: bool) -> None:
    """List contacts."""
    contacts = ctx.contacts.list(open_only=open_only, patient=patient)
    emit(contacts, as_json, lambda: print_table(["id", "patient", "dentist", "user", "opened", "closed"],
                                                [[c.id, c.patient, c.dentist, c.user_id, c.opened_at,
                                                  c.closed_at or "open"] for c in contacts]))


# -- audit ---------------------------------------------------------------------------------------


@click.group("audit")
def audit_group() -> None:
    """The audit trail of every transmission (protocol Art. 3)."""


_from = click.option("--from", "since", default=None, help="From this ISO date/time (UTC), inclusive.")
_to = click.option("--to", "until", default=None, help="Up to this ISO date/time (UTC), inclusive.")


def _bound(value: str | None, end: bool) -> str | None:
    """``--from``/``--to`` as the audit's own UTC timestamp form; anything else is a usage error.

    A string compared as it was typed ("garbage" sorts after every timestamp) silently gave an
    empty list or every row.
    """
    if value is None:
        return None
    from datetime import datetime, time, timezone

    from ..errors import UsageError
    from ..timeutil import iso_date, parse_datetime, utc_ms

    option = "--to" if end else "--from"
    text = value.strip()
    try:
        if len(text) == 10:  # a date: the whole day
            day = iso_date(text)
            moment = datetime.combine(day, time.max if end else time.min, tzinfo=timezone.utc)
        else:
            moment = parse_datetime(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)  # documented: UTC
    except (ValueError, OverflowError):
        raise UsageError(f"{option}: expected an ISO date (YYYY-MM-DD) or date-time in UTC, got {value!r}",
                         location=option) from None
    try:
        return utc_ms(moment)
    except (ValueError, OverflowError):
        raise UsageError(f"{option}: {value!r} is out of range", location=option) from None


@audit_group.command("list")
@_from
@_to
@click.option("--exchange", "exchange_id", default=None)
@json_option
@pass_context
def audit_list(ctx: Context, since: str | None, until: str | None, exchange_id: str | None, as_json: bool) -> None:
    """List audit entries."""
    entries = list(ctx.audit.entries(since=_bound(since, False), until=_bound(until, True), exchange_id=exchange_id))
    emit(entries, as_json, lambda: print_table(
        ["seq", "time (UTC)", "kind", "service", "operation", "executor", "outcome", "code"],
        [[e.seq, e.ts, e.kind, e.service, e.operation, e.executor, e.outcome, e.code] for e in entries]))


@audit_group.command("verify")
@click.option("--checkpoints", "checkpoint_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Check against this checkpoint file (e.g. a backup) instead of [audit] checkpoints.")
@click.option("--no-sign", is_flag=True, help="Do not write a new checkpoint (e.g. when checking a backup).")
@json_option
@pass_context
def audit_verify(ctx: Context, checkpoint_path: Path | None, no_sign: bool, as_json: bool) -> None:
    """Check the trail against its signed checkpoints; exit 1 naming what is wrong.

    When it is intact, the head is signed with the keystore's authentication key and appended to
    the checkpoint file (kept outside the database: back it up, or print it).
    """
    from ..audit_checkpoint import CheckpointFile, Signer, check_trail, path_from_config

    signer = None
    if ctx.config.keystore_path is not None:
        from ..ehealth.keystore import Keystore

        signer = Signer.from_keystore(Keystore.load(ctx.config.keystore_path,
                                                    ctx.config.keystore_password(prompt=True)))
    checkpoints = CheckpointFile(checkpoint_path or path_from_config(ctx.config))
    result = check_trail(ctx.config.storage_url or ctx.config.storage_path, checkpoints, signer, sign=not no_sign)

    def human() -> None:
        if result.ok:
            click.echo(f"audit trail intact: {result.rows} entries")
            if result.checkpoint:
                click.echo(f"  matches the checkpoint of {result.checkpoint['at']} (entry {result.checkpoint['seq']})")
            if result.signed:
                click.echo(f"  new checkpoint: entry {result.signed['seq']}, head {result.signed['hash']} "
                           f"-> {result.signed['file']}")
        else:
            where = f" at entry {result.first_broken}" if result.first_broken else ""
            click.echo(f"audit trail BROKEN{where} [{result.problem}]: {result.reason}")
        for warning in result.warnings:
            click.echo(f"  warning: {warning}")

    code = ExitCode.OK if result.ok else ExitCode.REFUSED
    emit({**to_jsonable(result), "exit_code": int(code)}, as_json, human)
    if code:
        raise click.exceptions.Exit(int(code))


@audit_group.command("export")
@_from
@_to
@click.option("--json", "fmt", flag_value="json", default=True, help="JSON lines (default).")
@click.option("--csv", "fmt", flag_value="csv", help="CSV.")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Write to a file instead of stdout.")
@pass_context
def audit_export(ctx: Context, since: str | None, until: str | None, fmt: str, out: Path | None) -> None:
    """Export audit entries for an inspection."""
    text = ctx.audit.export(fmt, since=_bound(since, False), until=_bound(until, True))
    if out:
        from ..errors import UsageError
        from ..storage import private_write_text

        try:
            private_write_text(out, text)  # SSINs of patients: 0600 like the database
        except OSError as exc:
            raise UsageError(f"cannot write {out}: {exc.strerror or exc}", location="--out") from None
    else:
        click.echo(text, nl=False)


# -- entry point -------------------------------------------------------------------------------


_ROOT_VALUE_OPTIONS = frozenset({"--config", "--profile", "--trace"})


def config_path_of(args: list[str]) -> str | None:
    """The ``--config`` given before the subcommand, else ``$MYCARENET_DENTAL_CONFIG`` (else None).

    Read ahead of click: the file's ``[plugins] allow/block`` decide which plugins load, hence which
    commands exist, so it must be known before the command line can be parsed.
    """
    import os

    from ..config import ENV_CONFIG

    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            break
        if arg == "--config":
            return args[i + 1] if i + 1 < len(args) else None  # click reports the missing value
        if arg.startswith("--config="):
            return arg.split("=", 1)[1]
        if arg in _ROOT_VALUE_OPTIONS:
            i += 2
            continue
        if not arg.startswith("-"):
            break  # the subcommand: its own options are not the root's
        i += 1
    return os.environ.get(ENV_CONFIG) or None


def main(argv: list[str] | None = None) -> None:
    """Console entry point: read the plugin lists of the configuration, load plugins, run; exit with the
    contract's code (``exitcodes``)."""
    from .exitcodes import internal_error, report, run

    args = sys.argv[1:] if argv is None else argv
    as_json = "--json" in args
    try:
        cli = build_cli(_plugin_manager(args))
    except MyCareNetDentalError as exc:
        sys.exit(report(exc, as_json))
    except Exception as exc:  # noqa: BLE001 — a plugin that breaks the start is a defect too
        import os

        if os.environ.get("MYCARENET_DENTAL_DEBUG"):
            raise
        sys.exit(internal_error(exc, as_json))
    code = run(cli, args, as_json=as_json)
    if code:  # success returns (the console script then exits 0), as callers of main() expect
        sys.exit(code)


def _plugin_manager(args: list[str]) -> Any:
    """The plugins the configuration allows. A configuration that cannot be read still lets ``--help``
    list the core commands (with a warning): the help is how one finds out what to fix."""
    from ..config import load_plugin_lists
    from ..errors import ConfigError
    from ..plugins import make_plugin_manager

    try:
        allow, block = load_plugin_lists(config_path_of(args))
    except ConfigError as exc:
        if not args or any(a in ("-h", "--help") for a in args):
            click.echo(f"warning: {exc}; only the core commands are listed", err=True)
            return None
        raise
    return make_plugin_manager(allow=allow, block=block)
