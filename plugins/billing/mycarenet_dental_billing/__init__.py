"""mycarenet-dental-billing: eFact third-party-payer billing (message 920000 and its responses).

What vendors import (the same shape as every service: ``verb_noun(ctx, ...)``, frozen results)::

    from mycarenet_dental_billing import build_sendings, list_sendings, load_invoices, settle_sendings
    invoices = load_invoices("invoices.json", default_provider=ctx.config.require_dentist().nihii)
    built = build_sendings(ctx, invoices)   # one sending per union; lines without tariff consultation refused (R36)
    settle_sendings(ctx)                    # post, poll, confirm until every sending is final
    for s in list_sendings(ctx): print(s.oa, s.sending_number, s.state, s.received)   # received: R39

Names are loaded lazily so that importing the plugin stays cheap (the CLI must start fast).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    # transport
    "GenAsyncClient": "genasync", "Origin": "genasync", "TAck": "genasync", "ReceivedMessage": "genasync",
    "GetResult": "genasync", "deflate_raw": "genasync", "inflate": "genasync", "sha256_b64": "genasync",
    # the vendor's calls
    "build_sendings": "api", "validate_sending": "api", "send_sending": "api",
    "send_sendings": "api", "poll_sendings": "api", "settle_sendings": "api",
    "sending_status": "api", "list_sendings": "api", "sending_lines": "api",
    "sending_file": "api",
    "load_invoices": "invoices_json", "load_sending": "invoices_json", "sending_to_json": "invoices_json",
    # outbox results
    "SendingState": "outbox", "SendingStatus": "outbox", "LineStatus": "outbox",
    "RecordError": "outbox", "RefusedLine": "outbox", "BuildResult": "outbox", "PollResult": "outbox",
    "BillingSettings": "outbox", "SimulatedCrash": "outbox", "read_answer": "outbox", "Answer": "outbox",
    # rules
    "unattested": "rules", "UnattestedConsultation": "rules",
    "consulted_lines": "rules", "ConsultedLine": "rules",
    # file model (the format engineer's modules)
    "Sending": "efact.model", "SendingHeader": "efact.model", "Invoice": "efact.model",
    "ServiceLine": "efact.model", "Commitment": "efact.model", "IdentityCheck": "efact.model",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mycarenet_dental_billing' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
