"""The Annex 5 rules of the DMG-right consultation, stated with the core rule factories.

R29 (open contact) is the core's own rule (the service is declared ``consultation=True``); R28
(confidentiality) is honoured by recording the holder with ``retention="contact"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mycarenet_dental.registrations import RuleCheck, RuleSpec
from mycarenet_dental.rules import burst_limit, explicit_request_only, not_mandatable

from .model import PURPOSE_PREFIX, SERVICE

if TYPE_CHECKING:  # pragma: no cover
    from mycarenet_dental.context import Context
    from mycarenet_dental.exchange import Exchange

BURST_KEY = "max_per_minute"
BURST_DEFAULT = 10


def _r41_purpose(exchange: Exchange, context: Context) -> RuleCheck | None:
    """The consultation must carry the art. 74 purpose, so the audit records why it was made."""
    purpose = (exchange.purpose or "").strip()
    if not purpose.lower().startswith(PURPOSE_PREFIX):
        return RuleCheck("a DMG consultation is allowed only to send the examination report to the treating "
                         "physician (art. 74 of the law of 14 July 1994); the exchange carries no such purpose",
                         hint="use mycarenet_dental_dmg.consult_dmg, which records the purpose")
    return None


def dmg_rules() -> tuple[RuleSpec, ...]:
    return (
        explicit_request_only("R42", "Annex 5", {SERVICE},
                              title="DMG consultation only on the dentist's explicit request"),
        burst_limit("R42-burst", "Annex 5", SERVICE, per_minute_key=BURST_KEY, default=BURST_DEFAULT,
                    title="DMG: no automatic or systematic runs (burst refused)"),
        not_mandatable("R21-dmg", "Annex 1 §4", {SERVICE},
                       title="DMG consultation is not mandatable (mandates: insurability, tariffs, billing)"),
        RuleSpec(id="R41", article="Annex 5", title="DMG consultation only for the art. 74 report to the "
                 "treating physician (purpose recorded)", check=_r41_purpose, services=frozenset({SERVICE})),
    )
