"""The insurer side of MyCareNet MemberData in the simulator: :func:`handle_memberdata` (security,
schema, licence, unseal, validation in the spec's order with the real status/sub-status/detail
codes, routing, answers sealed back) and the per-simulator :class:`FacetRegistry` filled from the
``mycarenet_dental_simulator_facets`` hook. The client side stays in
:mod:`mycarenet_dental.protocols.memberdata`; production never imports this module."""

from __future__ import annotations

import base64
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import attrs
from lxml import etree

from ..errors import MalformedResponseError
from ..protocols import commons
from ..protocols.memberdata import (
    CONFIRMATION_METHOD,
    ENCRYPTED_REQUEST,
    ENCRYPTED_RESPONSE,
    FACET_CARE_PATH,
    FACET_REFERENCE_PHARMACY,
    FORMAT_CBE,
    FORMAT_NIHII11,
    FORMAT_REGNR_AT_MUT,
    FORMAT_SSIN,
    FORMAT_SSIN_AT_MUT,
    ISSUER_MYCARENET,
    KNOWN_FACETS,
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
    STATUS_REQUESTER,
    STATUS_RESPONDER,
    STATUS_SUCCESS,
    SUB_INPUT_ERROR,
    SUB_INTERNAL,
    SUB_PARTIAL,
    SUB_QUERY_ERROR,
    SUB_REQUEST_ERROR,
    TECHNICAL_ASSERTION,
    Facet,
    FaultDetail,
    KnownContent,
    MdaFault,
    _parse_facets,
    known_content,
    parse_known_content,
)
from ..timeutil import belgian_date, from_belgian, parse_belgian_wall_clock, parse_datetime, xs_local
from . import commons as commons_sim

if TYPE_CHECKING:  # pragma: no cover
    from .app import SimRequest, SimResponse
    from .population import SimPatient

# ================================================================================================
# simulator side
# ================================================================================================

#: detail code -> (status, sub status, fault code, fault source, location, message) — MemberDataErrors
#: catalogue of insurability.md §1.4. ``IO`` as fault source means "IO-BE-<io>".
ERROR_CODES: Mapping[str, tuple[str, str, str, str, str | None, str]] = {
    "CROSSCHECK_ISSUER": (STATUS_REQUESTER, SUB_REQUEST_ERROR, "VALIDATION_ERROR", "MYCARENET",
                          "*:AttributeQuery/*:Issuer", "The Issuer of the query differs from the CareProvider NIHII"),
    "CROSSCHECK_ID": (STATUS_REQUESTER, SUB_REQUEST_ERROR, "VALIDATION_ERROR", "MYCARENET",
                      "*:AttributeQuery/@ID", "The query ID differs from the envelope's InputReference"),
    "FORBIDDEN_ATTRIBUTES": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                             "*:AttributeQuery/*:Attribute", "Attributes are not allowed in the request"),
    "MISSING_ISSUER_TAG": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET", "*:AttributeQuery",
                           "The Issuer element is missing"),
    "MISSING_ISSUER_FORMAT": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                              "*:AttributeQuery/*:Issuer", "The Issuer has no Format"),
    "INVALID_ISSUER_FORMAT": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                              "*:AttributeQuery/*:Issuer/@Format", "Invalid Format for the Issuer"),
    "INVALID_ISSUER_VALUE": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                             "*:AttributeQuery/*:Issuer", "Invalid Issuer value"),
    "MISSING_EXTENSIONS_TAG": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET", "*:AttributeQuery",
                               "The Extensions element is missing"),
    "MISSING_OR_BAD_EXTENSIONS_TYPE": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                                       "*:AttributeQuery/*:Extensions/@xsi:type", "Missing or bad Extensions type"),
    "DUPLICATED_FACET": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                         "*:AttributeQuery/*:Extensions/*:Facet", "A facet is asked more than once"),
    "UNKNOWN_FACET": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                      "*:AttributeQuery/*:Extensions/*:Facet", "A requested facet does not exist"),
    "UNAUTHORIZED_FACET": (STATUS_REQUESTER, SUB_QUERY_ERROR, "AUTHORIZATION_ERROR", "MYCARENET",
                           "*:AttributeQuery/*:Extensions/*:Facet",
                           "Access rights are insufficient for a requested facet"),
    "INVALID_FACET_COMBINATION": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                                  "*:AttributeQuery/*:Extensions", "This combination of facets is not allowed"),
    "INVALID_DIMENSION_ID": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                             "*:AttributeQuery/*:Extensions/*:Facet/*:Dimension", "A dimension is invalid in a facet"),
    "MISSING_DIMENSION": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                          "*:AttributeQuery/*:Extensions/*:Facet/*:Dimension",
                          "A mandatory dimension is missing in a facet"),
    "DUPLICATED_DIMENSION": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                             "*:AttributeQuery/*:Extensions/*:Facet/*:Dimension", "A unique dimension is repeated"),
    "INCONSISTENT_DIMENSIONS": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                                "*:AttributeQuery/*:Extensions/*:Facet/*:Dimension",
                                "The values of the dimensions are inconsistent"),
    "EMPTY_REQUESTTYPE": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                          "*:AttributeQuery/*:Extensions/*:Facet/*:Dimension", "The requestType dimension is empty"),
    "UNALLOWED_REQUESTTYPE": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                              "*:AttributeQuery/*:Extensions/*:Facet/*:Dimension",
                              "The value of requestType is not in the list of allowed values"),
    "UNAUTHORIZED_REQUESTTYPE": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                                 "*:AttributeQuery/*:Extensions/*:Facet/*:Dimension",
                                 "The value of requestType is not allowed for the requestor"),
    "EMPTY_CONTACTTYPE": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                          "*:AttributeQuery/*:Extensions/*:Facet/*:Dimension", "The contactType dimension is empty"),
    "UNALLOWED_CONTACTTYPE": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                              "*:AttributeQuery/*:Extensions/*:Facet/*:Dimension",
                              "The value of contactType is not in the list of allowed values"),
    "UNAUTHORIZED_CONTACTTYPE": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                                 "*:AttributeQuery/*:Extensions/*:Facet/*:Dimension",
                                 "The value of contactType is not allowed for the requestor"),
    "UNALLOWED_CAREPATHTYPE": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                               "*:AttributeQuery/*:Extensions/*:Facet/*:Dimension",
                               "The value of carePathType is not in the list of allowed values"),
    "EMPTY_CAREPATHTYPE": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                           "*:AttributeQuery/*:Extensions/*:Facet/*:Dimension", "The carePathType dimension is empty"),
    "MISSING_NAMEID": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                       "*:AttributeQuery/*:Subject", "The NameID is missing"),
    "MISSING_NAMEID_FORMAT": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                              "*:AttributeQuery/*:Subject/*:NameID", "The NameID has no Format"),
    "INVALID_NAMEID_FORMAT": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                              "*:AttributeQuery/*:Subject/*:NameID/@Format", "Invalid Format for the NameID"),
    "INVALID_NAMEID_VALUE": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                             "*:AttributeQuery/*:Subject/*:NameID", "Invalid NameID value"),
    "EMPTY_INSS": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                   "*:AttributeQuery/*:Subject/*:NameID", "The INSS is not present"),
    "EMPTY_IO": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                 "*:AttributeQuery/*:Subject/*:NameID", "The IO is not present"),
    "EMPTY_REG_NUM": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                      "*:AttributeQuery/*:Subject/*:NameID", "The registration number is not present"),
    "INVALID_INSS_FORMAT": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                            "*:AttributeQuery/*:Subject/*:NameID", "The INSS has an invalid format (not 11 digits)"),
    "INVALID_IO_FORMAT": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                          "*:AttributeQuery/*:Subject/*:NameID", "The IO has an invalid format"),
    "INVALID_INSS_VALUE": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                           "*:AttributeQuery/*:Subject/*:NameID", "The INSS is incorrect (wrong check digits)"),
    "INVALID_IO_VALUE": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                         "*:AttributeQuery/*:Subject/*:NameID", "The IO is not valid"),
    "MISSING_SUBJECT_CONFIRMATION_TAG": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                                         "*:AttributeQuery/*:Subject", "The SubjectConfirmation is missing"),
    "INVALID_SUBJECT_CONFIRMATION_METHOD_VALUE": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                                                  "*:AttributeQuery/*:Subject/*:SubjectConfirmation/@Method",
                                                  "Invalid SubjectConfirmation Method"),
    "MISSING_SUBJECT_CONFIRMATION_DATA_TAG": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                                              "*:AttributeQuery/*:Subject/*:SubjectConfirmation",
                                              "The SubjectConfirmationData is missing"),
    "SUBJECT_CONFIRMATION_WITH_ID": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                                     "*:AttributeQuery/*:Subject/*:SubjectConfirmation/*",
                                     "Unexpected elements under SubjectConfirmation"),
    "EMPTY_STARTDATE": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                        "*:AttributeQuery/*:Subject/*:SubjectConfirmation/*:SubjectConfirmationData/@NotBefore",
                        "The start date is missing"),
    "EMPTY_ENDDATE": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                      "*:AttributeQuery/*:Subject/*:SubjectConfirmation/*:SubjectConfirmationData/@NotOnOrAfter",
                      "The end date is missing"),
    "INVALID_PERIOD": (STATUS_REQUESTER, SUB_QUERY_ERROR, "INPUT_ERROR", "MYCARENET",
                       "*:AttributeQuery/*:Subject/*:SubjectConfirmation/*:SubjectConfirmationData/@NotOnOrAfter",
                       "The end date is before the start date"),
    "START_DATE_IN_FUTURE": (STATUS_REQUESTER, SUB_INPUT_ERROR, "INPUT_ERROR", "MYCARENET",
                             "*:AttributeQuery/*:Subject/*:SubjectConfirmation/*:SubjectConfirmationData/@NotBefore",
                             "The start date is in the future"),
    "INVALID_PERIOD_FOR_SECTOR": (STATUS_REQUESTER, SUB_INPUT_ERROR, "INPUT_ERROR", "MYCARENET",
                                  "*:AttributeQuery/*:Subject/*:SubjectConfirmation/*:SubjectConfirmationData",
                                  "Invalid period for the sector"),
    "PERIOD_TOO_FAR_IN_PAST": (STATUS_REQUESTER, SUB_INPUT_ERROR, "INPUT_ERROR", "MYCARENET",
                               "*:AttributeQuery/*:Subject/*:SubjectConfirmation/*:SubjectConfirmationData",
                               "The request goes more than 5 years back"),
    # UNSURE: simulator-only code. The spec (insurability.md) says the service takes every IssueInstant form;
    # the insurers read a zone-less one as Belgian local time, so a query written in UTC without zone reads
    # 1-2 hours in the past there. The simulator makes that misreading visible (switch
    # memberdata.issue_instant_max_skew_s, default 1800 s; 0 turns the check off).
    "INVALID_ISSUE_INSTANT": (STATUS_REQUESTER, SUB_REQUEST_ERROR, "VALIDATION_ERROR", "MYCARENET",
                              "*:AttributeQuery/@IssueInstant",
                              "The IssueInstant, read as Belgian local time, is too far from the present"),
    "UNKNOWN_NISS_ROUTING": (STATUS_RESPONDER, SUB_INPUT_ERROR, "INPUT_ERROR", "MYCARENET",
                             "*:AttributeQuery/*:Subject/*:NameID", "INSS not found by the routing algorithm"),
    "UNKNOWN_IO": (STATUS_RESPONDER, SUB_INPUT_ERROR, "INPUT_ERROR", "MYCARENET",
                   "*:AttributeQuery/*:Subject/*:NameID", "No insurer found"),
    "MULTIPLE_IO": (STATUS_RESPONDER, SUB_INPUT_ERROR, "INPUT_ERROR", "MYCARENET",
                    "*:AttributeQuery/*:Subject/*:NameID", "Several insurers found"),
    "MISMATCHED_CONTACTTYPE": (STATUS_RESPONDER, SUB_QUERY_ERROR, "INPUT_ERROR", "IO",
                               "*:AttributeQuery/*:Extensions/*:Facet/*:Dimension",
                               "contactType is hospitalized but the member is not hospitalised"),
    "NO_FACET": (STATUS_RESPONDER, SUB_INTERNAL, "GENERIC_ERROR", "MYCARENET", None,
                 "No requested facet is available"),
    "INVALID_RESPONSE_FROM_IO": (STATUS_RESPONDER, SUB_INTERNAL, "SEND_ERROR", "MYCARENET", None,
                                 "Invalid response format from the insurer"),
    "SEND_TO_IM_EXCEPTION": (STATUS_RESPONDER, SUB_INTERNAL, "SEND_ERROR", "MYCARENET", None,
                             "Connection problem with the insurer"),
    "BO_EXCEPTION": (STATUS_RESPONDER, SUB_INTERNAL, "GENERIC_ERROR", "IO", None, "Error in the insurer's back office"),
    "IOSM_EXCEPTION": (STATUS_RESPONDER, SUB_INTERNAL, "GENERIC_ERROR", "IO", None, "Error at the insurer"),
    "BO_UNKNOWN_NISS": (STATUS_RESPONDER, SUB_INTERNAL, "INPUT_ERROR", "IO", "/", "INSS not known by the insurer"),
    "BO_INVALID_REGNBR": (STATUS_RESPONDER, SUB_INTERNAL, "INPUT_ERROR", "IO", "/",
                          "Registration number: invalid checksum"),
    "BO_UNKNOWN_REGNBR": (STATUS_RESPONDER, SUB_INTERNAL, "INPUT_ERROR", "IO", "/",
                          "Registration number unknown by the insurer"),
    "BO_PERIOD_TOO_FAR_IN_THE_PAST": (STATUS_RESPONDER, SUB_INTERNAL, "INPUT_ERROR", "IO", "/",
                                      "No data for an outdated period"),
    "MISSING_FACETS": (STATUS_SUCCESS, SUB_PARTIAL, "WARNING", "MYCARENET", None,
                       "Not all the requested facets are available"),
    "MUTATION": (STATUS_SUCCESS, SUB_PARTIAL, "WARNING", "IO", None,
                 "There is a change of insurer during the requested period"),
    "ONLY_FIVE_PERIODS_RETURNED": (STATUS_SUCCESS, SUB_PARTIAL, "WARNING", "IO", None,
                                   "There are more than 5 insurability periods but only five were returned"),
}


#: ``[simulator] switches``: how far (seconds) the query's IssueInstant, read as Belgian time, may be from now.
SWITCH_ISSUE_INSTANT_SKEW = "memberdata.issue_instant_max_skew_s"
DEFAULT_ISSUE_INSTANT_SKEW_S = 1800


class QueryRejected(Exception):
    """A refusal the simulated MyCareNet/insurer answers as a SAML Response without assertions."""

    def __init__(self, code: str, *, io: str | None = None, message: str | None = None,
                 location: str | None = None) -> None:
        self.code = code
        self.io = io
        self.message = message
        self.location = location
        super().__init__(code)


def warning(code: str, *, io: str | None = None, message: str | None = None, source: str | None = None) -> FaultDetail:
    """A WARNING detail for a partial answer (MISSING_FACETS, MUTATION, ONLY_FIVE_PERIODS_RETURNED...)."""
    entry = ERROR_CODES.get(code)
    src = source or (entry[3] if entry else "MYCARENET")
    if src == "IO":
        src = f"IO-BE-{io or 'XXX'}"
    return FaultDetail(code=code, source=src, message=message or (entry[5] if entry else None))


@attrs.frozen
class ParsedQuery:
    """An AttributeQuery as the simulator read it (after validation)."""

    id: str
    issuer: str
    subject_format: str
    subject_value: str
    ssin: str | None
    mutuality: str | None
    registration_number: str | None
    facets: tuple[Facet, ...]
    start: date
    end: date  # inclusive
    not_before: str
    not_on_or_after: str


@attrs.frozen
class DimensionSpec:
    """One dimension a facet accepts; ``allowed`` empty = any non-empty value."""

    id: str
    allowed: frozenset[str] = attrs.field(factory=frozenset, converter=frozenset)
    required: bool = True
    repeatable: bool = False
    empty_code: str = "MISSING_DIMENSION"
    unallowed_code: str = "INVALID_DIMENSION_ID"
    authorized: Mapping[str, frozenset[str]] = attrs.field(factory=dict)  # quality -> allowed values
    unauthorized_code: str | None = None


@attrs.frozen
class AttributeSpec:
    """One attribute of an assertion to build: name, value, xsi:type (``xs:string``/``xs:date``/``xs:boolean``)."""

    name: str
    value: str
    xsi_type: str = "xs:string"


@attrs.frozen
class AssertionSpec:
    """An assertion a facet builder wants in the answer; ``start``/``end`` = its validity window
    (inclusive days, clipped to the requested period by the host); None = the requested period."""

    assertion_type: str
    attributes: tuple[AttributeSpec, ...] = attrs.field(converter=tuple)
    start: date | None = None
    end: date | None = None


@attrs.frozen
class FacetRequest:
    """What a facet builder gets: the facet asked, the patient found by routing, the query, the IO."""

    facet: Facet
    patient: SimPatient
    query: ParsedQuery
    io: str
    now: datetime
    state: Any
    caller: Any


@attrs.frozen
class FacetAnswer:
    assertions: tuple[AssertionSpec, ...] = attrs.field(default=(), converter=tuple)
    warnings: tuple[FaultDetail, ...] = attrs.field(default=(), converter=tuple)


@attrs.frozen
class FacetHandler:
    """The insurer side of one facet. ``build`` may raise :class:`QueryRejected` (e.g.
    MISMATCHED_CONTACTTYPE); ``qualities`` limits who may ask it (None = every profession)."""

    facet_id: str
    build: Callable[[FacetRequest], FacetAnswer]
    dimensions: tuple[DimensionSpec, ...] = attrs.field(default=(), converter=tuple)
    qualities: frozenset[str] | None = None
    check_dimensions: Callable[[Facet], str | None] | None = None  # extra coherence check -> detail code
    service: str = "assurability"  # the service whose mandates cover this facet (simulator authorisation)


class FacetRegistry:
    """Facets one simulated MemberData answers: those the loaded plugins yield from the hook
    ``mycarenet_dental_simulator_facets`` (kept per simulator, no module-level registry)."""

    def __init__(self, handlers: Iterable[FacetHandler] = ()) -> None:
        self._handlers: dict[str, FacetHandler] = {}
        self._lock = threading.Lock()
        for handler in handlers:
            self.register(handler)

    def register(self, handler: FacetHandler) -> None:
        with self._lock:
            self._handlers[handler.facet_id] = handler

    def get(self, facet_id: str) -> FacetHandler | None:
        return self._handlers.get(facet_id)

    def ids(self) -> tuple[str, ...]:
        return tuple(self._handlers)


# -- validation in the order of insurability.md §3.2 ------------------------------------------------


def _mod97_ok(ssin: str) -> bool:
    from ..identifiers import Ssin

    try:
        Ssin.parse(ssin)
        return True
    except Exception:
        return False


def check_issue_instant(text: str | None, *, now: datetime, max_skew: timedelta) -> None:
    """Read ``IssueInstant`` as the insurers do (zone-less = Belgian local time) and refuse one more than
    ``max_skew`` away from ``now`` (INVALID_ISSUE_INSTANT, simulator-only: see ERROR_CODES)."""
    raw = (text or "").strip()
    try:
        value = parse_datetime(raw)
    except ValueError:
        raise QueryRejected("INVALID_ISSUE_INSTANT", message=f"IssueInstant {raw!r} is not an xs:dateTime") from None
    moment = from_belgian(value)
    reference = now if now.tzinfo is not None else from_belgian(now)
    if abs(moment - reference) > max_skew:
        raise QueryRejected("INVALID_ISSUE_INSTANT",
                            message=f"IssueInstant {raw} (Belgian time) is {abs(moment - reference)} from the present")


def validate_query(root: etree._Element, *, input_reference: str | None, care_provider_nihii: str | None,
                   quality: str | None, registry: FacetRegistry, today: date,
                   unauthorized_facets: Iterable[str] = (FACET_CARE_PATH, FACET_REFERENCE_PHARMACY),
                   years_back: int = 5, now: datetime | None = None,
                   issue_instant_max_skew: timedelta | None = None) -> ParsedQuery:
    """Check an AttributeQuery in the spec's order; raises :class:`QueryRejected` with the real code."""
    s, p = NS_SAML, NS_SAMLP
    qid = root.get("ID") or ""
    # 1. cross-checks
    if input_reference and qid != "_" + input_reference and qid != input_reference:
        raise QueryRejected("CROSSCHECK_ID")
    if now is not None and issue_instant_max_skew:
        check_issue_instant(root.get("IssueInstant"), now=now, max_skew=issue_instant_max_skew)
    issuer = root.find(f"{{{s}}}Issuer")
    if issuer is not None and care_provider_nihii and issuer.get("Format") == FORMAT_NIHII11:
        if (issuer.text or "").strip().ljust(11, "0")[:11] != care_provider_nihii.strip().zfill(11):
            raise QueryRejected("CROSSCHECK_ISSUER")
    # 2. issuer
    if issuer is None:
        raise QueryRejected("MISSING_ISSUER_TAG")
    if not issuer.get("Format"):
        raise QueryRejected("MISSING_ISSUER_FORMAT")
    if issuer.get("Format") not in (FORMAT_NIHII11, FORMAT_CBE):
        raise QueryRejected("INVALID_ISSUER_FORMAT")
    issuer_value = (issuer.text or "").strip()
    if issuer.get("Format") == FORMAT_NIHII11 and not re.fullmatch(r"\d{8}|\d{11}", issuer_value):
        raise QueryRejected("INVALID_ISSUER_VALUE")
    if issuer.get("Format") == FORMAT_CBE and not re.fullmatch(r"\d{10}", issuer_value):
        raise QueryRejected("INVALID_ISSUER_VALUE")
    # 3. extensions
    ext = root.find(f"{{{p}}}Extensions")
    if ext is None:
        raise QueryRejected("MISSING_EXTENSIONS_TAG")
    xsi_type = ext.get(f"{{{NS_XSI}}}type") or ""
    prefix, _, local = xsi_type.rpartition(":")
    if local != "ExtensionsType" or ext.nsmap.get(prefix or None) != NS_EXT:
        raise QueryRejected("MISSING_OR_BAD_EXTENSIONS_TYPE")
    # 4. facets
    facets = _parse_facets(ext)
    if not facets:
        raise QueryRejected("MISSING_EXTENSIONS_TAG")
    seen: set[str] = set()
    for facet in facets:
        if facet.id not in KNOWN_FACETS and registry.get(facet.id) is None:
            raise QueryRejected("UNKNOWN_FACET", message=f"facet {facet.id} does not exist")
        if facet.id in seen:
            raise QueryRejected("DUPLICATED_FACET")
        seen.add(facet.id)
    for facet in facets:
        handler = registry.get(facet.id)
        if facet.id in set(unauthorized_facets) or (handler is not None and handler.qualities is not None
                                                    and (quality or "") not in handler.qualities):
            raise QueryRejected("UNAUTHORIZED_FACET", message=f"{quality or 'this profession'} may not ask {facet.id}")
    # UNSURE: which facet combinations MyCareNet refuses (INVALID_FACET_COMBINATION) is undocumented; none here.
    # 5. dimensions
    for facet in facets:
        handler = registry.get(facet.id)
        if handler is None:
            if facet.dimensions and facet.id != FACET_CARE_PATH:
                raise QueryRejected("INVALID_DIMENSION_ID")
            continue
        specs = {d.id: d for d in handler.dimensions}
        counts: dict[str, int] = {}
        for dim in facet.dimensions:
            if dim.id not in specs:
                raise QueryRejected("INVALID_DIMENSION_ID", message=f"dimension {dim.id!r} is not one of {facet.id}")
            counts[dim.id] = counts.get(dim.id, 0) + 1
        for spec in handler.dimensions:
            if spec.required and spec.id not in counts:
                raise QueryRejected("MISSING_DIMENSION", message=f"dimension {spec.id} is missing")
            if counts.get(spec.id, 0) > 1 and not spec.repeatable:
                raise QueryRejected("DUPLICATED_DIMENSION")
        for dim in facet.dimensions:
            spec = specs[dim.id]
            if not dim.value:
                raise QueryRejected(spec.empty_code)
            if spec.allowed and dim.value not in spec.allowed:
                raise QueryRejected(spec.unallowed_code, message=f"{dim.id}={dim.value!r} is not allowed")
            if spec.authorized and dim.value not in spec.authorized.get(quality or "", spec.allowed):
                raise QueryRejected(spec.unauthorized_code or spec.unallowed_code)
        if handler.check_dimensions is not None:
            code = handler.check_dimensions(facet)
            if code:
                raise QueryRejected(code)
    # 6. NameID
    subject = root.find(f"{{{s}}}Subject")
    name_id = subject.find(f"{{{s}}}NameID") if subject is not None else None
    if name_id is None:
        raise QueryRejected("MISSING_NAMEID")
    fmt = name_id.get("Format")
    value = (name_id.text or "").strip()
    if not fmt:
        raise QueryRejected("MISSING_NAMEID_FORMAT")
    if fmt not in (FORMAT_SSIN, FORMAT_SSIN_AT_MUT, FORMAT_REGNR_AT_MUT):
        raise QueryRejected("INVALID_NAMEID_FORMAT")
    ssin = mutuality = regnr = None
    if fmt == FORMAT_SSIN:
        ssin = value
    else:
        if value.count("@") != 1:
            raise QueryRejected("INVALID_NAMEID_VALUE")
        left, mutuality = (x.strip() for x in value.split("@"))
        if fmt == FORMAT_SSIN_AT_MUT:
            ssin = left
        else:
            regnr = left
            if not regnr:
                raise QueryRejected("EMPTY_REG_NUM")
        if not mutuality:
            raise QueryRejected("EMPTY_IO")
        if not re.fullmatch(r"\d{3}", mutuality):
            raise QueryRejected("INVALID_IO_FORMAT")
        if mutuality[0] not in "1234569":
            raise QueryRejected("INVALID_IO_VALUE")
    if ssin is not None:
        if not ssin:
            raise QueryRejected("EMPTY_INSS")
        if not re.fullmatch(r"\d{11}", ssin):
            raise QueryRejected("INVALID_INSS_FORMAT")
        if not _mod97_ok(ssin):
            raise QueryRejected("INVALID_INSS_VALUE")
    # 7. subject confirmation
    conf = subject.find(f"{{{s}}}SubjectConfirmation") if subject is not None else None
    if conf is None:
        raise QueryRejected("MISSING_SUBJECT_CONFIRMATION_TAG")
    if conf.get("Method") != CONFIRMATION_METHOD:
        raise QueryRejected("INVALID_SUBJECT_CONFIRMATION_METHOD_VALUE")
    if any(isinstance(c.tag, str) and etree.QName(c).localname in ("BaseID", "NameID", "EncryptedID") for c in conf):
        raise QueryRejected("SUBJECT_CONFIRMATION_WITH_ID")
    data = conf.find(f"{{{s}}}SubjectConfirmationData")
    if data is None:
        raise QueryRejected("MISSING_SUBJECT_CONFIRMATION_DATA_TAG")
    # 8. dates
    nb, noa = data.get("NotBefore"), data.get("NotOnOrAfter")
    if not nb:
        raise QueryRejected("EMPTY_STARTDATE")
    if not noa:
        raise QueryRejected("EMPTY_ENDDATE")
    start_dt, end_dt = parse_belgian_wall_clock(nb), parse_belgian_wall_clock(noa)
    if start_dt is None:
        raise QueryRejected("EMPTY_STARTDATE", message="NotBefore is not a date")
    if end_dt is None:
        raise QueryRejected("EMPTY_ENDDATE", message="NotOnOrAfter is not a date")
    if end_dt < start_dt:
        raise QueryRejected("INVALID_PERIOD")
    start = start_dt.date()
    end = (end_dt - timedelta(seconds=1)).date() if end_dt > start_dt else start
    if start > today:
        raise QueryRejected("START_DATE_IN_FUTURE")
    try:
        limit = today.replace(year=today.year - years_back)
    except ValueError:  # 29 February
        limit = today.replace(year=today.year - years_back, day=28)
    if start < limit:
        raise QueryRejected("PERIOD_TOO_FAR_IN_PAST")
    # UNSURE: sector limits (INVALID_PERIOD_FOR_SECTOR) are undocumented; the simulator refuses a period
    # longer than a year, a plausible reading for an ambulatory sector.
    if (end - start).days > 366:
        raise QueryRejected("INVALID_PERIOD_FOR_SECTOR")
    # 9. no attributes
    if root.find(f"{{{s}}}Attribute") is not None:
        raise QueryRejected("FORBIDDEN_ATTRIBUTES")
    return ParsedQuery(id=qid, issuer=issuer_value, subject_format=fmt, subject_value=value, ssin=ssin,
                       mutuality=mutuality, registration_number=regnr, facets=facets, start=start, end=end,
                       not_before=nb, not_on_or_after=noa)


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
