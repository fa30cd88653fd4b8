"""Client side of the DMG-right consultation: one exchange through the core guard, two routes.

Route A (default, ``[dmg] route = "memberdata"``): the MemberData facet ``globalMedicalFile``, built,
sealed and read by the core's shared MemberData machinery. Route B (``"gmf"``): the eHealth
GlobalMedicalFileConsultation with a KMEHR ``gmd`` request (:mod:`.gmf_route`).

Every consultation carries the art. 74 purpose (R41), names its trigger (R42), runs in an open
contact (R29) and is refused for a mandatary (R21); the holder is recorded on the contact and erased
when it closes unless ``[dmg] keep_results = true`` (R28).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from mycarenet_dental.contacts import Contact
from mycarenet_dental.errors import ConfigError, UsageError
from mycarenet_dental.exchange import ExchangeRun, Trigger
from mycarenet_dental.identifiers import Ssin
from mycarenet_dental.protocols import answers
from mycarenet_dental.timeutil import belgian_date

from .model import PURPOSE, RESULT_KIND, SERVICE, DmgRefusedError, DmgResult, Route

if TYPE_CHECKING:  # pragma: no cover
    from mycarenet_dental.context import Context
    from mycarenet_dental.exchange import Exchange

OPERATIONS = {Route.MEMBERDATA: "MemberDataConsultation", Route.GMF: "ConsultGlobalMedicalFile"}


def configured_route(ctx: Context, route: Route | str | None = None) -> Route:
    value = route or ctx.config.section(SERVICE).get("route", Route.MEMBERDATA.value)
    try:
        return Route(value)
    except ValueError:
        raise ConfigError(f"unknown DMG route {value!r}", location="[dmg] route",
                          hint="use 'memberdata' (MemberData facet) or 'gmf' (GlobalMedicalFileConsultation)") from None


def consult_dmg(ctx: Context, contact: Contact | str, *, reference_date: date | None = None,
                trigger: Trigger | str = Trigger.USER, consent: bool | None = None,
                route: Route | str | None = None) -> DmgResult:
    """Ask the patient's insurer who holds the patient's DMG on ``reference_date`` (default today).

    ``contact`` is the open contact (:meth:`Context.open_contact`) or the patient's SSIN, which then
    means that patient's open contact (R29).

    Raises ``NoContactError`` without an open contact, ``RuleRefusal`` (R42 automatic or burst, R21-dmg
    mandatary, R41 purpose), :class:`DmgRefusedError` when the insurer refuses, ``RemoteError`` subclasses
    for transport and SOAP faults. "No holder" is a normal answer (``result.holder is None``).
    """
    ssin = Ssin.parse(contact.patient if isinstance(contact, Contact) else contact, field="--patient").value
    chosen = configured_route(ctx, route)
    day = reference_date or belgian_date(ctx.now())
    with ctx.preparing():  # one write transaction: the contact, the rules (R29, R42...), the start row
        contact = ctx.resolve_contact(contact if isinstance(contact, Contact) else ssin)
        details: dict[str, Any] = {"route": chosen.value, "reference_date": day.isoformat()}
        if consent is not None:
            details["patient_consent"] = bool(consent)  # R41: the patient's agreement to the art. 74 report
        exchange = ctx.new_exchange(SERVICE, OPERATIONS[chosen], patient=ssin, contact_id=contact.id,
                                    trigger=trigger, purpose=PURPOSE, details=details)
        ctx.start(exchange)
    with ctx.exchange(exchange) as run:
        if consent is not None:
            run.reference("patient_consent", "given" if consent else "refused")
        if chosen is Route.GMF:
            result = _consult_via_gmf(ctx, exchange, run, ssin, day)
        else:
            result = _consult_via_memberdata(ctx, exchange, run, ssin, day)
        result = _finish(result, exchange, contact.id, consent)
        keep = bool(ctx.config.section(SERVICE).get("keep_results", False))
        run.keep(RESULT_KIND, result.to_log(), retention="keep" if keep else "contact")
    return result


def _finish(result: DmgResult, exchange: Exchange, contact_id: str, consent: bool | None) -> DmgResult:
    import attrs

    return attrs.evolve(result, exchange_id=exchange.id, contact_id=contact_id, consent=consent,
                        purpose=exchange.purpose or PURPOSE)


# -- route B ---------------------------------------------------------------------------------------------


def _consult_via_gmf(ctx: Context, exchange: Exchange, run: ExchangeRun, ssin: str, day: date) -> DmgResult:
    from mycarenet_dental.protocols import commons, kmehr

    from . import gmf_route

    answers.preflight(ctx, SERVICE)
    settings = ctx.config.section(SERVICE)
    quality = str(settings.get("gmf_quality", gmf_route.DEFAULT_QUALITY))
    dentist = ctx.config.require_dentist()
    # UNSURE: dmg.md gives the id as <NIHII>.<reference>; the reference connector's DMG references are numeric
    # and serve as InputReference and KMEHR id suffix at once: 14 digits here.
    common_input = commons.common_input_for(ctx, exchange, quality=quality,
                                            input_reference=commons.new_input_reference(digits_only=True))
    author = kmehr.HcParty.person(kind=gmf_route.HCPARTY_FOR_QUALITY.get(quality, "persdentist"),
                                  nihii=dentist.nihii, ssin=dentist.ssin, familyname=dentist.name or None)
    request = gmf_route.kmehr_request(author=author, patient_ssin=ssin, reference_date=day, now=ctx.now(),
                                    nihii=dentist.nihii, input_reference=common_input.input_reference or "")
    body = gmf_route.consult_request(common_input=common_input, request=request, patient_ssin=ssin,
                                   reference_date=day)
    if common_input.input_reference:
        run.reference("input_reference", common_input.input_reference)
    run.reference("kmehr_request_id", request.header.id)
    reply = ctx.soap.call(ctx.service_url(SERVICE, "gmf"), gmf_route.SOAP_ACTION, body,
                          security=ctx.security.hok(), idempotent=True, run=run)
    answer = gmf_route.parse_consult_response(reply.body_child, check=lambda envelope, response: _authenticate_gmf(
        ctx, run, envelope, response, request_id=request.header.id, ssin=ssin))
    if answer.holder is not None and ((answer.holder.start and answer.holder.start > day)
                                      or (answer.holder.end and answer.holder.end < day)):
        raise answers.AnswerRejected(f"the answer's DMG holder period ({answer.holder.start} – {answer.holder.end}) "
                                     f"does not include the date asked ({day})", code="ANSWER_PERIOD", service=SERVICE)
    if answer.output_reference:
        run.reference("output_reference", answer.output_reference)
    if answer.errors:
        first = answer.errors[0]
        raise DmgRefusedError(first.code, remote_text=first.description, location=first.url,
                              origin=f"insurer {answer.mutuality}" if answer.mutuality else "gmf", route=Route.GMF)
    if not answer.complete:
        raise DmgRefusedError("DMG_MALFORMED", remote_text="the answer is incomplete and names no error",
                              route=Route.GMF)
    return DmgResult(patient=ssin, reference_date=day, route=Route.GMF, holder=answer.holder,
                     mutuality=answer.mutuality, references=dict(run.references))


def _authenticate_gmf(ctx: Context, run: ExchangeRun, envelope: Any, response: Any, *, request_id: str,
                      ssin: str) -> None:
    """Before the GMF answer is read: its XadesT (when the blob has content), the echoed KMEHR request id and
    the patient it names (answers.py)."""
    if envelope.blob.content:
        answers.verify_xades(ctx, SERVICE, content=envelope.blob.content, signature=envelope.xades_t, at=ctx.now(),
                             content_type=envelope.blob.content_type or "text/xml", run=run)
    if response is None:
        return
    answers.check_in_response_to(response.request.id if response.request else None, request_id,
                                 what="echoed KMEHR request id", service=SERVICE)
    if response.patient is not None:
        answers.check_patient(asked_ssin=ssin, answer_ssin=response.patient.ssin, service=SERVICE)


# -- route A ---------------------------------------------------------------------------------------------


def _consult_via_memberdata(ctx: Context, exchange: Exchange, run: ExchangeRun, ssin: str, day: date) -> DmgResult:
    try:
        from mycarenet_dental.protocols import memberdata  # noqa: F401
    except ImportError:
        raise UsageError("the MemberData route needs mycarenet_dental.protocols.memberdata (core)",
                         code="DMG_ROUTE_UNAVAILABLE", hint="use --route gmf") from None
    from . import memberdata_route

    answer = memberdata_route.consult(ctx, exchange, run, ssin, day)
    return DmgResult(patient=ssin, reference_date=day, route=Route.MEMBERDATA, holder=answer.holder,
                     union=answer.union, references=dict(run.references))
