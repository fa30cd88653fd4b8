"""The vendor's mandate calls, one shape with the other services (``verb_noun(ctx, ...)``, frozen results)::

    from mycarenet_dental_mandates import add_mandate, mandate_coverage

    add_mandate(ctx, mandatary="cbe:0412345614", service="tariff", start="2026-01-01")
    mandate_coverage(ctx, mandatary="cbe:0412345614", service="tariff").allowed

The mandator defaults to the configured dentist. The register (:class:`~.register.MandateRegister`)
stays the implementation, kept in the context's storage.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from .model import Coverage, EventKind, HistoryEntry, Mandate, MandateState, PartyId, Service
from .register import AddResult, EventResult, ImportResult, register_for

if TYPE_CHECKING:  # pragma: no cover
    from mycarenet_dental.context import Context


def _party(party: PartyId | str, field: str) -> PartyId:
    return party if isinstance(party, PartyId) else PartyId.parse(party, field=field)


def _mandate_id(mandate: Mandate | str) -> str:
    return mandate.id if isinstance(mandate, Mandate) else mandate


def add_mandate(ctx: Context, *, mandatary: PartyId | str, service: Service | str, start: dt.date | str,
                end: dt.date | str | None = None, mandator_nihii: str | None = None,
                mandator_ssin: str | None = None, given_by: str | None = None,
                emandate_ref: str | None = None, mandate_id: str | None = None) -> AddResult:
    """Register a mandate of the dentist (default: the configured one) to ``mandatary`` for ``service``;
    the previous one for that service closes the day before it starts (R26)."""
    dentist = ctx.config.dentist
    if mandator_nihii is None:
        mandator_nihii = ctx.config.require_dentist().nihii
    if mandator_ssin is None and dentist is not None and dentist.nihii[:8] == mandator_nihii[:8]:
        mandator_ssin = dentist.ssin
    return register_for(ctx).add(mandator_nihii=mandator_nihii, mandatary=mandatary, service=service, start=start,
                                 end=end, mandator_ssin=mandator_ssin, given_by=given_by,
                                 emandate_ref=emandate_ref, mandate_id=mandate_id)


def stop_mandate(ctx: Context, mandate: Mandate | str, *, by: str = "mandator", on: dt.date | None = None) -> Mandate:
    """Either party (``by``) stops a mandate with immediate effect."""
    return register_for(ctx).stop(_mandate_id(mandate), by=by, on=on)


def list_mandates(ctx: Context, *, mandator: PartyId | str | None = None, mandatary: PartyId | str | None = None,
                  service: Service | str | None = None, on: dt.date | None = None,
                  states: Iterable[MandateState] | None = None) -> list[Mandate]:
    """The register's mandates in registration order, filtered; ``states`` as on ``on`` (default today)."""
    register = register_for(ctx)
    register.expire()
    return register.mandates(mandator=None if mandator is None else _party(mandator, "mandator"),
                             mandatary=None if mandatary is None else _party(mandatary, "mandatary"),
                             service=service, on=on, states=states)


def mandate_history(ctx: Context, mandate: Mandate | str) -> list[HistoryEntry]:
    """Every change of one mandate, with its reason and rule."""
    return register_for(ctx).history(_mandate_id(mandate))


def record_party_event(ctx: Context, party: PartyId | str, kind: EventKind | str, on: dt.date | str) -> EventResult:
    """A death, bankruptcy or liquidation: every mandate of that party ends at once (R27)."""
    return register_for(ctx).record_event(party, kind, on)


def mandate_coverage(ctx: Context, *, mandatary: PartyId | str, service: Service | str,
                     mandator_nihii: str | None = None, on: dt.date | None = None) -> Coverage:
    """Whether a mandate in force lets ``mandatary`` act for the dentist (what rule R21 checks)."""
    register = register_for(ctx)
    return register.coverage(mandator_nihii=mandator_nihii or ctx.config.require_dentist().nihii,
                             mandatary=[_party(mandatary, "mandatary")], service=service, on=on or register.today())


def import_mandates(ctx: Context, path: Path, *, fmt: str | None = None) -> ImportResult:
    """Mirror a register file (JSON or CSV, e.g. from eMandate, R22) through the lifecycle rules; all or nothing."""
    from .io import read_file

    document = read_file(Path(path), fmt)
    return register_for(ctx).import_mandates(document.mandates, document.events, document.history)


def export_mandates(ctx: Context, path: Path, *, fmt: str | None = None) -> int:
    """Write the register to ``path`` (JSON keeps the history and the R27 events); the number of mandates."""
    from .io import write_file

    return write_file(register_for(ctx), Path(path), fmt)
