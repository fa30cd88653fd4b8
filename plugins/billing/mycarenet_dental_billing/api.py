"""The vendor's billing calls: module-level functions over the persistent outbox, one shape with the
other services (``verb_noun(ctx, ...)`` returning frozen results)::

    from mycarenet_dental_billing import build_sendings, load_invoices, settle_sendings

    invoices = load_invoices("invoices.json", default_provider=ctx.config.require_dentist().nihii)
    built = build_sendings(ctx, invoices)     # one sending per union; lines without tariff consultation refused (R36)
    settle_sendings(ctx)                      # post, poll, confirm until every sending is final

A sending is named by its :class:`SendingStatus` or its id (or InputReference). The outbox
(:class:`~.outbox.Outbox`) stays the implementation: state in the core storage, safe to restart anywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from .outbox import Outbox
from .outbox_state import BuildResult, LineStatus, PollResult, SendingState, SendingStatus

if TYPE_CHECKING:  # pragma: no cover
    from mycarenet_dental.context import Context

    from .efact.model import Invoice

Progress = Callable[[int, int], None]


def _id(sending: SendingStatus | str) -> str:
    return sending.id if isinstance(sending, SendingStatus) else sending


def build_sendings(ctx: Context, invoices: Iterable[Invoice], *, check_r36: bool = True,
                   progress: Progress | None = None) -> BuildResult:
    """File the invoices as one sending per union (state ``built``); lines failing R36 or already billed
    are reported in ``refused``, never silently dropped."""
    return Outbox(ctx).build(invoices, check_r36=check_r36, progress=progress)


def validate_sending(ctx: Context, sending: SendingStatus | str) -> SendingStatus:
    """Run the insurer's checks locally: ``validated`` or ``invalid`` (nothing leaves the machine)."""
    return Outbox(ctx).validate(_id(sending))


def send_sending(ctx: Context, sending: SendingStatus | str) -> SendingStatus:
    """Validate if needed and post one sending (never twice; a lost post is reconciled first)."""
    return Outbox(ctx).send(_id(sending))


def send_sendings(ctx: Context) -> list[SendingStatus]:
    """Validate and post every sending that is ready, and reconcile the posts whose answer was lost."""
    return Outbox(ctx).send_all()


def poll_sendings(ctx: Context) -> PollResult:
    """One GenericAsync ``get``: store and apply every new insurer message and TAck, then confirm them."""
    return Outbox(ctx).poll()


def settle_sendings(ctx: Context, *, max_polls: int = 20, interval: float = 0.0,
                    progress: Progress | None = None) -> list[SendingStatus]:
    """Post what is ready, then poll until every sending is final (or ``max_polls`` is reached)."""
    return Outbox(ctx).settle(max_polls=max_polls, interval=interval, progress=progress)


def sending_status(ctx: Context, sending: SendingStatus | str) -> SendingStatus:
    """One sending's current state (``UsageError`` when unknown)."""
    return Outbox(ctx).get(_id(sending))


def list_sendings(ctx: Context, *, states: Iterable[SendingState] | None = None) -> list[SendingStatus]:
    """Every sending of the store (or those in ``states``), oldest first."""
    return Outbox(ctx).list(states=states)


def sending_lines(ctx: Context, sending: SendingStatus | str) -> list[LineStatus]:
    """The lines of one sending with the insurer's verdict on each (accepted, refused, paid)."""
    return Outbox(ctx).lines(_id(sending))


def sending_file(ctx: Context, sending: SendingStatus | str) -> bytes:
    """The exact 920000 file of one sending (as validated and posted)."""
    return Outbox(ctx).file(_id(sending))
