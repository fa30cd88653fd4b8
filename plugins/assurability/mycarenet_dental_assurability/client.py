"""Client side of the insurability consultation: one patient, at the chair, once per contact.

    from mycarenet_dental import Context
    from mycarenet_dental_assurability import consult_insurability

    with Context.from_config("config.toml") as ctx:
        result = consult_insurability(ctx, ctx.open_contact("85073003328"))
        result.insured, result.ct1, result.ct2, result.bim, result.third_party_payment

The backend is MyCareNet MemberData (sealed for MyCareNet's ETK by default) or, selectable with
``[assurability] backend = "genins"``, the legacy GenericInsurability; both give an
:class:`~mycarenet_dental_assurability.model.InsurabilityResult`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from mycarenet_dental.coded import Sex
from mycarenet_dental.contacts import Contact
from mycarenet_dental.errors import ConfigError, RuleRefusal, UsageError
from mycarenet_dental.exchange import Trigger
from mycarenet_dental.identifiers import RegistrationNumber, Ssin, parse_patient
from mycarenet_dental.timeutil import belgian_date, optional_xs_date

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
    from mycarenet_dental.protocols.memberdata import Assertion, MdaResponse

SERVICE = "assurability"
RESULT_KIND = "assurability.consultation"
OPERATION_MDA = "MemberDataConsultation"
OPERATION_GENINS = "GetInsurability"

NS = "urn:be:cin:nippin:"
A_PATIENT = NS + "insurability:patientData"
A_PERIOD = NS + "insurability:period"
A_PAYMENT = NS + "insurability:payment"
A_GENERAL = NS + "insurability:generalSituation"
A_HOSPITAL = NS + "hospitalisation"
A_MEDICAL_HOUSE = NS + "medicalHouse"




def patient_key(patient: Ssin | RegistrationNumber) -> str:
    """How the patient is named on contacts and in the audit: the SSIN or ``MUT:REGNR``."""
    return patient.value if isinstance(patient, Ssin) else str(patient)


def settings(ctx: Context) -> dict[str, Any]:
    """The ``[assurability]`` table with defaults: backend, encryption, retention."""
    section = dict(ctx.config.section(SERVICE))
    backend = str(section.get("backend", "memberdata"))
    if backend not in ("memberdata", "genins"):
        raise ConfigError(f"[assurability] backend must be memberdata or genins, not {backend!r}",
                          location="[assurability] backend")
    encryption = str(section.get("encryption", "sealed"))
    if encryption not in ("sealed", "clear"):
        raise ConfigError(f"[assurability] encryption must be sealed or clear, not {encryption!r}",
                          location="[assurability] encryption")
    retention = str(section.get("retention", "keep"))
    if retention not in ("keep", "contact"):
        raise ConfigError("[assurability] retention must be keep or contact", location="[assurability] retention")
    return {"backend": backend, "encryption": encryption, "retention": retention}


def kept_result(ctx: Context, contact_id: str) -> InsurabilityResult | None:
    """The answer kept on the contact (R34), if a successful consultation was recorded."""
    kept = ctx.log.find(service=SERVICE, kind=RESULT_KIND, contact_id=contact_id, status="ok")
    if not kept:
        return None
    return InsurabilityResult.from_log(kept[-1].data, contact_id=contact_id, patient=kept[-1].patient)


def consult_insurability(ctx: Context, contact: Contact | str, *, on: date | None = None, since: date | None = None,
                         invoicing: bool = False,
                         contact_type: ContactType | str = ContactType.OTHER,
                         trigger: Trigger | str = Trigger.USER, backend: str | None = None,
                         sealed: bool | None = None) -> InsurabilityResult:
    """Consult the contact's patient's insurability for day ``on`` (default: today; ``since`` widens the
    period asked to ``[since, on]``).

    ``contact`` is the open contact (:meth:`Context.open_contact`) or a patient identifier (SSIN or
    ``MUT:REGNR``), which then means that patient's open contact (R29).

    Refused locally (nothing sent) for a bad identifier or without an open contact (R29). A second
    consultation in the same contact is refused by rule R34 (audited) and the answer kept on the
    contact is returned instead, with a notice naming the rule.
    """
    ident = parse_patient(contact.patient if isinstance(contact, Contact) else contact)  # exit 2, nothing sent
    key = patient_key(ident)
    conf = settings(ctx)
    backend = backend or conf["backend"]
    if backend not in ("memberdata", "genins"):
        raise UsageError(f"unknown insurability backend {backend!r}", location="backend")
    sealed = conf["encryption"] == "sealed" if sealed is None else sealed
    try:
        with ctx.preparing():  # one write transaction: the contact, the rules (R29, R34...), the start row
            contact = ctx.resolve_contact(contact if isinstance(contact, Contact) else key)
            day = on or belgian_date(ctx.now())
            if since is not None and since > day:
                raise UsageError("the period start is after its end", location="since")
            period = Period(since or day, day)
            request_type = RequestType.INVOICING if invoicing else RequestType.INFORMATION
            contact_type = ContactType(contact_type)
            exchange = ctx.new_exchange(SERVICE, OPERATION_MDA if backend == "memberdata" else OPERATION_GENINS,
                                        patient=key, contact_id=contact.id, trigger=trigger,
                                        purpose="billing (annex 2)",
                                        details={"patients": 1, "backend": backend,
                                                 "request_type": request_type.value,
                                                 "contact_type": contact_type.value, "day": day.isoformat(),
                                                 "since": period.start.isoformat()})
            ctx.start(exchange)
        with ctx.exchange(exchange) as run:
            if backend == "memberdata":
                result = _via_memberdata(ctx, exchange, run, ident, period, request_type, contact_type, sealed)
            else:
                from .genins import consult_genins

                result = consult_genins(ctx, exchange, run, ident, period, request_type, contact_type)
            result = _with_contact(result, contact.id, ctx.now())
            run.keep(RESULT_KIND, result.log_summary(), retention=conf["retention"])
            if result.partial:
                run.disturbance("partial", "partial answer: " + ", ".join(n.code for n in result.notices),
                                code="PARTIAL_ANSWER")
            return result
    except RuleRefusal as refusal:
        if refusal.rule_id == "R34":
            kept = kept_result(ctx, contact.id)
            if kept is not None:
                import attrs

                # Not a refusal of the caller's request: the answer is given (exit 0), from the contact.
                notice = Notice(code="R34", source="rule",
                                message=f"not consulted again (rule R34, {refusal.article}: once per contact): "
                                        f"the answer kept on contact {contact.id} is shown")
                return attrs.evolve(kept, notices=(*kept.notices, notice))
        raise


def _with_contact(result: InsurabilityResult, contact_id: str, now: datetime) -> InsurabilityResult:
    import attrs

    return attrs.evolve(result, contact_id=contact_id, consulted_at=result.consulted_at or now)


# -- MemberData -----------------------------------------------------------------------------------


def insurability_facet(request_type: RequestType, contact_type: ContactType) -> Any:
    from mycarenet_dental.protocols.memberdata import FACET_INSURABILITY, Facet

    return Facet(FACET_INSURABILITY, (("requestType", request_type.value), ("contactType", contact_type.value)))


def _via_memberdata(ctx: Context, exchange: Any, run: Any, ident: Ssin | RegistrationNumber, period: Period,
                    request_type: RequestType, contact_type: ContactType, sealed: bool) -> InsurabilityResult:
    from mycarenet_dental.protocols import memberdata

    call = memberdata.consult(ctx, exchange, run, subject=memberdata.SubjectRef.for_patient(ident),
                              facets=[insurability_facet(request_type, contact_type)], start=period.start,
                              end=period.end, sealed=sealed, service=SERVICE, endpoint="memberdata")
    refs = {"input_reference": call.input_reference, "request_id": call.request_id}
    for name in ("nip_reference", "output_reference"):
        value = getattr(call.common_output, name)
        if value:
            refs[name] = value
    return result_from_mda(call.response, period=period, request_type=request_type, contact_type=contact_type,
                           references=refs)


def _bool(text: str | None) -> bool | None:
    if text is None:
        return None
    return text.strip().lower() in ("true", "1")


def _window(a: Assertion) -> tuple[date | None, date | None]:
    start = a.not_before.date() if a.not_before else None
    end = None
    if a.not_on_or_after:
        end = (a.not_on_or_after - timedelta(seconds=1)).date()
        if start and end < start:
            end = start
    return start, end


def raise_for_mda(response: MdaResponse) -> None:
    """Turn a refused MemberData answer into the typed error (first detail code, else the fault code)."""
    from mycarenet_dental.protocols.memberdata import STATUS_RESPONDER, SUB_INTERNAL

    if response.success:
        return
    fault = response.fault
    details = tuple(Notice(code=d.code, source=d.source, message=d.message, location=d.location)
                    for d in (fault.details if fault else ()))
    code = details[0].code if details else (fault.fault_code if fault and fault.fault_code else
                                            (response.sub_status or response.status).rsplit(":", 1)[-1])
    remote = (details[0].message if details else None) or (fault.message if fault else None)
    raise_from = response.status == STATUS_RESPONDER and response.sub_status == SUB_INTERNAL
    from .errors import error_for

    raise error_for("memberdata", code, remote_message=remote, responder_internal=raise_from,
                    origin=response.issuer or "MyCareNet", location=details[0].location if details else None,
                    status=response.status, sub_status=response.sub_status,
                    fault_code=fault.fault_code if fault else None, fault_source=fault.fault_source if fault else None,
                    details=details)


def result_from_mda(response: MdaResponse, *, period: Period, request_type: RequestType | str = "information",
                    contact_type: ContactType | str = "other", references: dict[str, str] | None = None,
                    consulted_at: datetime | None = None) -> InsurabilityResult:
    """Map a MemberData ``samlp:Response`` to the typed result (raises the typed error when refused)."""
    raise_for_mda(response)
    patient = None
    for a in response.of_type(A_PATIENT):
        gender = a.value(NS + "careReceiver:gender")
        patient = PatientData(ssin=a.value("urn:be:fgov:person:ssin"), last_name=a.value(NS + "careReceiver:name"),
                              first_name=a.value(NS + "careReceiver:firstName"),
                              birth_date=optional_xs_date(a.value(NS + "careReceiver:birthDate")),
                              sex=Sex.from_cd_sex(gender) if gender else None,
                              deceased=optional_xs_date(a.value(NS + "careReceiver:deceasedDate")))
    periods = []
    for a in response.of_type(A_PERIOD):
        start, end = _window(a)
        periods.append(CoveragePeriod(mutuality=a.value(NS + "careReceiver:mutuality"),
                                      registration_number=a.value(NS + "careReceiver:registrationNumber"),
                                      ct1=a.value(NS + "cb1"), ct2=a.value(NS + "cb2"), start=start, end=end,
                                      communication_date=optional_xs_date(a.value(NS + "communicationDate")),
                                      payment_approval=a.value(NS + "paymentApproval")))
    payment = None
    for a in response.of_type(A_PAYMENT):
        payment = Payment(third_party_payment=_bool(a.value(NS + "payment:byIO")))
    general = None
    for a in response.of_type(A_GENERAL):
        general = GeneralSituation(event=a.value(NS + "generalSituation:event"),
                                   transfers=tuple(Transfer(on=optional_xs_date(d)) for d in
                                                   a.values(NS + "generalSituation:transfer:date")))
    hospital = None
    for a in response.of_type(A_HOSPITAL):
        hospital = Hospitalisation(hospital_nihii=a.value(NS + "hospitalisation:hospital:nihii11"),
                                   service=a.value(NS + "hospitalisation:service"),
                                   admission_date=optional_xs_date(a.value(NS + "hospitalisation:admissionDate")))
    house = None
    for a in response.of_type(A_MEDICAL_HOUSE):
        house = MedicalHouse(nihii=a.value(NS + "medicalHouse:nihii11"), kinds=a.values(NS + "medicalHouse:type"),
                             start=optional_xs_date(a.value(NS + "medicalHouse:start")),
                             # UNSURE: no end-date attribute name was seen in real answers (insurability.md §5)
                             end=optional_xs_date(a.value(NS + "medicalHouse:end")))
    notices = tuple(Notice(code=d.code, source=d.source, message=d.message, location=d.location)
                    for d in (response.fault.details if response.fault else ()))
    return InsurabilityResult(
        source=Source.MEMBERDATA, period=period, request_type=request_type, contact_type=contact_type,
        union=response.io, patient=patient, periods=tuple(sorted(periods, key=lambda p: p.start or date.min)),
        payment=payment, general_situation=general, hospitalisation=hospital, medical_house=house, notices=notices,
        partial=response.partial, truncated=any(n.code == "ONLY_FIVE_PERIODS_RETURNED" for n in notices),
        references=dict(references or {}), consulted_at=consulted_at)
