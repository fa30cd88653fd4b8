"""The MyCareNet "commons" envelope every synchronous MyCareNet service shares (``insurability.md`` §0.3).

One request = ``<Root Id IssueInstant>`` + ``CommonInput`` (IsTest, Origin: Package licence, SiteID,
CareProvider, Sender; InputReference) + optional ``Routing`` + ``Detail`` blob + optional ``Xades``;
one response = ``<Root Id InResponseTo IssueInstant>/Return`` (``CommonOutput`` + ``Detail`` + ``XadesT``).
Three flavours differ only in namespaces and a few attributes, described by :class:`CommonsFlavour`:

* :data:`V3` — MemberData (commons core/protocol v3; blob has ``ContentEncryption``/``Etk``),
* :data:`V2` — Tarification (commons v2),
* :data:`GMF` — GlobalMedicalFile consultation (eHealth commons 1.7: no Id/IssueInstant on the request,
  ``Status`` in the response, ``XadesT`` on the request).

Client side: :func:`common_input_for` (from a :class:`~mycarenet_dental.context.Context` and an
:class:`~mycarenet_dental.exchange.Exchange`), :func:`build_request`, :func:`parse_response`.
Simulator side: :func:`parse_request`, :func:`build_response`, :func:`licence_fault`.
Blobs: :func:`make_blob` / :func:`blob_element` / :func:`parse_blob` (base64, deflate/zlib/gzip, SHA-256 hash).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
import zlib
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

import attrs
import pybase64
from lxml import etree

from ..ehealth.deflate import inflate_blob
from ..errors import MalformedResponseError, UsageError
from ..exchange import Exchange, PartyKind
from ..timeutil import utc_ms, xs_date

if TYPE_CHECKING:  # pragma: no cover
    from ..context import Context

__all__ = [
    "GMF", "V2", "V3", "Blob", "CareProvider", "CommonInput", "CommonOutput", "CommonsFlavour", "Origin",
    "Party", "Routing", "SendRequest", "SendResponse", "Status", "blob_element", "build_request",
    "build_response", "common_input_for", "make_blob", "new_input_reference", "parse_blob",
    "inflate_blob", "parse_request", "parse_response",
]


@attrs.frozen
class CommonsFlavour:
    """The namespaces and small differences of one commons version.

    ``protocol_ns`` is the namespace of the request/response root's children (CommonInput, Routing,
    Detail, Xades, Return); ``core_ns`` the namespace of their content.
    """

    name: str
    core_ns: str
    protocol_ns: str
    request_attributes: bool = True  # Id / IssueInstant on the request root (eHealth commons protocol v2)
    blob_encryption: bool = False  # ContentEncryption / Etk attributes on BlobType (v3)
    response_status: bool = False  # commons v1 Status in the response (GMF)
    request_xades: str = "Xades"  # name of the optional XAdES element of a request


V3 = CommonsFlavour("v3", core_ns="urn:be:fgov:ehealth:mycarenet:commons:core:v3",
                    protocol_ns="urn:be:fgov:ehealth:mycarenet:commons:protocol:v3", blob_encryption=True)
V2 = CommonsFlavour("v2", core_ns="urn:be:fgov:ehealth:mycarenet:commons:core:v2",
                    protocol_ns="urn:be:fgov:ehealth:mycarenet:commons:protocol:v2")
GMF = CommonsFlavour("gmf", core_ns="urn:be:fgov:ehealth:globalmedicalfile:core:v1",
                     protocol_ns="urn:be:fgov:ehealth:globalmedicalfile:protocol:v1", request_attributes=False,
                     response_status=True, request_xades="XadesT")

NS_EHEALTH_PROTOCOL_V1 = "urn:be:fgov:ehealth:commons:protocol:v1"


def _opt_str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


# ---------------------------------------------------------------------------------------------
# typed records
# ---------------------------------------------------------------------------------------------


@attrs.frozen
class Party:
    """An ``IdType``: a physical person or an organisation (Name, Nihii + quality, Ssin, Cbe)."""

    name: str | None = attrs.field(default=None, converter=_opt_str)
    nihii: str | None = attrs.field(default=None, converter=_opt_str)
    nihii_quality: str | None = attrs.field(default=None, converter=_opt_str)
    ssin: str | None = attrs.field(default=None, converter=_opt_str)
    cbe: str | None = attrs.field(default=None, converter=_opt_str)


@attrs.frozen
class CareProvider:
    """The responsible care provider: always the dentist's NIHII, also when a mandatary sends."""

    nihii: str = attrs.field(validator=attrs.validators.min_len(1))
    quality: str | None = "dentist"
    physical_person: Party | None = None
    organization: Party | None = None


@attrs.frozen
class Origin:
    """``Origin``: the software package and its licence, the site, the care provider, the sender."""

    package_name: str | None
    licence_username: str
    licence_password: str = attrs.field(repr=False)
    care_provider: CareProvider | None = None
    sender_person: Party | None = None
    sender_organization: Party | None = None
    site_id: str | None = None

    @property
    def has_sender(self) -> bool:
        return self.sender_person is not None or self.sender_organization is not None


@attrs.frozen
class CommonInput:
    is_test: bool
    origin: Origin
    input_reference: str | None = None
    nip_reference: str | None = None


@attrs.frozen
class Routing:
    """``Routing``: the care receiver (SSIN, or mutuality + registration number) and dates."""

    reference_date: date
    ssin: str | None = None
    registration_number: str | None = None
    mutuality: str | None = None
    period_start: date | None = None
    period_end: date | None = None


@attrs.frozen
class Blob:
    """A ``Detail`` blob, decoded: ``content`` is the clear (decompressed) payload.

    ``content_encoding`` says how it travels (``none`` or ``deflate`` — raw deflate, no zlib header);
    ``hash_value`` is the SHA-256 of the decompressed content when the sender gave one.
    """

    content: bytes = attrs.field(repr=False)
    content_type: str = "text/xml"
    content_encoding: str = attrs.field(default="none", validator=attrs.validators.in_(("none", "deflate")))
    id: str | None = None
    content_encryption: str | None = None
    etk: bytes | None = attrs.field(default=None, repr=False)
    hash_value: bytes | None = attrs.field(default=None, repr=False)


@attrs.frozen
class CommonOutput:
    input_reference: str | None = None
    nip_reference: str | None = None
    output_reference: str | None = None


@attrs.frozen
class Status:
    """eHealth commons v1 ``Status`` (GMF responses)."""

    code: str
    messages: tuple[tuple[str | None, str], ...] = ()  # (lang, text)


@attrs.frozen
class SendRequest:
    """A parsed request (simulator side)."""

    root: str  # Clark name of the root element
    id: str | None
    issue_instant: str | None
    common_input: CommonInput
    routing: Routing | None
    blob: Blob
    xades: bytes | None = attrs.field(default=None, repr=False)


@attrs.frozen
class SendResponse:
    """A parsed response (client side)."""

    root: str
    id: str | None
    in_response_to: str | None
    issue_instant: str | None
    common_output: CommonOutput
    blob: Blob
    xades_t: bytes | None = attrs.field(default=None, repr=False)
    status: Status | None = None


# ---------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------


def new_input_reference(*, length: int = 14, digits_only: bool = False) -> str:
    """A fresh caller reference; 14 characters fits every service (GenIns limits it to 14)."""
    if digits_only:
        return f"{secrets.randbelow(10 ** length):0{length}d}"  # uniform over the 10**length digit strings
    # starts with a letter so that "_" + reference and reference alone are valid xs:ID values
    return "R" + secrets.token_hex(length)[: length - 1].upper()


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _sub(parent: etree._Element, ns: str, name: str, text: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, _q(ns, name))
    if text is not None:
        el.text = text
    return el


def _child(parent: etree._Element, ns: str, name: str) -> etree._Element | None:
    return parent.find(_q(ns, name))


def _text(parent: etree._Element | None, ns: str, name: str) -> str | None:
    if parent is None:
        return None
    el = parent.find(_q(ns, name))
    if el is None or el.text is None:
        return None
    return el.text.strip()


# ---------------------------------------------------------------------------------------------
# blob
# ---------------------------------------------------------------------------------------------


def _b64encode(data: bytes) -> str:
    return pybase64.b64encode(data).decode("ascii")


def b64decode_strict(text: str, *, strip_whitespace: bool = True) -> bytes:
    """``base64.b64decode(text, validate=True)`` (first ``"".join(text.split())`` when ``strip_whitespace``):
    the same bytes or the same error. pybase64 decodes first (a 11 KB blob in ~1 µs, the stdlib ~45 µs);
    whatever it refuses (line breaks, bad input) goes through the stdlib, which then decides."""
    try:
        return pybase64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        pass
    return base64.b64decode("".join(text.split()) if strip_whitespace else text, validate=True)


def _deflate(data: bytes) -> bytes:
    comp = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    return comp.compress(data) + comp.flush()


def make_blob(content: bytes, *, content_type: str = "text/xml", encoding: str = "none", id: str | None = None,
              content_encryption: str | None = None, etk: bytes | None = None, with_hash: bool = False) -> Blob:
    """A blob for ``content`` (clear bytes). Requests are sent without hash, like the connectors do."""
    return Blob(content=content, content_type=content_type, content_encoding=encoding,
                id=id if id is not None else "_" + uuid.uuid4().hex, content_encryption=content_encryption,
                etk=etk, hash_value=hashlib.sha256(content).digest() if with_hash else None)


def blob_element(flavour: CommonsFlavour, blob: Blob, *, ns: str | None = None, name: str = "Detail") -> etree._Element:
    """The ``Detail`` element (in ``ns``, default the flavour's protocol namespace) for ``blob``."""
    el = etree.Element(_q(ns or flavour.protocol_ns, name))
    el.set("ContentType", blob.content_type)
    el.set("ContentEncoding", blob.content_encoding)  # always explicit: the schema default is "deflate"
    if flavour.blob_encryption:
        if blob.content_encryption:
            el.set("ContentEncryption", blob.content_encryption)
        if blob.etk:
            el.set("Etk", _b64encode(blob.etk))
    if blob.hash_value is not None:
        el.set("HashValue", _b64encode(blob.hash_value))
    if blob.id:
        el.set("Id", blob.id)
    payload = _deflate(blob.content) if blob.content_encoding == "deflate" else blob.content
    el.text = _b64encode(payload)
    return el


def _b64_attribute(el: etree._Element, name: str, code: str) -> bytes | None:
    """A base64 attribute of the Blob, decoded; None when absent or empty."""
    text = el.get(name)
    if not text:
        return None
    try:
        return b64decode_strict(text, strip_whitespace=False)
    except (ValueError, TypeError):
        raise MalformedResponseError(f"blob {name} is not base64", code=code, origin="mycarenet.commons") from None


def parse_blob(el: etree._Element, *, check_hash: bool = True, max_bytes: int = 20 * 1024 * 1024,
               uncompressed_ok: bool = True) -> Blob:
    """Decode a ``Detail`` element: base64, then inflate when ``ContentEncoding`` is deflate (the
    schema default when the attribute is absent; see :func:`inflate_blob`), then check ``HashValue`` when
    present. ``content_encoding`` of the result says whether the bytes really were compressed."""
    encoding = (el.get("ContentEncoding") or "deflate").strip().lower()
    if encoding not in ("none", "deflate"):
        raise MalformedResponseError(f"unsupported blob ContentEncoding {encoding!r}", code="BLOB_ENCODING",
                                     origin="mycarenet.commons", location="Detail/@ContentEncoding")
    try:
        raw = b64decode_strict(el.text or "")
    except (ValueError, TypeError):
        raise MalformedResponseError("blob is not valid base64", code="BLOB_BASE64", origin="mycarenet.commons",
                                     location="Detail") from None
    if encoding == "deflate":
        content, compressed = inflate_blob(raw, max_bytes=max_bytes, uncompressed_ok=uncompressed_ok)
        encoding = "deflate" if compressed else "none"
    else:
        content = raw
    hash_value = _b64_attribute(el, "HashValue", "BLOB_HASH")
    if hash_value is not None:
        if check_hash and hashlib.sha256(content).digest() != hash_value:
            raise MalformedResponseError("blob HashValue does not match its content (SHA-256)", code="BLOB_HASH",
                                         origin="mycarenet.commons", location="Detail/@HashValue")
    etk = _b64_attribute(el, "Etk", "BLOB_ETK")
    return Blob(content=content, content_type=el.get("ContentType") or "", content_encoding=encoding,
                id=el.get("Id"), content_encryption=el.get("ContentEncryption"), etk=etk, hash_value=hash_value)


# ---------------------------------------------------------------------------------------------
# CommonInput / Routing
# ---------------------------------------------------------------------------------------------


def _party_xml(parent: etree._Element, ns: str, name: str, party: Party) -> None:
    el = _sub(parent, ns, name)
    if party.name:
        _sub(el, ns, "Name", party.name)
    if party.nihii:
        nihii = _sub(el, ns, "Nihii")
        if party.nihii_quality:
            _sub(nihii, ns, "Quality", party.nihii_quality)
        _sub(nihii, ns, "Value", party.nihii)
    if party.ssin:
        _sub(el, ns, "Ssin", party.ssin)
    if party.cbe:
        _sub(el, ns, "Cbe", party.cbe)


def _party_parse(el: etree._Element | None, ns: str) -> Party | None:
    if el is None:
        return None
    nihii = _child(el, ns, "Nihii")
    return Party(name=_text(el, ns, "Name"), nihii=_text(nihii, ns, "Value"),
                 nihii_quality=_text(nihii, ns, "Quality"), ssin=_text(el, ns, "Ssin"), cbe=_text(el, ns, "Cbe"))


#: CommonInput elements without their InputReference, keyed on everything else they are written from (the
#: flavour, IsTest, the Origin, the NIPReference): they are the same for every request of a practice. Each request
#: gets a copy; the templates are never changed. Bounded: cleared when full.
_COMMON_INPUTS: dict[tuple[object, ...], etree._Element] = {}
_COMMON_INPUTS_MAX = 64


def common_input_xml(flavour: CommonsFlavour, ci: CommonInput) -> etree._Element:
    """The ``CommonInput`` element: a copy of the practice's template plus this request's InputReference
    (the request bodies equal those built with :func:`_common_input_tree`: ``tests/core/test_commons_fast.py``)."""
    key = (flavour, ci.is_test, ci.origin, ci.nip_reference)
    template = _COMMON_INPUTS.get(key)
    if template is None:
        template = _common_input_tree(flavour, attrs.evolve(ci, input_reference=None))
        if len(_COMMON_INPUTS) >= _COMMON_INPUTS_MAX:
            _COMMON_INPUTS.clear()
        _COMMON_INPUTS[key] = template
    el = template.__copy__()  # lxml copies the whole subtree
    if ci.input_reference:
        ref = _sub(el, flavour.core_ns, "InputReference", ci.input_reference)  # as the tree writer adds it
        el.insert(2, ref)  # after Request and Origin, before an NIPReference
    return el


def _common_input_tree(flavour: CommonsFlavour, ci: CommonInput) -> etree._Element:
    p, c = flavour.protocol_ns, flavour.core_ns
    root = etree.Element(_q(p, "CommonInput"))
    _sub(_sub(root, c, "Request"), c, "IsTest", "true" if ci.is_test else "false")
    origin = _sub(root, c, "Origin")
    package = _sub(origin, c, "Package")
    if ci.origin.package_name:
        _sub(package, c, "Name", ci.origin.package_name)
    lic = _sub(package, c, "License")
    _sub(lic, c, "Username", ci.origin.licence_username)
    _sub(lic, c, "Password", ci.origin.licence_password)
    if ci.origin.site_id:
        _sub(origin, c, "SiteID", ci.origin.site_id)
    cp = ci.origin.care_provider
    if cp is not None:
        cp_el = _sub(origin, c, "CareProvider")
        nihii = _sub(cp_el, c, "Nihii")
        if cp.quality:
            _sub(nihii, c, "Quality", cp.quality)
        _sub(nihii, c, "Value", cp.nihii)
        if cp.physical_person is not None:
            _party_xml(cp_el, c, "PhysicalPerson", cp.physical_person)
        if cp.organization is not None:
            _party_xml(cp_el, c, "Organization", cp.organization)
    if ci.origin.has_sender:
        sender = _sub(origin, c, "Sender")
        if ci.origin.sender_person is not None:
            _party_xml(sender, c, "PhysicalPerson", ci.origin.sender_person)
        if ci.origin.sender_organization is not None:
            _party_xml(sender, c, "Organization", ci.origin.sender_organization)
    if ci.input_reference:
        _sub(root, c, "InputReference", ci.input_reference)
    if ci.nip_reference:
        _sub(root, c, "NIPReference", ci.nip_reference)
    return root


def parse_common_input(flavour: CommonsFlavour, el: etree._Element) -> CommonInput:
    c = flavour.core_ns
    origin = _child(el, c, "Origin")
    package = _child(origin, c, "Package") if origin is not None else None
    lic = _child(package, c, "License") if package is not None else None
    cp_el = _child(origin, c, "CareProvider") if origin is not None else None
    cp = None
    if cp_el is not None:
        nihii = _child(cp_el, c, "Nihii")
        cp = CareProvider(nihii=_text(nihii, c, "Value") or "?", quality=_text(nihii, c, "Quality"),
                          physical_person=_party_parse(_child(cp_el, c, "PhysicalPerson"), c),
                          organization=_party_parse(_child(cp_el, c, "Organization"), c))
    sender = _child(origin, c, "Sender") if origin is not None else None
    is_test = (_text(_child(el, c, "Request"), c, "IsTest") or "false").lower() in ("true", "1")
    return CommonInput(
        is_test=is_test,
        origin=Origin(package_name=_text(package, c, "Name"), licence_username=_text(lic, c, "Username") or "",
                      licence_password=_text(lic, c, "Password") or "", care_provider=cp,
                      sender_person=_party_parse(_child(sender, c, "PhysicalPerson"), c) if sender is not None else None,
                      sender_organization=(_party_parse(_child(sender, c, "Organization"), c)
                                           if sender is not None else None),
                      site_id=_text(origin, c, "SiteID")),
        input_reference=_text(el, c, "InputReference"), nip_reference=_text(el, c, "NIPReference"))


def routing_xml(flavour: CommonsFlavour, routing: Routing) -> etree._Element:
    p, c = flavour.protocol_ns, flavour.core_ns
    root = etree.Element(_q(p, "Routing"))
    receiver = _sub(root, c, "CareReceiver")
    if routing.ssin:
        _sub(receiver, c, "Ssin", routing.ssin)
    if routing.registration_number:
        _sub(receiver, c, "RegNrWithMut", routing.registration_number)
    if routing.mutuality:
        _sub(receiver, c, "Mutuality", routing.mutuality)
    _sub(root, c, "ReferenceDate", routing.reference_date.isoformat())
    if routing.period_start and routing.period_end:
        period = _sub(root, c, "Period")
        _sub(period, c, "Start", routing.period_start.isoformat())
        _sub(period, c, "End", routing.period_end.isoformat())
    return root


def _date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return xs_date(text)
    except ValueError:
        raise MalformedResponseError(f"not an xs:date: {text!r}", code="BAD_DATE", origin="mycarenet.commons") from None


def parse_routing(flavour: CommonsFlavour, el: etree._Element) -> Routing:
    c = flavour.core_ns
    receiver = _child(el, c, "CareReceiver")
    period = _child(el, c, "Period")
    return Routing(reference_date=_date(_text(el, c, "ReferenceDate")) or date.min,
                   ssin=_text(receiver, c, "Ssin"), registration_number=_text(receiver, c, "RegNrWithMut"),
                   mutuality=_text(receiver, c, "Mutuality"), period_start=_date(_text(period, c, "Start")),
                   period_end=_date(_text(period, c, "End")))


# ---------------------------------------------------------------------------------------------
# client side: from the context
# ---------------------------------------------------------------------------------------------


def common_input_for(context: Context, exchange: Exchange, *, input_reference: str | None = None,
                     is_test: bool | None = None, quality: str = "dentist", site_id: str | None = None) -> CommonInput:
    """The CommonInput of one exchange: licence from the configuration, CareProvider = the dentist
    (the responsible, R6) and, when a mandatary executes, ``Sender`` = the mandatary (R7)."""
    from ..context import licence

    lic = licence(context)
    if not lic.username or not lic.password:
        raise UsageError("the MyCareNet package licence is not configured", code="CONFIG",
                         location="[licence] username / password_env",
                         hint="set [licence] username and the environment variable named by password_env")
    dentist = exchange.responsible
    cp = CareProvider(nihii=dentist.nihii or dentist.id, quality=quality,
                      physical_person=Party(name=dentist.name or None, nihii=dentist.nihii or dentist.id,
                                            nihii_quality=quality, ssin=dentist.ssin))
    sender_person = sender_org = None
    ex = exchange.executor
    if ex.kind is PartyKind.MANDATARY:
        if ex.cbe:
            sender_org = Party(name=ex.name or None, cbe=ex.cbe)
        if ex.ssin or ex.nihii:
            sender_person = Party(name=None if ex.cbe else (ex.name or None), ssin=ex.ssin, nihii=ex.nihii)
        if sender_org is None and sender_person is None:
            sender_person = Party(name=ex.name or ex.id)
    if is_test is None:
        is_test = bool(context.config.section("mycarenet").get("is_test", context.config.profile != "production"))
    return CommonInput(is_test=is_test,
                       origin=Origin(package_name=lic.package_name or None, licence_username=lic.username,
                                     licence_password=lic.password, care_provider=cp, sender_person=sender_person,
                                     sender_organization=sender_org, site_id=site_id),
                       input_reference=input_reference or new_input_reference())


# ---------------------------------------------------------------------------------------------
# request / response
# ---------------------------------------------------------------------------------------------


def build_request(flavour: CommonsFlavour, root: str, *, common_input: CommonInput, blob: Blob,
                  routing: Routing | None = None, xades: bytes | None = None, request_id: str | None = None,
                  issue_instant: datetime | None = None, nsmap: dict[str | None, str] | None = None) -> etree._Element:
    """The SOAP body element: ``root`` is the Clark name (e.g. ``{urn:...:memberdata:protocol:v1}MemberDataConsultationRequest``)."""
    maps = {"p": flavour.protocol_ns, "mc": flavour.core_ns}
    ns_root = root[1:].split("}", 1)[0]
    if ns_root != flavour.protocol_ns:
        maps = {"svc": ns_root, **maps}
    if nsmap:
        maps.update({k: v for k, v in nsmap.items() if k})
    el = etree.Element(root, nsmap=maps)
    if flavour.request_attributes:
        el.set("Id", request_id or "_" + uuid.uuid4().hex)
        el.set("IssueInstant", utc_ms(issue_instant or datetime.now(timezone.utc)))
    el.append(common_input_xml(flavour, common_input))
    if routing is not None:
        el.append(routing_xml(flavour, routing))
    el.append(blob_element(flavour, blob))
    if xades is not None:
        _sub(el, flavour.protocol_ns, flavour.request_xades, base64.b64encode(xades).decode("ascii"))
    return el


def parse_request(flavour: CommonsFlavour, el: etree._Element) -> SendRequest:
    """Read a request body element (simulator side). Structure is assumed schema-valid."""
    p = flavour.protocol_ns
    ci = _child(el, p, "CommonInput")
    detail = _child(el, p, "Detail")
    if ci is None or detail is None:
        raise MalformedResponseError("request without CommonInput or Detail", code="SOA-03006",
                                     origin="mycarenet.commons")
    routing = _child(el, p, "Routing")
    xades_el = _child(el, p, flavour.request_xades)
    xades = base64.b64decode("".join((xades_el.text or "").split())) if xades_el is not None else None
    return SendRequest(root=el.tag, id=el.get("Id"), issue_instant=el.get("IssueInstant"),
                       common_input=parse_common_input(flavour, ci),
                       routing=parse_routing(flavour, routing) if routing is not None else None,
                       blob=parse_blob(detail, uncompressed_ok=False), xades=xades)


def build_response(flavour: CommonsFlavour, root: str, *, common_output: CommonOutput, blob: Blob,
                   in_response_to: str | None, issue_instant: datetime, response_id: str | None = None,
                   xades_t: bytes | None = None, status: Status | None = None) -> etree._Element:
    """A response body element (simulator side)."""
    p, c = flavour.protocol_ns, flavour.core_ns
    ns_root = root[1:].split("}", 1)[0]
    maps = {"p": p, "mc": c}
    if ns_root != p:
        maps = {"svc": ns_root, **maps}
    el = etree.Element(root, nsmap=maps)
    el.set("Id", response_id or "_" + uuid.uuid4().hex)
    if flavour.response_status:
        st = status or Status("200", (("EN", "OK"),))
        st_el = etree.SubElement(el, "Status")  # eHealth commons protocol v1: unqualified
        etree.SubElement(st_el, "Code").text = st.code
        for lang, text in st.messages or ((None, st.code),):
            msg = etree.SubElement(st_el, "Message")
            if lang:
                msg.set("Lang", lang)
            msg.text = text
    else:
        if in_response_to:
            el.set("InResponseTo", in_response_to)
        el.set("IssueInstant", utc_ms(issue_instant))
    ret = _sub(el, p, "Return")
    out = _sub(ret, p, "CommonOutput")
    for name, value in (("InputReference", common_output.input_reference),
                        ("NIPReference", common_output.nip_reference),
                        ("OutputReference", common_output.output_reference)):
        if value:
            _sub(out, c, name, value)
    ret.append(blob_element(flavour, blob, ns=p))
    if xades_t is not None:
        _sub(ret, p, "XadesT", base64.b64encode(xades_t).decode("ascii"))
    return el


def _find_any(parent: etree._Element, names: tuple[str, ...], local: str) -> etree._Element | None:
    for ns in names:
        found = parent.find(_q(ns, local))
        if found is not None:
            return found
    return parent.find(local)


def parse_response(flavour: CommonsFlavour, el: etree._Element, *, check_hash: bool = True) -> SendResponse:
    """Read a response body element (client side): CommonOutput, the blob decoded, XadesT, Status."""
    p, c = flavour.protocol_ns, flavour.core_ns
    ret = _find_any(el, (p,), "Return")
    if ret is None:
        raise MalformedResponseError(f"{etree.QName(el).localname} has no Return element", origin="mycarenet.commons",
                                     hint="the service answered something else than a commons response")
    out = _find_any(ret, (p, c), "CommonOutput")
    detail = _find_any(ret, (p, c), "Detail")
    if detail is None:
        raise MalformedResponseError("response without Detail blob", origin="mycarenet.commons")
    xt = _find_any(ret, (p, c), "XadesT")
    xades_t = None
    if xt is not None and xt.text:
        try:
            xades_t = b64decode_strict(xt.text)
        except (ValueError, TypeError):
            raise MalformedResponseError("XadesT is not valid base64", code="XADES_T_BASE64",
                                         origin="mycarenet.commons", location="Return/XadesT") from None
    status = None
    st_el = el.find("Status")
    if st_el is None:
        st_el = el.find(_q(NS_EHEALTH_PROTOCOL_V1, "Status"))
    if st_el is not None:
        status = Status(code=(st_el.findtext("Code") or "").strip(),
                        messages=tuple((m.get("Lang"), (m.text or "").strip()) for m in st_el.findall("Message")))
    return SendResponse(
        root=el.tag, id=el.get("Id"), in_response_to=el.get("InResponseTo"), issue_instant=el.get("IssueInstant"),
        common_output=CommonOutput(input_reference=_text(out, c, "InputReference"),
                                   nip_reference=_text(out, c, "NIPReference"),
                                   output_reference=_text(out, c, "OutputReference")) if out is not None else CommonOutput(),
        blob=parse_blob(detail, check_hash=check_hash),
        xades_t=xades_t,
        status=status)


def new_output_reference() -> str:
    """A reference as MyCareNet hands them out (the simulator, answer codecs) (NIPReference / OutputReference)."""
    return "SIM" + secrets.token_hex(6).upper()
