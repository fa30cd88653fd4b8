"""The insurer's reading of a MemberData ``AttributeQuery`` in the simulator: the MemberDataErrors catalogue
(insurability.md §1.4), the typed query, the records a plugin yields to answer a facet
(:class:`FacetHandler`...), and the checks in the order of insurability.md §3.2 (:func:`validate_query`).
Answering is :mod:`.memberdata`."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs
from lxml import etree

from ..protocols.memberdata import (
    CONFIRMATION_METHOD,
    FACET_CARE_PATH,
    FACET_REFERENCE_PHARMACY,
    FORMAT_CBE,
    FORMAT_NIHII11,
    FORMAT_REGNR_AT_MUT,
    FORMAT_SSIN,
    FORMAT_SSIN_AT_MUT,
    KNOWN_FACETS,
    NS_EXT,
    NS_SAML,
    NS_SAMLP,
    NS_XSI,
    STATUS_REQUESTER,
    STATUS_RESPONDER,
    STATUS_SUCCESS,
    SUB_INPUT_ERROR,
    SUB_INTERNAL,
    SUB_PARTIAL,
    SUB_QUERY_ERROR,
    SUB_REQUEST_ERROR,
    Facet,
    FaultDetail,
    _parse_facets,
)
from ..timeutil import from_belgian, parse_belgian_wall_clock, parse_datetime

if TYPE_CHECKING:  # pragma: no cover
    from .population import SimPatient


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
    s = NS_SAML
    qid = root.get("ID") or ""
    issuer_value = _check_issuer(root, qid, input_reference=input_reference, care_provider_nihii=care_provider_nihii,
                                 now=now, issue_instant_max_skew=issue_instant_max_skew)
    facets = _check_facets(root, registry=registry, quality=quality, unauthorized_facets=unauthorized_facets)
    subject = root.find(f"{{{s}}}Subject")
    fmt, value, ssin, mutuality, regnr = _check_name_id(subject)
    nb, noa, start, end = _check_period(subject, today=today, years_back=years_back)
    # 9. no attributes
    if root.find(f"{{{s}}}Attribute") is not None:
        raise QueryRejected("FORBIDDEN_ATTRIBUTES")
    return ParsedQuery(id=qid, issuer=issuer_value, subject_format=fmt, subject_value=value, ssin=ssin,
                       mutuality=mutuality, registration_number=regnr, facets=facets, start=start, end=end,
                       not_before=nb, not_on_or_after=noa)


def _check_issuer(root: etree._Element, qid: str, *, input_reference: str | None, care_provider_nihii: str | None,
                  now: datetime | None, issue_instant_max_skew: timedelta | None) -> str:
    """Steps 1-2: the cross-checks with the envelope, then the issuer; returns the issuer's value."""
    s = NS_SAML
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
    return issuer_value


def _check_facets(root: etree._Element, *, registry: FacetRegistry, quality: str | None,
                  unauthorized_facets: Iterable[str]) -> tuple[Facet, ...]:
    """Steps 3-5: the extensions, the facets asked and their dimensions."""
    p = NS_SAMLP
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
    return facets


def _check_name_id(subject: etree._Element | None) -> tuple[str, str, str | None, str | None, str | None]:
    """Step 6: the patient's NameID; returns (format, value, SSIN, mutuality, registration number)."""
    s = NS_SAML
    # 6. NameID
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
    return fmt, value, ssin, mutuality, regnr


def _check_period(subject: etree._Element | None, *, today: date, years_back: int) -> tuple[str, str, date, date]:
    """Steps 7-8: the subject confirmation and the period asked; returns (NotBefore, NotOnOrAfter, start, end)."""
    s = NS_SAML
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
    return nb, noa, start, end
