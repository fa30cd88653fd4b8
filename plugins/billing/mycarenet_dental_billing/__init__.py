"""mycarenet-dental-billing: eFact third-party-payer billing (message 920000 and its responses).

What vendors import::

    from mycarenet_dental_billing import Outbox, Invoice, ServiceLine
    outbox = Outbox(ctx)
    built = outbox.build(invoices)          # one sending per union; lines without tariff consultation refused (R36)
    outbox.settle()                         # post, poll, confirm until every sending is final
    for s in outbox.list(): print(s.oa, s.sending_number, s.state, s.received)   # received: R39

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
    # outbox
    "Outbox": "outbox", "SendingState": "outbox", "SendingStatus": "outbox", "LineStatus": "outbox",
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
