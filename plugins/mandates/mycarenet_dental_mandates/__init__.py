"""Mandates for mycarenet-dental (Annex 1 §4 of the 2016 protocol, rules R21–R27).

A dentist gives a billing office (or a secretary, a company) a mandate for insurability
consultation, tariff consultation or billing; the office then works with its own eHealth
certificate and the dentist stays responsible. This package keeps the register (with its history),
enforces the lifecycle rules, refuses an exchange by a mandatary that no mandate covers (rule R21),
and gives the simulated MyCareNet its own register.

Public API::

    from mycarenet_dental_mandates import MandateRegister, register_for, PartyId, Service
    register = register_for(ctx)            # the register in the context's storage
    register.add(mandator_nihii="31234592001", mandatary="cbe:0412345614", service="tariff",
                 start="2026-01-01")
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

#: Public name -> module; imported on first use so that loading the plugin stays light.
_EXPORTS = {
    "RegisterDocument": ".io", "dumps_csv": ".io", "dumps_json": ".io", "loads_csv": ".io", "loads_json": ".io",
    "read_file": ".io", "write_file": ".io",
    "Coverage": ".model", "EndReason": ".model", "EventKind": ".model", "HistoryEntry": ".model",
    "Mandate": ".model", "MandateNotFound": ".model", "MandateRefusal": ".model", "MandateState": ".model",
    "PartyEvent": ".model", "PartyId": ".model", "PartyKind": ".model", "Service": ".model",
    "parse_service": ".model",
    "AddResult": ".register", "EventResult": ".register", "ImportResult": ".register",
    "MandateRegister": ".register", "belgian_date": ".register", "register_for": ".register",
    "check_mandate": ".rules", "executor_identities": ".rules", "mandated_service": ".rules",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
