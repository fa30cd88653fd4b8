"""Simulated GenericInsurability (``/GenericInsurability/v1``), from the same patients as MemberData.

Order of the checks: WS-Security, XSD (SOA-03006), licence (INVALID_LICENSE), care provider / mandate,
then the request detail with the DetailCodes of ``insurability.md`` §2.4 (10, 11, 12, 21, 23, 30, 31,
32, 40, 42, 43, 44, 99) answered as ``MessageFault`` (INPUT_ERROR / NO_IO_ERROR / MULTIIO_ERROR).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from lxml import etree
from mycarenet_dental.protocols import commons
from mycarenet_dental.sim import commons as commons_sim
from mycarenet_dental.sim import schemas
from mycarenet_dental.sim.registrations import SimulatorRoute
from mycarenet_dental.timeutil import xs_date

from . import genins as gi
from .simulator import MAX_PERIODS, covering, general_situation, payment_approval

C = gi.NS_C
# UNSURE: the real Location values are relative XPaths starting with ../../../../ (insurability.md §2.4);
# the exact base is unknown, so the simulator writes them relative to the Request element's grandparent.
LOC = "../../../../Request/"
LOCATIONS = {
    "inss": LOC + "CareReceiverId/Inss", "mutuality": LOC + "CareReceiverId/Mutuality",
    "regnr": LOC + "CareReceiverId/RegNrWithMut",
    "type": LOC + "InsurabilityRequestDetail/InsurabilityRequestType",
    "start": LOC + "InsurabilityRequestDetail/Period/PeriodStart",
    "end": LOC + "InsurabilityRequestDetail/Period/PeriodEnd",
    "contact": LOC + "InsurabilityRequestDetail/InsurabilityContactType",
}


class GenInsFault(Exception):
    def __init__(self, code: str, where: str, message: str, *, fault_code: str = "INPUT_ERROR",
                 multi_io: tuple[str, ...] = ()) -> None:
        self.code, self.where, self.message, self.fault_code, self.multi_io = code, where, message, fault_code, multi_io
        super().__init__(code)


def _q(name: str, ns: str = C) -> str:
    return f"{{{ns}}}{name}"


def _sub(parent: etree._Element, name: str, text: str | None = None, ns: str = C) -> etree._Element:
    el = etree.SubElement(parent, _q(name, ns))
    if text is not None:
        el.text = text
    return el


def _t(el: etree._Element | None, path: str) -> str | None:
    if el is None:
        return None
    found = el.find(path)
    return (found.text or "").strip() if found is not None else None


def _check(request: etree._Element, state: Any, today: date) -> tuple[Any, date, date, str, str]:
    """Validate the request detail; returns (patient, start, end, request type, contact type)."""
    from mycarenet_dental.identifiers import Ssin

    receiver = request.find(_q("CareReceiverId"))
    detail = request.find(_q("InsurabilityRequestDetail"))
    inss, mut, regnr = _t(receiver, _q("Inss")), _t(receiver, _q("Mutuality")), _t(receiver, _q("RegNrWithMut"))
    if inss is None and regnr is None:
        raise GenInsFault("10", "inss", "SSIN not present")
    if inss is not None:
        if not inss:
            raise GenInsFault("10", "inss", "SSIN not present")
        if not re.fullmatch(r"\d{11}", inss):
            raise GenInsFault("11", "inss", "invalid SSIN format")
        try:
            Ssin.parse(inss)
        except ValueError:
            raise GenInsFault("12", "inss", "SSIN check digits are wrong") from None
    else:
        if not mut:
            raise GenInsFault("10", "mutuality", "mutuality not present")
        if not re.fullmatch(r"[1-69]\d{2}", mut):
            raise GenInsFault("11", "mutuality", "invalid mutuality format")
        if not regnr:
            raise GenInsFault("10", "regnr", "registration number not present")
    rtype = _t(detail, _q("InsurabilityRequestType")) or ""
    if not rtype:
        raise GenInsFault("10", "type", "request type is empty")
    if rtype not in ("information", "invoicing"):
        raise GenInsFault("99", "type", "request type not allowed")
    start_s = _t(detail, f"{_q('Period')}/{_q('PeriodStart')}")
    end_s = _t(detail, f"{_q('Period')}/{_q('PeriodEnd')}")
    if not start_s:
        raise GenInsFault("10", "start", "start date is empty")
    if not end_s:
        raise GenInsFault("10", "end", "end date is empty")
    start, end = xs_date(start_s), xs_date(end_s)
    if start > today or start.year < 1900:
        raise GenInsFault("30", "start", "invalid period (start date in the future or impossible)")
    if end < start:
        raise GenInsFault("31", "end", "end date before start date")
    if (end - start).days > 366 or end.year >= 9999:
        raise GenInsFault("32", "end", "a request for this period is not allowed")
    if start < today.replace(year=today.year - 5):
        raise GenInsFault("40", "start", "no data for this past period")
    contact = _t(detail, _q("InsurabilityContactType")) or ""
    if not contact:
        raise GenInsFault("99", "contact", "contact type is empty")
    population = state.population
    if inss is not None:
        patient = population.get(inss)
        if patient is None or not patient.known:
            raise GenInsFault("23", "inss", "SSIN not found by the routing algorithm")
    else:
        patient = population.by_registration(mut or "", regnr or "")
        if patient is None:
            raise GenInsFault("21", "mutuality", "unknown mutuality / registration number", fault_code="INPUT_ERROR")
    slices = covering(patient, start, end)
    ios = sorted({p.mutuality[0] for p in slices})
    if not slices and not patient.periods:
        raise GenInsFault("43", "start", "no insurer found", fault_code="NO_IO_ERROR")
    if patient.facts.get("memberdata.multiple_io") and len(ios) > 1:
        raise GenInsFault("44", "start", "several insurers found", fault_code="MULTIIO_ERROR", multi_io=tuple(ios))
    if contact in ("hospitalized_elsewhere", "hospitalized_for_day") and patient.hospitalised_since is None:
        raise GenInsFault("42", "contact", "the patient is not hospitalised at those dates")
    return patient, start, end, rtype, contact


def _echo(resp: etree._Element, request: etree._Element) -> None:
    detail = request.find(_q("InsurabilityRequestDetail"))
    if detail is not None:
        resp.append(etree.fromstring(etree.tostring(detail)))


def _data(resp: etree._Element, patient: Any, start: date, end: date, rtype: str, contact: str, today: date) -> None:
    crd = _sub(resp, "CareReceiverDetail")
    _sub(crd, "Inss", patient.ssin)
    _sub(crd, "FirstName", patient.first_name)
    _sub(crd, "LastName", patient.last_name)
    _sub(crd, "Birthday", patient.birth_date.isoformat())
    if patient.deceased:
        _sub(crd, "Deceased", patient.deceased.isoformat())
    _sub(crd, "Sex", "male" if patient.sex.upper().startswith("M") else "female")
    detail = _sub(resp, "InsurabilityResponseDetail")
    situation = general_situation(patient, start, end)
    slices = covering(patient, start, end)
    if situation is not None:
        event, when = situation
        gs = _sub(detail, "GeneralSituation")
        gs.set("Event", event)
        tr = _sub(gs, "Transfer")
        tr.set("Direction", "fromOtherIo" if event in ("changeDuring", "startLater") else "toOtherIo")
        if event == "changeDuring" and len(slices) > 1:
            _sub(tr, "InsuranceOrg", slices[0].mutuality[0] + "00")
        _sub(tr, "TransferDate", when.isoformat())
    reference = slices[-1] if slices else max(patient.periods, key=lambda p: p.start)
    pay = _sub(detail, "Payment")
    _sub(pay, "PaymentByIo", "true" if reference.third_party_payment else "false")
    for year in patient.facts.get("max_invoiced_years", ()):
        _sub(pay, "MaxInvoiced", str(year))
    if contact == "hospitalized_elsewhere" and patient.hospitalised_since is not None:
        h = _sub(detail, "Hospitalized")
        # UNSURE: GenIns Hospital is 12 digits where MDA gives a nihii11; left-padded with 0
        _sub(h, "Hospital", str(patient.facts.get("hospital_nihii", "71012345000")).zfill(12))
        _sub(h, "AdmissionDate", patient.hospitalised_since.isoformat())
        _sub(h, "AdmissionService", str(patient.facts.get("hospital_service", "450")))
    house = patient.medical_house
    if house is not None and (house.start is None or house.start <= end):
        mh = _sub(detail, "MedicalHouse")
        kinds = patient.facts.get("medical_house_kinds", ("Medical", "Kine", "Nurse"))
        for k in ("Nurse", "Medical", "Kine"):
            mh.set(k, "true" if k in kinds else "false")
        _sub(mh, "PeriodStart", (house.start or start).isoformat())
        if house.end:
            _sub(mh, "PeriodEnd", house.end.isoformat())
    if slices:
        lst = _sub(detail, "InsurabilityList")
        shown = slices[-MAX_PERIODS:]
        if len(slices) > MAX_PERIODS:
            lst.set("Truncated", "true")
        for p in shown:
            item = _sub(lst, "InsurabilityItem")
            _sub(item, "RegNrWithMut", p.registration_number)
            _sub(item, "Mutuality", p.mutuality)
            per = _sub(item, "Period")
            _sub(per, "PeriodStart", max(p.start, start).isoformat())
            _sub(per, "PeriodEnd", min(p.end or end, end).isoformat())
            _sub(item, "CT1", p.ct1)
            _sub(item, "CT2", p.ct2)
            if rtype == "invoicing":
                _sub(item, "PaymentApproval", p.payment_approval or payment_approval(patient, p, end))
            _sub(item, "InsurabilityDate", today.isoformat())


def handle_genins(request: Any) -> Any:
    """The simulated GenericInsurability endpoint."""
    from mycarenet_dental.sim.authz import authorize_care_provider

    state = request.state
    caller = request.check_security()
    body = request.body_element
    if body is None:
        return request.fault("SOA-03003", "Message body is empty")
    if body.tag == gi.FLAT_REQUEST_ROOT:
        # UNSURE: the simulator does not produce the flat-file form; answered as "service not available".
        return request.fault("SOA-02001", "getInsurabilityAsFlat is not offered by this simulator")
    if body.tag != gi.REQUEST_ROOT:
        return request.fault("SOA-03005", f"unexpected body element {body.tag}")
    errors = schemas.validate("genins", body)
    if errors:
        return request.fault("SOA-03006", "not XSD conformant: " + errors[0])
    ci = commons.parse_common_input(gi.FLAVOUR, body.find(_q("CommonInput", gi.NS_P)))
    lic = commons_sim.licence_fault(state, ci)
    if lic is not None:
        return request.fault(*lic)
    if ci.origin.care_provider is None:
        return request.fault("SOA-03007", "CommonInput/Origin/CareProvider is required")
    authorize_care_provider(request, care_provider=ci.origin.care_provider.nihii, service="assurability",
                            caller=caller)
    state.count("genins:requests")
    now = state.now()
    req = body.find(_q("Request", gi.NS_P))
    record_in = _t(body.find(_q("RecordCommonInput", gi.NS_P)), _q("InputReference"))
    root = etree.Element(gi.RESPONSE_ROOT, nsmap={"gi": gi.NS_P, "gic": C})
    root.set("Id", "_" + commons.new_output_reference())
    st = etree.SubElement(root, "Status")
    # UNSURE: success code 100 vs 200 (insurability.md §2.3); configurable with switches.extra["genins.status_code"].
    etree.SubElement(st, "Code").text = str(state.switches.extra.get("genins.status_code", "200"))
    msg = etree.SubElement(st, "Message")
    msg.set("Lang", "EN")
    msg.text = "OK"
    out = _sub(root, "CommonOutput", ns=gi.NS_P)
    if ci.input_reference:
        _sub(out, "InputReference", ci.input_reference[:14])
    _sub(out, "NIPReference", commons.new_output_reference()[:14])
    _sub(out, "OutputReference", commons.new_output_reference()[:14])
    rco = _sub(root, "RecordCommonOutput", ns=gi.NS_P)
    if record_in:
        _sub(rco, "InputReference", record_in)
    _sub(rco, "OutputReference", str(state.count("genins:output")))
    resp = _sub(root, "Response", ns=gi.NS_P)
    resp.set("MessageName", "M801001")
    try:
        patient, start, end, rtype, contact = _check(req, state, now.date())
        _data(resp, patient, start, end, rtype, contact, now.date())
    except GenInsFault as fault:
        for child in list(resp):
            resp.remove(child)
        resp.set("MessageName", "M801000ERR")
        resp.append(etree.fromstring(etree.tostring(req.find(_q("CareReceiverId")))))
        mf = _sub(resp, "MessageFault")
        _sub(mf, "FaultCode", fault.fault_code)
        _sub(mf, "FaultSource", "MyCareNet")
        if fault.multi_io:
            mio = _sub(mf, "MultiIO")
            for io in fault.multi_io[:3]:
                _sub(mio, "IO", io)
        m = _sub(mf, "Message", fault.message)
        m.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
        d = _sub(_sub(mf, "Details"), "Detail")
        _sub(d, "DetailCode", fault.code)
        _sub(d, "Location", LOCATIONS[fault.where])
        dm = _sub(d, "Message", fault.message)
        dm.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
    _echo(resp, req)
    return request.soap_response(root)


def genins_routes() -> list[SimulatorRoute]:
    return [SimulatorRoute(path=gi.PATH, handler=handle_genins, soap_actions=(gi.SOAP_ACTION, gi.SOAP_ACTION_FLAT),
                           name="GenericInsurability")]


__all__ = ["genins_routes", "handle_genins", "timedelta"]
