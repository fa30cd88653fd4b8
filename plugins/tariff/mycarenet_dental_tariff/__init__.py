"""mycarenet-dental tariff plugin: MyCareNet Tarification (KMEHR) for dentists, with its insurer simulator.

Public API (imported lazily so that loading the plugin stays cheap)::

    from mycarenet_dental_tariff import consult_tariff, ServiceRequest, TariffResult
    result = consult_tariff(ctx, ctx.open_contact("85073003328"), ["301011", "302153:36"])
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "RESULT_KIND", "InsuredPatient", "LineStatus", "Refusal", "ServiceRequest", "TariffBusinessError",
    "TariffClient", "TariffIssue", "TariffLine", "TariffQuery", "TariffResult", "TariffValidationError",
    "check_service_date", "consult_tariff", "make_query", "recorded_lines",
]

_FROM_CLIENT = {"TariffClient", "check_service_date", "consult_tariff", "make_query", "recorded_lines"}


def __getattr__(name: str) -> Any:
    if name in _FROM_CLIENT:
        from . import client

        return getattr(client, name)
    if name in __all__:
        from . import model

        return getattr(model, name)
    raise AttributeError(name)
