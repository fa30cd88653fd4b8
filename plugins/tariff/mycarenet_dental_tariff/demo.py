"""The tariff step of ``mycarenet-dental demo``: price the services of the visit, then show R35."""

from __future__ import annotations

from typing import Any

#: The visit of the demo's regular adult: a consultation, a filling on 36 and an extraction of 46.
VISIT = ("301011", "302153:36", "304415:46")


def run_demo_step(ctx: Any, info: Any) -> None:
    from mycarenet_dental.errors import RuleRefusal

    from .cli import show_result
    from .client import consult_tariff

    echo = info.echo
    result = consult_tariff(ctx, ctx.contact(info.contact_id), list(VISIT))
    show_result(result, echo)
    echo(f"   recorded {len(result.lines)} line(s) as tariff.consultation for billing (R36)")
    again = consult_tariff(ctx, ctx.contact(info.contact_id), list(VISIT))
    echo(f"   asked again in the same contact: {'result kept on the contact' if again.from_contact else 'network'}")
    try:
        consult_tariff(ctx, ctx.contact(info.contact_id), ["307016:36"])
    except RuleRefusal as exc:
        echo(f"   another consultation in the same contact is refused: {exc.rule_id} ({exc.article})")
