"""Annex 2 rules of the insurability consultation, stated with the core's rule factories.

R28 (confidentiality) and R29 (patients actually treated: an open contact) are built-in rules of the
core; the service declares ``consultation=True`` so R29 applies to it. R30 (billing purpose only) is
served by keeping only a billing summary in the exchange log.
"""

from __future__ import annotations

from mycarenet_dental.registrations import RuleSpec
from mycarenet_dental.rules import explicit_request_only, once_per_contact, single_patient

SERVICE = "assurability"
ANNEX = "Annex 2"

RULES: tuple[RuleSpec, ...] = (
    once_per_contact("R34", ANNEX, SERVICE,
                     title="insurability only once per patient contact (basic rule); the kept answer is used again"),
    explicit_request_only("R34-explicit", ANNEX, [SERVICE],
                          title="insurability at the patient contact only: no scheduled or background re-checks"),
    single_patient("R32-assurability", ANNEX, [SERVICE], title="on-line, one patient at a time (no batch)"),
)
