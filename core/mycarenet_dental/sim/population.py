"""The simulator's synthetic patient population.

Made-up people with valid check digits, each showing situations the insurers' test-person lists
show (regular, BIM, two periods, unknown, deceased, medical house, ...). The numbers are computed,
not typed, so they always pass the same checks as real ones. Plugins add patients or facts
through ``mycarenet_dental_simulator_population``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import attrs

from ..identifiers import Nihii, Ssin


def make_ssin(birth: date, serial: int) -> str:
    """A valid SSIN for a birth date and a 3-digit serial (odd = man, even = woman)."""
    first9 = f"{birth:%y%m%d}{serial:03d}"
    return first9 + Ssin.check_digits(first9, born_2000=birth.year >= 2000)


def make_nihii(base6: str, qualification: str) -> str:
    return base6 + Nihii.check_digits(base6) + qualification


@attrs.frozen
class InsurabilityPeriod:
    """One slice of coverage at one mutuality, with its CT1/CT2 codes."""

    mutuality: str
    registration_number: str
    ct1: str
    ct2: str
    start: date
    end: date | None = None
    third_party_payment: bool = True  # "payment by IO"
    payment_approval: str | None = None

    @property
    def is_bim(self) -> bool:
        # domain.md §1.5: last digit 1 = increased reimbursement (UNSURE but widely used).
        return self.ct1.endswith("1")

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


@attrs.frozen
class CareHolder:
    """A care provider or organisation linked to a patient (a medical house; the dmg plugin's DMG holders)."""

    nihii: str
    name: str
    first_name: str | None = None
    start: date | None = None
    end: date | None = None
    kind: str = "physician"  # physician | medicalhouse


@attrs.frozen
class SimPatient:
    ssin: str
    first_name: str
    last_name: str
    birth_date: date
    sex: str
    situations: tuple[str, ...] = ()
    periods: tuple[InsurabilityPeriod, ...] = ()
    deceased: date | None = None
    hospitalised_since: date | None = None
    medical_house: CareHolder | None = None
    facts: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def known(self) -> bool:
        return bool(self.periods)

    def periods_on(self, day: date) -> list[InsurabilityPeriod]:
        return [p for p in self.periods if p.covers(day)]

    def is_bim_on(self, day: date) -> bool:
        return any(p.is_bim for p in self.periods_on(day))

    def age_on(self, day: date) -> int:
        b = self.birth_date
        return day.year - b.year - ((day.month, day.day) < (b.month, b.day))


@attrs.frozen
class PatientFacts:
    """Extra situations and facts a plugin adds to an existing patient."""

    ssin: str
    situations: tuple[str, ...] = ()
    facts: Mapping[str, Any] = attrs.field(factory=dict)


MEDICAL_HOUSE = CareHolder(nihii=make_nihii("800456", "000"), name="Maison médicale Les Tilleuls",
                           kind="medicalhouse", start=date(2019, 6, 1))


def _p(mut: str, reg: str, ct: str = "110/110", start: date = date(2015, 1, 1), end: date | None = None,
       tpp: bool = True) -> InsurabilityPeriod:
    ct1, ct2 = ct.split("/")
    return InsurabilityPeriod(mutuality=mut, registration_number=reg, ct1=ct1, ct2=ct2, start=start, end=end,
                              third_party_payment=tpp)


def base_population() -> list[SimPatient]:
    """The core's patients: one per situation the insurability answers can show."""
    return [
        SimPatient(make_ssin(date(1985, 7, 30), 33), "Lucas", "Janssens", date(1985, 7, 30), "M",
                   ("regular adult", "CT 110/110"),
                   (_p("116", "1160042", "110/110"),)),
        SimPatient(make_ssin(date(1956, 3, 12), 124), "Marie", "Dubois", date(1956, 3, 12), "F",
                   ("BIM", "CT 131/131", "third-party payment"),
                   (_p("306", "3060871", "131/131"),)),
        SimPatient(make_ssin(date(2012, 11, 4), 57), "Noah", "Maes", date(2012, 11, 4), "M",
                   ("child (youth codes 37xxxx)",),
                   (_p("509", "5090333", "110/110"),)),
        SimPatient(make_ssin(date(1990, 2, 17), 212), "Emma", "Lambert", date(1990, 2, 17), "F",
                   ("two periods", "changed mutuality on 2025-01-01"),
                   (_p("116", "1165550", "110/110", date(2015, 1, 1), date(2024, 12, 31)),
                    _p("306", "3069912", "110/110", date(2025, 1, 1)))),
        SimPatient(make_ssin(date(1978, 9, 9), 99), "Tom", "Willems", date(1978, 9, 9), "M",
                   ("unknown to insurers",), ()),
        SimPatient(make_ssin(date(1931, 5, 20), 46), "Georgette", "Leclercq", date(1931, 5, 20), "F",
                   ("deceased on 2026-02-14",), (_p("116", "1160777", "111/111"),),
                   deceased=date(2026, 2, 14)),
        SimPatient(make_ssin(date(1969, 12, 1), 171), "Karim", "El Amrani", date(1969, 12, 1), "M",
                   ("medical house member",),
                   (_p("306", "3061234", "110/110"),), medical_house=MEDICAL_HOUSE),
        SimPatient(make_ssin(date(1948, 4, 2), 88), "Jeanne", "Claes", date(1948, 4, 2), "F",
                   ("hospitalised",), (_p("509", "5094545", "121/121"),), hospitalised_since=date(2026, 11, 20)),
        SimPatient(make_ssin(date(2004, 6, 15), 131), "Lina", "Vermeulen", date(2004, 6, 15), "F",
                   ("young adult", "no third-party payment"),
                   (_p("600", "6000101", "110/110", tpp=False),)),
        SimPatient(make_ssin(date(1995, 1, 23), 7), "Arne", "Peeters", date(1995, 1, 23), "M",
                   ("HR Rail member", "regular adult"), (_p("900", "9000202", "110/110"),)),
    ]


class Population:
    """The simulator's patients, indexed by SSIN and by mutuality registration number."""

    def __init__(self, patients: Iterable[SimPatient]) -> None:
        self._by_ssin: dict[str, SimPatient] = {}
        for patient in patients:
            self.add(patient)

    def add(self, patient: SimPatient) -> None:
        Ssin.parse(patient.ssin, field="population.ssin")  # a faithful twin only holds valid numbers
        self._by_ssin[patient.ssin] = patient

    def extend(self, facts: PatientFacts) -> None:
        patient = self._by_ssin.get(facts.ssin)
        if patient is None:
            raise KeyError(f"population extension for unknown patient {facts.ssin}")
        self._by_ssin[facts.ssin] = attrs.evolve(
            patient, situations=patient.situations + tuple(facts.situations),
            facts={**patient.facts, **facts.facts})

    def get(self, ssin: str) -> SimPatient | None:
        return self._by_ssin.get(ssin)

    def by_registration(self, mutuality: str, number: str) -> SimPatient | None:
        for patient in self._by_ssin.values():
            if any(p.mutuality == mutuality and p.registration_number == number for p in patient.periods):
                return patient
        return None

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._by_ssin.values())

    def __len__(self) -> int:
        return len(self._by_ssin)


def build_population(contributions: Iterable[SimPatient | PatientFacts]) -> Population:
    population = Population(base_population())
    facts: list[PatientFacts] = []
    for item in contributions:
        if isinstance(item, SimPatient):
            population.add(item)
        else:
            facts.append(item)
    for item in facts:
        population.extend(item)
    return population
