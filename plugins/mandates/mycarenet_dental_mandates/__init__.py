"""Mandates for mycarenet-dental (Annex 1 §4 of the 2016 protocol, rules R21–R27).

A dentist gives a billing office (or a secretary, a company) a mandate for insurability
consultation, tariff consultation or billing; the office then works with its own eHealth
certificate and the dentist stays responsible. This package keeps the register (with its history),
enforces the lifecycle rules, refuses an exchange by a mandatary that no mandate covers (rule R21),
and gives the simulated MyCareNet its own register.

Public API (the same shape as every service: ``verb_noun(ctx, ...)``, frozen results)::

    from mycarenet_dental_mandates import add_mandate, list_mandates, mandate_coverage, stop_mandate
    added = add_mandate(ctx, mandatary="cbe:0412345614", service="tariff", start="2026-01-01")
    mandate_coverage(ctx, mandatary="cbe:0412345614", service="tariff").allowed   # what R21 checks
    stop_mandate(ctx, added.mandate)
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

#: Public name -> module; imported on first use so that loading the plugin stays light.
_EXPORTS = {
    "add_mandate": ".api", "export_mandates": ".api", "import_mandates": ".api", "list_mandates": ".api",
    "mandate_coverage": ".api", "mandate_history": ".api", "record_party_event": ".api", "stop_mandate": ".api",
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
