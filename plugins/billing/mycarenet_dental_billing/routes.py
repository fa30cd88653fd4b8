"""eFact billing on the local HTTP gateway (framework-neutral route records) and its status-page panels.

Building and sending are for the dentist and billing roles, and need an ``Idempotency-Key`` (a
retried request never files or sends twice); anyone with a token may read the outbox.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import attrs
from mycarenet_dental.context import Context
from mycarenet_dental.registrations import SENDING_ROLES, RouteCall, RouteSpec, StatusPanel

from .outbox_state import BuildResult, LineStatus, PollResult, SendingState, SendingStatus


@attrs.frozen
class InvoicesAsk:
    """The invoices in the JSON invoice format (``billing build``), filed one sending per union;
    ``send`` posts them to the insurers at once."""

    invoices: list[dict[str, Any]]
    sending: dict[str, Any] | None = None
    send: bool = False


def _build(call: RouteCall) -> BuildResult:
    from .api import build_sendings, send_sending
    from .invoices_json import load_invoices

    ask: InvoicesAsk = call.body
    document: dict[str, Any] = {"invoices": ask.invoices}
    if ask.sending is not None:
        document["sending"] = ask.sending
    ctx = call.context
    built = build_sendings(ctx, load_invoices(document, default_provider=ctx.config.require_dentist().nihii))
    if ask.send:
        built = attrs.evolve(built, sendings=tuple(send_sending(ctx, s) for s in built.sendings))
    return built


def _send(call: RouteCall) -> SendingStatus:
    from .api import send_sending

    return send_sending(call.context, call.params["sending_id"])


def _poll(call: RouteCall) -> PollResult:
    from .api import poll_sendings

    return poll_sendings(call.context)


def _list(call: RouteCall) -> list[SendingStatus]:
    from .api import list_sendings

    return list_sendings(call.context)


def _get(call: RouteCall) -> SendingStatus:
    from .api import sending_status

    return sending_status(call.context, call.params["sending_id"])


def _lines(call: RouteCall) -> list[LineStatus]:
    from .api import sending_lines

    return sending_lines(call.context, call.params["sending_id"])


def routes() -> Iterator[RouteSpec]:
    tags = ("billing",)
    yield RouteSpec(method="POST", path="/billing/sendings", handler=_build, request=InvoicesAsk,
                    response=BuildResult, roles=SENDING_ROLES, sends=True, status_code=201, tags=tags,
                    summary="File invoices (one sending per union; lines without tariff consultation refused, R36)")
    yield RouteSpec(method="POST", path="/billing/sendings/{sending_id}/send", handler=_send, response=SendingStatus,
                    roles=SENDING_ROLES, sends=True, tags=tags, summary="Post a built sending to its insurer")
    yield RouteSpec(method="POST", path="/billing/poll", handler=_poll, response=PollResult, roles=SENDING_ROLES,
                    tags=tags, summary="Fetch and confirm the insurers' answers once (idempotent)")
    yield RouteSpec(method="GET", path="/billing/sendings", handler=_list, response=list[SendingStatus], tags=tags,
                    summary="Every sending of the outbox with its state")
    yield RouteSpec(method="GET", path="/billing/sendings/{sending_id}", handler=_get, response=SendingStatus,
                    tags=tags, summary="One sending")
    yield RouteSpec(method="GET", path="/billing/sendings/{sending_id}/lines", handler=_lines,
                    response=list[LineStatus], tags=tags, summary="The lines of a sending and the insurer's verdict")


# -- the status page ------------------------------------------------------------------------------

_PLAIN = {"built": "filed, not sent yet", "invalid": "refused by the local check", "validated": "checked, not sent",
          "posting": "being sent", "failed": "sending failed, will be retried", "posted": "sent, awaiting receipt",
          "received": "received by the insurer", "accepted": "accepted, awaiting payment",
          "partly": "partly accepted", "refused": "REFUSED by the insurer", "settled": "paid"}


def _euro(cents: int | None) -> str:
    return "" if cents is None else f"{cents / 100:,.2f} €"


def _reasons(status: SendingStatus, lines: list[LineStatus]) -> str:
    texts = [f"{e.code}: {e.messages.en}" for e in status.errors]
    texts += [f"invoice {ln.invoice_number} line {ln.line_no} ({ln.code}): {e.code} {e.messages.en}"
              for ln in lines for e in ln.errors]
    if status.last_error and not texts:
        texts.append(status.last_error)
    return "; ".join(texts)


def _totals(statuses: list[SendingStatus]) -> Mapping[tuple[str, str], list[int]]:
    totals: dict[tuple[str, str], list[int]] = {}
    for s in statuses:
        row = totals.setdefault((s.oa, s.period), [0, 0, 0, 0])
        row[0] += 1
        row[1] += s.total_a
        row[2] += s.accepted_amount or 0
        row[3] += s.refused_amount or 0
    return totals


def panels(ctx: Context) -> Iterator[StatusPanel]:
    """The outbox: each sending's state and the insurer's reasons in plain words; totals per insurer and month."""
    from .api import list_sendings, sending_lines

    statuses = list_sendings(ctx)
    bad = {SendingState.REFUSED, SendingState.INVALID, SendingState.FAILED, SendingState.PARTLY}
    quiet = {SendingState.BUILT, SendingState.VALIDATED, SendingState.POSTING, SendingState.POSTED}
    rows, marks = [], {}
    for i, s in enumerate(statuses):
        reasons = "" if s.state in quiet else _reasons(s, sending_lines(ctx, s))
        rows.append((s.oa, s.period, str(s.sending_number), _PLAIN.get(s.state.value, s.state.value),
                     _euro(s.total_a), reasons or "-"))
        marks[i] = "bad" if s.state in bad or reasons else "ok" if s.state is SendingState.SETTLED else ""
    yield StatusPanel(title="eFact outbox", columns=("union", "month", "sending", "state", "amount", "insurer's answer"),
                      rows=rows, marks=marks,
                      notes=() if statuses else ("No sending yet.",))
    totals = _totals(statuses)
    yield StatusPanel(title="Totals per insurer and month",
                      columns=("union", "month", "sendings", "billed", "accepted", "refused"),
                      rows=[(oa, month, str(v[0]), _euro(v[1]), _euro(v[2]), _euro(v[3]))
                            for (oa, month), v in sorted(totals.items())])
