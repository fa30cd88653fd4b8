"""MyCareNet GenericAsync client for eFact (``efact.md`` §1): ``post``, ``get`` and ``confirm``.

The request builders and response parsers are pure functions (the simulator reuses them);
:class:`GenAsyncClient` adds the transport: the core SOAP client, WS-Addressing headers and the
GenericAsync WS-Security variant (holder-of-key signature over the Timestamp only; body integrity
comes from TLS and the XAdES over the Blob, ``auth-crypto.md`` §3.1, §5.5).

* ``post``: the 920000 file raw-deflated into a ``text/plain`` Blob named ``HCPFAC``, a XAdES-BES
  over it, ``InputReference`` ≤ 14 characters, ``wsa:To = urn:nip:destination:io:<OA>``; the
  answer is a TAck.
* ``get``: messages (931000, 920098, …) and asynchronous TAcks, each message's ``HashValue``
  checked against the SHA-256 of its inflated content.
* ``confirm``: by message hash and TAck content, so the server stops re-delivering them.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
import zlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import attrs
from lxml import etree
from mycarenet_dental.config import https_url
from mycarenet_dental.errors import MalformedResponseError, SecurityError, UsageError
from mycarenet_dental.protocols.commons import inflate_blob

if TYPE_CHECKING:  # pragma: no cover
    from mycarenet_dental.context import Context
    from mycarenet_dental.exchange import ExchangeRun

NS_GA = "urn:be:cin:nip:async:generic"
NS_COMMON = "urn:be:cin:mycarenet:esb:common:v2"
NS_WSA = "http://www.w3.org/2005/08/addressing"

ACTION_POST = "urn:be:cin:nip:async:generic:post:msg"
ACTION_GET = "urn:be:cin:nip:async:generic:get:query"
ACTION_CONFIRM = "urn:be:cin:nip:async:generic:confirm:hash"
ACTIONS = (ACTION_POST, ACTION_GET, ACTION_CONFIRM)
ANONYMOUS = "http://www.w3.org/2005/08/addressing/anonymous"
DESTINATION_PREFIX = "urn:nip:destination:io:"
APPLIES_TO_PREFIX = "urn:nip:reference:input:"
TACK_SUCCESS = "urn:nip:tack:result:major:success"
TACK_FAILURE = "urn:nip:tack:result:major:failure"

MESSAGE_NAME = "HCPFAC"
#: what eFact clients ask for in ``get`` ([TK], [PB]); UNSURE: meaning of HCPAFD/HCPVWR (efact.md §1.9)
GET_MESSAGE_NAMES = ("HCPFAC", "HCPAFD", "HCPVWR")
BLOB_ID = "blob"
CONTENT_TYPE = "text/plain"
MAX_INPUT_REFERENCE = 14
MAX_INFLATED = 200 * 1024 * 1024  # a bound against deflate bombs

_NSMAP_POST = {"ga": NS_GA, "common": NS_COMMON}


def ga(tag: str) -> str:
    return f"{{{NS_GA}}}{tag}"


def cm(tag: str) -> str:
    return f"{{{NS_COMMON}}}{tag}"


# --- Blob helpers --------------------------------------------------------------------------------


def deflate_raw(data: bytes) -> bytes:
    """Raw DEFLATE (RFC 1951, no zlib header), as the eHealth connector's ``Deflater(-1, true)``."""
    comp = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    return comp.compress(data) + comp.flush()


def inflate(data: bytes, *, max_bytes: int = MAX_INFLATED) -> bytes:
    """Inflate a Blob that must be compressed (raw deflate, zlib or gzip; bounded in size): what the
    insurer side requires of a posted file. Answers are read leniently, see :func:`_blob_content`."""
    return inflate_blob(data, max_bytes=max_bytes, uncompressed_ok=False)[0]


def sha256_b64(data: bytes) -> str:
    """``HashValue`` of a Blob: base64 of the SHA-256 of the uncompressed content."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def check_input_reference(value: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_INPUT_REFERENCE or not value.isascii() \
            or not value.isalnum():
        raise UsageError(f"InputReference {value!r} must be 1-{MAX_INPUT_REFERENCE} ASCII letters/digits",
                         location="InputReference")
    return value


# --- typed records ---------------------------------------------------------------------------------


def _nihii11(inst: object, a: attrs.Attribute, v: str) -> None:
    if not (isinstance(v, str) and len(v) == 11 and v.isdigit() and v.isascii()):
        raise UsageError(f"{a.name}: {v!r} is not an 11-digit NIHII", location=f"Origin.{a.name}")


def _non_empty(inst: object, a: attrs.Attribute, v: str) -> None:
    if not (isinstance(v, str) and v.strip()):
        raise UsageError(f"{a.name} must not be empty", location=f"Origin.{a.name}",
                         hint="configure [licence] username and package_name")


@attrs.frozen
class Origin:
    """``Origin`` of every GenericAsync request: the package licence and the care provider billed for."""

    package_name: str = attrs.field(validator=_non_empty)
    licence_username: str = attrs.field(validator=_non_empty)
    licence_password: str = attrs.field(repr=False)
    nihii: str = attrs.field(validator=_nihii11)
    quality: str = attrs.field(default="dentist", validator=_non_empty)
    name: str = ""
    ssin: str | None = None

    @classmethod
    def from_context(cls, ctx: Context) -> Origin:
        from mycarenet_dental.context import licence

        lic = licence(ctx)
        dentist = ctx.config.require_dentist()
        return cls(package_name=lic.package_name, licence_username=lic.username,
                   licence_password=lic.password, nihii=dentist.nihii, name=dentist.name, ssin=dentist.ssin)


@attrs.frozen
class TAck:
    """A technical acknowledgement (synchronous post answer or asynchronous ``TAckResponse``)."""

    issuer: str = attrs.field(validator=attrs.validators.instance_of(str))
    applies_to: str = attrs.field(validator=attrs.validators.instance_of(str))
    result_major: str = attrs.field(validator=attrs.validators.instance_of(str))
    value: str  # base64 content, as received (confirmation key)
    result_minor: str | None = None
    result_message: str | None = None
    reference: str | None = None
    id: str | None = None

    @property
    def success(self) -> bool:
        return self.result_major == TACK_SUCCESS

    @property
    def input_reference(self) -> str:
        """The InputReference the TAck applies to (last ``:`` segment, as [ICC] does)."""
        return self.applies_to.rsplit(":", 1)[-1]


@attrs.frozen
class ReceivedMessage:
    """One ``MsgResponse`` of a ``get``, inflated and hash-checked."""

    input_reference: str | None
    nip_reference: str | None
    output_reference: str | None
    message_name: str
    hash_value: str  # base64 SHA-256 (confirmation key)
    reference: str | None
    content: bytes = attrs.field(repr=False)

    @property
    def message_type(self) -> str:
        """The eFact response type: the first 6 characters (931000, 920098, …)."""
        return self.content[:6].decode("ascii", "replace")


@attrs.frozen
class GetResult:
    """What one ``get`` returned."""

    messages: tuple[ReceivedMessage, ...]
    tacks: tuple[TAck, ...]
    msg_count: int
    tack_count: int


# --- builders -------------------------------------------------------------------------------------


def _text(parent: etree._Element, tag: str, text: str) -> etree._Element:
    el = etree.SubElement(parent, tag)
    el.text = text
    return el


def build_origin(parent: etree._Element, tag: str, origin: Origin) -> etree._Element:
    """``Origin`` (``common:OrigineType``): Package{Name, License}, CareProvider{Nihii, PhysicalPerson}."""
    el = etree.SubElement(parent, tag)
    package = etree.SubElement(el, cm("Package"))
    _text(package, cm("Name"), origin.package_name)
    lic = etree.SubElement(package, cm("License"))
    _text(lic, cm("Username"), origin.licence_username)
    _text(lic, cm("Password"), origin.licence_password)
    provider = etree.SubElement(el, cm("CareProvider"))
    nihii = etree.SubElement(provider, cm("Nihii"))
    _text(nihii, cm("Quality"), origin.quality)
    _text(nihii, cm("Value"), origin.nihii)
    if origin.ssin or origin.name:
        person = etree.SubElement(provider, cm("PhysicalPerson"))
        if origin.name:
            _text(person, cm("Name"), origin.name)
        if origin.ssin:
            _text(person, cm("Ssin"), origin.ssin)
    return el


def build_post(origin: Origin, input_reference: str, content: bytes, *, is_test: bool,
               xades: bytes | None = None, blob_id: str = BLOB_ID, deflated: bytes | None = None) -> etree._Element:
    """``ga:post``: CommonInput, the deflated Blob (``HCPFAC``) and the base64 XAdES.

    ``deflated`` are the Blob octets when already computed (they are what the XAdES signs).
    """
    check_input_reference(input_reference)
    post = etree.Element(ga("post"), nsmap=_NSMAP_POST)
    common = etree.SubElement(post, ga("CommonInput"))
    request = etree.SubElement(common, cm("Request"))
    _text(request, cm("IsTest"), "true" if is_test else "false")
    build_origin(common, cm("Origin"), origin)
    _text(common, cm("InputReference"), input_reference)
    detail = etree.SubElement(post, ga("Detail"))
    detail.set("ContentEncoding", "deflate")
    detail.set("ContentType", CONTENT_TYPE)
    detail.set("MessageName", MESSAGE_NAME)
    detail.set("Id", blob_id)
    detail.text = base64.b64encode(deflated if deflated is not None else deflate_raw(content)).decode("ascii")
    if xades is not None:
        _text(post, ga("Xades-t"), base64.b64encode(xades).decode("ascii"))
    return post


def build_get(origin: Origin, *, max_messages: int = 100, max_tacks: int = 100,
              message_names: Sequence[str] = GET_MESSAGE_NAMES) -> etree._Element:
    """``ga:get`` asking for eFact messages and TAcks (both included)."""
    get = etree.Element(ga("get"), nsmap=_NSMAP_POST)
    build_origin(get, ga("Origin"), origin)
    msg = etree.SubElement(get, ga("MsgQuery"))
    msg.set("Include", "true")
    _text(msg, ga("Max"), str(int(max_messages)))
    _text(msg, ga("MessageNames"), " ".join(message_names))
    tack = etree.SubElement(get, ga("TAckQuery"))
    tack.set("Include", "true")
    _text(tack, ga("Max"), str(int(max_tacks)))
    return get


def build_confirm(origin: Origin, *, msg_hashes: Iterable[str] = (), tack_contents: Iterable[str] = (),
                  msg_refs: Iterable[str] = (), tack_refs: Iterable[str] = ()) -> etree._Element:
    """``ga:confirm`` by message hash / TAck content (and references when given)."""
    confirm = etree.Element(ga("confirm"), nsmap=_NSMAP_POST)
    build_origin(confirm, ga("Origin"), origin)
    for tag, values in (("MsgHashValues", msg_hashes), ("MsgRefValues", msg_refs),
                        ("TAckContents", tack_contents), ("TAckReferences", tack_refs)):
        items = [v for v in values if v]
        if items:
            _text(confirm, ga(tag), " ".join(items))
    return confirm


def addressing_headers(action: str, *, to: str | None = None) -> list[etree._Element]:
    """WS-Addressing 2005/08 headers (mandatory on GenericAsync)."""
    nsmap = {"wsa": NS_WSA}
    out = []
    for tag, text in (("Action", action), ("MessageID", f"uuid:{uuid.uuid4()}"), ("To", to)):
        if text is None:
            continue
        el = etree.Element(f"{{{NS_WSA}}}{tag}", nsmap=nsmap)
        el.text = text
        out.append(el)
    for tag in ("ReplyTo", "FaultTo"):
        el = etree.Element(f"{{{NS_WSA}}}{tag}", nsmap=nsmap)
        _text(el, f"{{{NS_WSA}}}Address", ANONYMOUS)
        out.append(el)
    return out


def destination(oa: str) -> str:
    return DESTINATION_PREFIX + oa


# --- parsers --------------------------------------------------------------------------------------


def parse_tack(el: etree._Element) -> TAck:
    """A ``TAck``-typed element (``postResponse/return`` or ``TAckResponse/TAck``)."""
    major = el.get("ResultMajor")
    applies = el.get("AppliesTo")
    if not major or applies is None:
        raise MalformedResponseError("TAck without ResultMajor/AppliesTo", code="GENASYNC_TACK")
    return TAck(issuer=el.get("Issuer") or "", applies_to=applies, result_major=major,
                value="".join((el.text or "").split()), result_minor=el.get("ResultMinor"),
                result_message=el.get("ResultMessage"), reference=el.get("Reference"), id=el.get("Id"))


def parse_post_response(body_child: etree._Element | None) -> TAck:
    if body_child is None or body_child.tag != ga("postResponse"):
        raise MalformedResponseError("the answer to post is not a postResponse", code="GENASYNC_ANSWER")
    ret = body_child.find(ga("return"))
    if ret is None:
        raise MalformedResponseError("postResponse without return", code="GENASYNC_ANSWER")
    return parse_tack(ret)


def _blob_content(detail: etree._Element) -> bytes:
    try:
        raw = base64.b64decode("".join((detail.text or "").split()), validate=True)
    except ValueError:
        raise MalformedResponseError("the Blob is not valid base64", code="BLOB_ENCODING") from None
    encoding = (detail.get("ContentEncoding") or "deflate").lower()
    if encoding in ("", "none", "identity"):
        return raw
    # the same helper as every other MyCareNet Blob: deflate/zlib/gzip, or not compressed after all
    return inflate_blob(raw, max_bytes=MAX_INFLATED)[0]


def parse_message(el: etree._Element, *, verify_hash: bool = True) -> ReceivedMessage:
    """One ``MsgResponse``: inflate its Detail and check ``HashValue`` = SHA-256 of the content."""
    out = el.find(ga("CommonOutput"))
    detail = el.find(ga("Detail"))
    if detail is None:
        raise MalformedResponseError("MsgResponse without Detail", code="GENASYNC_ANSWER")
    content = _blob_content(detail)
    computed = sha256_b64(content)
    declared = detail.get("HashValue")
    if declared is not None and verify_hash:
        try:
            same = base64.b64decode(declared) == base64.b64decode(computed)
        except ValueError:
            same = False
        if not same:
            raise SecurityError("a received eFact message does not match its HashValue (SHA-256)",
                                code="GENASYNC_HASH", hint="the message was altered or truncated; it is "
                                "left unconfirmed and will be delivered again")

    def out_text(tag: str) -> str | None:
        if out is None:
            return None
        value = out.findtext(cm(tag))
        return value.strip() if value else None

    return ReceivedMessage(input_reference=out_text("InputReference"), nip_reference=out_text("NIPReference"),
                           output_reference=out_text("OutputReference"),
                           message_name=detail.get("MessageName") or "", hash_value=declared or computed,
                           reference=detail.get("Reference"), content=content)


def parse_get_response(body_child: etree._Element | None, *, verify_hash: bool = True) -> GetResult:
    if body_child is None or body_child.tag != ga("getResponse"):
        raise MalformedResponseError("the answer to get is not a getResponse", code="GENASYNC_ANSWER")
    ret = body_child.find(ga("return"))
    if ret is None:
        raise MalformedResponseError("getResponse without return", code="GENASYNC_ANSWER")
    messages = tuple(parse_message(m, verify_hash=verify_hash) for m in ret.findall(ga("MsgResponse")))
    tacks = []
    for t in ret.findall(ga("TAckResponse")):
        tack_el = t.find(ga("TAck"))
        if tack_el is None:
            raise MalformedResponseError("TAckResponse without TAck", code="GENASYNC_ANSWER")
        tacks.append(parse_tack(tack_el))
    try:
        msg_count = int(ret.get("MsgCount", len(messages)))
        tack_count = int(ret.get("TAckCount", len(tacks)))
    except ValueError:
        raise MalformedResponseError("MsgCount/TAckCount not numeric", code="GENASYNC_ANSWER") from None
    return GetResult(messages=messages, tacks=tuple(tacks), msg_count=msg_count, tack_count=tack_count)


def signed_parts(body_child: etree._Element) -> list[tuple[str, bytes, bytes | None, str]]:
    """What each ``Xades-t`` of a getResponse signs: (what, signed content, signature, content type).

    A ``MsgResponse``'s signature covers its Blob (the inflated message, ``auth-crypto.md`` §5.5); a
    ``TAckResponse``'s covers the TAck value (UNSURE: the XSD only says the TAck comes with a Xades-t)."""
    ret = body_child.find(ga("return"))
    parts: list[tuple[str, bytes, bytes | None, str]] = []
    if ret is None:
        return parts

    def signature(parent: etree._Element) -> bytes | None:
        el = parent.find(ga("Xades-t"))
        if el is None or not (el.text or "").strip():
            return None
        try:
            return base64.b64decode("".join(el.text.split()), validate=True)
        except ValueError:
            raise MalformedResponseError("a Xades-t is not valid base64", code="GENASYNC_ANSWER") from None

    for m in ret.findall(ga("MsgResponse")):
        detail = m.find(ga("Detail"))
        if detail is not None:
            parts.append(("MsgResponse", _blob_content(detail), signature(m), detail.get("ContentType") or CONTENT_TYPE))
    for t in ret.findall(ga("TAckResponse")):
        tack = t.find(ga("TAck"))
        if tack is not None:
            parts.append(("TAckResponse", "".join((tack.text or "").split()).encode("ascii"), signature(t),
                          "text/plain"))
    return parts


def authenticate_get(ctx: Context, body_child: etree._Element | None, *, run: ExchangeRun | None = None) -> None:
    """Every message and TAck of a get is signed by an accepted insurer-side signer chaining to the eHealth
    trust anchors (core ``answers``; FH: ``genericasync.invoicing.mycarenet.get.response.neededxadeslevel=xadest``)."""
    from mycarenet_dental.protocols import answers

    if body_child is None:
        return
    for what, content, signature, content_type in signed_parts(body_child):
        try:
            answers.verify_xades(ctx, "billing", content=content, signature=signature, at=ctx.now(),
                                 content_type=content_type, run=run)
        except answers.AnswerRejected as exc:
            raise answers.AnswerRejected(f"{what}: {exc.messages.en}", code=exc.code, service="billing") from None


# --- XAdES adapter (security layer) -------------------------------------------------------------


def sign_xades(blob: bytes, key: Any) -> bytes | None:
    """XAdES-BES over the Blob octets (``auth-crypto.md`` §5.5: the digest covers the inflated
    content), or None when the security layer has no XAdES module (``Xades-t`` is optional)."""
    try:
        from mycarenet_dental.ehealth import xades
    except ImportError:
        return None
    return bytes(xades.sign_blob(blob, key=key, blob_id=BLOB_ID, content_type=CONTENT_TYPE))


# --- client -------------------------------------------------------------------------------------


class GenAsyncClient:
    """GenericAsync calls for eFact through the core SOAP client (one instance per context)."""

    def __init__(self, ctx: Context, *, url: str | None = None) -> None:
        self.ctx = ctx
        self.url = url or hcpfac_url(ctx)

    def origin(self) -> Origin:
        return Origin.from_context(self.ctx)

    def _security(self) -> Any:
        return self.ctx.security.hok(timestamp_only=True)

    @property
    def is_test(self) -> bool:
        return self.ctx.config.profile != "production"

    def post(self, input_reference: str, content: bytes, *, oa: str, run: ExchangeRun | None = None) -> TAck:
        """Post one 920000 file to union ``oa``; returns the synchronous TAck (not a receipt: R39)."""
        if not (len(oa) == 3 and oa.isdigit()):
            raise UsageError(f"{oa!r} is not a 3-digit insurer (OA) code", location="oa")
        from mycarenet_dental.protocols import answers

        answers.require_pin(self.ctx, "billing")  # the post answer is a bare TAck: TLS only
        key = self.ctx.security.keystore.authentication
        blob = deflate_raw(content)
        body = build_post(self.origin(), input_reference, content, is_test=self.is_test,
                          xades=sign_xades(blob, key), deflated=blob)
        if run is not None:
            run.reference("InputReference", input_reference)
        reply = self.ctx.soap.call(self.url, ACTION_POST, body, security=self._security(), idempotent=False,
                                   run=run, headers_extra=addressing_headers(ACTION_POST, to=destination(oa)))
        tack = parse_post_response(reply.body_child)
        # postResponse carries a bare TAck, no Xades-t (GenericAsync XSD): authenticated by the pinned TLS only
        answers.tls_only(self.ctx, "billing", run=run)
        if run is not None and tack.reference:
            run.reference("TAck", tack.reference)
        return tack

    def get(self, *, run: ExchangeRun | None = None, max_messages: int = 100, max_tacks: int = 100) -> GetResult:
        from mycarenet_dental.protocols import answers

        answers.preflight(self.ctx, "billing", signed=True)
        body = build_get(self.origin(), max_messages=max_messages, max_tacks=max_tacks)
        reply = self.ctx.soap.call(self.url, ACTION_GET, body, security=self._security(), idempotent=True,
                                   run=run, headers_extra=addressing_headers(ACTION_GET))
        result = parse_get_response(reply.body_child)
        authenticate_get(self.ctx, reply.body_child, run=run)
        return result

    def confirm(self, *, messages: Iterable[ReceivedMessage] = (), tacks: Iterable[TAck] = (),
                run: ExchangeRun | None = None) -> None:
        hashes = [m.hash_value for m in messages]
        contents = [t.value for t in tacks if t.value]
        refs = [t.reference for t in tacks if not t.value and t.reference]
        if not (hashes or contents or refs):
            return
        body = build_confirm(self.origin(), msg_hashes=hashes, tack_contents=contents, tack_refs=refs)
        # confirm is idempotent: unknown values are ignored by the server
        self.ctx.soap.call(self.url, ACTION_CONFIRM, body, security=self._security(), idempotent=True, run=run,
                           headers_extra=addressing_headers(ACTION_CONFIRM, to=DESTINATION_PREFIX))


def hcpfac_url(ctx: Context) -> str:
    """``[billing] hcpfac_url`` or the async host + ``/hcpfac`` (``efact.md`` §1.1)."""
    override = ctx.config.section("billing").get("hcpfac_url")
    if override:
        return https_url(override, "[billing] hcpfac_url")
    return ctx.config.endpoints.async_ + "/hcpfac"
