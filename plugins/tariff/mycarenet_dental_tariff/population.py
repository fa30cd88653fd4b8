"""Simulator patients and facts the tariff scenarios need (synthetic people, valid check digits)."""

from __future__ import annotations

from datetime import date

from mycarenet_dental.sim.population import InsurabilityPeriod, PatientFacts, SimPatient, make_ssin

#: A regular adult with a filling on tooth 36 forty days ago and a preventive exam 100 days ago.
HISTORY_SSIN = make_ssin(date(1992, 3, 8), 142)
#: A patient "not in order" with the insurance (contributions unpaid): code 170.
NOT_IN_ORDER_SSIN = make_ssin(date(1980, 10, 14), 63)


def patients() -> list[SimPatient | PatientFacts]:
    return [
        SimPatient(HISTORY_SSIN, "Sofie", "Wouters", date(1992, 3, 8), "F",
                   ("tariff: filling on tooth 36 forty days ago", "tariff: preventive exam 100 days ago"),
                   (InsurabilityPeriod("216", "2160458", "110", "110", date(2015, 1, 1)),),
                   facts={"tariff.history": [{"code": "302153", "tooth": 36, "days_ago": 40},
                                             {"code": "301593", "days_ago": 100}]}),
        SimPatient(NOT_IN_ORDER_SSIN, "Pierre", "Lenoir", date(1980, 10, 14), "M",
                   ("tariff: not in order with the insurance (170)",),
                   (InsurabilityPeriod("116", "1169911", "110", "110", date(2015, 1, 1)),),
                   facts={"tariff.not_in_order": True}),
    ]
