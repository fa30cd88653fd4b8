"""GenericInsurability (legacy eHealth service, ``insurability.md`` §2): request, response, typed result.

Same commons data as MemberData but its own copy of the types (namespace
``urn:be:fgov:ehealth:genericinsurability:core:v1``; no ``Sender``; references limited to 14 characters),
no blob, plain XML answer: ``Status`` + ``CommonOutput`` + ``Response`` (MessageFault or data).
"""

from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import attrs
from lxml import etree
from mycarenet_dental.coded import Sex
from mycarenet_dental.errors import MalformedResponseError
from mycarenet_dental.identifiers import RegistrationNumber, Ssin
from mycarenet_dental.protocols import answers, commons
from mycarenet_dental.timeutil import optional_xs_date

from .model import (
    ContactType,
    CoveragePeriod,
    GeneralSituation,
    Hospitalisation,
    InsurabilityResult,
    MedicalHouse,
    Notice,
    PatientData,
    Payment,
    Period,
    RequestType,
    Source,
    Transfer,
)

if TYPE_CHECKING:  # pragma: no cover
    from mycarenet_dental.context import Context

NS_P = "urn:be:fgov:ehealth:genericinsurability:protocol:v1"
NS_C = "urn:be:fgov:ehealth:genericinsurability:core:v1"
NS_EHP = "urn:be:fgov:ehealth:commons:protocol:v1"
SOAP_ACTION = "urn:be:fgov:ehealth:genericinsurability:protocol:v1:GetInsurability"
SOAP_ACTION_FLAT = "urn:be:fgov:ehealth:genericinsurability:protocol:v1:GetInsurabilityAsFlat"
REQUEST_ROOT = f"{{{NS_P}}}GetInsurabilityRequest"
RESPONSE_ROOT = f"{{{NS_P}}}GetInsurabilityResponse"
FLAT_REQUEST_ROOT = f"{{{NS_P}}}GetInsurabilityAsFlatRequest"
PATH = "/GenericInsurability/v1"
#: GenIns keeps its own copy of the commons types: a flavour for the CommonInput builder/parser.
FLAVOUR = commons.CommonsFlavour("genins", core_ns=NS_C, protocol_ns=NS_P, request_attributes=False,
                                 response_status=True)

CONTACT_TO_GENINS = {ContactType.OTHER: "ambulatory_care", ContactType.HOSPITALIZED: "hospitalized_elsewhere"}
SUCCESS_CODES = ("100", "200")  # UNSURE: which of the two GenIns uses (insurability.md §2.3); both accepted


def _q(name: str, ns: str = NS_C) -> str:
    return f"{{{ns}}}{name}"


def _sub(parent: etree._Element, name: str, text: str | None = None, ns: str = NS_C) -> etree._Element:
    el = etree.SubElement(parent, _q(name, ns))
    if text is not None:
        el.text = text
    return el


def build_request(common_input: commons.CommonInput, *, patient: Ssin | RegistrationNumber, period: Period,
                  request_type: RequestType, contact_type: ContactType, record_reference: str,
                  reference: str | None = None) -> etree._Element:
    """``GetInsurabilityRequest`` (schema ``genins``). No Sender: GenIns has none (mandataries use MDA)."""
    ci = attrs.evolve(common_input, origin=attrs.evolve(common_input.origin, sender_person=None,
                                                        sender_organization=None))
    if ci.input_reference and len(ci.input_reference) > 14:
        ci = attrs.evolve(ci, input_reference=ci.input_reference[:14])
    root = etree.Element(REQUEST_ROOT, nsmap={"gi": NS_P, "gic": NS_C})
    root.append(commons.common_input_xml(FLAVOUR, ci))
    _sub(_sub(root, "RecordCommonInput", ns=NS_P), "InputReference", record_reference)
    req = _sub(root, "Request", ns=NS_P)
    receiver = _sub(req, "CareReceiverId")
    if isinstance(patient, Ssin):
        _sub(receiver, "Inss", patient.value)
    else:
        _sub(receiver, "RegNrWithMut", patient.number)
        _sub(receiver, "Mutuality", str(patient.mutuality))
    detail = _sub(req, "InsurabilityRequestDetail")
    _sub(detail, "InsurabilityRequestType", request_type.value)
    p = _sub(detail, "Period")
    _sub(p, "PeriodStart", period.start.isoformat())
    _sub(p, "PeriodEnd", period.end.isoformat())
    _sub(detail, "InsurabilityContactType", CONTACT_TO_GENINS[contact_type])
    if reference:
        _sub(detail, "InsurabilityReference", reference)
    return root


def _t(el: etree._Element | None, path: str) -> str | None:
    if el is None:
        return None
    found = el.find(path)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def parse_response(body: etree._Element, *, period: Period, request_type: RequestType, contact_type: ContactType,
                   references: dict[str, str] | None = None, consulted_at: datetime | None = None) -> InsurabilityResult:
    """``GetInsurabilityResponse`` → typed result, or the typed error for a ``MessageFault``/bad Status.

    Long because: the answer is read in its document order (status, fault, care receiver, insurability,
    medical house, payment, hospital) into one result; the branches share the same locals and read as the
    schema does.
    """
    from .errors import error_for

    if body is None or body.tag != RESPONSE_ROOT:
        raise MalformedResponseError("GenericInsurability answered something else than GetInsurabilityResponse",
                                     origin="GenericInsurability")
    status = body.find("Status")
    if status is None:
        status = body.find(_q("Status", NS_EHP))
    code = _t(status, "Code") if status is not None else None
    refs = dict(references or {})
    out = body.find(_q("CommonOutput", NS_P))
    for name, key in (("NIPReference", "nip_reference"), ("OutputReference", "output_reference")):
        value = _t(out, _q(name))
        if value:
            refs[key] = value
    if code not in SUCCESS_CODES:
        text = " ".join((m.text or "").strip() for m in status.findall("Message")) if status is not None else ""
        raise error_for("mycarenet", code or "GENINS_STATUS", remote_message=text or None,
                        responder_internal=True, origin="GenericInsurability", status=code)
    resp = body.find(_q("Response", NS_P))
    fault = resp.find(_q("MessageFault")) if resp is not None else None
    if fault is not None:
        details = tuple(Notice(code=_t(d, _q("DetailCode")) or "", location=_t(d, _q("Location")),
                               message=_t(d, _q("Message")), source=_t(fault, _q("FaultSource")))
                        for d in fault.findall(f"{_q('Details')}/{_q('Detail')}"))
        fault_code = _t(fault, _q("FaultCode")) or "INPUT_ERROR"
        first = details[0] if details else None
        if first is not None and first.code:
            raise error_for("genins", first.code, remote_message=first.message, origin="GenericInsurability",
                            location=first.location, fault_code=fault_code,
                            fault_source=_t(fault, _q("FaultSource")), details=details)
        raise error_for("genins_fault", fault_code, remote_message=_t(fault, _q("Message")),
                        origin="GenericInsurability", fault_code=fault_code, details=details)
    if resp is None or resp.find(_q("CareReceiverDetail")) is None:
        raise MalformedResponseError("GenericInsurability answer has neither data nor MessageFault",
                                     origin="GenericInsurability")
    crd = resp.find(_q("CareReceiverDetail"))
    patient = PatientData(ssin=_t(crd, _q("Inss")), first_name=_t(crd, _q("FirstName")),
                          last_name=_t(crd, _q("LastName")), birth_date=optional_xs_date(_t(crd, _q("Birthday"))),
                          deceased=optional_xs_date(_t(crd, _q("Deceased"))),
                          sex=Sex.from_cd_sex(sex) if (sex := _t(crd, _q("Sex"))) else None)
    detail = resp.find(_q("InsurabilityResponseDetail"))
    general = None
    gs = detail.find(_q("GeneralSituation")) if detail is not None else None
    if gs is not None:
        general = GeneralSituation(event=gs.get("Event"), transfers=tuple(
            Transfer(direction=t.get("Direction"), union=_t(t, _q("InsuranceOrg")),
                     on=optional_xs_date(_t(t, _q("TransferDate")))) for t in gs.findall(_q("Transfer"))))
    pay = detail.find(_q("Payment")) if detail is not None else None
    payment = None
    if pay is not None:
        ssc = _t(pay, _q("SpecialSocialCategory"))
        payment = Payment(third_party_payment=(_t(pay, _q("PaymentByIo")) or "").lower() in ("true", "1"),
                          max_invoiced_years=tuple(int(y.text[:4]) for y in pay.findall(_q("MaxInvoiced"))
                                                   if y.text and y.text[:4].isdigit()),
                          special_social_category=None if ssc is None else ssc.lower() in ("true", "1"))
    hosp = detail.find(_q("Hospitalized")) if detail is not None else None
    hospital = None if hosp is None else Hospitalisation(
        hospital_nihii=_t(hosp, _q("Hospital")), service=_t(hosp, _q("AdmissionService")),
        admission_date=optional_xs_date(_t(hosp, _q("AdmissionDate"))))
    mh = detail.find(_q("MedicalHouse")) if detail is not None else None
    house = None
    if mh is not None:
        kinds = tuple(k for k in ("Medical", "Kine", "Nurse") if (mh.get(k) or "").lower() in ("true", "1"))
        house = MedicalHouse(kinds=kinds, start=optional_xs_date(_t(mh, _q("PeriodStart"))), end=optional_xs_date(_t(mh, _q("PeriodEnd"))))
    periods = []
    truncated = False
    lst = detail.find(_q("InsurabilityList")) if detail is not None else None
    if lst is not None:
        truncated = (lst.get("Truncated") or "").lower() in ("true", "1")
        for item in lst.findall(_q("InsurabilityItem")):
            periods.append(CoveragePeriod(mutuality=_t(item, _q("Mutuality")),
                                          registration_number=_t(item, _q("RegNrWithMut")),
                                          ct1=_t(item, _q("CT1")), ct2=_t(item, _q("CT2")),
                                          start=optional_xs_date(_t(item, f"{_q('Period')}/{_q('PeriodStart')}")),
                                          end=optional_xs_date(_t(item, f"{_q('Period')}/{_q('PeriodEnd')}")),
                                          communication_date=optional_xs_date(_t(item, _q("InsurabilityDate"))),
                                          payment_approval=_t(item, _q("PaymentApproval"))))
    union = None
    if periods and periods[-1].mutuality:
        union = periods[-1].mutuality[0] + "00"  # the mutuality's union (domain.md §1.3)
    notices = (Notice(code="ONLY_FIVE_PERIODS_RETURNED", source="GenericInsurability",
                      message="more than five periods: the list is truncated"),) if truncated else ()
    return InsurabilityResult(source=Source.GENINS, period=period, request_type=request_type,
                              contact_type=contact_type, union=union, patient=patient,
                              periods=tuple(sorted(periods, key=lambda p: p.start or date.min)), payment=payment,
                              general_situation=general, hospitalisation=hospital, medical_house=house,
                              notices=notices, truncated=truncated, partial=False, references=refs,
                              consulted_at=consulted_at)


def consult_genins(ctx: Context, exchange: Any, run: Any, ident: Ssin | RegistrationNumber, period: Period,
                   request_type: RequestType, contact_type: ContactType) -> InsurabilityResult:
    """One GetInsurability call inside the running exchange."""
    answers.preflight(ctx, "assurability")
    ci = commons.common_input_for(ctx, exchange, input_reference=commons.new_input_reference(length=14))
    record_ref = "".join(secrets.choice("0123456789") for _ in range(14)).lstrip("0") or "1"
    body = build_request(ci, patient=ident, period=period, request_type=request_type, contact_type=contact_type,
                         record_reference=record_ref)
    assert ci.input_reference is not None
    run.reference("input_reference", ci.input_reference)
    run.reference("record_input_reference", record_ref)
    reply = ctx.soap.call(ctx.service_url("assurability", "genins"), SOAP_ACTION, body,
                          security=ctx.security.hok(), idempotent=True, run=run)
    check_echo(reply.body_child, input_reference=ci.input_reference, record_reference=record_ref)
    result = parse_response(reply.body_child, period=period, request_type=request_type, contact_type=contact_type,
                            references={"input_reference": ci.input_reference, "record_input_reference": record_ref})
    check_subject(result, ident, period)
    # GetInsurabilityResponse has no signature element (ehealth-genins-protocol-1_1.xsd): TLS to the configured
    # CA authenticates it (README, "Answer authentication").
    answers.tls_only(ctx, "assurability", run=run)
    return result


def check_echo(body: etree._Element | None, *, input_reference: str, record_reference: str) -> None:
    """The answer echoes our references (CommonOutput and RecordCommonOutput InputReference)."""
    if body is None or body.tag != RESPONSE_ROOT:
        return  # parse_response reports it
    out = body.find(_q("CommonOutput", NS_P))
    rco = body.find(_q("RecordCommonOutput", NS_P))
    answers.check_in_response_to(_t(out, _q("InputReference")), input_reference[:14],
                                 what="CommonOutput/InputReference", service="assurability")
    answers.check_in_response_to(_t(rco, _q("InputReference")), record_reference,
                                 what="RecordCommonOutput/InputReference", service="assurability")


def check_subject(result: InsurabilityResult, ident: Ssin | RegistrationNumber, period: Period) -> None:
    """The answer names the patient asked and its insurability periods lie within the period asked."""
    ssin = result.patient.ssin if result.patient else None
    numbers = [p for p in result.periods if p.registration_number]
    if isinstance(ident, Ssin):
        answers.check_patient(asked_ssin=ident.value, answer_ssin=ssin, service="assurability")
    else:
        answers.check_patient(asked_registration=ident.number, asked_mutuality=str(ident.mutuality),
                              answer_ssin=ssin,
                              answer_registration=numbers[-1].registration_number if numbers else None,
                              answer_mutuality=numbers[-1].mutuality if numbers else None, service="assurability")
    # UNSURE: GenIns returns the periods clipped to the window asked (insurability.md §2); a period outside it
    # means the answer belongs to another question.
    for p in result.periods:
        answers.check_period(asked_start=period.start, asked_end=period.end, answer_start=p.start, answer_end=p.end,
                             service="assurability", what="insurability period")
