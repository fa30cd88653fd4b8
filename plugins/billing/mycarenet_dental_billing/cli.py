"""``mycarenet-dental billing …``: eFact for billing offices and scripts (vendors use the Python API).

    billing build INVOICES.json [--send]      file the invoices as one sending per union (R36 checked)
    billing validate FILE                     the insurer's checks on a 920000, locally
    billing send [SENDING…]                   post validated sendings (reconciles lost posts first)
    billing poll [--until-settled]            fetch, apply and confirm the insurers' answers
    billing status [SENDING]                  per-sending table (R39: "received" only after 931000)
    billing parse FILE                        read a 920000 or an insurer answer
    billing unattested [--days N]             R31: consultations not followed by an invoice line

Heavy modules are imported inside the commands so that the CLI starts fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from mycarenet_dental.cli import FiniteRange, emit, json_option, pass_context, print_table
from mycarenet_dental.errors import ExitCode

if TYPE_CHECKING:  # pragma: no cover
    from mycarenet_dental.context import Context

    from .outbox import SendingStatus


def _euro(cents: int | None) -> str:
    if cents is None:
        return ""
    return f"{cents / 100:,.2f}"


def _status_rows(statuses: list[SendingStatus]) -> list[list[Any]]:
    return [[s.id[:8], s.oa, f"{s.sending_number:03d}", s.state.value,
             "yes" if s.received else "NO" if s.posted_at else "-", s.lines, _euro(s.total_a),
             _euro(s.accepted_amount), _euro(s.refused_amount), ", ".join(s.payment_references)]
            for s in statuses]


_STATUS_COLUMNS = ["sending", "union", "no.", "state", "received", "lines", "billed €", "accepted €", "refused €",
                   "payment ref."]


def show_statuses(statuses: list[SendingStatus], *, title: str = "eFact sendings") -> None:
    print_table(_STATUS_COLUMNS, _status_rows(statuses), title=title)
    waiting = [s for s in statuses if s.posted_at and not s.received]
    if waiting:
        click.echo(f"  {len(waiting)} sending(s) posted but not yet acknowledged by the insurer (931000): "
                   "not received yet (R39) — keep polling")
    for s in statuses:
        for e in s.errors:
            click.echo(f"  sending {s.sending_number:03d} ({s.oa}): {e}")
        if s.last_error and s.state.value in ("failed", "posting", "invalid"):
            click.echo(f"  sending {s.sending_number:03d} ({s.oa}): {s.last_error}")


def _load_invoices(path: Path, provider: str) -> list[Any]:
    """Invoices from the documented JSON format (``invoices_json``: same model as the Python API).

    For the outbox the ``sending`` block is optional (numbering, period and bank data are the
    outbox's) and the invoices may go to several unions (one sending each).
    """
    from .invoices_json import load_invoices

    return load_invoices(path, default_provider=provider)


@click.group("billing")
def billing_group() -> None:
    """eFact third-party-payment billing: build, validate, send and follow sendings (Annex 4)."""


@billing_group.command("build")
@click.argument("invoices", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--send", "and_send", is_flag=True, help="Validate and post the sendings at once.")
@json_option
@pass_context
def build_command(ctx: Context, invoices: Path, and_send: bool, as_json: bool) -> None:
    """File INVOICES.json as one sending per insurer union (lines without tariff consultation refused, R36)."""
    from rich.progress import Progress

    from .outbox import Outbox

    outbox = Outbox(ctx)
    loaded = _load_invoices(invoices, ctx.config.require_dentist().nihii)
    with Progress(transient=True, disable=as_json or len(loaded) < 200) as progress:
        task = progress.add_task("checking tariff consultations (R36) and writing", total=len(loaded))
        result = outbox.build(loaded, progress=lambda n, _total: progress.update(task, completed=n))
    sendings = [outbox.validate(s.id) for s in result.sendings]
    if and_send:
        sendings = [outbox.send(s.id) if s.state.value == "validated" else s for s in sendings]

    # Exit 1 as soon as one line is refused, even when other invoices were filed (and sent): a script
    # that checks only the exit code must not lose a refused invoice (never billed, never paid).
    # "outcome" tells the partial case ("partial": some filed) from "refused" (nothing filed).
    outcome = "filed" if not result.refused_lines else "partial" if sendings else "refused"
    code = ExitCode.OK if outcome == "filed" and not _refused(sendings) else ExitCode.REFUSED

    def human() -> None:
        if sendings:
            show_statuses(sendings, title="sendings built")
        for r in result.refused_lines:
            click.echo(f"REFUSED ({r.rule}) invoice {r.invoice_number}, patient {r.patient}, code {r.code} on "
                       f"{r.date.isoformat()}: {r.reason}\n   → {r.hint}")
        if code:
            click.echo(f"{len(result.refused_lines)} line(s) refused; {len(sendings)} sending(s) filed"
                       + (" — the refused lines are not billed: fix them and build them again" if sendings else ""),
                       err=True)

    emit({"outcome": outcome, "sendings": sendings, "refused_lines": result.refused_lines, "exit_code": int(code)},
         as_json, human)
    if code:
        raise click.exceptions.Exit(int(code))


@billing_group.command("validate")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@json_option
@pass_context
def validate_command(ctx: Context, file: Path, as_json: bool) -> None:
    """Run the insurer's checks on a 920000 FILE locally (exit 1 if the insurer would refuse it)."""
    from .efact.validator import ValidationOptions, validate_into

    out = _FindingPrinter(file, as_json)
    with file.open("rb") as stream:  # streamed, findings printed as found: flat memory whatever the file
        validate_into(stream, out.add, ValidationOptions(today=ctx.now().date()))
    out.close()
    if out.refusing:
        raise click.exceptions.Exit(int(ExitCode.REFUSED))


class _FindingPrinter:
    """Prints findings as they are found: the JSON document ``{"file", "findings": [...], "sendable"}``
    written piece by piece, or one line per finding for people (a table would hold them all)."""

    COLUMNS = ("letter", "code", "record", "seq", "zone", "message")

    def __init__(self, file: Path, as_json: bool) -> None:
        self.file, self.as_json = file, as_json
        self.count = 0
        self.refusing = False
        if as_json:
            import json

            self._dumps = json.dumps
            click.echo(f'{{\n  "file": {json.dumps(str(file), ensure_ascii=False)},\n  "findings": [', nl=False)

    def add(self, f: Any) -> None:
        self.refusing = self.refusing or f.letter in ("B", "F", "R")
        self.count += 1
        if self.as_json:
            item = {"code": f.code, "letter": f.letter, "record": f.record_type, "sequence": f.sequence,
                    "zone": f.zone, "en": f.messages.en, "fr": f.messages.fr, "nl": f.messages.nl}
            text = self._dumps(item, indent=2, ensure_ascii=False).replace("\n", "\n    ")
            click.echo(("," if self.count > 1 else "") + "\n    " + text, nl=False)
            return
        if self.count == 1:
            click.echo(f"{self.file.name}: findings")
            click.echo(self._line(self.COLUMNS))
        seq = "" if f.sequence is None else f.sequence
        click.echo(self._line((f.letter, f.code, f.record_type, seq, f.zone, f.messages.en)))

    @staticmethod
    def _line(values: tuple[Any, ...]) -> str:
        return "".join(f"{v!s:<{w}}" for v, w in zip(values, (7, 9, 7, 9, 6), strict=False)) + str(values[-1])

    def close(self) -> None:
        if self.as_json:
            tail = "\n  ]" if self.count else "]"
            code = int(ExitCode.REFUSED if self.refusing else ExitCode.OK)
            click.echo(f'{tail},\n  "sendable": {"false" if self.refusing else "true"},\n  "exit_code": {code}\n}}')
        elif self.count:
            click.echo(f"{self.file.name}: {self.count} finding(s)")
        else:
            click.echo(f"{self.file.name}: no finding — the insurer's checks pass")


@billing_group.command("send")
@click.argument("sendings", nargs=-1)
@json_option
@pass_context
def send_command(ctx: Context, sendings: tuple[str, ...], as_json: bool) -> None:
    """Post SENDINGS (default: every built/validated/failed one; lost posts are reconciled first)."""
    from .outbox import Outbox

    outbox = Outbox(ctx)
    done = [outbox.send(s) for s in sendings] if sendings else outbox.send_all()
    emit(done, as_json, lambda: show_statuses(done, title="sendings posted"))
    if _refused(done):
        raise click.exceptions.Exit(int(ExitCode.REFUSED))


def _refused(statuses: list[SendingStatus]) -> bool:
    """A sending the local checks refused ("invalid") or MyCareNet refused (TAck failure: "failed", may
    be sent again) is a refusal (exit 1); a transport failure or a SOAP fault has raised (exit 3)."""
    return any(s.state.value in ("invalid", "failed") for s in statuses)


@billing_group.command("poll")
@click.option("--until-settled", is_flag=True, help="Keep polling until every sending is final.")
@click.option("--max-polls", type=click.IntRange(1, 10_000), default=30, show_default=True)
@click.option("--interval", type=FiniteRange(0, 3600), default=5.0, show_default=True,
              help="Seconds between polls.")
@json_option
@pass_context
def poll_command(ctx: Context, until_settled: bool, max_polls: int, interval: float, as_json: bool) -> None:
    """Fetch the insurers' answers, apply them to the sendings, confirm them."""
    from .outbox import Outbox

    outbox = Outbox(ctx)
    if not until_settled:
        result = outbox.poll()
        statuses = outbox.list()
        emit({"poll": result, "sendings": statuses}, as_json, lambda: (
            click.echo(f"{result.new_messages} new message(s), {result.new_tacks} TAck(s), "
                       f"{result.duplicates} already known, {result.confirmed} confirmed"),
            show_statuses(statuses)))
        return
    from rich.progress import Progress

    with Progress(transient=True, disable=as_json) as progress:
        task = progress.add_task("waiting for the insurers' answers", total=max_polls)
        statuses = outbox.settle(max_polls=max_polls, interval=interval,
                                 progress=lambda n, open_: progress.update(task, completed=n,
                                                                           description=f"{open_} sending(s) open"))
    emit(statuses, as_json, lambda: show_statuses(statuses))


@billing_group.command("status")
@click.argument("sending", required=False)
@json_option
@pass_context
def status_command(ctx: Context, sending: str | None, as_json: bool) -> None:
    """Per-sending status table, or one SENDING's lines with the insurer's codes."""
    from .outbox import Outbox

    outbox = Outbox(ctx)
    if sending is None:
        statuses = outbox.list()
        emit(statuses, as_json, lambda: show_statuses(statuses))
        return
    status = outbox.get(sending)
    lines = outbox.lines(status.id)

    def human() -> None:
        show_statuses([status], title=f"sending {status.sending_number:03d} to union {status.oa}")
        click.echo(f"  id {status.id}, InputReference {status.input_reference}, created {status.created_at[:19]}, "
                   f"posted {(status.posted_at or '-')[:19]}, received {(status.received_at or '-')[:19]}, "
                   f"answered {(status.answered_at or '-')[:19]} ({status.answer_type or '-'}), "
                   f"settled {(status.settled_at or '-')[:19]}")
        print_table(["invoice", "line", "patient", "code", "date", "tooth", "billed €", "paid €", "state", "codes"],
                    [[ln.invoice_number, ln.line_no, ln.patient, ln.code, ln.date, ln.tooth or "",
                      _euro(ln.reimbursement), _euro(ln.paid), ln.state,
                      "; ".join(f"{e.letter}{e.code} {e.messages.en}" for e in ln.errors)] for ln in lines])

    emit({"sending": status, "lines": lines}, as_json, human)


@billing_group.command("parse")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@json_option
@pass_context
def parse_command(ctx: Context, file: Path, as_json: bool) -> None:
    """Read a 920000 (totals, controls) or an insurer answer (codes, amounts, payment references)."""
    with file.open("rb") as stream:
        is_invoice_file = stream.read(6) == b"920000"
    if is_invoice_file:
        from .efact.reader import scan_sending

        with file.open("rb") as stream:  # streamed: flat memory whatever the file's size
            parsed = scan_sending(stream)
        info = {"message": "920000", "sending_number": parsed.header.sending_number, "union": parsed.federation,
                "period": parsed.header.period, "invoices": parsed.invoices, "lines": parsed.lines,
                "total_a": parsed.total_a, "total_b": parsed.total_b, "sending_control": parsed.sending_control,
                "warnings": [w.message for w in parsed.warnings]}
        emit(info, as_json, lambda: print_table(["field", "value"], [[k, v] for k, v in info.items()],
                                                title=file.name))
        return
    from .outbox import read_answer

    answer = read_answer(file.read_bytes())
    emit(answer, as_json, lambda: (
        click.echo(f"{file.name}: {answer.type} for reference {answer.reference}"
                   + (f", refusal type {answer.refusal_type}" if answer.refusal_type else "")
                   + (f", accepted {_euro(answer.accepted)} €, refused {_euro(answer.refused)} €"
                      if answer.accepted is not None else "")),
        [click.echo(f"  {e}") for e in answer.errors],
        [click.echo(f"  payment reference {r}") for r in answer.payment_references]))


@billing_group.command("unattested")
@click.option("--days", type=click.IntRange(1, 3660), default=90, show_default=True)
@json_option
@pass_context
def unattested_command(ctx: Context, days: int, as_json: bool) -> None:
    """R31: insurability and tariff consultations not followed by an invoice line for that patient."""
    from .rules import unattested

    items = unattested(ctx, days=days)
    emit(items, as_json, lambda: print_table(
        ["date", "patient", "consultation", "codes", "recorded", "exchange"],
        [[u.date.isoformat(), u.patient, u.kind, " ".join(u.codes), u.recorded_at[:19], u.exchange_id[:12]]
         for u in items], title=f"consultations of the last {days} days without an invoice line (R31)"))


@billing_group.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of the invoice file (the Python model's names and defaults), for any language."""
    import json

    from .invoices_schema import invoices_schema

    click.echo(json.dumps(invoices_schema(), indent=2, ensure_ascii=False))
