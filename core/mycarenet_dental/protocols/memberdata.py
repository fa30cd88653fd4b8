"""MyCareNet MemberData (MDA): SAML AttributeQuery out, SAML Response back (``insurability.md`` §1).

Shared by every plugin that asks MemberData a facet (insurability, the DMG's ``globalMedicalFile``).

Client side
    :class:`AttributeQuery` + :func:`build_attribute_query` (any list of :class:`Facet`),
    :func:`known_content` / :func:`parse_known_content` (the ``urn:be:cin:encrypted`` wrapper sealed for
    MyCareNet's ETK with a reply-to ETK), :func:`parse_saml_response` into generic :class:`Assertion`
    records, and :func:`consult` that runs one complete call inside an exchange.
Simulator side
    in :mod:`mycarenet_dental.sim.memberdata` (the insurer side; a plugin adds a facet by yielding a
    ``FacetHandler`` from the simulator hook ``mycarenet_dental_simulator_facets``).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import attrs
from lxml import etree

from ..errors import MalformedResponseError, SecurityError
from ..timeutil import parse_belgian_wall_clock, xs_local
from . import answers, commons

if TYPE_CHECKING:  # pragma: no cover
    from ..context import Context
    from ..exchange import Exchange, ExchangeRun

# -- names ---------------------------------------------------------------------------------------

NS_SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
NS_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_EXT = "urn:be:cin:nippin:memberdata:saml:extension"
NS_CIN_TYPES = "urn:be:cin:types:v1"
NS_ENCRYPTED = "urn:be:cin:encrypted"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS_XS = "http://www.w3.org/2001/XMLSchema"
NS_MDA = "urn:be:fgov:ehealth:mycarenet:memberdata:protocol:v1"

REQUEST_ROOT = f"{{{NS_MDA}}}MemberDataConsultationRequest"
RESPONSE_ROOT = f"{{{NS_MDA}}}MemberDataConsultationResponse"
SOAP_ACTION = "urn:be:fgov:ehealth:mycarenet:memberdata:protocol:v1:MemberDataConsultation"
PATH = "/MyCareNet/MemberData/v1"

MYCARENET_CBE = "0820563481"
MYCARENET_APPLICATION = "MYCARENET"
ENCRYPTED_REQUEST = "encryptedForKnownBED"
ENCRYPTED_RESPONSE = "encryptedForKnownRecipient"

FORMAT_NIHII11 = "urn:be:cin:nippin:nihii11"
FORMAT_CBE = "urn:be:fgov:kbo-bce:organization:cbe-number"
FORMAT_SSIN = "urn:be:fgov:person:ssin"
FORMAT_SSIN_AT_MUT = "urn:be:cin:nippin:member:ssin@mut"
FORMAT_REGNR_AT_MUT = "urn:be:cin:nippin:careReceiver:registrationNumber@mut"
CONFIRMATION_METHOD = "urn:be:cin:nippin:memberIdentification"

FACET_INSURABILITY = "urn:be:cin:nippin:insurability"
FACET_GMF = "urn:be:cin:nippin:globalMedicalFile"
FACET_CHRONIC = "urn:be:cin:nippin:chronicCondition"
FACET_CARE_PATH = "urn:be:cin:nippin:carePath"
FACET_REFERENCE_PHARMACY = "urn:be:cin:nippin:referencePharmacy"
FACET_PALLIATIVE = "urn:be:cin:nippin:palliativeStatus"
KNOWN_FACETS = (FACET_INSURABILITY, FACET_GMF, FACET_CHRONIC, FACET_CARE_PATH, FACET_REFERENCE_PHARMACY,
                FACET_PALLIATIVE)
TECHNICAL_ASSERTION = "urn:be:cin:nippin:technicalAssertion"

STATUS_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
STATUS_REQUESTER = "urn:oasis:names:tc:SAML:2.0:status:Requester"
STATUS_RESPONDER = "urn:oasis:names:tc:SAML:2.0:status:Responder"
SUB_REQUEST_ERROR = "urn:be:cin:nippin:SAML:status:RequestError"
SUB_QUERY_ERROR = "urn:be:cin:nippin:SAML:status:AttributeQueryError"
SUB_INPUT_ERROR = "urn:be:cin:nippin:SAML:status:InputError"
SUB_PARTIAL = "urn:be:cin:nippin:SAML:status:PartialAnswer"
SUB_INTERNAL = "urn:be:cin:nippin:SAML:status:InternalError"
ISSUER_MYCARENET = "urn:be:cin:nippin:aa"


# -- request records -----------------------------------------------------------------------------


@attrs.frozen
class Dimension:
    id: str
    value: str


def _dims(value: Iterable[Dimension | tuple[str, str]]) -> tuple[Dimension, ...]:
    return tuple(d if isinstance(d, Dimension) else Dimension(*d) for d in value)


@attrs.frozen
class Facet:
    """A requested facet (``ext:Facet id``) with its dimensions (unqualified ``Dimension``)."""

    id: str
    dimensions: tuple[Dimension, ...] = attrs.field(default=(), converter=_dims)

    def dimension(self, name: str) -> str | None:
        return next((d.value for d in self.dimensions if d.id == name), None)


@attrs.frozen
class SubjectRef:
    """The patient of the query: NameID format + value."""

    format: str
    value: str

    @classmethod
    def ssin(cls, ssin: str) -> SubjectRef:
        return cls(FORMAT_SSIN, ssin)

    @classmethod
    def registration(cls, number: str, mutuality: str) -> SubjectRef:
        return cls(FORMAT_REGNR_AT_MUT, f"{number}@{mutuality}")

    @classmethod
    def for_patient(cls, patient: Any) -> SubjectRef:
        """From :func:`mycarenet_dental.identifiers.parse_patient`'s result (Ssin or RegistrationNumber)."""
        if hasattr(patient, "mutuality") and hasattr(patient, "number"):
            return cls.registration(patient.number, str(patient.mutuality))
        return cls.ssin(str(getattr(patient, "value", patient)))


@attrs.frozen
class AttributeQuery:
    """One MemberData question: who asks (Issuer NIHII), about whom, which facets, for which period.

    ``start``/``end`` are inclusive days; on the wire ``NotBefore = start 00:00`` and
    ``NotOnOrAfter = end + 1 day 00:00``.
    """

    id: str
    issuer: str
    subject: SubjectRef
    facets: tuple[Facet, ...] = attrs.field(converter=tuple)
    start: date
    end: date
    issue_instant: datetime
    issuer_format: str = FORMAT_NIHII11

    @facets.validator
    def _one_facet(self, attribute: Any, value: tuple[Facet, ...]) -> None:
        if not value:
            raise ValueError("an AttributeQuery asks at least one facet")


def build_attribute_query(query: AttributeQuery) -> etree._Element:
    """The ``samlp:AttributeQuery`` element (schema: ``memberdata-blob``)."""
    root = etree.Element(f"{{{NS_SAMLP}}}AttributeQuery",
                         nsmap={"samlp": NS_SAMLP, "saml": NS_SAML, "ext": NS_EXT, "xsi": NS_XSI})
    root.set("ID", query.id)
    root.set("Version", "2.0")
    root.set("IssueInstant", xs_local(query.issue_instant))
    issuer = etree.SubElement(root, f"{{{NS_SAML}}}Issuer")
    issuer.set("Format", query.issuer_format)
    issuer.text = query.issuer
    ext = etree.SubElement(root, f"{{{NS_SAMLP}}}Extensions")
    ext.set(f"{{{NS_XSI}}}type", "ext:ExtensionsType")
    for facet in query.facets:
        f_el = etree.SubElement(ext, f"{{{NS_EXT}}}Facet")
        f_el.set("id", facet.id)
        for dim in facet.dimensions:
            d_el = etree.SubElement(f_el, "Dimension")  # unqualified, as the schema and real traffic have it
            d_el.set("id", dim.id)
            d_el.text = dim.value
    subject = etree.SubElement(root, f"{{{NS_SAML}}}Subject")
    name_id = etree.SubElement(subject, f"{{{NS_SAML}}}NameID")
    name_id.set("Format", query.subject.format)
    name_id.text = query.subject.value
    conf = etree.SubElement(subject, f"{{{NS_SAML}}}SubjectConfirmation")
    conf.set("Method", CONFIRMATION_METHOD)
    data = etree.SubElement(conf, f"{{{NS_SAML}}}SubjectConfirmationData")
    # UNSURE: NotOnOrAfter = the day after the last requested day (exclusive bound, as SAML defines it);
    # real samples only show whole-day bounds.
    data.set("NotBefore", xs_local(datetime.combine(query.start, time())))
    data.set("NotOnOrAfter", xs_local(datetime.combine(query.end + timedelta(days=1), time())))
    return root


# -- the urn:be:cin:encrypted wrapper ----------------------------------------------------------------


@attrs.frozen
class KnownContent:
    """``EncryptedKnownContent`` in clear: the business content (decoded, inflated) and the reply ETK."""

    business: bytes = attrs.field(repr=False)
    reply_to_etk: bytes | None = attrs.field(default=None, repr=False)
    content_type: str = "text/xml"
    content_encoding: str = "none"
    id: str | None = None
    xades: bytes | None = attrs.field(default=None, repr=False)


def known_content(content: KnownContent) -> bytes:
    """Serialise an ``EncryptedKnownContent`` (schema ``encrypted-content``)."""
    root = etree.Element(f"{{{NS_ENCRYPTED}}}EncryptedKnownContent", nsmap={"enc": NS_ENCRYPTED})
    if content.reply_to_etk:
        etree.SubElement(root, f"{{{NS_ENCRYPTED}}}Reply-to-Etk").text = base64.b64encode(content.reply_to_etk).decode()
    bc = etree.SubElement(root, f"{{{NS_ENCRYPTED}}}BusinessContent")
    bc.set("id", content.id or "_" + uuid.uuid4().hex)
    bc.set("ContentType", content.content_type)
    bc.set("ContentEncoding", content.content_encoding)
    payload = content.business
    if content.content_encoding == "deflate":
        payload = commons._deflate(payload)
    bc.text = base64.b64encode(payload).decode()
    if content.xades:
        etree.SubElement(root, f"{{{NS_ENCRYPTED}}}Xades").text = base64.b64encode(content.xades).decode()
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True)


def parse_known_content(data: bytes) -> KnownContent:
    from ..xmlsafe import parse_xml

    root = parse_xml(data, what="EncryptedKnownContent")
    if root.tag != f"{{{NS_ENCRYPTED}}}EncryptedKnownContent":
        raise MalformedResponseError(f"sealed content is {root.tag}, not EncryptedKnownContent",
                                     code="BAD_SEALED_CONTENT", origin="memberdata")
    reply = root.find(f"{{{NS_ENCRYPTED}}}Reply-to-Etk")
    bc = root.find(f"{{{NS_ENCRYPTED}}}BusinessContent")
    xades = root.find(f"{{{NS_ENCRYPTED}}}Xades")
    if bc is None:
        raise MalformedResponseError("EncryptedKnownContent without BusinessContent", code="BAD_SEALED_CONTENT",
                                     origin="memberdata")
    try:
        payload = base64.b64decode("".join((bc.text or "").split()), validate=True)
        reply_etk = base64.b64decode("".join((reply.text or "").split())) if reply is not None else None
        xades_b = base64.b64decode("".join((xades.text or "").split())) if xades is not None else None
    except ValueError:
        raise MalformedResponseError("EncryptedKnownContent holds invalid base64", code="BAD_SEALED_CONTENT",
                                     origin="memberdata") from None
    encoding = (bc.get("ContentEncoding") or "none").lower()
    if encoding == "deflate":
        payload = commons.inflate_blob(payload, max_bytes=20 * 1024 * 1024)[0]
    return KnownContent(business=payload, reply_to_etk=reply_etk or None,
                        content_type=bc.get("ContentType") or "application/octet-stream",
                        content_encoding=encoding, id=bc.get("id"), xades=xades_b)


# -- response records ----------------------------------------------------------------------------


@attrs.frozen
class FaultDetail:
    code: str
    source: str | None = None
    location: str | None = None
    message: str | None = None


@attrs.frozen
class MdaFault:
    """``samlp:StatusDetail/Fault`` (``urn:be:cin:types:v1`` FaultType)."""

    fault_code: str
    fault_source: str | None = None
    message: str | None = None
    details: tuple[FaultDetail, ...] = attrs.field(default=(), converter=tuple)


@attrs.frozen
class Attribute:
    name: str
    values: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    types: tuple[str | None, ...] = attrs.field(default=(), converter=tuple)


@attrs.frozen
class Assertion:
    """One ``saml:Assertion`` of the answer, generic: its type (Advice), window and attributes."""

    id: str
    issuer: str | None
    assertion_type: str | None
    name_id: str | None
    name_id_format: str | None
    not_before: datetime | None
    not_on_or_after: datetime | None
    facets: tuple[Facet, ...] = attrs.field(default=(), converter=tuple)
    attributes: tuple[Attribute, ...] = attrs.field(default=(), converter=tuple)

    def value(self, name: str) -> str | None:
        for attr in self.attributes:
            if attr.name == name and attr.values:
                return attr.values[0]
        return None

    def values(self, name: str) -> tuple[str, ...]:
        """Every value of ``name`` (one Attribute with several values, or the name repeated)."""
        return tuple(v for a in self.attributes if a.name == name for v in a.values)


@attrs.frozen
class MdaResponse:
    id: str | None
    in_response_to: str | None
    issuer: str | None
    status: str
    sub_status: str | None = None
    fault: MdaFault | None = None
    assertions: tuple[Assertion, ...] = attrs.field(default=(), converter=tuple)

    @property
    def success(self) -> bool:
        return self.status == STATUS_SUCCESS

    @property
    def partial(self) -> bool:
        return self.success and self.sub_status == SUB_PARTIAL

    @property
    def io(self) -> str | None:
        """The answering insurer (``urn:be:cin:io:<IO>`` → ``<IO>``), None when MyCareNet answered."""
        if self.issuer and self.issuer.startswith("urn:be:cin:io:"):
            return self.issuer.rsplit(":", 1)[1]
        return None

    def of_type(self, assertion_type: str) -> list[Assertion]:
        return [a for a in self.assertions if a.assertion_type == assertion_type]


def _parse_facets(parent: etree._Element) -> tuple[Facet, ...]:
    out = []
    for f in parent.iterchildren(_EXT_FACET):
        dims = tuple(Dimension(d.get("id") or "", (d.text or "").strip())
                     for d in f if isinstance(d.tag, str) and (d.tag == "Dimension" or d.tag.endswith("}Dimension")))
        out.append(Facet(f.get("id") or "", dims))
    return tuple(out)


# The answer is read with lxml's C child iterators rather than ``find("a/b")`` paths: each ``find`` goes
# through ElementPath's per-call machinery, which was half of this parse (~0.1 ms per answer).
_EXT_FACET = f"{{{NS_EXT}}}Facet"
_SAML_ISSUER = f"{{{NS_SAML}}}Issuer"
_SAML_SUBJECT = f"{{{NS_SAML}}}Subject"
_SAML_NAME_ID = f"{{{NS_SAML}}}NameID"
_SAML_CONFIRMATION = f"{{{NS_SAML}}}SubjectConfirmation"
_SAML_CONFIRMATION_DATA = f"{{{NS_SAML}}}SubjectConfirmationData"
_SAML_ADVICE = f"{{{NS_SAML}}}Advice"
_SAML_STATEMENT = f"{{{NS_SAML}}}AttributeStatement"
_SAML_ATTRIBUTE = f"{{{NS_SAML}}}Attribute"
_SAML_VALUE = f"{{{NS_SAML}}}AttributeValue"
_EXT_ASSERTION_TYPE = f"{{{NS_EXT}}}AssertionType"
_XSI_TYPE = f"{{{NS_XSI}}}type"


def _first(parent: etree._Element, *path: str) -> etree._Element | None:
    """``parent.find("t1/t2/…")`` for namespaced tags: the first match in document order, or None."""
    level = [parent]
    for tag in path[:-1]:
        level = [child for el in level for child in el.iterchildren(tag)]
    return next((child for el in level for child in el.iterchildren(path[-1])), None)


def _text(parent: etree._Element, tag: str) -> str | None:
    """``(parent.findtext(tag) or "").strip() or None``."""
    el = next(parent.iterchildren(tag), None)
    return (el.text or "").strip() or None if el is not None else None


@lru_cache(maxsize=64)
def _wall_clock(text: str | None) -> datetime | None:
    # The same few day bounds recur in every assertion; a pure function of its text (datetime is immutable).
    return parse_belgian_wall_clock(text)


def _assertion(a: etree._Element) -> Assertion:
    name_id = _first(a, _SAML_SUBJECT, _SAML_NAME_ID)
    scd = _first(a, _SAML_SUBJECT, _SAML_CONFIRMATION, _SAML_CONFIRMATION_DATA)
    advice = next(a.iterchildren(_SAML_ADVICE), None)
    attributes = []
    for statement in a.iterchildren(_SAML_STATEMENT):
        for attr in statement.iterchildren(_SAML_ATTRIBUTE):
            vals = list(attr.iterchildren(_SAML_VALUE))
            attributes.append(Attribute(attr.get("Name") or "", tuple((v.text or "").strip() for v in vals),
                                        tuple(v.get(_XSI_TYPE) for v in vals)))
    return Assertion(
        id=a.get("ID") or "", issuer=_text(a, _SAML_ISSUER),
        assertion_type=_text(advice, _EXT_ASSERTION_TYPE) if advice is not None else None,
        name_id=(name_id.text or "").strip() if name_id is not None else None,
        name_id_format=name_id.get("Format") if name_id is not None else None,
        not_before=_wall_clock(scd.get("NotBefore")) if scd is not None else None,
        not_on_or_after=_wall_clock(scd.get("NotOnOrAfter")) if scd is not None else None,
        facets=_parse_facets(advice) if advice is not None else (), attributes=tuple(attributes))


def parse_saml_response(root: etree._Element) -> MdaResponse:
    """Parse a ``samlp:Response`` (as returned in the MDA blob) into typed, generic records."""
    if root.tag != f"{{{NS_SAMLP}}}Response":
        raise MalformedResponseError(f"MemberData blob holds {root.tag}, not samlp:Response",
                                     code="BAD_MDA_RESPONSE", origin="memberdata")
    top = _first(root, f"{{{NS_SAMLP}}}Status", f"{{{NS_SAMLP}}}StatusCode")
    if top is None:
        raise MalformedResponseError("samlp:Response without Status", code="BAD_MDA_RESPONSE", origin="memberdata")
    sub = next(top.iterchildren(f"{{{NS_SAMLP}}}StatusCode"), None)
    fault = None
    detail = _first(root, f"{{{NS_SAMLP}}}Status", f"{{{NS_SAMLP}}}StatusDetail")
    if detail is not None:
        f_el = detail.find("Fault")
        if f_el is None:
            f_el = detail.find(f"{{{NS_CIN_TYPES}}}Fault")
        if f_el is not None:
            t = NS_CIN_TYPES

            def txt(el: etree._Element, name: str) -> str | None:
                v = el.findtext(f"{{{t}}}{name}")
                return v.strip() if v and v.strip() else None

            details = [FaultDetail(code=txt(d, "DetailCode") or "", source=txt(d, "DetailSource"),
                                   location=txt(d, "Location"), message=txt(d, "Message"))
                       for d in f_el.findall(f"{{{t}}}Details/{{{t}}}Detail")]
            fault = MdaFault(fault_code=txt(f_el, "FaultCode") or "", fault_source=txt(f_el, "FaultSource"),
                             message=txt(f_el, "Message"), details=details)
    assertions = tuple(_assertion(a) for a in root.iterchildren(f"{{{NS_SAML}}}Assertion"))
    return MdaResponse(id=root.get("ID"), in_response_to=root.get("InResponseTo"),
                       issuer=_text(root, _SAML_ISSUER),
                       status=top.get("Value") or "", sub_status=sub.get("Value") if sub is not None else None,
                       fault=fault, assertions=assertions)


# -- client: one complete call --------------------------------------------------------------------


@attrs.frozen
class MemberDataCall:
    """What one MemberData consultation produced (client side)."""

    response: MdaResponse
    common_output: commons.CommonOutput
    input_reference: str
    request_id: str
    query_id: str
    sealed_request: bool
    sealed_response: bool


def own_etk(context: Context, exchange: Exchange) -> Any:
    """The executor's own ETK (reply-to): the dentist's by SSIN, a mandatary's by CBE (or SSIN)."""
    ex = exchange.executor
    if ex.kind.value == "mandatary":
        if ex.cbe:
            return context.security.etk("CBE", ex.cbe)
        if ex.ssin:
            return context.security.etk("SSIN", ex.ssin)
    dentist = exchange.responsible
    return context.security.etk("SSIN", dentist.ssin or context.config.require_dentist().ssin)


def mycarenet_etk(context: Context) -> Any:
    """MyCareNet's ETK (CBE 0820563481, application MYCARENET)."""
    return context.security.etk("CBE", MYCARENET_CBE, application_id=MYCARENET_APPLICATION)


def _etk_raw(etk: Any) -> bytes:
    raw = getattr(etk, "raw", None)
    if raw is None:
        raw = getattr(etk, "der", None)
    if raw is None:
        raise SecurityError("ETK object carries no DER", code="ETK_MALFORMED")
    return bytes(raw)


def consult(context: Context, exchange: Exchange, run: ExchangeRun, *, subject: SubjectRef,
            facets: Iterable[Facet], start: date, end: date, sealed: bool = True,
            url: str | None = None, service: str = "assurability", endpoint: str = "memberdata") -> MemberDataCall:
    """Build, (seal,) send, (unseal,) parse one MemberData consultation. The caller runs it inside
    ``context.exchange(exchange)`` and turns :class:`MdaResponse` into its own typed result."""
    from ..xmlsafe import parse_xml

    ci = commons.common_input_for(context, exchange)
    assert ci.input_reference is not None
    answers.preflight(context, service, signed=sealed)
    query = AttributeQuery(id="_" + ci.input_reference, issuer=exchange.responsible.nihii or exchange.responsible.id,
                           subject=subject, facets=tuple(facets), start=start, end=end,
                           issue_instant=context.now())
    query_bytes = etree.tostring(build_attribute_query(query), encoding="UTF-8")
    security = context.security
    mycarenet: Any = None
    if sealed:
        from ..ehealth import etee

        reply_etk = _etk_raw(own_etk(context, exchange))
        inner = known_content(KnownContent(business=query_bytes, reply_to_etk=reply_etk))
        mycarenet = mycarenet_etk(context)  # the recipient now, and whose subject must sign the answer
        sealed_bytes = etee.seal(inner, sender=security.keystore.authentication, recipients=[mycarenet])
        # UNSURE: ContentType of the encrypted blob (text/xml, as the official connector; EGK uses text/plain).
        blob = commons.make_blob(sealed_bytes, content_type="text/xml", encoding="none",
                                 content_encryption=ENCRYPTED_REQUEST)
    else:
        blob = commons.make_blob(query_bytes, content_type="text/xml", encoding="none")
    request_id = "_" + uuid.uuid4().hex
    body = commons.build_request(commons.V3, REQUEST_ROOT, common_input=ci, blob=blob, request_id=request_id,
                                 issue_instant=context.now(), nsmap={"mda": NS_MDA})
    run.reference("request_id", request_id)
    run.reference("input_reference", ci.input_reference)
    reply = context.soap.call(url or context.service_url(service, endpoint), SOAP_ACTION, body,
                              security=security.hok(), idempotent=True, run=run)
    resp = commons.parse_response(commons.V3, reply.body_child)
    if resp.common_output.nip_reference:
        run.reference("nip_reference", resp.common_output.nip_reference)
    if resp.common_output.output_reference:
        run.reference("output_reference", resp.common_output.output_reference)
    # authenticate the answer before reading anything of it (answers.py): nothing is kept on failure
    # UNSURE: whether every real envelope carries InResponseTo (insurability.md §1.3 lists it): a wrong one is
    # refused, a missing one tolerated — the SAML InResponseTo below, inside the seal, is required.
    answers.check_in_response_to(resp.in_response_to, request_id, what="InResponseTo", service=service,
                                 required=False)
    answers.check_in_response_to(resp.common_output.input_reference, ci.input_reference,
                                 what="CommonOutput/InputReference", service=service, required=False)
    sealed_response = bool(resp.blob.content_encryption)
    answers.require_sealed(sealed, sealed_response, service=service)
    if sealed_response:
        from ..ehealth import etee

        try:
            unsealed = etee.unseal(resp.blob.content, recipient_keys=list(security.keystore.encryption_keys))
        except SecurityError as exc:
            raise answers.AnswerRejected(f"the sealed MemberData answer cannot be opened: {exc.messages.en}",
                                         code="ANSWER_SEAL", service=service) from None
        # The answer must come from MyCareNet: its signer chains to the eHealth trust anchors, carries
        # MyCareNet's CBE and has the subject of MyCareNet's ETK (an ETK's encryption certificate carries its
        # owner's authentication subject, auth-crypto.md §4.1).
        expected = getattr(mycarenet if mycarenet is not None else mycarenet_etk(context), "certificate", None)
        answers.check_signer(context, getattr(unsealed, "signer_certificate", None), service=service,
                             at=context.now(), expected_subject=expected.subject if expected is not None else None)
        run.reference("answer_authentication", "etee")
        saml_bytes = parse_known_content(unsealed.content).business
    else:
        # UNSURE: a clear MemberData answer carries no signature (real samples: none); it relies on TLS to the
        # configured CA (README, "Answer authentication").
        answers.tls_only(context, service, run=run)
        saml_bytes = resp.blob.content
    mda = parse_saml_response(parse_xml(saml_bytes, what="MemberData response"))
    answers.check_in_response_to(mda.in_response_to, query.id, what="SAML InResponseTo", service=service)
    check_answer_subject(mda, query, service=service)
    return MemberDataCall(response=mda, common_output=resp.common_output, input_reference=ci.input_reference,
                          request_id=request_id, query_id=query.id, sealed_request=sealed,
                          sealed_response=sealed_response)


def check_answer_subject(mda: MdaResponse, query: AttributeQuery, *, service: str = "memberdata") -> None:
    """Every assertion speaks of the patient asked (NameID format and value) within the period asked
    (SubjectConfirmationData inside [NotBefore, NotOnOrAfter) of the query): a replayed answer about
    another patient or another period is refused."""
    low = datetime.combine(query.start, time())
    high = datetime.combine(query.end + timedelta(days=1), time())
    for a in mda.assertions:
        if a.name_id is None:
            continue
        if a.name_id_format != query.subject.format or a.name_id.strip() != query.subject.value:
            raise answers.AnswerRejected("the MemberData answer is about another patient than the one asked",
                                         code="ANSWER_PATIENT", service=service)
        if (a.not_before is not None and a.not_before < low) or (a.not_on_or_after is not None
                                                                 and a.not_on_or_after > high):
            raise answers.AnswerRejected(
                f"the MemberData answer covers {a.not_before} – {a.not_on_or_after}, outside the period asked "
                f"({query.start} – {query.end})", code="ANSWER_PERIOD", service=service)
