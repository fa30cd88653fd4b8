"""Convention rules: evaluation, and small factories the service plugins use for their annex rules.

A rule is a :class:`~mycarenet_dental.registrations.RuleSpec` yielded by ``mycarenet_dental_rules``.
The factories below cover the shapes the annexes repeat (once per contact, explicit request
only, no bursts, not mandatable), so that each plugin states its rules in a few lines and the
logic lives in one place.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING

from ..registrations import RuleCheck, RuleSpec

if TYPE_CHECKING:  # pragma: no cover
    from ..context import Context
    from ..exchange import Exchange

# The rule checks import the exchange and audit modules when they first run, so that loading the
# rules (every CLI start) stays cheap.


def applies(rule: RuleSpec, exchange: Exchange) -> bool:
    return not rule.services or exchange.service in rule.services


def once_per_contact(rule_id: str, article: str, service: str, *, title: str = "") -> RuleSpec:
    """A second network consultation in one contact is refused unless every earlier one failed.

    The check reserves (rule, contact) for the exchange it allows, in the same transaction as its
    read (see :mod:`mycarenet_dental.reservations`): a consultation of the same contact started by
    another process at the same moment is refused as "in progress" until the first one's outcome is
    recorded — then its kept result, or its failure, decides.
    """

    def check(exchange: Exchange, context: Context) -> RuleCheck | None:
        if exchange.contact_id is None:
            return None  # the contact rule (R29) speaks for a missing contact
        # reserve first, then look for a kept result: whoever gets the reservation after another's
        # outcome released it also sees that outcome's result (on any backend, any isolation level)
        holder = context.reserve(rule_id, f"{service}:{exchange.contact_id}", exchange)
        if holder is not None:
            return RuleCheck(
                f"a {service} consultation for contact {exchange.contact_id} is already in progress "
                f"(exchange {holder.exchange_id[:12]}, started {holder.taken_at})",
                hint="wait for its answer: it is kept on the contact and used again",
            )
        if context.results(service=service, contact_id=exchange.contact_id):
            return RuleCheck(  # the core releases the reservation with the refusal
                f"{service} was already consulted in contact {exchange.contact_id}; "
                "the result kept on the contact is to be used",
                hint="a new consultation is allowed only after a failed one, or in a new contact",
            )
        return None

    return RuleSpec(id=rule_id, article=article, title=title or f"{service}: only once per patient contact",
                    check=check, services=frozenset({service}))


def explicit_request_only(rule_id: str, article: str, services: Iterable[str], *, title: str = "") -> RuleSpec:
    """Refuse an exchange that the software triggered on its own."""

    def check(exchange: Exchange, context: Context) -> RuleCheck | None:
        from ..exchange import Trigger

        if exchange.trigger is not Trigger.USER:
            return RuleCheck("only at the explicit request of the dentist, never automatic or systematic")
        return None

    return RuleSpec(id=rule_id, article=article, title=title or "only on the dentist's explicit request",
                    check=check, services=frozenset(services))


def burst_limit(rule_id: str, article: str, service: str, *, per_minute_key: str, default: int,
                title: str = "") -> RuleSpec:
    """Refuse more than N exchanges of one service by one executor within a minute (a systematic run).

    ``per_minute_key`` names the setting in the plugin's config table (``[service] key = N``). The
    count and the exchange row it counts are written in one transaction by the core, so N processes
    starting at once cannot all slip under the limit.
    """

    def check(exchange: Exchange, context: Context) -> RuleCheck | None:
        from ..timeutil import utc_ms

        limit = int(context.config.section(service).get(per_minute_key, default))
        since = utc_ms(exchange.created_at - timedelta(seconds=60))
        row = context.storage.query_one(  # partial index audit_burst; stop counting past the limit
            "SELECT COUNT(*) AS n FROM (SELECT 1 FROM audit WHERE kind = 'exchange' AND service = ? AND executor = ? "
            "AND ts >= ? LIMIT ?) AS recent",
            (service, exchange.executor.label(), since, limit),
        )
        count = int(row["n"]) if row else 0
        if count >= limit:
            return RuleCheck(f"{count} {service} consultations by this user in the last minute "
                             f"(limit {limit}): this looks automatic or systematic",
                             hint=f"consult one patient at a time; the limit is [{service}] {per_minute_key}")
        return None

    return RuleSpec(id=rule_id, article=article, title=title or f"{service}: no systematic bursts",
                    check=check, services=frozenset({service}))


def not_mandatable(rule_id: str, article: str, services: Iterable[str], *, title: str = "") -> RuleSpec:
    """Refuse an exchange whose executor is a mandatary (Annex 1 §4 allows mandates only for some services)."""

    def check(exchange: Exchange, context: Context) -> RuleCheck | None:
        from ..exchange import PartyKind

        if exchange.executor.kind is PartyKind.MANDATARY:
            return RuleCheck(f"{exchange.service} cannot be done by a mandatary: the protocol allows mandates "
                             "only for insurability, tariff consultation and billing")
        return None

    return RuleSpec(id=rule_id, article=article, title=title or "not mandatable", check=check,
                    services=frozenset(services))


def single_patient(rule_id: str, article: str, services: Iterable[str], *, title: str = "") -> RuleSpec:
    """On-line, one patient at a time: an exchange carrying several patients is refused (R32)."""

    def check(exchange: Exchange, context: Context) -> RuleCheck | None:
        if int(exchange.details.get("patients", 1)) != 1:
            return RuleCheck("one patient per request: no batch or list queries")
        if not exchange.patient:
            return RuleCheck("the request names no patient")
        return None

    return RuleSpec(id=rule_id, article=article, title=title or "one patient at a time", check=check,
                    services=frozenset(services))
