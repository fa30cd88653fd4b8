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

from .io import RegisterDocument, dumps_csv, dumps_json, loads_csv, loads_json, read_file, write_file
from .model import (
    Coverage,
    EndReason,
    EventKind,
    HistoryEntry,
    Mandate,
    MandateNotFound,
    MandateRefusal,
    MandateState,
    PartyEvent,
    PartyId,
    PartyKind,
    Service,
    parse_service,
)
from .register import AddResult, EventResult, ImportResult, MandateRegister, belgian_date, register_for
from .rules import check_mandate, executor_identities, mandated_service

__all__ = [
    "AddResult",
    "Coverage",
    "EndReason",
    "EventKind",
    "EventResult",
    "HistoryEntry",
    "ImportResult",
    "Mandate",
    "MandateNotFound",
    "MandateRefusal",
    "MandateRegister",
    "MandateState",
    "PartyEvent",
    "PartyId",
    "PartyKind",
    "RegisterDocument",
    "Service",
    "belgian_date",
    "check_mandate",
    "dumps_csv",
    "dumps_json",
    "executor_identities",
    "loads_csv",
    "loads_json",
    "mandated_service",
    "parse_service",
    "read_file",
    "register_for",
    "write_file",
]
