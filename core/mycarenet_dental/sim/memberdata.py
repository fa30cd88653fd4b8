"""The insurer side of MyCareNet MemberData in the simulator: :func:`handle_memberdata` (security,
schema, licence, unseal, validation in the spec's order with the real status/sub-status/detail
codes, routing, answers sealed back) and the per-simulator :class:`FacetRegistry` filled from the
``mycarenet_dental_simulator_facets`` hook. Reading and checking the query is
:mod:`.memberdata_query`. The client side stays in
:mod:`mycarenet_dental.protocols.memberdata`; production never imports this module."""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from lxml import etree

from ..errors import MalformedResponseError
from ..protocols import commons
from ..protocols.memberdata import (
    CONFIRMATION_METHOD,
    ENCRYPTED_REQUEST,
    ENCRYPTED_RESPONSE,
    FACET_CARE_PATH,
    FACET_REFERENCE_PHARMACY,
    ISSUER_MYCARENET,
    NS_CIN_TYPES,
    NS_EXT,
    NS_SAML,
    NS_SAMLP,
    NS_XS,
    NS_XSI,
    PATH,
    REQUEST_ROOT,
    RESPONSE_ROOT,
    SOAP_ACTION,
    STATUS_SUCCESS,
    SUB_PARTIAL,
    TECHNICAL_ASSERTION,
    Facet,
    FaultDetail,
    KnownContent,
    MdaFault,
    _parse_facets,
    known_content,
    parse_known_content,
)
from ..timeutil import belgian_date, xs_local
from . import commons as commons_sim
from .memberdata_query import (  # noqa: F401  (the query side moved there; its names still import from here)
    DEFAULT_ISSUE_INSTANT_SKEW_S,
    ERROR_CODES,
    SWITCH_ISSUE_INSTANT_SKEW,
    AssertionSpec,
    AttributeSpec,
    DimensionSpec,
    FacetAnswer,
    FacetHandler,
    FacetRegistry,
    FacetRequest,
    ParsedQuery,
    QueryRejected,
    check_issue_instant,
    validate_query,
    warning,
)

if TYPE_CHECKING:  # pragma: no cover
    from .app import SimRequest, SimResponse
    from .population import SimPatient


# -- response building ------------------------------------------------------------------------------


def _fault_source(source: str, io: str | None) -> str:
    return f"IO-BE-{io or 'XXX'}" if source == "IO" else source


def build_saml_response(*, in_response_to: str, issuer: str, now: datetime, status: str,
                        sub_status: str | None = None, fault: MdaFault | None = None,
                        assertions: Iterable[etree._Element] = ()) -> etree._Element:
    root = etree.Element(f"{{{NS_SAMLP}}}Response",
                         nsmap={"samlp": NS_SAMLP, "saml": NS_SAML, "ext": NS_EXT, "cin": NS_CIN_TYPES,
                                "xsi": NS_XSI, "xs": NS_XS})
    root.set("ID", "_" + str(uuid.uuid4()))
    root.set("InResponseTo", in_response_to)
    root.set("IssueInstant", xs_local(now))
    root.set("Version", "2.0")
    etree.SubElement(root, f"{{{NS_SAML}}}Issuer").text = issuer
    st = etree.SubElement(root, f"{{{NS_SAMLP}}}Status")
    code = etree.SubElement(st, f"{{{NS_SAMLP}}}StatusCode")
    code.set("Value", status)
    if sub_status:
        etree.SubElement(code, f"{{{NS_SAMLP}}}StatusCode").set("Value", sub_status)
    if fault is not None:
        detail = etree.SubElement(st, f"{{{NS_SAMLP}}}StatusDetail")
        f_el = etree.SubElement(detail, "Fault")  # unqualified, as MyCareNet sends it
        f_el.set(f"{{{NS_XSI}}}type", "cin:FaultType")
        t = NS_CIN_TYPES
        etree.SubElement(f_el, f"{{{t}}}FaultCode").text = fault.fault_code
        if fault.fault_source:
            etree.SubElement(f_el, f"{{{t}}}FaultSource").text = fault.fault_source
        if fault.message:
            etree.SubElement(f_el, f"{{{t}}}Message").text = fault.message
        if fault.details:
            details = etree.SubElement(f_el, f"{{{t}}}Details")
            for d in fault.details:
                d_el = etree.SubElement(details, f"{{{t}}}Detail")
                etree.SubElement(d_el, f"{{{t}}}DetailCode").text = d.code
                if d.source:
                    etree.SubElement(d_el, f"{{{t}}}DetailSource").text = d.source
                if d.location:
                    etree.SubElement(d_el, f"{{{t}}}Location").text = d.location
                if d.message:
                    etree.SubElement(d_el, f"{{{t}}}Message").text = d.message
    for a in assertions:
        root.append(a)
    return root


def rejection_response(exc: QueryRejected, *, in_response_to: str, now: datetime) -> etree._Element:
    status, sub, fault_code, source, location, message = ERROR_CODES[exc.code]
    src = _fault_source(source, exc.io)
    issuer = f"urn:be:cin:io:{exc.io}" if source == "IO" and exc.io else ISSUER_MYCARENET
    detail = FaultDetail(code=exc.code, source=src, location=exc.location or location, message=exc.message or message)
    return build_saml_response(in_response_to=in_response_to, issuer=issuer, now=now, status=status, sub_status=sub,
                               fault=MdaFault(fault_code=fault_code, fault_source=src, details=(detail,)))


def build_assertion(spec: AssertionSpec, *, issuer: str, query: ParsedQuery, facets: Iterable[Facet],
                    now: datetime) -> etree._Element:
    s = NS_SAML
    a = etree.Element(f"{{{s}}}Assertion")
    a.set("ID", "_" + str(uuid.uuid4()))
    a.set("IssueInstant", xs_local(now))
    a.set("Version", "2.0")
    etree.SubElement(a, f"{{{s}}}Issuer").text = issuer
    subject = etree.SubElement(a, f"{{{s}}}Subject")
    nid = etree.SubElement(subject, f"{{{s}}}NameID")
    nid.set("Format", query.subject_format)
    nid.text = query.subject_value
    conf = etree.SubElement(subject, f"{{{s}}}SubjectConfirmation")
    conf.set("Method", CONFIRMATION_METHOD)
    data = etree.SubElement(conf, f"{{{s}}}SubjectConfirmationData")
    start = max(spec.start or query.start, query.start)
    end = min(spec.end or query.end, query.end)
    if end < start:  # closed before / starts later than the window: the window stays inside the question
        start = end = min(start, query.end)
    data.set("NotBefore", xs_local(datetime.combine(start, time())))
    data.set("NotOnOrAfter", xs_local(datetime.combine(end + timedelta(days=1), time())))
    advice = etree.SubElement(a, f"{{{s}}}Advice")
    advice.set(f"{{{NS_XSI}}}type", "ext:AdviceType")
    etree.SubElement(advice, f"{{{NS_EXT}}}AssertionType").text = spec.assertion_type
    for facet in facets:
        f_el = etree.SubElement(advice, f"{{{NS_EXT}}}Facet")
        f_el.set("id", facet.id)
        for dim in facet.dimensions:
            d_el = etree.SubElement(f_el, "Dimension")
            d_el.set("id", dim.id)
            d_el.text = dim.value
    statement = etree.SubElement(a, f"{{{s}}}AttributeStatement")
    for attr in spec.attributes:
        at = etree.SubElement(statement, f"{{{s}}}Attribute")
        at.set("Name", attr.name)
        v = etree.SubElement(at, f"{{{s}}}AttributeValue")
        v.set(f"{{{NS_XSI}}}type", attr.xsi_type)
        v.text = attr.value
    return a


def technical_assertion(io: str, facets: Iterable[Facet]) -> AssertionSpec:
    status = base64.b64encode(f"SIM-{io}-{uuid.uuid4().hex}".encode()).decode()
    return AssertionSpec(TECHNICAL_ASSERTION, (AttributeSpec(f"{TECHNICAL_ASSERTION}:status", status),
                                               AttributeSpec(f"{TECHNICAL_ASSERTION}:version", "SIM-1.0")))


# -- the handler -------------------------------------------------------------------------------------


def io_of(patient: SimPatient, start: date, end: date) -> list[str]:
    """The insurers (unions, ``x00``) covering ``patient`` within [start, end] — or, when none covers
    the window, the latest one before it (closedBefore) or the first one after it (startLater)."""
    from ..identifiers import InsurerCode

    def union(mut: str) -> str:
        try:
            return InsurerCode.parse(mut).union
        except Exception:
            return mut

    covering = [p for p in patient.periods if p.start <= end and (p.end is None or p.end >= start)]
    if covering:
        return sorted({union(p.mutuality) for p in covering})
    before = sorted((p for p in patient.periods if p.end is not None and p.end < start), key=lambda p: p.end)
    if before:
        return [union(before[-1].mutuality)]
    after = sorted((p for p in patient.periods if p.start > end), key=lambda p: p.start)
    return [union(after[0].mutuality)] if after else []


def _mycarenet_key(trust: Any) -> Any:
    from ..ehealth.keystore import KeyEntry

    return KeyEntry(alias="mycarenet", private_key=trust.mycarenet_enc_key, certificate=trust.mycarenet_enc_cert)


def handle_memberdata(request: SimRequest, *, registry: FacetRegistry | None = None) -> SimResponse:
    """The simulated ``/MyCareNet/MemberData/v1`` (MyCareNet + the insurers behind it)."""
    from ..xmlsafe import parse_xml
    from . import schemas
    from .authz import authorize_care_provider

    registry = registry or request.state.facets
    state = request.state
    # the mandate check waits until the facets (hence the services) are known, after unsealing
    parsed = commons_sim.accept_request(request, commons.V3, root=REQUEST_ROOT, schema="memberdata", service=None,
                                    operation="MemberDataConsultation", parse_fault="SOA-03007")
    caller = request.caller
    ci = parsed.common_input
    cp = ci.origin.care_provider
    assert cp is not None  # accept_request refused a request without one
    state.count("memberdata:requests")
    # blob: clear or sealed for MyCareNet
    reply_etk: bytes | None = parsed.blob.etk
    if parsed.blob.content_encryption:
        if parsed.blob.content_encryption != ENCRYPTED_REQUEST:
            return request.fault("SOA-03007", f"unknown ContentEncryption {parsed.blob.content_encryption!r}")
        from ..ehealth import etee

        try:
            unsealed = etee.unseal(parsed.blob.content, recipient_keys=[_mycarenet_key(state.trust)])
            kc = parse_known_content(unsealed.content)
        except Exception as exc:  # noqa: BLE001 — any unsealing failure is a content refusal
            return request.fault("SOA-03007", f"the sealed blob could not be opened: {type(exc).__name__}")
        query_bytes = kc.business
        reply_etk = kc.reply_to_etk or reply_etk
    else:
        query_bytes = parsed.blob.content
    try:
        query_el = parse_xml(query_bytes, what="AttributeQuery")
    except MalformedResponseError as exc:
        return request.fault("SOA-03007", f"blob is not XML: {exc.messages.en}")
    if query_el.tag != f"{{{NS_SAMLP}}}AttributeQuery":
        return request.fault("SOA-03007", f"blob holds {query_el.tag}, not samlp:AttributeQuery (no batch here)")
    blob_errors = schemas.validate("memberdata-blob", query_el)
    if blob_errors:
        return request.fault("SOA-03006", "blob not XSD conformant: " + blob_errors[0])
    # the caller must be the care provider or hold a mandate for the service(s) of the facets asked
    ext = query_el.find(f"{{{NS_SAMLP}}}Extensions")
    services = {getattr(registry.get(f.id), "service", "assurability")
                for f in (_parse_facets(ext) if ext is not None else ())} or {"assurability"}
    for service in sorted(services):
        authorize_care_provider(request, care_provider=cp.nihii, service=service, caller=caller)
    now = state.now()
    in_response_to = query_el.get("ID") or ""
    saml = _answer(query_el, parsed=parsed, caller=caller, state=state, registry=registry, now=now,
                   in_response_to=in_response_to)
    saml_bytes = etree.tostring(saml, encoding="UTF-8", xml_declaration=True)
    if reply_etk:
        from ..ehealth import etee
        from ..ehealth.etk import Etk

        inner = known_content(KnownContent(business=saml_bytes))
        # sealed by MyCareNet's authentication key (the outer signer of an ETEE message, auth-crypto.md §5.2)
        sealed = etee.seal(inner, sender=state.trust.answer_signer(), recipients=[Etk.parse(reply_etk)])
        blob = commons.make_blob(sealed, content_type="text/xml", encoding="none",
                                 content_encryption=ENCRYPTED_RESPONSE)
    else:
        blob = commons.make_blob(saml_bytes, content_type="text/xml", encoding="none", with_hash=True)
    response = commons.build_response(
        commons.V3, RESPONSE_ROOT,
        common_output=commons.CommonOutput(input_reference=ci.input_reference,
                                           nip_reference=commons.new_output_reference(),
                                           output_reference=commons.new_output_reference()),
        blob=blob, in_response_to=parsed.id, issue_instant=now)
    return request.soap_response(response)


def _answer(query_el: etree._Element, *, parsed: commons.SendRequest, caller: Any, state: Any,
            registry: FacetRegistry, now: datetime, in_response_to: str) -> etree._Element:
    switches = state.switches.extra
    cp = parsed.common_input.origin.care_provider
    quality = (cp.quality if cp else None) or getattr(caller, "quality", None)
    try:
        query = validate_query(query_el, input_reference=parsed.common_input.input_reference,
                               care_provider_nihii=cp.nihii if cp else None, quality=quality, registry=registry,
                               today=belgian_date(now), now=now,
                               issue_instant_max_skew=timedelta(
                                   seconds=float(switches.get(SWITCH_ISSUE_INSTANT_SKEW, DEFAULT_ISSUE_INSTANT_SKEW_S))),
                               unauthorized_facets=switches.get("memberdata.unauthorized_facets",
                                                                (FACET_CARE_PATH, FACET_REFERENCE_PHARMACY)))
        if switches.get("memberdata.send_to_im_exception"):
            raise QueryRejected("SEND_TO_IM_EXCEPTION")
        patient = _route(state, query)
        ios = io_of(patient, query.start, query.end)
        if not ios:
            raise QueryRejected("UNKNOWN_IO")
        # UNSURE: with two insurers in the window MyCareNet answers for the latest one with a MUTATION
        # warning (insurability.md §1.4); MULTIPLE_IO is kept for a patient flagged so.
        if patient.facts.get("memberdata.multiple_io"):
            raise QueryRejected("MULTIPLE_IO")
        io = ios[-1] if len(ios) > 1 else ios[0]
        latest = max((p for p in patient.periods if p.start <= query.end), key=lambda p: p.start, default=None)
        if latest is not None and len(ios) > 1:
            io = _union(latest.mutuality)
        if io in set(switches.get("memberdata.io_down", ())):
            raise QueryRejected("SEND_TO_IM_EXCEPTION", message=f"insurer {io} does not answer")
        if patient.facts.get("memberdata.bo_exception"):
            raise QueryRejected("BO_EXCEPTION", io=io, message=str(patient.facts["memberdata.bo_exception"]))
        issuer = f"urn:be:cin:io:{io}"
        specs: list[tuple[AssertionSpec, Facet]] = []
        warnings: list[FaultDetail] = []
        missing: list[str] = []
        for facet in query.facets:
            handler = registry.get(facet.id)
            if handler is None:
                missing.append(facet.id)
                continue
            answer = handler.build(FacetRequest(facet=facet, patient=patient, query=query, io=io, now=now,
                                                state=state, caller=caller))
            specs += [(a, facet) for a in answer.assertions]
            warnings += list(answer.warnings)
        if missing and len(missing) == len(query.facets):
            raise QueryRejected("NO_FACET")
        if len(ios) > 1 and not any(w.code == "MUTATION" for w in warnings):
            warnings.append(warning("MUTATION", io=io))
        if missing:
            warnings.append(warning("MISSING_FACETS", message="facet(s) not available: " + ", ".join(missing)))
    except QueryRejected as exc:
        return rejection_response(exc, in_response_to=in_response_to, now=now)
    elements = [build_assertion(spec, issuer=issuer, query=query, facets=(facet,), now=now) for spec, facet in specs]
    elements.append(build_assertion(technical_assertion(io, query.facets), issuer=issuer, query=query,
                                    facets=query.facets, now=now))
    fault = None
    sub = None
    if warnings:
        sub = SUB_PARTIAL
        fault = MdaFault(fault_code="WARNING", fault_source=warnings[0].source or f"IO-BE-{io}", details=warnings)
    return build_saml_response(in_response_to=in_response_to, issuer=issuer, now=now, status=STATUS_SUCCESS,
                               sub_status=sub, fault=fault, assertions=elements)


def _union(mut: str) -> str:
    return mut[0] + "00" if re.fullmatch(r"\d{3}", mut) else mut


def _route(state: Any, query: ParsedQuery) -> SimPatient:
    population = state.population
    if query.registration_number is not None:
        patient = population.by_registration(query.mutuality or "", query.registration_number)
        if patient is None:
            # the registration number is only known by the insurer: MyCareNet routes on the IO code
            raise QueryRejected("BO_UNKNOWN_REGNBR", io=_union(query.mutuality or ""))
        return patient
    patient = population.get(query.ssin or "")
    if patient is None or not patient.known:
        raise QueryRejected("UNKNOWN_NISS_ROUTING")
    if query.mutuality and not any(_union(p.mutuality) == _union(query.mutuality) for p in patient.periods):
        raise QueryRejected("BO_UNKNOWN_NISS", io=_union(query.mutuality))
    return patient


def memberdata_route() -> Any:
    """The simulator route, hosted by the core whenever a loaded plugin yields a facet."""
    from .registrations import SimulatorRoute

    return SimulatorRoute(path=PATH, handler=handle_memberdata, soap_actions=(SOAP_ACTION,),
                          name="MyCareNet MemberData")
