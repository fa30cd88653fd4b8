"""Insurer side of the DMG consultation in the simulator.

* Route B — ``/GlobalMedicalFileConsultation/v1``: WS-Security, XSD validation (SOA-03006), licence
  (INVALID_LICENSE), CareProvider = authenticated NIHII (SOA-01002), then the KMEHR business checks of
  ``dmg.md`` §4 answered in ``acknowledge``: 130 transaction not ``gmd``, 155 author/routing
  inconsistent with the envelope, 111/112 SSIN format/check digit, 140 profession refused (switch),
  100 missing date, 146 future date, 145 more than two years back, 120 unknown or not affiliated.
* Route A — the ``globalMedicalFile`` facet of MemberData, answered by the core's MemberData simulator
  through the facet this module yields (``mycarenet_dental_simulator_facets``); ``UNAUTHORIZED_FACET`` per profession.

Who holds the DMG is this plugin's fact about the simulator's patients: it adds it to the shared population
through ``mycarenet_dental_simulator_population`` (``PatientFacts.facts["dmg_holder"]``, with its period).

Switches (``state.switches.extra``), e.g. set by tests or ``[simulator]`` configuration:
``dmg.gmf_refused_qualities`` — qualities answered with 140 on route B (default: none);
``dmg.facet_unauthorized_qualities`` — qualities answered ``UNAUTHORIZED_FACET`` on route A
(default: none). # UNSURE: dmg.md §1/§7 — whether the real services accept a dentist on either route is
not documented; the protocol (Annex 5) grants dentists the right, so both default to "accepted".
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from mycarenet_dental.sim.hookspec import hookimpl as sim_hookimpl
from mycarenet_dental.sim.registrations import DemoStep, SimulatorRoute
from mycarenet_dental.timeutil import belgian_date

from .model import DmgHolder

if TYPE_CHECKING:  # pragma: no cover
    from mycarenet_dental.context import Context
    from mycarenet_dental.sim.app import SimRequest, SimResponse
    from mycarenet_dental.sim.population import CareHolder, SimPatient

DMG_HOLDER = "dmg_holder"  # the key of a patient's DMG holder in the population facts
SWITCH_GMF_REFUSED = "dmg.gmf_refused_qualities"
SWITCH_FACET_UNAUTHORIZED = "dmg.facet_unauthorized_qualities"
MAX_YEARS_BACK = 2


def _qualities(request_state: Any, key: str) -> set[str]:
    value = request_state.switches.extra.get(key) or ()
    return {str(v) for v in ([value] if isinstance(value, str) else value)}


def holder_on(patient: SimPatient, day: date) -> DmgHolder | None:
    """The DMG holder of ``patient`` on ``day`` (None: nobody, or the holder's period does not cover it)."""
    care: CareHolder | None = patient.facts.get(DMG_HOLDER)
    if care is None:
        return None
    if care.start is not None and day < care.start:
        return None
    if care.end is not None and day > care.end:
        return None
    return DmgHolder(nihii=care.nihii, name=care.name, first_name=care.first_name, start=care.start,
                     end=care.end, kind="medicalhouse" if care.kind == "medicalhouse" else "physician")


def two_years_back(today: date) -> date:
    """``today`` minus two years (29 February falls back to the 28th)."""
    try:
        return today.replace(year=today.year - MAX_YEARS_BACK)
    except ValueError:
        return today.replace(year=today.year - MAX_YEARS_BACK, day=28)


def handle_gmf(request: SimRequest) -> SimResponse:
    """``ConsultGlobalMedicalFile``: validate like eHealth and the insurer, then answer the holder."""
    from mycarenet_dental.errors import MalformedResponseError
    from mycarenet_dental.protocols import commons, kmehr
    from mycarenet_dental.sim import commons as commons_sim
    from mycarenet_dental.sim import schemas
    from mycarenet_dental.xmlsafe import parse_xml

    from . import gmf_route
    from .model import SERVICE

    parsed = commons_sim.accept_request(request, commons.GMF, root=gmf_route.REQUEST_ROOT, schema="gmf",
                                    service=SERVICE, operation="ConsultGlobalMedicalFile")
    caller = request.caller
    provider = parsed.common_input.origin.care_provider
    assert provider is not None  # accept_request refused a request without one
    try:
        blob = parse_xml(parsed.blob.content, what="GMF request blob")
    except MalformedResponseError as exc:
        return request.fault("SOA-03006", f"the Detail blob is not XML: {exc.messages.en}")
    blob_errors = schemas.validate("kmehr-messageservices", blob)
    if blob_errors:
        return request.fault("SOA-03006", "the KMEHR blob is not XSD conformant: " + blob_errors[0])
    try:
        kreq = kmehr.parse_request(blob)
    except kmehr.KmehrRequestError as exc:
        return request.fault("SOA-03007", f"KMEHR {exc.code}: {exc.description} at {exc.url}")

    now = request.state.now()
    today = belgian_date(now)  # the insurers' day: "today", "future", "two years back"
    patient, code, text, url = _check(request, kreq, parsed, caller, provider.nihii, provider.quality, today)
    insurer = "100"
    holder = None
    kpatient = None
    if patient is not None:
        begin = kreq.transaction.begindate or today
        periods = patient.periods_on(begin)
        insurer = periods[0].mutuality if periods else insurer
        holder = holder_on(patient, begin)
        kpatient = kmehr.KmehrPatient(ssin=patient.ssin, firstnames=(patient.first_name,),
                                      familyname=patient.last_name, birthdate=patient.birth_date,
                                      sex="male" if patient.sex.upper().startswith("M") else "female")
    ack = [kmehr.AckError.of(code, text, url)] if code else []
    answer = gmf_route.kmehr_answer(kreq, now=_naive(now), insurer=insurer, errors=ack, patient=kpatient,
                                  holder=holder)
    request.state.count("dmg:gmf")
    # UNSURE: the real GMF consultation signs its answer only sometimes (FH verifies XadesT when present); the
    # simulator always signs with MyCareNet's key so that the client's verification runs (answers.py).
    return request.soap_response(gmf_route.consult_response(request=parsed, kmehr_element=answer, now=now,
                                                          signer=request.state.trust.answer_signer()))


def _naive(now: datetime) -> datetime:
    """The insurer's wall clock: KMEHR date/time are Belgian local time, without zone."""
    from mycarenet_dental.timeutil import belgian_wall_clock

    return belgian_wall_clock(now)


def _check(request: SimRequest, kreq: Any, parsed: Any, caller: Any, nihii: str, quality: str | None,
           today: date) -> tuple[SimPatient | None, str | None, str, str | None]:
    """The insurer's business checks in the order of ``dmg.md`` §3; (patient, code, text, XPath)."""
    from mycarenet_dental.errors import InvalidIdentifierError
    from mycarenet_dental.identifiers import Ssin
    from mycarenet_dental.protocols import kmehr

    tx = kreq.transaction
    if not kmehr.request_id_consistent(kreq.header.id, parsed.common_input.input_reference):
        return None, "155", "the request id is inconsistent: its suffix is not CommonInput/InputReference", \
            kmehr.REQUEST_ID_XPATH
    if tx.kind != "gmd" or tx.cd.s != "CD-TRANSACTION-MYCARENET":
        return None, "130", f"transaction {tx.kind!r} is not allowed here (gmd expected)", \
            kmehr.TRANSACTION_XPATH + "/cd"
    author_nihii = next((p.nihii for p in kreq.header.author if p.nihii), None)
    if author_nihii is None or author_nihii.zfill(11) != nihii.zfill(11):
        return None, "155", "the KMEHR author is not the CareProvider of the envelope", \
            kmehr.REQUEST_ROOT + "/request/author/hcparty/id"
    refused = _qualities(request.state, SWITCH_GMF_REFUSED)
    if (caller.quality in refused) or (quality in refused):
        return None, "140", f"a care provider of quality {quality or caller.quality!r} is not authorised for " \
            "this request type", kmehr.REQUEST_ROOT + "/request/author/hcparty/cd"
    selector = kreq.patient
    if selector is None or not selector.ssin:
        return None, "100", "the patient SSIN is missing", kmehr.PATIENT_XPATH + "/id"
    try:
        Ssin.parse(selector.ssin, field="ssin")
    except InvalidIdentifierError as exc:
        code = "112" if "check" in exc.reason else "111"
        return None, code, f"invalid SSIN: {exc.reason}", kmehr.PATIENT_XPATH + "/id"
    routing = parsed.routing
    if routing is not None and routing.ssin and routing.ssin != selector.ssin:
        return None, "158", "the SSIN of the routing and of the KMEHR patient differ", kmehr.PATIENT_XPATH + "/id"
    begin = tx.begindate
    if begin is None:
        return None, "100", "the date (begindate) is missing", kmehr.TRANSACTION_XPATH + "/begindate"
    if begin > today:
        return None, "146", f"{begin} is in the future", kmehr.TRANSACTION_XPATH + "/begindate"
    if begin < two_years_back(today):
        return None, "145", f"{begin} is more than {MAX_YEARS_BACK} years back", \
            kmehr.TRANSACTION_XPATH + "/begindate"
    patient = request.state.population.get(selector.ssin)
    if patient is None or not patient.periods_on(begin):
        return None, "120", "the SSIN is unknown, or the patient is not affiliated on that date", \
            kmehr.PATIENT_XPATH + "/id"
    return patient, None, "", None


# -- route A: the MemberData facet --------------------------------------------------------------------------


def facet_unauthorized(state: Any, quality: str | None) -> bool:
    """Whether the simulated insurers refuse the globalMedicalFile facet to this quality (switch)."""
    return quality is not None and quality in _qualities(state, SWITCH_FACET_UNAUTHORIZED)




def build_facet(request: Any) -> Any:
    """MemberData facet builder: the holder's assertion, none when nobody holds the DMG."""
    from mycarenet_dental.sim import memberdata as md_sim

    from .memberdata_route import ATTR_FIRST_NAME, ATTR_NAME, ATTR_NIHII
    from .model import FACET

    quality = getattr(request.caller, "quality", None)
    if facet_unauthorized(request.state, quality):
        raise md_sim.QueryRejected("UNAUTHORIZED_FACET", location=f'*:AttributeQuery/*:Extensions/*:Facet[@id="{FACET}"]',
                               message=f"Access rights are insufficient for a requested facet ({quality})")
    query = request.query
    holder = holder_on(request.patient, query.end) or holder_on(request.patient, query.start)
    request.state.count("dmg:facet")
    if holder is None:
        return md_sim.FacetAnswer()
    attributes = [md_sim.AttributeSpec(ATTR_NIHII, holder.nihii), md_sim.AttributeSpec(ATTR_NAME, holder.name)]
    if holder.first_name:
        attributes.append(md_sim.AttributeSpec(ATTR_FIRST_NAME, holder.first_name))
    return md_sim.FacetAnswer(assertions=(md_sim.AssertionSpec(FACET, attributes, start=holder.start, end=holder.end),))


# -- simulator hooks (entry-point group ``mycarenet_dental.simulator``) -----------------------------

def dmg_holders() -> Iterator[Any]:
    """Who holds the DMG of the simulator's patients: a GP for three of them, the medical house for its member,
    nobody for the others (the child, the unknown, the deceased...)."""
    from mycarenet_dental.sim.population import MEDICAL_HOUSE, CareHolder, PatientFacts, make_nihii, make_ssin

    gp = CareHolder(nihii=make_nihii("100234", "004"), name="Peeters", first_name="Anna", start=date(2020, 1, 1))
    for birth, serial, holder, situation in (
            (date(1985, 7, 30), 33, gp, "DMG held by a GP"),
            (date(1956, 3, 12), 124, gp, "DMG held by a GP"),
            (date(1995, 1, 23), 7, gp, "DMG held by a GP"),
            (date(1969, 12, 1), 171, MEDICAL_HOUSE, "DMG held by the medical house")):
        yield PatientFacts(make_ssin(birth, serial), situations=(situation,), facts={DMG_HOLDER: holder})


@sim_hookimpl
def mycarenet_dental_simulator_population() -> Iterator[Any]:
    yield from dmg_holders()


@sim_hookimpl
def mycarenet_dental_simulator_routes() -> Iterator[SimulatorRoute]:
    # Route A (MemberData) is served by the core's MemberData host, which answers the facet below.
    from .plugin import GMF_ACTION, GMF_PATH

    yield SimulatorRoute(path=GMF_PATH, handler=handle_gmf, soap_actions=(GMF_ACTION,),
                         name="GlobalMedicalFileConsultation (DMG, route B)")


@sim_hookimpl
def mycarenet_dental_simulator_facets() -> Iterator[Any]:
    from mycarenet_dental.sim.memberdata import FacetHandler

    from .model import FACET, SERVICE

    # service="dmg": a mandatary's request is checked against dmg mandates, which cannot exist (R21).
    yield FacetHandler(facet_id=FACET, build=build_facet, service=SERVICE)


def _demo(context: Context, demo: Any) -> None:
    from .client import consult_dmg

    demo.echo("   the dentist asks (explicit request) who holds the DMG, to send the examination report to the "
              "treating physician (art. 74); the patient agrees")
    result = consult_dmg(context, context.contact(demo.contact_id), consent=True)
    if result.holder is None:
        demo.echo(f"   no DMG holder for {demo.patient}: the report goes to the patient")
    else:
        h = result.holder
        demo.echo(f"   DMG held by {h.display_name} (NIHII {h.nihii}, {h.kind.value}) — the examination report "
                  f"goes there (art. 74), patient agreement recorded; route {result.route.value}")


@sim_hookimpl
def mycarenet_dental_demo_steps() -> Iterator[DemoStep]:
    yield DemoStep(name="DMG holder for the report to the treating physician", run=_demo, order=45)
