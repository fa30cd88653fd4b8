"""Annex 3 rules for the tariff consultation, stated through the core's rule factories.

* R32 — one patient per request (one or more services).
* R35 — once per contact: a second network consultation in one contact is refused unless the earlier
  one failed (the client first returns the result kept on the contact).
* R37 — only at the dentist's explicit request: an automatic trigger is refused; ``R37-burst`` refuses
  a systematic pattern (more than ``[tariff] max_per_minute`` consultations a minute by one user,
  default 10). Every refusal is audited by the core.
* R36 — recorded for billing: each priced line is kept in the exchange log (kind
  ``tariff.consultation``); the billing side checks it (no check here, the rule is listed).
"""

from __future__ import annotations

from mycarenet_dental.registrations import RuleSpec
from mycarenet_dental.rules import burst_limit, explicit_request_only, once_per_contact, single_patient

SERVICE = "tariff"
ARTICLE = "Annex 3"
BURST_KEY = "max_per_minute"
BURST_DEFAULT = 10

RULES: tuple[RuleSpec, ...] = (
    single_patient("R32-tariff", ARTICLE, [SERVICE], title="tariff: one patient per request, one or more services"),
    once_per_contact("R35", ARTICLE, SERVICE, title="tariff asked only once, at the patient contact"),
    RuleSpec(id="R36-tariff", article=ARTICLE, title="tariff consultation recorded for every service billed in "
             "third-party payment (log kind tariff.consultation; checked by billing)", services=frozenset({SERVICE})),
    explicit_request_only("R37", ARTICLE, [SERVICE],
                          title="tariff only on the dentist's explicit request, never automatic"),
    burst_limit("R37-burst", ARTICLE, SERVICE, per_minute_key=BURST_KEY, default=BURST_DEFAULT,
                title="tariff: no systematic consultations (burst limit per user)"),
)
