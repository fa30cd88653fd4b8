"""An example third-party plugin: a practice policy rule.

It refuses exchanges for patients listed in ``[example_rule] blocked_patients`` of the
configuration (a vendor's own policy), and is inactive when that list is empty — so installing
it changes nothing until a practice configures it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mycarenet_dental.hookspec import hookimpl
from mycarenet_dental.registrations import RuleCheck, RuleSpec

#: the plugin API this plugin is built for (checked when the plugin loads)
MYCARENET_DENTAL_API = "1.1"


def _blocked_patient(exchange: Any, context: Any) -> RuleCheck | None:
    blocked = context.config.section("example_rule").get("blocked_patients", [])
    if exchange.patient in blocked:
        return RuleCheck("this practice does not consult for this patient",
                         hint="remove the patient from [example_rule] blocked_patients")
    return None


@hookimpl
def mycarenet_dental_rules() -> Iterator[RuleSpec]:
    yield RuleSpec(id="X-PRACTICE-1", article="practice policy (example plugin)",
                   title="no exchanges for patients the practice blocked", check=_blocked_patient)
