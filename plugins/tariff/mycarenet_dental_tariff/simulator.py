"""Insurer side of MyCareNet Tarification v1 for the simulator (``tariff.md`` §6).

Order of checks, as the real service layers them: WS-Security (SOA-01001/01002), commons schema
(SOA-03006), package licence (INVALID_LICENSE), CareProvider = authenticated NIHII (SOA-01002), the
KMEHR blob schema (SOA-03006); then the business validation answered *inside* a normal response
(``acknowledge/iscomplete=false`` + ``error`` code, description, XPath into the request): 100, 111,
112, 120–122, 130, 140, 146, 155, 156, 166, 169, 170, 171, 175. A valid request is priced per claim
by :mod:`engine` (mixed priced / refused lines) with payment commitment numbers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from mycarenet_dental.ehealth import xades
from mycarenet_dental.errors import InvalidIdentifierError
from mycarenet_dental.identifiers import Ssin, Tooth
from mycarenet_dental.protocols import commons, kmehr
from mycarenet_dental.sim import commons as commons_sim
from mycarenet_dental.sim import schemas
from mycarenet_dental.sim.app import SimRequest, SimResponse
from mycarenet_dental.sim.hookspec import hookimpl as sim_hookimpl
from mycarenet_dental.sim.population import InsurabilityPeriod, SimPatient
from mycarenet_dental.sim.registrations import DemoStep, SimulatorRoute
from mycarenet_dental.timeutil import belgian_date, belgian_wall_clock

from . import catalogue, engine
from .client import NS_TARIFICATION, RESPONSE_ROOT, SOAP_ACTION, months_back

PATH = "/MyCareNet/Tarification/v1"
#: Justification values a dentist may send (echoed). UNSURE: 7 (G notion) is a GP case.
ACCEPTED_JUSTIFICATIONS = ("2", "7")
_T = kmehr.TRANSACTION_XPATH


class _Errors:
    def __init__(self) -> None:
        self.items: list[kmehr.AckError] = []

    def add(self, code: str, url: str, detail: str = "") -> None:
        text = catalogue.error_messages(code).en + (f" ({detail})" if detail else "")
        self.items.append(kmehr.AckError.of(code, text, url))

    def __bool__(self) -> bool:
        return bool(self.items)


def handle(request: SimRequest) -> SimResponse:
    send = commons_sim.accept_request(request, commons.V2, root=f"{{{NS_TARIFICATION}}}TarificationConsultationRequest",
                                  schema="tarification", service="tariff", operation="TarificationConsultation")
    cp = send.common_input.origin.care_provider
    assert cp is not None  # accept_request refused a request without one
    from mycarenet_dental.xmlsafe import parse_xml

    blob_el = parse_xml(send.blob.content, what="tariff request blob")
    invalid = schemas.validate("kmehr-messageservices", blob_el)
    if invalid:
        return request.fault("SOA-03006", "the KMEHR blob is not XSD conformant: " + invalid[0])
    now = request.state.now()
    try:
        kreq = kmehr.parse_request(blob_el)
    except kmehr.KmehrRequestError as exc:
        answer = _answer(request, None, None, now, errors=[kmehr.AckError.of(exc.code, exc.description, exc.url)])
        return _reply(request, send, answer, now)
    answer = _process(request, send, kreq, now)
    return _reply(request, send, answer, now)


def _reply(request: SimRequest, send: commons.SendRequest, answer: kmehr.RetrieveTransactionResponse,
           now: dt.datetime) -> SimResponse:
    blob = commons.make_blob(kmehr.to_bytes(kmehr.build_response(answer)), id="blob", with_hash=True)
    out = commons.CommonOutput(input_reference=send.common_input.input_reference,
                               nip_reference=commons.new_output_reference())
    # UNSURE: the real service sends no XadesT (FH neededxadeslevel=none); the simulator signs its answers with
    # MyCareNet's key so that the client's verification runs in the simulator profile (answers.py).
    signature = xades.sign_blob(blob.content, key=request.state.trust.answer_signer(), blob_id=blob.id or "blob",
                                content_type=blob.content_type, now=now)
    element = commons.build_response(commons.V2, RESPONSE_ROOT, common_output=out, blob=blob,
                                     in_response_to=send.id, issue_instant=now, xades_t=signature)
    return request.soap_response(element)


def _header(kreq: kmehr.RetrieveTransactionRequest | None, now: dt.datetime) -> kmehr.RequestHeader:
    if kreq is not None:
        return kreq.header
    # the request could not be read: echo an empty shell (UNSURE what the real service echoes)
    return kmehr.RequestHeader(id="unknown", author=[kmehr.HcParty.person(kind="persdentist", nihii="00000000000")],
                               date=belgian_wall_clock(now).date(), time=belgian_wall_clock(now).time())


def _answer(request: SimRequest, kreq: kmehr.RetrieveTransactionRequest | None, insurer: str | None,
            now: dt.datetime, *, errors: list[kmehr.AckError] | None = None, patient: kmehr.KmehrPatient | None = None,
            transactions: list[kmehr.Transaction] | None = None) -> kmehr.RetrieveTransactionResponse:
    number = request.state.count("tariff:responses")
    code = insurer or "000"  # UNSURE: author of an answer given before the insurer is known
    now = belgian_wall_clock(now)  # KMEHR date/time: the insurer's (Belgian) wall clock
    return kmehr.RetrieveTransactionResponse(
        id=f"{code}.{now:%Y%m%d%H%M%S}{number:06d}", author=[kmehr.HcParty.insurer(code)], date=now.date(),
        time=now.time(), request=_header(kreq, now), complete=not errors, errors=errors or [], patient=patient,
        transactions=transactions or [], protocol_version=kreq.protocol_version if kreq else None)


def _nihii(parties: tuple[kmehr.HcParty, ...]) -> str | None:
    return next((p.nihii for p in parties if p.nihii), None)


def _find_patient(request: SimRequest, kreq: kmehr.RetrieveTransactionRequest, routing: commons.Routing | None,
                  errors: _Errors) -> SimPatient | None:
    sel = kreq.patient
    population = request.state.population
    if sel is None:
        errors.add("100", kmehr.PATIENT_XPATH)
        return None
    if routing is not None:
        if routing.ssin and sel.ssin and routing.ssin != sel.ssin:
            errors.add("155", kmehr.PATIENT_XPATH + "/id", "Routing/CareReceiver/Ssin differs from the KMEHR patient")
        if routing.mutuality and sel.insurer and routing.mutuality != sel.insurer:
            errors.add("155", kmehr.PATIENT_XPATH + "/insurancymembership/id",
                       "Routing/CareReceiver/Mutuality differs from the KMEHR patient")
    if sel.ssin:
        try:
            Ssin.parse(sel.ssin)
        except InvalidIdentifierError:
            errors.add("112", kmehr.PATIENT_XPATH + "/id")
            return None
        patient = population.get(sel.ssin)
        if patient is None:
            errors.add("120", kmehr.PATIENT_XPATH + "/id")
        return patient
    assert sel.insurer and sel.membership
    if not any(p.mutuality == sel.insurer for pat in population for p in pat.periods):
        errors.add("121", kmehr.PATIENT_XPATH + "/insurancymembership/id")
        return None
    patient = population.by_registration(sel.insurer, sel.membership)
    if patient is None:
        errors.add("122", kmehr.PATIENT_XPATH + "/insurancymembership/membership")
    return patient


def _process(request: SimRequest, send: commons.SendRequest, kreq: kmehr.RetrieveTransactionRequest,
             now: dt.datetime) -> kmehr.RetrieveTransactionResponse:
    """Answer one tariff request: the insurer's checks, then the price of each line.

    Long because: the insurer's checks of a tariff request in the order of tariff.md, then the pricing of each
    line; the order decides which KMEHR error the care provider gets and is easiest to check read straight
    through.
    """
    errors = _Errors()
    today = belgian_date(now)
    tx = kreq.transaction
    table = engine.default_table()
    cp = send.common_input.origin.care_provider
    assert cp is not None
    if tx.kind != "tariff" or tx.cd.s != "CD-TRANSACTION-MYCARENET":
        errors.add("130", _T + "/cd", f"transaction {tx.cd.value!r}")
    # quality consistent with the NIHII (3 = dentist). UNSURE: code 140 for a wrong quality.
    if cp.nihii.zfill(11)[0] == "3" and (cp.quality or "") != "dentist":
        errors.add("140", "/RetrieveTransactionRequest/request/author", f"quality {cp.quality!r}")
    if not kmehr.request_id_consistent(kreq.header.id, send.common_input.input_reference):
        errors.add("155", kmehr.REQUEST_ID_XPATH, "the request id suffix is not CommonInput/InputReference")
    author = _nihii(kreq.header.author)
    if author is None or author.zfill(11) != cp.nihii.zfill(11):
        errors.add("155", "/RetrieveTransactionRequest/request/author/hcparty[1]/id[1]",
                   "the KMEHR author is not the CareProvider of the envelope")
    if tx.author and (_nihii(tx.author) or "").zfill(11) != (author or "").zfill(11):
        errors.add("156", _T + "/author/hcparty[1]/id[1]")
    patient = _find_patient(request, kreq, send.routing, errors)
    encounter = tx.items_of("encounterdatetime")
    day: dt.date | None = None
    if not encounter or encounter[0].content_date() is None:
        errors.add("100", _T + "/item", "encounterdatetime")
    else:
        day = encounter[0].content_date()
        url = encounter[0].xpath() + "/content[1]/date"
        assert day is not None
        if day > today:
            errors.add("146", url)
        elif day < months_back(today, 2):
            errors.add("166", url)
        if send.routing is not None and send.routing.reference_date != day:
            errors.add("155", url, "Routing/ReferenceDate differs from encounterdatetime")
    period: InsurabilityPeriod | None = None
    if patient is not None and day is not None and not errors:
        periods = patient.periods_on(day)
        if not periods or (patient.deceased is not None and patient.deceased < day):
            errors.add("120", kmehr.PATIENT_XPATH + "/id", "not affiliated on the date of the service")
        elif patient.facts.get("tariff.not_in_order"):
            errors.add("170", kmehr.PATIENT_XPATH + "/id")
        else:
            period = periods[0]
    claims: list[engine.Claim] = []
    for item in tx.items_of("claim"):
        base = item.xpath()
        code = item.content_code("CD-NIHDI")
        if not code:
            errors.add("100", base + "/content[1]/cd", "claim without a CD-NIHDI code")
            continue
        if len(code) != 6 or not code.isdigit():
            errors.add("111", base + "/content[1]/cd")
            continue
        tooth_text = item.content_code("CD-ISO-3950")
        tooth = None
        if tooth_text is not None:
            try:
                tooth = Tooth.parse(tooth_text).value
            except InvalidIdentifierError:
                errors.add("111", base + "/content[2]/cd", f"tooth {tooth_text!r}")
                continue
        rule = table.get(code)
        if rule is None:
            errors.add("130", base + "/content[1]/cd", f"code {code}")
        elif rule.provider != "dentist":
            errors.add("171", base + "/content[1]/cd", f"code {code}")
        elif not rule.etarif:
            errors.add("175", base + "/content[1]/cd", f"code {code}")
        elif patient is not None and patient.medical_house is not None and rule.medical_house_excluded:
            errors.add("169", base + "/content[1]/cd", f"code {code}")
        claims.append(engine.Claim(code, tooth, item.content_code("CD-NIHDI-RELATEDSERVICE"), item.position))
    if not tx.items_of("claim"):
        errors.add("100", _T + "/item", "no claim item")
    justification = None
    for item in tx.items_of("justification"):
        justification = item.content_code("CD-MYCARENET-JUSTIFICATION")
        if justification not in ACCEPTED_JUSTIFICATIONS:
            errors.add("130", item.xpath() + "/content[1]/cd", f"justification {justification!r}")
    insurer = period.mutuality if period is not None else None
    if errors or patient is None or period is None or day is None:
        return _answer(request, kreq, insurer, now, errors=errors.items or [
            kmehr.AckError.of("120", catalogue.error_messages("120").en, kmehr.PATIENT_XPATH)])
    outcomes = engine.price(table, claims, age=patient.age_on(day), bim=period.is_bim, service_date=day,
                            history=engine.history_from_facts(patient.facts, today))
    commitment = period.third_party_payment and patient.facts.get("tariff.commitment", True)
    transactions = [_transaction(request, o, insurer or "000", day, now, commitment, justification, table.currency)
                    for o in outcomes]
    return _answer(request, kreq, insurer, now, patient=_patient_block(patient, period), transactions=transactions)


def _patient_block(patient: SimPatient, period: InsurabilityPeriod) -> kmehr.KmehrPatient:
    return kmehr.KmehrPatient(
        ssin=patient.ssin, firstnames=(patient.first_name,), familyname=patient.last_name,
        birthdate=patient.birth_date, deathdate=patient.deceased, sex="male" if patient.sex == "M" else "female",
        insurance=kmehr.Insurance(insurer=period.mutuality, membership=period.registration_number,
                                  begindate=period.start, enddate=period.end, cg1=period.ct1, cg2=period.ct2))


# Codes that never change, built once (Code is frozen, so sharing them is safe).
_ITEM_CODES = {kind: kmehr.Code("CD-ITEM-MYCARENET", kind) for kind in (
    "fee", "reimbursement", "patientfee", "supplement", "financialcontract", "refusal")}
_CLAIM_CD = kmehr.Code("CD-ITEM", "claim")
_JUSTIFICATION_CD = kmehr.Code("CD-ITEM", "justification")
_TARIFF_CD = kmehr.Code("CD-TRANSACTION-MYCARENET", "tariff", sv=kmehr.CD_TRANSACTION_MYCARENET_SV)


def _money(kind: str, cents: int, currency: str) -> kmehr.Item:
    return kmehr.Item(cd=_ITEM_CODES.get(kind) or kmehr.Code("CD-ITEM-MYCARENET", kind),
                      cost=kmehr.Cost(f"{cents / 100:.2f}", currency))


def _transaction(request: SimRequest, outcome: engine.Priced | engine.Refused, insurer: str, day: dt.date,
                 now: dt.datetime, commitment: Any, justification: str | None, currency: str) -> kmehr.Transaction:
    claim = outcome.claim
    contents = [kmehr.Content(cds=[kmehr.Code("CD-NIHDI", claim.code)])]
    if claim.tooth is not None:
        contents.append(kmehr.Content(cds=[kmehr.Code("CD-ISO-3950", f"{claim.tooth:02d}")]))
    if claim.related:
        contents.append(kmehr.Content(cds=[kmehr.Code("CD-NIHDI-RELATEDSERVICE", claim.related)]))
    items = [kmehr.Item(cd=_CLAIM_CD, contents=contents)]
    if isinstance(outcome, engine.Priced):
        items += [_money("fee", outcome.fee, currency), _money("reimbursement", outcome.reimbursement, currency),
                  _money("patientfee", outcome.patient_share, currency)]
        if outcome.supplement:
            items.append(_money("supplement", outcome.supplement, currency))
        value = justification or ("3" if commitment else "9")
        if commitment:
            number = request.state.count("tariff:commitments")
            ident = f"{insurer}{day:%Y%m%d}{now:%H%M%S}{number:09d}"
            items.append(kmehr.Item(cd=_ITEM_CODES["financialcontract"],
                                    contents=[kmehr.Content(ids=[kmehr.Code("ID-KMEHR", ident)])]))
        items.append(kmehr.Item(cd=_JUSTIFICATION_CD, contents=[
            kmehr.Content(cds=[kmehr.Code("CD-MYCARENET-JUSTIFICATION", value)])]))
    else:
        # UNSURE: KMEHR rendering of a dental refusal (tariff.md §6): item refusal with the reason and,
        # when known, the earlier service (code + date) that caused it.
        refusal = [kmehr.Content(cds=[kmehr.Code("CD-MYCARENET-REFUSAL", outcome.reason)])]
        if outcome.because_of_code:
            refusal.append(kmehr.Content(cds=[kmehr.Code("CD-NIHDI", outcome.because_of_code)]))
        if outcome.because_of_date:
            refusal.append(kmehr.Content(date=outcome.because_of_date))
        items.append(kmehr.Item(cd=_ITEM_CODES["refusal"], contents=refusal))
    return kmehr.Transaction(cd=_TARIFF_CD,
                             author=[kmehr.HcParty.insurer(insurer)], date=belgian_wall_clock(now).date(),
                             time=belgian_wall_clock(now).time(), items=items)


# -- simulator hooks (entry-point group ``mycarenet_dental.simulator``) -----------------------------


@sim_hookimpl
def mycarenet_dental_simulator_routes() -> Iterator[SimulatorRoute]:
    yield SimulatorRoute(path=PATH, handler=handle, soap_actions=(SOAP_ACTION,), name="MyCareNet Tarification")


@sim_hookimpl
def mycarenet_dental_simulator_population() -> Iterator[Any]:
    from .population import patients

    yield from patients()


def _demo(ctx: Any, demo: Any) -> None:
    from .demo import run_demo_step

    run_demo_step(ctx, demo)


@sim_hookimpl
def mycarenet_dental_demo_steps() -> Iterator[DemoStep]:
    yield DemoStep(name="tariff consultation for the visit", order=30, run=_demo)
