"""Insurer side of the insurability service for the simulator.

* the ``urn:be:cin:nippin:insurability`` facet of the simulated MemberData (yielded by
  ``mycarenet_dental_simulator_facets``): patientData, one ``period`` assertion per coverage slice (max 5, then
  ONLY_FIVE_PERIODS_RETURNED), payment, generalSituation (closedBefore / startLater / changeDuring),
  hospitalisation (contactType=hospitalized, else MISMATCHED_CONTACTTYPE), medicalHouse;
* the population the issue needs beyond the core's ``base_population()`` (dates relative to today);
* GenericInsurability (``/GenericInsurability/v1``) rendered from the same patients (:mod:`.genins_sim`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date, timedelta

from mycarenet_dental.protocols import memberdata as md
from mycarenet_dental.sim import memberdata as md_sim
from mycarenet_dental.sim.hookspec import hookimpl as sim_hookimpl
from mycarenet_dental.sim.population import (
    CareHolder,
    InsurabilityPeriod,
    PatientFacts,
    SimPatient,
    make_nihii,
    make_ssin,
)
from mycarenet_dental.sim.registrations import DemoStep, SimulatorRoute

NS = "urn:be:cin:nippin:"
MAX_PERIODS = 5
DEFAULT_HOSPITAL = make_nihii("710123", "000")
HOSPITAL_SERVICE = "450"


def _gender(sex: str) -> str:
    return "male" if sex.upper().startswith("M") else "female"


def covering(patient: SimPatient, start: date, end: date) -> list[InsurabilityPeriod]:
    return sorted((p for p in patient.periods if p.start <= end and (p.end is None or p.end >= start)),
                  key=lambda p: p.start)


def payment_approval(patient: SimPatient, period: InsurabilityPeriod, day: date) -> str:
    """An opaque 32-hex approval, stable for (patient, period, day) like the real one looks."""
    return hashlib.sha256(f"{patient.ssin}|{period.mutuality}|{period.start}|{day}".encode()).hexdigest()[:32].upper()


def general_situation(patient: SimPatient, start: date, end: date) -> tuple[str, date] | None:
    """(event, transfer date) when coverage does not simply span the requested window."""
    slices = covering(patient, start, end)
    if not slices:
        before = [p for p in patient.periods if p.end is not None and p.end < start]
        if before:
            last = max(before, key=lambda p: p.end or date.min)
            assert last.end is not None
            return ("closedBefore", last.end + timedelta(days=1))
        after = [p for p in patient.periods if p.start > end]
        if after:
            return ("startLater", min(p.start for p in after))
        return None
    if len({p.mutuality[0] for p in slices}) > 1:
        change = slices[-1].start
        return ("changeDuring", change)
    return None


def build_insurability(req: md_sim.FacetRequest) -> md_sim.FacetAnswer:
    """The insurability facet of one patient for the requested window."""
    patient, query, facet = req.patient, req.query, req.facet
    request_type = facet.dimension("requestType") or "information"
    contact_type = facet.dimension("contactType") or "other"
    if contact_type == "hospitalized" and patient.hospitalised_since is None:
        raise md_sim.QueryRejected("MISMATCHED_CONTACTTYPE", io=req.io)
    S, D, B = "xs:string", "xs:date", "xs:boolean"
    out: list[md_sim.AssertionSpec] = []
    warnings: list[md.FaultDetail] = []
    attrs_ = [md_sim.AttributeSpec(NS + "careReceiver:name", patient.last_name, S),
              md_sim.AttributeSpec(NS + "careReceiver:firstName", patient.first_name, S),
              md_sim.AttributeSpec(NS + "careReceiver:birthDate", patient.birth_date.isoformat(), D),
              md_sim.AttributeSpec(NS + "careReceiver:gender", _gender(patient.sex), S),
              md_sim.AttributeSpec("urn:be:fgov:person:ssin", patient.ssin, S)]
    if patient.deceased is not None:
        attrs_.append(md_sim.AttributeSpec(NS + "careReceiver:deceasedDate", patient.deceased.isoformat(), D))
    out.append(md_sim.AssertionSpec(NS + "insurability:patientData", attrs_))
    slices = covering(patient, query.start, query.end)
    if len(slices) > MAX_PERIODS:
        slices = slices[-MAX_PERIODS:]
        warnings.append(md_sim.warning("ONLY_FIVE_PERIODS_RETURNED", io=req.io))
    communication = req.now.date()
    for p in slices:
        pattrs = [md_sim.AttributeSpec(NS + "careReceiver:registrationNumber", p.registration_number, S),
                  md_sim.AttributeSpec(NS + "careReceiver:mutuality", p.mutuality, S),
                  md_sim.AttributeSpec(NS + "cb1", p.ct1, S), md_sim.AttributeSpec(NS + "cb2", p.ct2, S),
                  md_sim.AttributeSpec(NS + "communicationDate", communication.isoformat(), D)]
        if request_type == "invoicing":
            pattrs.append(md_sim.AttributeSpec(NS + "paymentApproval", p.payment_approval or
                                           payment_approval(patient, p, query.end), S))
        out.append(md_sim.AssertionSpec(NS + "insurability:period", pattrs, start=p.start, end=p.end))
    partial = patient.facts.get("memberdata.partial")
    reference = slices[-1] if slices else max(patient.periods, key=lambda p: p.start, default=None)
    if partial:
        warnings.append(md_sim.warning("MISSING_FACETS", message=str(partial)))
    elif reference is not None:
        out.append(md_sim.AssertionSpec(NS + "insurability:payment", [
            md_sim.AttributeSpec(NS + "payment:byIO", "true" if reference.third_party_payment else "false", B)]))
    situation = general_situation(patient, query.start, query.end)
    if situation is not None:
        event, transfer = situation
        out.append(md_sim.AssertionSpec(NS + "insurability:generalSituation", [
            md_sim.AttributeSpec(NS + "generalSituation:event", event, S),
            md_sim.AttributeSpec(NS + "generalSituation:transfer:date", transfer.isoformat(), D)]))
    if contact_type == "hospitalized" and patient.hospitalised_since is not None:
        out.append(md_sim.AssertionSpec(NS + "hospitalisation", [
            md_sim.AttributeSpec(NS + "hospitalisation:hospital:nihii11",
                             str(patient.facts.get("hospital_nihii", DEFAULT_HOSPITAL)), S),
            md_sim.AttributeSpec(NS + "hospitalisation:service", str(patient.facts.get("hospital_service",
                                                                                   HOSPITAL_SERVICE)), S),
            md_sim.AttributeSpec(NS + "hospitalisation:admissionDate", patient.hospitalised_since.isoformat(), D)]))
    house = patient.medical_house
    if house is not None and (house.start is None or house.start <= query.end) and (
            house.end is None or house.end >= query.start):
        kinds = patient.facts.get("medical_house_kinds", ("Medical", "Kine", "Nurse"))
        hattrs = [md_sim.AttributeSpec(NS + "medicalHouse:type", k, S) for k in kinds]
        if house.start:
            hattrs.append(md_sim.AttributeSpec(NS + "medicalHouse:start", house.start.isoformat(), D))
        hattrs.append(md_sim.AttributeSpec(NS + "medicalHouse:nihii11", house.nihii, S))
        out.append(md_sim.AssertionSpec(NS + "medicalHouse", hattrs))
    return md_sim.FacetAnswer(assertions=out, warnings=warnings)


INSURABILITY_FACET = md_sim.FacetHandler(
    facet_id=md.FACET_INSURABILITY,
    build=build_insurability,
    dimensions=(
        md_sim.DimensionSpec("requestType", allowed=("information", "invoicing"), empty_code="EMPTY_REQUESTTYPE",
                         unallowed_code="UNALLOWED_REQUESTTYPE"),
        md_sim.DimensionSpec("contactType", allowed=("other", "hospitalized"), empty_code="EMPTY_CONTACTTYPE",
                         unallowed_code="UNALLOWED_CONTACTTYPE"),
    ),
    service="assurability",
)



def build_palliative(req: md_sim.FacetRequest) -> md_sim.FacetAnswer:
    """``palliativeStatus``: an assertion only for a palliative patient; none (and no error) otherwise."""
    since = req.patient.facts.get("palliative_since")
    if not since:
        return md_sim.FacetAnswer()
    return md_sim.FacetAnswer(assertions=(md_sim.AssertionSpec(NS + "palliativeStatus", (
        md_sim.AttributeSpec(NS + "palliativeStatus:startDate", str(since), "xs:date"),)),))


def build_chronic(req: md_sim.FacetRequest) -> md_sim.FacetAnswer:
    """``chronicCondition``: the years the status was granted (none: no assertion)."""
    years = req.patient.facts.get("chronic_condition_years", ())
    if not years:
        return md_sim.FacetAnswer()
    return md_sim.FacetAnswer(assertions=(md_sim.AssertionSpec(NS + "chronicCondition", tuple(
        md_sim.AttributeSpec(NS + "chronicCondition:year", str(y)) for y in years)),))


# UNSURE (insurability.md §5): whether a dentist may ask these facets; the simulator answers them (as the
# real service does for the professions that may), the client of this plugin never asks them.
def facets() -> list[md_sim.FacetHandler]:
    """The facets this plugin answers in the simulated MemberData."""
    return [INSURABILITY_FACET, md_sim.FacetHandler(md.FACET_PALLIATIVE, build=build_palliative),
            md_sim.FacetHandler(md.FACET_CHRONIC, build=build_chronic)]


# -- population ---------------------------------------------------------------------------------------


def _p(mut: str, reg: str, ct: str, start: date, end: date | None = None, tpp: bool = True) -> InsurabilityPeriod:
    ct1, ct2 = ct.split("/")
    return InsurabilityPeriod(mutuality=mut, registration_number=reg, ct1=ct1, ct2=ct2, start=start, end=end,
                              third_party_payment=tpp)


def population(today: date | None = None) -> list[SimPatient | PatientFacts]:
    """Patients for the insurability cases the core population lacks (dates relative to ``today``)."""
    t = today or date.today()
    long_ago = date(t.year - 4, 1, 1)
    people: list[SimPatient | PatientFacts] = [
        SimPatient(make_ssin(date(1962, 8, 14), 202), "Hilde", "Wouters", date(1962, 8, 14), "F",
                   ("BIM", "CT 111/111", "third-party payment"), (_p("131", "1310456", "111/111", long_ago),)),
        SimPatient(make_ssin(date(1971, 4, 3), 64), "Sofie", "Jacobs", date(1971, 4, 3), "F",
                   ("two periods with a CT change", "110/110 then 120/120 (same insurer)"),
                   (_p("319", "3190777", "110/110", long_ago, t - timedelta(days=61)),
                    _p("319", "3190777", "120/120", t - timedelta(days=60)))),
        SimPatient(make_ssin(date(1983, 10, 22), 155), "Pieter", "Goossens", date(1983, 10, 22), "M",
                   ("more than five periods", "seven monthly CT changes: truncated to five"),
                   tuple(_p("501", "5012345", ct, t - timedelta(days=30 * (7 - i)),
                            t - timedelta(days=30 * (6 - i) + 1) if i < 6 else None)
                         for i, ct in enumerate(("110/110", "120/120", "110/110", "121/121", "110/110",
                                                 "120/120", "110/110")))),
        SimPatient(make_ssin(date(1959, 2, 9), 42), "Nathalie", "Dupont", date(1959, 2, 9), "F",
                   ("coverage closed before the period (closedBefore)",),
                   (_p("306", "3065151", "110/110", long_ago, t - timedelta(days=90)),)),
        SimPatient(make_ssin(date(1999, 12, 30), 97), "Yusuf", "Demir", date(1999, 12, 30), "M",
                   ("coverage starting later (startLater)",),
                   (_p("600", "6004242", "110/110", t + timedelta(days=20)),)),
        SimPatient(make_ssin(date(1987, 6, 5), 118), "Laura", "Martin", date(1987, 6, 5), "F",
                   ("change of insurer during the period (MUTATION)", "Neutral 203 until 10 days ago, then 509"),
                   (_p("203", "2038080", "110/110", long_ago, t - timedelta(days=11)),
                    _p("509", "5098080", "110/110", t - timedelta(days=10)))),
        SimPatient(make_ssin(date(1966, 1, 17), 33), "Marc", "Lejeune", date(1966, 1, 17), "M",
                   ("Liberal mutuality member (union 400)", "no third-party payment"),
                   (_p("403", "4031717", "110/110", long_ago, tpp=False),)),
        SimPatient(make_ssin(date(1975, 9, 28), 176), "Ines", "Peeters", date(1975, 9, 28), "F",
                   ("Neutral mutuality member (union 200)",), (_p("216", "2162828", "110/110", long_ago),)),
        SimPatient(make_ssin(date(1993, 3, 11), 55), "Kevin", "Vandenberghe", date(1993, 3, 11), "M",
                   ("partial answer", "payment data unavailable at the insurer (MISSING_FACETS)"),
                   (_p("116", "1163131", "110/110", long_ago),),
                   facts={"memberdata.partial": "payment facet temporarily unavailable at the insurer"}),
        SimPatient(make_ssin(date(1980, 7, 7), 13), "Olivier", "Renard", date(1980, 7, 7), "M",
                   ("insurer back-office failure (BO_EXCEPTION)",), (_p("304", "3047070", "110/110", long_ago),),
                   facts={"memberdata.bo_exception": "back office maintenance"}),
    ]
    return people


def union_members() -> dict[str, str]:
    """One SSIN per union 100–600/900 (for tests and the demo)."""
    from mycarenet_dental.sim.population import base_population

    out: dict[str, str] = {}
    everyone = [p for p in base_population() + population() if isinstance(p, SimPatient)]
    for patient in everyone:
        for period in patient.periods:
            union = period.mutuality[0] + "00"
            if len(patient.periods) == 1 and period.end is None and union not in out:
                out[union] = patient.ssin
    return dict(sorted(out.items()))


# -- simulator hooks (entry-point group ``mycarenet_dental.simulator``) -----------------------------


@sim_hookimpl
def mycarenet_dental_simulator_facets() -> Iterator[md_sim.FacetHandler]:
    yield from facets()


@sim_hookimpl
def mycarenet_dental_simulator_routes() -> Iterator[SimulatorRoute]:
    from .genins_sim import genins_routes

    yield from genins_routes()


@sim_hookimpl
def mycarenet_dental_simulator_population() -> Iterator[SimPatient | PatientFacts]:
    yield from population()


@sim_hookimpl
def mycarenet_dental_demo_steps() -> Iterator[DemoStep]:
    from .cli import demo_step

    yield DemoStep(name="insurability", run=demo_step, order=20)


__all__ = ["INSURABILITY_FACET", "CareHolder", "build_insurability", "population", "union_members"]
