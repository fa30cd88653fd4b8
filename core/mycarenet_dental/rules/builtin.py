"""Built-in convention rules of the 2016 protocol that do not depend on one service.

Registered through the entry-point group like any third-party plugin (``builtin-rules``).
Rules without a ``check`` are enforced structurally by the core (the audit of every exchange,
R5–R9; confidentiality of what is stored, R28) and are listed so ``mycarenet-dental rules`` shows
every obligation the software carries.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..hookspec import hookimpl
from ..registrations import RuleCheck, RuleSpec

if TYPE_CHECKING:  # pragma: no cover
    from ..context import Context
    from ..exchange import Exchange


def _r2_known_service(exchange: Exchange, context: Context) -> RuleCheck | None:
    if exchange.service not in context.services:
        return RuleCheck(f"{exchange.service!r} is not a service of the protocol's annexes provided by an "
                         "installed plugin", hint="see `mycarenet-dental plugins`")
    return None


def _r4_authenticated_identity(exchange: Exchange, context: Context) -> RuleCheck | None:
    problem = _responsible_nihii_problem(exchange.responsible.nihii or exchange.responsible.id)
    if problem is not None:
        return RuleCheck(problem)
    if not exchange.executor.id:
        return RuleCheck("the executor of the transmission is unknown (R7)")
    return None


@functools.lru_cache(maxsize=256)
def _responsible_nihii_problem(nihii: str) -> str | None:
    """What R4 finds wrong with a responsible's NIHII, once per number: the answer depends on its digits
    alone, and every exchange of a practice asks it for the same dentist."""
    from ..identifiers import Nihii

    try:
        parsed = Nihii.parse(nihii, field="responsible")
    except ValueError:
        return "the responsible care provider has no valid NIHII"
    if not parsed.is_dentist:
        return f"NIHII {parsed.value} is not a dentist's: only the quality 'dentist' uses this protocol"
    return None


def _r29_patient_contact(exchange: Exchange, context: Context) -> RuleCheck | None:
    spec = context.services.get(exchange.service)
    if spec is None or not spec.consultation:
        return None
    if exchange.contact_id is None:
        return RuleCheck("a consultation needs an open contact with the patient (patients actually treated)",
                         hint=f"mycarenet-dental contact open --patient {exchange.patient}")
    contact = context.contact(exchange.contact_id)
    if not contact.is_open:
        return RuleCheck(f"contact {contact.id} is closed")
    if contact.patient != exchange.patient:
        return RuleCheck(f"contact {contact.id} is for another patient")
    from ..exchange import PartyKind

    if exchange.executor.kind is not PartyKind.MANDATARY and contact.dentist != (exchange.responsible.nihii or
                                                                                 exchange.responsible.id):
        return RuleCheck(f"contact {contact.id} belongs to another dentist")
    return None


RULES = (
    RuleSpec(id="R2", article="Annex 1 §2.2", title="network use limited to the services of the annexes",
             check=_r2_known_service, builtin=True),
    RuleSpec(id="R4", article="Annex 1 §2.2", title="only identities and qualities authenticated by eHealth",
             check=_r4_authenticated_identity, builtin=True),
    RuleSpec(id="R5", article="Art. 3", title="systematic audit record for every transmission", builtin=True),
    RuleSpec(id="R6", article="Art. 3", title="identity of the party responsible for the transmission", builtin=True),
    RuleSpec(id="R7", article="Art. 3", title="identity of the person who executed the transmission", builtin=True),
    RuleSpec(id="R8", article="Art. 3", title="complete time information", builtin=True),
    RuleSpec(id="R9", article="Art. 3", title="reports of disturbances during processing", builtin=True),
    RuleSpec(id="R28", article="Annexes 2, 3, 4, 5", title="strict confidentiality: no clinical payload in logs; "
             "contact-bound results erased when the contact closes", builtin=True),
    RuleSpec(id="R29", article="Annexes 2, 3, 5", title="only for patients actually treated (open contact)",
             check=_r29_patient_contact, builtin=True),
)


@hookimpl
def mycarenet_dental_rules() -> Iterator[RuleSpec]:
    yield from RULES
