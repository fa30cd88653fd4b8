"""Client side of MyCareNet Tarification v1 for dentists: build, send, parse, record.

:func:`consult_tariff` is what a vendor calls: it resolves the patient's open contact (R29), returns
the result kept on the contact when the same services were already priced (R35), runs the exchange
through the core rules (R32, R35, R37 and the burst limit) and records one log entry per service line
(kind ``tariff.consultation``) for billing (R36). :class:`TariffClient` is the protocol alone
(build → SOAP call → typed result), used inside the exchange and by the benchmark.

Request (``tariff.md`` §2): commons v2 ``TarificationConsultationRequest`` with quality ``dentist``,
Routing = patient + service date, blob = KMEHR ``RetrieveTransactionRequest`` (protocol 1.16,
author ``persdentist``, transaction ``tariff``: ``encounterdatetime`` then one ``claim`` per service
with its own tooth ``CD-ISO-3950`` and related service ``CD-NIHDI-RELATEDSERVICE``, optional
``justification``).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from mycarenet_dental.coded import Sex
from mycarenet_dental.contacts import Contact
from mycarenet_dental.errors import MalformedResponseError
from mycarenet_dental.exchange import Exchange, Trigger
from mycarenet_dental.identifiers import RegistrationNumber, Ssin, parse_patient
from mycarenet_dental.protocols import answers, commons, kmehr
from mycarenet_dental.timeutil import belgian_date, belgian_wall_clock

from . import catalogue
from .model import (
    RESULT_KIND,
    SERVICE,
    InsuredPatient,
    LineStatus,
    Refusal,
    ServiceRequest,
    TariffBusinessError,
    TariffIssue,
    TariffLine,
    TariffQuery,
    TariffResult,
    TariffValidationError,
)

if TYPE_CHECKING:  # pragma: no cover
    from lxml import etree
    from mycarenet_dental.context import Context
    from mycarenet_dental.exchange import ExchangeRun

NS_TARIFICATION = "urn:be:fgov:ehealth:mycarenet:tarification:protocol:v1"
REQUEST_ROOT = f"{{{NS_TARIFICATION}}}TarificationConsultationRequest"
RESPONSE_ROOT = f"{{{NS_TARIFICATION}}}TarificationConsultationResponse"
SOAP_ACTION = "urn:be:fgov:ehealth:mycarenet:tarification:protocol:v1:TarificationConsult"
OPERATION = "TarificationConsultation"
ENDPOINT = "tarification"
#: messageProtocoleSchemaVersion for dentists. UNSURE why (tariff.md §8); freehealth sets it for dentists only.
PROTOCOL_VERSION_DENTIST = "1.16"
QUALITY = "dentist"
HCPARTY_DENTIST = "persdentist"
#: Oldest service date accepted (months back), insurer code 166.
MAX_MONTHS_BACK = 2

# claim contents in the order this client writes them (used to map an error XPath back to a field)
_CLAIM_FIELDS = ("code", "tooth", "related")


# ------------------------------------------------------------------------------------------------
# Local validation
# ------------------------------------------------------------------------------------------------


def months_back(day: dt.date, months: int) -> dt.date:
    """``day`` minus ``months`` calendar months (clamped to the month's last day)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    for dd in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, dd)
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def check_service_date(service_date: dt.date, today: dt.date) -> None:
    """The insurer's date window, checked before sending: not after today (146), not older than two
    months (166). Raises :class:`TariffValidationError` carrying the code the insurer would give."""
    if service_date > today:
        raise TariffValidationError(catalogue.error_messages("146"), code="146", location="--date",
                                    hint=f"the service date {service_date} is after today ({today})")
    oldest = months_back(today, MAX_MONTHS_BACK)
    if service_date < oldest:
        raise TariffValidationError(catalogue.error_messages("166"), code="166", location="--date",
                                    hint=f"the oldest date allowed today is {oldest}")


def make_query(patient: str | Ssin | RegistrationNumber, services: Iterable[str | ServiceRequest], *,
               service_date: dt.date, justification: str | None = None) -> TariffQuery:
    """Validate what the user typed (SSIN, code shape, FDI tooth) into a :class:`TariffQuery`."""
    who = patient if isinstance(patient, (Ssin, RegistrationNumber)) else parse_patient(patient, field="--patient")
    items = [s if isinstance(s, ServiceRequest) else ServiceRequest.parse(s) for s in services]
    if justification is not None and not re.fullmatch(r"[0-9]{1,2}", justification):
        raise TariffValidationError(f"justification must be a CD-MYCARENET-JUSTIFICATION number, got "
                                    f"{justification!r}", code="130", location="--justification")
    return TariffQuery(patient=who, services=items, service_date=service_date, justification=justification)


# ------------------------------------------------------------------------------------------------
# Request
# ------------------------------------------------------------------------------------------------


def _split_name(name: str) -> tuple[str | None, str | None]:
    parts = name.split()
    if len(parts) >= 2:
        return " ".join(parts[:-1]), parts[-1]
    return None, (parts[0] if parts else None)


def dentist_party(nihii: str, ssin: str | None, name: str = "") -> kmehr.HcParty:
    first, last = _split_name(name)
    return kmehr.HcParty.person(kind=HCPARTY_DENTIST, nihii=nihii.zfill(11), ssin=ssin, firstname=first,
                                familyname=last)


#: The dentist's HcParty, built once per (NIHII, SSIN, name): it depends on nothing else (HcParty is frozen).
_dentist_of = functools.lru_cache(maxsize=64)(dentist_party)


# Codes that never change, built once (Code is frozen, so sharing them is safe).
_CLAIM_CD = kmehr.Code("CD-ITEM", "claim")
_ENCOUNTER_CD = kmehr.Code("CD-ITEM", "encounterdatetime")
_JUSTIFICATION_CD = kmehr.Code("CD-ITEM", "justification")
_TARIFF_CD = kmehr.Code("CD-TRANSACTION-MYCARENET", "tariff", sv=kmehr.CD_TRANSACTION_MYCARENET_SV)


def claim_item(service: ServiceRequest) -> kmehr.Item:
    """One ``claim`` per service, with its own tooth and related service (never one tooth for all)."""
    contents = [kmehr.Content(cds=[kmehr.Code("CD-NIHDI", service.code.value)])]
    if service.tooth is not None:
        contents.append(kmehr.Content(cds=[kmehr.Code("CD-ISO-3950", str(service.tooth))]))
    if service.related is not None:
        contents.append(kmehr.Content(cds=[kmehr.Code("CD-NIHDI-RELATEDSERVICE", service.related.value)]))
    return kmehr.Item(cd=_CLAIM_CD, contents=contents)


#: The claim of a service, built once per distinct service: an Item depends only on the ServiceRequest's
#: code, tooth and related service, which are exactly what ServiceRequest equality compares (Item is frozen).
_claim_of = functools.lru_cache(maxsize=1024)(claim_item)


def build_kmehr_request(query: TariffQuery, *, author: kmehr.HcParty, now: dt.datetime,
                        request_id: str) -> kmehr.RetrieveTransactionRequest:
    """The KMEHR blob of a dentist's tariff consultation."""
    items = [kmehr.Item(cd=_ENCOUNTER_CD,
                        contents=[kmehr.Content(date=query.service_date)])]
    items += [_claim_of(s) for s in query.services]
    if query.justification:
        items.append(kmehr.Item(cd=_JUSTIFICATION_CD, contents=[
            kmehr.Content(cds=[kmehr.Code("CD-MYCARENET-JUSTIFICATION", query.justification)])]))
    if isinstance(query.patient, Ssin):
        patient = kmehr.PatientSelector(ssin=query.patient.value)
    else:
        patient = kmehr.PatientSelector(insurer=query.patient.mutuality.value, membership=query.patient.number)
    local = belgian_wall_clock(now)  # KMEHR request date/time: Belgian wall clock, as the insurers read it
    header = kmehr.RequestHeader(id=request_id, author=[author], date=local.date(), time=local.time())
    transaction = kmehr.TransactionSelect(
        cd=_TARIFF_CD, author=[author], items=items)
    return kmehr.RetrieveTransactionRequest(header=header, transaction=transaction, patient=patient,
                                            protocol_version=PROTOCOL_VERSION_DENTIST)


def routing_for(query: TariffQuery) -> commons.Routing:
    if isinstance(query.patient, Ssin):
        return commons.Routing(reference_date=query.service_date, ssin=query.patient.value)
    return commons.Routing(reference_date=query.service_date, registration_number=query.patient.number,
                           mutuality=query.patient.mutuality.value)


def build_body(common_input: commons.CommonInput, query: TariffQuery, blob_request: kmehr.RetrieveTransactionRequest,
               *, now: dt.datetime) -> etree._Element:
    """The SOAP body ``TarificationConsultationRequest`` (commons v2, clear blob, no XAdES)."""
    blob = commons.make_blob(kmehr.request_bytes(blob_request), id="blob")
    return commons.build_request(commons.V2, REQUEST_ROOT, common_input=common_input, blob=blob,
                                 routing=routing_for(query), issue_instant=now,
                                 nsmap={"tarif": NS_TARIFICATION})


# ------------------------------------------------------------------------------------------------
# Response
# ------------------------------------------------------------------------------------------------

_ITEM_RE = re.compile(r"/select/transaction/item\[(\d+)\](?:/content\[(\d+)\])?")


def locate(url: str | None, query: TariffQuery) -> tuple[int | None, str | None]:
    """Map an error XPath into our request to (service line 1-based, field name)."""
    if not url:
        return None, None
    match = _ITEM_RE.search(url)
    if match:
        item = int(match.group(1))
        n = len(query.services)
        if item == 1:
            return None, "date"
        if 2 <= item <= n + 1:
            index = item - 1
            service = query.services[index - 1]
            fields = ["code"] + (["tooth"] if service.tooth else []) + (["related"] if service.related else [])
            content = int(match.group(2) or 1)
            name = fields[content - 1] if content <= len(fields) else "code"
            return index, f"service[{index}].{name}"
        return None, "justification"
    if "/select/patient" in url:
        return None, "patient"
    if "author" in url:
        return None, "author"
    return None, None


def _issues(errors: Sequence[kmehr.AckError], query: TariffQuery) -> list[TariffIssue]:
    issues = []
    for err in errors:
        index, field = locate(err.url, query)
        if field is None:
            field = catalogue.error_field(err.code)
        issues.append(TariffIssue(code=err.code, messages=catalogue.error_messages(err.code, err.description),
                                  url=err.url, service_index=index, field=field, remote_text=err.description))
    return issues


def _line(tx: kmehr.Transaction) -> TariffLine:
    first: dict[str, kmehr.Item] = {}
    for each in tx.items:  # what tx.item(kind) returns for every kind, in one pass
        first.setdefault(each.cd.value, each)
    claim = first.get("claim")
    if claim is None or not claim.content_code("CD-NIHDI"):
        raise MalformedResponseError("a tariff transaction has no claim with a CD-NIHDI code", origin="insurer")
    tooth_text = claim.content_code("CD-ISO-3950")

    def cents(kind: str) -> int | None:
        item = first.get(kind)
        return item.cost.cents if item is not None and item.cost is not None else None

    fin = first.get("financialcontract")
    just = first.get("justification")
    refusal_item = first.get("refusal")
    refusal = None
    if refusal_item is not None:
        reason = refusal_item.content_code("CD-MYCARENET-REFUSAL") or "000"
        refusal = Refusal(reason=reason, messages=catalogue.refusal_messages(reason),
                          because_of_code=refusal_item.content_code("CD-NIHDI"),
                          because_of_date=refusal_item.content_date())
    return TariffLine(
        code=claim.content_code("CD-NIHDI") or "", tooth=int(tooth_text) if tooth_text and tooth_text.isdigit() else None,
        related=claim.content_code("CD-NIHDI-RELATEDSERVICE"),
        status=LineStatus.REFUSED if refusal is not None else LineStatus.PRICED,
        fee_cents=cents("fee"), reimbursement_cents=cents("reimbursement"), patient_share_cents=cents("patientfee"),
        supplement_cents=cents("supplement"), commitment=fin.content_id() if fin is not None else None,
        justification=just.content_code("CD-MYCARENET-JUSTIFICATION") if just is not None else None,
        refusal=refusal)


def _order(lines: list[TariffLine], query: TariffQuery) -> list[TariffLine]:
    """Lines in the order of the request's services (insurers may answer in any order)."""
    left = list(lines)
    ordered = []
    for service in query.services:
        code, tooth = service.key()
        match = next((ln for ln in left if ln.code == code and ln.tooth == tooth), None)
        if match is not None:
            left.remove(match)
            ordered.append(match)
    return ordered + left


def insured_from(patient: kmehr.KmehrPatient | None) -> InsuredPatient | None:
    if patient is None:
        return None
    ins = patient.insurance
    return InsuredPatient(ssin=patient.ssin, first_name=" ".join(patient.firstnames), last_name=patient.familyname,
                          birth_date=patient.birthdate, sex=Sex.from_cd_sex(patient.sex), mutuality=ins.insurer if ins else None,
                          registration_number=ins.membership if ins else None, ct1=ins.cg1 if ins else None,
                          ct2=ins.cg2 if ins else None, coverage_start=ins.begindate if ins else None,
                          coverage_end=ins.enddate if ins else None)


def read_answer(body_child: etree._Element | None) -> tuple[commons.SendResponse, kmehr.RetrieveTransactionResponse]:
    """The commons envelope and the KMEHR answer it carries (nothing interpreted yet)."""
    from mycarenet_dental.xmlsafe import parse_xml

    if body_child is None or body_child.tag != RESPONSE_ROOT:
        raise MalformedResponseError("the answer is not a TarificationConsultationResponse", origin="insurer")
    reply = commons.parse_response(commons.V2, body_child)
    return reply, kmehr.parse_response(parse_xml(reply.blob.content, what="tariff response blob"))


def authenticate_answer(ctx: Context, reply: commons.SendResponse, answer: kmehr.RetrieveTransactionResponse,
                        query: TariffQuery, *, request_id: str, soap_request_id: str | None,
                        run: ExchangeRun | None = None) -> None:
    """Before anything is shown or kept: the XAdES over the Blob (verified when present; required when
    ``[security] answer_xades`` says so — the real service does not sign, tariff.md §3), then that the
    answer is ours (InResponseTo, echoed KMEHR request id) and about the patient and date asked."""
    service = SERVICE
    answers.verify_xades(ctx, service, content=reply.blob.content, signature=reply.xades_t, at=ctx.now(),
                         content_type=reply.blob.content_type or "text/xml", run=run)
    # UNSURE: whether the real envelope always carries InResponseTo: a wrong one is refused, a missing one
    # tolerated; the echoed KMEHR request id (inside the Blob) is required.
    answers.check_in_response_to(reply.in_response_to, soap_request_id, what="InResponseTo", service=service,
                                 required=False)
    answers.check_in_response_to(answer.request.id if answer.request else None, request_id,
                                 what="echoed KMEHR request id", service=service)
    if answer.patient is not None:
        ins = answer.patient.insurance
        if isinstance(query.patient, Ssin):
            answers.check_patient(asked_ssin=query.patient.value, answer_ssin=answer.patient.ssin,
                                  answer_registration=ins.membership if ins else None, service=service)
        else:
            answers.check_patient(asked_registration=query.patient.number,
                                  asked_mutuality=query.patient.mutuality.value,
                                  answer_ssin=answer.patient.ssin, answer_registration=ins.membership if ins else None,
                                  answer_mutuality=ins.insurer if ins else None, service=service)
        if ins is not None and (ins.begindate or ins.enddate):
            # the coverage the answer prices with must include the service date asked about
            if (ins.begindate and ins.begindate > query.service_date) or (ins.enddate and ins.enddate < query.service_date):
                raise answers.AnswerRejected(
                    f"the answer's insurance period ({ins.begindate} – {ins.enddate}) does not cover the service "
                    f"date asked ({query.service_date})", code="ANSWER_PERIOD", service=service)


def result_of(answer: kmehr.RetrieveTransactionResponse, query: TariffQuery, *, request_id: str) -> TariffResult:
    """The typed result of a KMEHR answer; business errors become :class:`TariffBusinessError`."""
    if answer.errors:
        raise TariffBusinessError(_issues(answer.errors, query))
    if answer.patient is None or not answer.transactions:
        raise MalformedResponseError("the tariff answer has neither errors nor priced services", origin="insurer")
    lines = _order([_line(tx) for tx in answer.transactions if tx.kind == "tariff"], query)
    return TariffResult(patient=query.patient_key, service_date=query.service_date, lines=lines,
                        insured=insured_from(answer.patient), request_id=request_id, response_id=answer.id)


def parse_answer(body_child: etree._Element | None, query: TariffQuery, *, request_id: str) -> TariffResult:
    """Read the insurer's answer (no authentication: see :func:`authenticate_answer`)."""
    _, answer = read_answer(body_child)
    return result_of(answer, query, request_id=request_id)


# ------------------------------------------------------------------------------------------------
# The client
# ------------------------------------------------------------------------------------------------


class TariffClient:
    """The protocol alone: one query → one SOAP call → a typed result. No rules, no log (see
    :func:`consult_tariff`); reuses the context's SOAP session and cached STS token."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def url(self) -> str:
        return self.ctx.service_url(SERVICE, ENDPOINT)

    def author(self) -> kmehr.HcParty:
        dentist = self.ctx.config.require_dentist()
        return _dentist_of(dentist.nihii, dentist.ssin, dentist.name)

    def build(self, query: TariffQuery, exchange: Exchange, *, now: dt.datetime | None = None
              ) -> tuple[etree._Element, str, str]:
        """(body, KMEHR request id, InputReference)."""
        now = now or self.ctx.now()
        dentist = self.ctx.config.require_dentist()
        # UNSURE: tariff.md gives the id as <NIHII11>.<timestamp-ref>; both reference connectors use a numeric
        # reference, so the InputReference (= the id suffix) is 14 digits here.
        common_input = commons.common_input_for(self.ctx, exchange, quality=QUALITY,
                                                input_reference=commons.new_input_reference(digits_only=True))
        # the KMEHR request id suffix is the InputReference (MyCareNet answers 155 otherwise)
        request_id = kmehr.request_id_for(dentist.nihii, common_input.input_reference or "")
        blob_request = build_kmehr_request(query, author=self.author(), now=now, request_id=request_id)
        body = build_body(common_input, query, blob_request, now=now)
        return body, request_id, common_input.input_reference or ""

    def send(self, query: TariffQuery, exchange: Exchange, *, run: ExchangeRun | None = None,
             check_dates: bool = True) -> TariffResult:
        if check_dates:
            check_service_date(query.service_date, belgian_date(self.ctx.now()))
        answers.preflight(self.ctx, SERVICE)
        body, request_id, input_reference = self.build(query, exchange)
        if run is not None:
            run.reference("kmehr_request_id", request_id)
            run.reference("input_reference", input_reference)
        reply = self.ctx.soap.call(self.url(), SOAP_ACTION, body, security=self.ctx.security.hok(),
                                   idempotent=True, run=run)
        envelope, answer = read_answer(reply.body_child)
        authenticate_answer(self.ctx, envelope, answer, query, request_id=request_id,
                            soap_request_id=body.get("Id"), run=run)
        result = result_of(answer, query, request_id=request_id)
        if run is not None and result.response_id:
            run.reference("kmehr_response_id", result.response_id)
        return result


def _kept(ctx: Context, contact_id: str) -> TariffResult | None:
    """The last successful consultation kept on the contact, rebuilt from the log."""
    rows = [r for r in ctx.results(service=SERVICE, contact_id=contact_id) if r.kind == RESULT_KIND]
    if not rows:
        return None
    last = rows[-1].exchange_id
    mine = [r for r in rows if r.exchange_id == last]
    return TariffResult.from_log([r.data for r in mine], exchange_id=last, contact_id=contact_id,
                                 refusal_messages=catalogue.refusal_messages)


def consult_tariff(ctx: Context, contact: Contact | str, services: Sequence[str | ServiceRequest],
                   *, service_date: dt.date | None = None,
                   justification: str | None = None, trigger: Trigger | str = Trigger.USER,
                   reuse: bool = True, check_dates: bool = True) -> TariffResult:
    """Ask the insurer the tariff of ``services`` for the contact's patient at ``service_date`` (default today).

    ``contact`` is the open contact (:meth:`Context.open_contact`) or a patient identifier (SSIN or
    ``MUT:REGNR``), which then means that patient's open contact (R29).

    Only at the dentist's explicit request (``trigger`` is recorded and checked, R37). Once per
    contact (R35): when the contact already holds a successful result covering the services, it is
    returned (``from_contact=True``) without a network call; asking other services in the same
    contact is refused by rule R35. Raises :class:`TariffBusinessError` for insurer errors 100–175,
    :class:`TariffValidationError` / ``InvalidIdentifierError`` before sending, ``RuleRefusal``.
    """
    today = belgian_date(ctx.now())
    patient = contact.patient if isinstance(contact, Contact) else contact
    query = make_query(patient, services, service_date=service_date or today, justification=justification)
    if check_dates:
        check_service_date(query.service_date, today)
    with ctx.preparing():  # one write transaction: the contact, its kept result, the rules, the start row
        contact = ctx.resolve_contact(contact if isinstance(contact, Contact) else query.patient_key)
        if reuse and Trigger(trigger) is Trigger.USER:
            kept = _kept(ctx, contact.id)
            if kept is not None and kept.covers(query.services) and kept.service_date == query.service_date:
                return kept
        exchange = ctx.new_exchange(SERVICE, OPERATION, patient=query.patient_key, contact_id=contact.id,
                                    trigger=trigger, details={"patients": 1, "services": len(query.services)})
        ctx.start(exchange)
    with ctx.exchange(exchange) as run:  # the network call, then the outcome transaction
        result = TariffClient(ctx).send(query, exchange, run=run, check_dates=False)
        result = _finish(ctx, result, exchange, contact.id, run)
    return result


def _finish(ctx: Context, result: TariffResult, exchange: Exchange, contact_id: str,
            run: ExchangeRun) -> TariffResult:
    import attrs

    result = attrs.evolve(result, exchange_id=exchange.id, contact_id=contact_id, consulted_at=ctx.now())
    for entry in result.log_entries():
        run.keep(RESULT_KIND, entry)
    return result


def recorded_lines(ctx: Context, patient: str) -> list[dict[str, Any]]:
    """Every recorded tariff line of a patient (what billing reads for R36), oldest first."""
    return [dict(r.data) for r in ctx.log.find(kind=RESULT_KIND, patient=patient, status="ok")]
