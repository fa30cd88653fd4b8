"""Annex 1 §4 as convention rules: R21 vetoes, before anything is sent, an exchange executed by a
mandatary that no mandate in force covers; R22–R27 are enforced by the register and listed here so
``mycarenet-dental rules`` shows every obligation the plugin carries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from mycarenet_dental.errors import InvalidIdentifierError
from mycarenet_dental.exchange import Exchange, Party
from mycarenet_dental.registrations import RuleCheck, RuleSpec

from .model import ARTICLE, RULE_TITLES, SERVICE_ALIASES, MandateRefusal, PartyId, PartyKind, Service

if TYPE_CHECKING:  # pragma: no cover
    from mycarenet_dental.context import Context


def mandated_service(service: str, overrides: Mapping[str, str] | None = None) -> Service | None:
    """The mandatable service an exchange's service name stands for, or None (DMG and anything else).

    ``overrides`` is the ``[mandates] services`` table, e.g. ``{ efact = "billing" }``, for plugins whose
    service name differs from the three objects of Annex 1 §4.
    """
    name = service.strip().lower()
    if overrides and name in overrides:
        target = str(overrides[name]).strip().lower()
        return SERVICE_ALIASES.get(target)
    return SERVICE_ALIASES.get(name)


def executor_identities(executor: Party) -> list[PartyId]:
    """Every identity under which the executor may hold a mandate (CBE, SSIN, NIHII, then its id)."""
    found: list[PartyId] = []
    for kind, value in ((PartyKind.CBE, executor.cbe), (PartyKind.SSIN, executor.ssin),
                        (PartyKind.NIHII, executor.nihii), (None, executor.id)):
        if not value:
            continue
        try:
            party = PartyId.parse(value, kind=kind)
        except InvalidIdentifierError:
            continue
        if party not in found:
            found.append(party)
    return found


def check_mandate(exchange: Exchange, context: Context) -> RuleCheck | None:
    """R21: a mandatary acts only for the three services, under a mandate in force on the exchange's day."""
    if not exchange.by_mandatary:
        return None
    from mycarenet_dental.timeutil import belgian_date

    from .register import register_for

    overrides = context.config.section("mandates").get("services")
    service = mandated_service(exchange.service, overrides if isinstance(overrides, Mapping) else None)
    if service is None:
        return RuleCheck(f"{exchange.service} cannot be done by a mandatary: {ARTICLE} allows mandates only for "
                         "insurability consultation, tariff consultation and billing",
                         hint="the dentist must do this exchange with the dentist's own certificate")
    identities = executor_identities(exchange.executor)
    if not identities:
        return RuleCheck("the mandatary executing the exchange has no valid SSIN, NIHII or company number",
                         hint="set [executor] cbe/ssin/nihii in the mandatary's configuration")
    mandator = exchange.responsible.nihii or exchange.responsible.id
    day = belgian_date(exchange.created_at)
    try:
        coverage = register_for(context).coverage(mandator_nihii=mandator, mandatary=identities,
                                                  service=service, on=day)
    except MandateRefusal as exc:
        return RuleCheck(exc.reason)
    if coverage.allowed:
        return None
    return RuleCheck(coverage.reason,
                     hint=f"register the mandate given in eMandate: mycarenet-dental mandates add --mandator "
                     f"{mandator} --mandatary {identities[0].value} --service {service.value} --start {day}")


RULES: tuple[RuleSpec, ...] = (
    RuleSpec(id="R21", article=ARTICLE, title=RULE_TITLES["R21"] + " — an exchange by a mandatary needs a "
             "mandate in force for (dentist, mandatary, service, day)", check=check_mandate),
    *(RuleSpec(id=rule_id, article=ARTICLE, title=title + " (enforced by the mandate register)")
      for rule_id, title in RULE_TITLES.items() if rule_id != "R21"),
)
