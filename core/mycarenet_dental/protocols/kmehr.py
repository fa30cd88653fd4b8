"""KMEHR message services 1.2 (KMEHR 1.19): ``RetrieveTransactionRequest`` / ``RetrieveTransactionResponse``.

The blob that MyCareNet Tarification (transaction ``tariff``) and the GMF consultation (transaction
``gmd``, route B) carry inside their commons envelope. Both sides of the wire live here, generic over
the transaction type, so that the client plugins and the simulator build and read the same typed
records: :func:`build_request` / :func:`parse_request` and :func:`build_response` /
:func:`parse_response`.

Namespaces (``xsd/README.md`` §2): the root element is in the message-services *protocol* namespace,
its children (``request``, ``select``, ``response``, ``acknowledge``...) in the message-services *core*
namespace, and everything typed by KMEHR (``hcparty``, ``item``, ``content``, ``cd``...) in the KMEHR
schema namespace. Errors found while reading a *request* carry the MyCareNet code (100 missing,
111 format) and the XPath into the request, exactly what the simulator echoes in ``acknowledge/error``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs
from lxml import etree

from ..errors import MalformedResponseError
from ..timeutil import xs_clock, xs_date, xs_time

NS_MS_PROTOCOL = "http://www.ehealth.fgov.be/messageservices/protocol/v1"
NS_MS_CORE = "http://www.ehealth.fgov.be/messageservices/core/v1"
NS_KMEHR = "http://www.ehealth.fgov.be/standards/kmehr/schema/v1"
NSMAP = {None: NS_MS_PROTOCOL, "core": NS_MS_CORE, "kmehr": NS_KMEHR}

#: Versions of the code/identifier schemes as the connectors send them.
SV = "1.0"
CD_HCPARTY_SV = "1.3"  # UNSURE: freehealth sends 1.3 for CD-HCPARTY; the simulator accepts any
CD_TRANSACTION_MYCARENET_SV = "1.1"  # tariff.md §2 (gmd uses 1.0: dmg.md §3)
KMEHR_STANDARD = "20161201"  # last CD-STANDARD value of KMEHR 1.19
KMEHR_STANDARD_SV = "1.19"

REQUEST_ROOT = "/RetrieveTransactionRequest"
TRANSACTION_XPATH = REQUEST_ROOT + "/select/transaction"
PATIENT_XPATH = REQUEST_ROOT + "/select/patient"


def _c(local: str) -> str:
    return f"{{{NS_MS_CORE}}}{local}"


def _k(local: str) -> str:
    return f"{{{NS_KMEHR}}}{local}"


_K_CD, _K_ID, _K_DATE, _K_DECIMAL, _K_BOOLEAN, _K_TEXT, _K_HCPARTY = (
    _k(n) for n in ("cd", "id", "date", "decimal", "boolean", "text", "hcparty"))
_K_CONTENT, _K_COST, _K_BEGINMOMENT, _K_ENDMOMENT = (_k(n) for n in ("content", "cost", "beginmoment", "endmoment"))
_K_UNIT_CD = f"{_k('unit')}/{_k('cd')}"
_K_FIRSTNAME, _K_FAMILYNAME, _K_NAME = (_k(n) for n in ("firstname", "familyname", "name"))
_NAME_FIELDS = {_K_FIRSTNAME: "firstname", _K_FAMILYNAME: "familyname", _K_NAME: "name"}


# ------------------------------------------------------------------------------------------------
# Typed records
# ------------------------------------------------------------------------------------------------


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


@attrs.frozen
class Code:
    """A KMEHR ``cd`` or ``id``: scheme ``S``, scheme version ``SV`` and value (``SL``/``DN`` optional)."""

    s: str = attrs.field(validator=attrs.validators.instance_of(str))
    value: str = attrs.field(validator=attrs.validators.instance_of(str))
    sv: str = SV
    sl: str | None = attrs.field(default=None, converter=_opt_str)
    dn: str | None = attrs.field(default=None, converter=_opt_str)


_new_code = object.__new__
_set = object.__setattr__


def _read_code(s: str, value: str, sv: str, sl: str | None, dn: str | None) -> Code:
    """A Code from parsed attribute/text values (all ``str`` or ``None`` already, so the validators and
    converters of ``Code.__init__`` cannot change or refuse anything): built without them, as the readers
    create dozens per message."""
    code = _new_code(Code)
    _set(code, "s", s)
    _set(code, "value", value)
    _set(code, "sv", sv)
    _set(code, "sl", sl)
    _set(code, "dn", dn)
    return code


def _codes(value: Iterable[Code]) -> tuple[Code, ...]:
    return tuple(value)


@attrs.frozen
class HcParty:
    """A KMEHR ``hcparty``: ids (ID-HCPARTY = NIHII, INSS = SSIN, ID-INSURANCE), CD-HCPARTY kind, names."""

    cds: tuple[Code, ...] = attrs.field(converter=_codes)
    ids: tuple[Code, ...] = attrs.field(default=(), converter=_codes)
    firstname: str | None = None
    familyname: str | None = None
    name: str | None = None

    @classmethod
    def person(cls, *, kind: str, nihii: str | None = None, ssin: str | None = None,
               firstname: str | None = None, familyname: str | None = None) -> HcParty:
        """A care provider (``persdentist``, ``persphysician``...) identified by NIHII and SSIN."""
        ids = []
        if nihii:
            ids.append(Code("ID-HCPARTY", nihii))
        if ssin:
            ids.append(Code("INSS", ssin))
        names = (firstname, familyname) if firstname and familyname else (None, None)
        return cls(cds=(Code("CD-HCPARTY", kind, sv=CD_HCPARTY_SV),), ids=tuple(ids), firstname=names[0],
                   familyname=names[1], name=None if names[0] else (familyname or firstname))

    @classmethod
    def insurer(cls, code: str, name: str | None = None) -> HcParty:
        """An insurer (``orginsurance``) identified by its 3-digit code."""
        return cls(cds=(Code("CD-HCPARTY", "orginsurance", sv=CD_HCPARTY_SV),),
                   ids=(Code("ID-INSURANCE", code),), name=name)

    def id_of(self, scheme: str) -> str | None:
        return next((c.value for c in self.ids if c.s == scheme), None)

    @property
    def nihii(self) -> str | None:
        return self.id_of("ID-HCPARTY")

    @property
    def ssin(self) -> str | None:
        return self.id_of("INSS")

    @property
    def kind(self) -> str | None:
        return next((c.value for c in self.cds if c.s == "CD-HCPARTY"), None)


def _parties(value: Iterable[HcParty]) -> tuple[HcParty, ...]:
    return tuple(value)


@attrs.frozen
class Cost:
    """``cost``: an amount and its currency (``CD-CURRENCY`` ``eur``)."""

    amount: Decimal = attrs.field(converter=Decimal)
    currency: str = "eur"

    @property
    def cents(self) -> int:
        return int((self.amount * 100).to_integral_value())


@attrs.frozen
class Content:
    """One ``content`` of an item. KMEHR allows one kind per content, so give one of the fields."""

    cds: tuple[Code, ...] = attrs.field(default=(), converter=_codes)
    ids: tuple[Code, ...] = attrs.field(default=(), converter=_codes)
    date: dt.date | None = None
    text: str | None = None
    decimal: Decimal | None = None
    boolean: bool | None = None
    hcparty: HcParty | None = None


def _contents(value: Iterable[Content]) -> tuple[Content, ...]:
    return tuple(value)


@attrs.frozen
class Item:
    """A KMEHR ``item``. ``position`` is its 1-based index among the transaction's items once parsed
    (what the XPath of an error points at); builders number items themselves."""

    cd: Code
    contents: tuple[Content, ...] = attrs.field(default=(), converter=_contents)
    cost: Cost | None = None
    beginmoment: dt.date | None = None
    endmoment: dt.date | None = None
    position: int = attrs.field(default=0, eq=False)

    @property
    def kind(self) -> str:
        return self.cd.value

    def content_code(self, scheme: str) -> str | None:
        """The value of the first content ``cd`` of ``scheme`` (e.g. ``CD-NIHDI``), or None."""
        for content in self.contents:
            for cd in content.cds:
                if cd.s == scheme:
                    return cd.value
        return None

    def content_id(self, scheme: str | None = None) -> str | None:
        for content in self.contents:
            for ident in content.ids:
                if scheme is None or ident.s == scheme:
                    return ident.value
        return None

    def content_date(self) -> dt.date | None:
        return next((c.date for c in self.contents if c.date is not None), None)

    def content_hcparty(self) -> HcParty | None:
        return next((c.hcparty for c in self.contents if c.hcparty is not None), None)

    def xpath(self, base: str = TRANSACTION_XPATH) -> str:
        return f"{base}/item[{self.position}]"


def _items(value: Iterable[Item]) -> tuple[Item, ...]:
    return tuple(value)


@attrs.frozen
class RequestHeader:
    """``request``: the KMEHR request id (``<NIHII>.<reference>``), author, date and time."""

    id: str
    author: tuple[HcParty, ...] = attrs.field(converter=_parties)
    date: dt.date
    time: dt.time
    maxrows: int | None = None


@attrs.frozen
class PatientSelector:
    """``select/patient``: by SSIN, or by insurer + membership (registration) number (+ sex)."""

    ssin: str | None = None
    insurer: str | None = None
    membership: str | None = None
    sex: str | None = None  # CD-SEX value: male | female | unknown ...

    def __attrs_post_init__(self) -> None:
        if not self.ssin and not (self.insurer and self.membership):
            raise ValueError("a patient needs an SSIN or an insurer and a membership number")


@attrs.frozen
class TransactionSelect:
    """``select/transaction`` of a request: the transaction type asked (``tariff``, ``gmd``...) and items."""

    cd: Code
    author: tuple[HcParty, ...] = attrs.field(default=(), converter=_parties)
    items: tuple[Item, ...] = attrs.field(default=(), converter=_items)
    begindate: dt.date | None = None
    enddate: dt.date | None = None

    @property
    def kind(self) -> str:
        return self.cd.value

    def items_of(self, kind: str) -> list[Item]:
        return [i for i in self.items if i.kind == kind]


@attrs.frozen
class RetrieveTransactionRequest:
    """The whole request blob. ``protocol_version`` is ``messageProtocoleSchemaVersion`` (1.16 for dentists)."""

    header: RequestHeader
    transaction: TransactionSelect
    patient: PatientSelector | None = None
    protocol_version: str | None = None


@attrs.frozen
class AckError:
    """One ``acknowledge/error``: the MyCareNet code(s), its description and the XPath into the request."""

    codes: tuple[Code, ...] = attrs.field(converter=_codes)
    description: str = ""
    url: str | None = None
    lang: str = "en"

    @classmethod
    def of(cls, code: str, description: str, url: str | None = None, *, scheme: str = "CD-ERROR",
           lang: str = "en") -> AckError:
        return cls(codes=(Code(scheme, code),), description=description, url=url, lang=lang)

    @property
    def code(self) -> str:
        return self.codes[0].value if self.codes else ""

    @property
    def scheme(self) -> str:
        return self.codes[0].s if self.codes else ""


@attrs.frozen
class Insurance:
    """``insurancystatus``: insurer, membership number, coverage dates, CT1/CT2 (``cg1``/``cg2``)."""

    insurer: str
    membership: str
    begindate: dt.date | None = None
    enddate: dt.date | None = None
    cg1: str | None = None
    cg2: str | None = None


@attrs.frozen
class KmehrPatient:
    """The ``folder/patient`` of a response."""

    ssin: str | None
    firstnames: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    familyname: str = ""
    birthdate: dt.date | None = None
    deathdate: dt.date | None = None
    sex: str = "unknown"
    insurance: Insurance | None = None


@attrs.frozen
class Transaction:
    """A ``folder/transaction`` of a response (one per priced code for ``tariff``)."""

    cd: Code
    author: tuple[HcParty, ...] = attrs.field(converter=_parties)
    date: dt.date
    time: dt.time
    items: tuple[Item, ...] = attrs.field(default=(), converter=_items)
    iscomplete: bool = True
    isvalidated: bool = True

    @property
    def kind(self) -> str:
        return self.cd.value

    def item(self, kind: str) -> Item | None:
        return next((i for i in self.items if i.kind == kind), None)

    def items_of(self, kind: str) -> list[Item]:
        return [i for i in self.items if i.kind == kind]


@attrs.frozen
class RetrieveTransactionResponse:
    """The whole response blob: header (echoing the request), acknowledge, and an optional folder."""

    id: str
    author: tuple[HcParty, ...] = attrs.field(converter=_parties)
    date: dt.date
    time: dt.time
    request: RequestHeader
    complete: bool
    errors: tuple[AckError, ...] = attrs.field(default=(), converter=tuple)
    patient: KmehrPatient | None = None
    transactions: tuple[Transaction, ...] = attrs.field(default=(), converter=tuple)
    recipient: tuple[HcParty, ...] = attrs.field(default=(), converter=_parties)
    protocol_version: str | None = None


class KmehrRequestError(ValueError):
    """A request blob that does not follow the structure: carries the MyCareNet code and XPath (simulator)."""

    def __init__(self, code: str, message: str, url: str) -> None:
        self.code = code
        self.url = url
        super().__init__(f"[{code}] {message} at {url}")
        self.description = message


# ------------------------------------------------------------------------------------------------
# Ids and formatting
# ------------------------------------------------------------------------------------------------


def new_request_id(nihii: str, now: dt.datetime) -> str:
    """``<NIHII11>.<timestamp><random>``: unique, traceable to the sender, as ID-KMEHR asks.

    Tarification and GMF do not use it: there the suffix must be the InputReference
    (:func:`request_id_for`)."""
    return f"{nihii.zfill(11)}.{now:%Y%m%d%H%M%S}{uuid.uuid4().hex[:6]}"


def request_id_for(nihii: str, input_reference: str) -> str:
    """``<NIHII11>.<InputReference>``: for Tarification and GMF the KMEHR ``request/id`` suffix is the
    envelope's ``CommonInput/InputReference`` (as the reference connectors build it); MyCareNet answers
    155 "request id inconsistent" on ``/RetrieveTransactionRequest/request/id`` otherwise."""
    if not input_reference:
        raise ValueError("a KMEHR request id needs the InputReference as its suffix")
    return f"{nihii.zfill(11)}.{input_reference}"


#: Where MyCareNet points its 155 when the request id suffix is not the InputReference.
REQUEST_ID_XPATH = REQUEST_ROOT + "/request/id"


def request_id_consistent(request_id: str, input_reference: str | None) -> bool:
    """Whether the KMEHR request id's suffix (after the first ``.``) equals ``input_reference``."""
    _, dot, suffix = request_id.partition(".")
    return bool(dot) and bool(input_reference) and suffix == input_reference


def _fmt_decimal(value: Decimal) -> str:
    """Money-style: at least two decimals (``12.50``), more only when the value has them."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -2:
        value = value.quantize(Decimal("0.01"))
    return format(value, "f")


# ------------------------------------------------------------------------------------------------
# Writers
# ------------------------------------------------------------------------------------------------


_SubElement = etree.SubElement

# Qualified tag names, computed once (the writers run for every element of every message).
_K_ITEM, _K_MOMENT_TAGS, _K_UNIT = _k("item"), {t: _k(t) for t in ("beginmoment", "endmoment", "birthdate",
                                                                     "deathdate")}, _k("unit")


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrib: str | None) -> etree._Element:
    if attrib:
        el = _SubElement(parent, tag, {k: v for k, v in attrib.items() if v is not None})
    else:
        el = _SubElement(parent, tag)
    if text is not None:
        el.text = text
    return el


def _leaf(parent: etree._Element, tag: str, text: str) -> etree._Element:
    el = _SubElement(parent, tag)
    el.text = text
    return el


def _write_code(parent: etree._Element, tag: str, code: Code) -> etree._Element:
    attrib = {"S": code.s, "SV": code.sv}
    if code.sl:
        attrib["SL"] = code.sl
    if code.dn:
        attrib["DN"] = code.dn
    el = _SubElement(parent, tag, attrib)
    el.text = code.value
    return el


def _write_plain_code(parent: etree._Element, tag: str, s: str, value: str, sv: str = SV) -> etree._Element:
    """Same output as ``_write_code(parent, tag, Code(s, value, sv=sv))`` without building the Code."""
    if not isinstance(value, str):
        Code(s, value, sv=sv)  # raises exactly what building the Code raised
    el = _SubElement(parent, tag, {"S": s, "SV": sv})
    el.text = value
    return el


def _write_hcparty(parent: etree._Element, party: HcParty) -> None:
    hp = _SubElement(parent, _K_HCPARTY)
    for ident in party.ids:
        _write_code(hp, _K_ID, ident)
    for cd in party.cds:
        _write_code(hp, _K_CD, cd)
    if party.firstname and party.familyname:
        _leaf(hp, _K_FIRSTNAME, party.firstname)
        _leaf(hp, _K_FAMILYNAME, party.familyname)
    elif party.name:
        _leaf(hp, _K_NAME, party.name)


def _write_author(parent: etree._Element, tag: str, parties: Sequence[HcParty]) -> None:
    author = _SubElement(parent, tag)
    for party in parties:
        _write_hcparty(author, party)


def _write_content(parent: etree._Element, content: Content) -> None:
    el = _SubElement(parent, _K_CONTENT)
    if content.ids:
        for ident in content.ids:
            _write_code(el, _K_ID, ident)
    elif content.cds:
        for cd in content.cds:
            _write_code(el, _K_CD, cd)
    elif content.decimal is not None:
        _leaf(el, _K_DECIMAL, _fmt_decimal(content.decimal))
    elif content.boolean is not None:
        _leaf(el, _K_BOOLEAN, "true" if content.boolean else "false")
    elif content.text is not None:
        _sub(el, _K_TEXT, content.text, L="en")
    elif content.date is not None:
        _leaf(el, _K_DATE, content.date.isoformat())
    elif content.hcparty is not None:
        _write_hcparty(el, content.hcparty)
    else:
        raise ValueError("an empty KMEHR content")


def _write_moment(parent: etree._Element, tag: str, day: dt.date) -> None:
    moment = _SubElement(parent, _K_MOMENT_TAGS.get(tag) or _k(tag))
    _leaf(moment, _K_DATE, day.isoformat())


def _write_item(parent: etree._Element, tag: str, item: Item, number: int) -> None:
    el = _SubElement(parent, tag)
    _write_plain_code(el, _K_ID, "ID-KMEHR", str(number))
    _write_code(el, _K_CD, item.cd)
    for content in item.contents:
        _write_content(el, content)
    if item.beginmoment is not None:
        _write_moment(el, "beginmoment", item.beginmoment)
    if item.endmoment is not None:
        _write_moment(el, "endmoment", item.endmoment)
    if item.cost is not None:
        cost = _SubElement(el, _K_COST)
        _leaf(cost, _K_DECIMAL, _fmt_decimal(item.cost.amount))
        _write_plain_code(_SubElement(cost, _K_UNIT), _K_CD, "CD-CURRENCY", item.cost.currency)


_K = {n: _k(n) for n in (
    "author", "begindate", "cd", "cg1", "cg2", "date", "description", "enddate", "familyname", "firstname", "folder",
    "header", "id", "insurancystatus", "item", "iscomplete", "isvalidated", "membership", "patient", "recipient",
    "sender", "sex", "standard", "time", "transaction", "url")}
_C = {n: _c(n) for n in (
    "acknowledge", "author", "begindate", "cd", "date", "enddate", "error", "id", "insurancymembership", "item",
    "iscomplete", "kmehrmessage", "maxrows", "patient", "request", "response", "select", "sex", "time",
    "transaction")}


def _write_request_header(parent: etree._Element, header: RequestHeader) -> None:
    req = _sub(parent, _C["request"])
    _write_plain_code(req, _C["id"], "ID-KMEHR", header.id)
    _write_author(req, _C["author"], header.author)
    _sub(req, _C["date"], header.date.isoformat())
    _sub(req, _C["time"], xs_clock(header.time))
    if header.maxrows is not None:
        _sub(req, _C["maxrows"], str(header.maxrows))


def build_request(request: RetrieveTransactionRequest) -> etree._Element:
    """The ``RetrieveTransactionRequest`` element (validates against ``kmehr-messageservices``)."""
    root = etree.Element(f"{{{NS_MS_PROTOCOL}}}RetrieveTransactionRequest", nsmap=NSMAP)
    if request.protocol_version:
        root.set("messageProtocoleSchemaVersion", request.protocol_version)
    _write_request_header(root, request.header)
    select = _sub(root, _C["select"])
    if request.patient is not None:
        patient = _sub(select, _C["patient"])
        sel = request.patient
        if sel.ssin:
            _write_plain_code(patient, _C["id"], "ID-PATIENT", sel.ssin)
        if sel.sex:
            sex = _sub(patient, _C["sex"])
            _write_plain_code(sex, _K["cd"], "CD-SEX", sel.sex, "1.1")
        if sel.insurer and sel.membership:
            membership = _sub(patient, _C["insurancymembership"])
            _write_plain_code(membership, _K["id"], "ID-INSURANCE", sel.insurer)
            _sub(membership, _K["membership"], sel.membership)
    tx = request.transaction
    trans = _sub(select, _C["transaction"])
    _write_code(trans, _C["cd"], tx.cd)
    if tx.author:
        _write_author(trans, _C["author"], tx.author)
    for n, item in enumerate(tx.items, start=1):
        _write_item(trans, _C["item"], item, n)
    if tx.begindate is not None:
        _sub(trans, _C["begindate"], tx.begindate.isoformat())
    if tx.enddate is not None:
        _sub(trans, _C["enddate"], tx.enddate.isoformat())
    return root


def _write_patient(parent: etree._Element, patient: KmehrPatient) -> None:
    el = _sub(parent, _K["patient"])
    if patient.ssin:
        _write_plain_code(el, _K["id"], "ID-PATIENT", patient.ssin)
    for name in patient.firstnames or ("",):
        _sub(el, _K["firstname"], name)
    _sub(el, _K["familyname"], patient.familyname)
    if patient.birthdate:
        _write_moment(el, "birthdate", patient.birthdate)
    if patient.deathdate:
        _write_moment(el, "deathdate", patient.deathdate)
    sex = _sub(el, _K["sex"])
    _write_plain_code(sex, _K["cd"], "CD-SEX", patient.sex, "1.1")
    ins = patient.insurance
    if ins is not None:
        status = _sub(el, _K["insurancystatus"])
        _write_plain_code(status, _K["id"], "ID-INSURANCE", ins.insurer)
        _sub(status, _K["membership"], ins.membership)
        if ins.begindate:
            _sub(status, _K["begindate"], ins.begindate.isoformat())
        if ins.enddate:
            _sub(status, _K["enddate"], ins.enddate.isoformat())
        if ins.cg1:
            _sub(status, _K["cg1"], ins.cg1)
        if ins.cg2:
            _sub(status, _K["cg2"], ins.cg2)


def build_response(response: RetrieveTransactionResponse) -> etree._Element:
    """The ``RetrieveTransactionResponse`` element (validates against ``kmehr-messageservices``)."""
    root = etree.Element(f"{{{NS_MS_PROTOCOL}}}RetrieveTransactionResponse", nsmap=NSMAP)
    if response.protocol_version:
        root.set("messageProtocoleSchemaVersion", response.protocol_version)
    resp = _sub(root, _C["response"])
    _write_plain_code(resp, _C["id"], "ID-KMEHR", response.id)
    _write_author(resp, _C["author"], response.author)
    _sub(resp, _C["date"], response.date.isoformat())
    _sub(resp, _C["time"], xs_clock(response.time))
    _write_request_header(resp, response.request)
    ack = _sub(root, _C["acknowledge"])
    _sub(ack, _C["iscomplete"], "true" if response.complete else "false")
    for error in response.errors:
        err = _sub(ack, _C["error"])
        for cd in error.codes:
            _write_code(err, _K["cd"], cd)
        _sub(err, _K["description"], error.description, L=error.lang)
        if error.url:
            _sub(err, _K["url"], error.url)
    if response.patient is not None:
        msg = _sub(root, _C["kmehrmessage"])
        header = _sub(msg, _K["header"])
        standard = _sub(header, _K["standard"])
        _write_plain_code(standard, _K["cd"], "CD-STANDARD", KMEHR_STANDARD, KMEHR_STANDARD_SV)
        _write_plain_code(header, _K["id"], "ID-KMEHR", response.id)
        _sub(header, _K["date"], response.date.isoformat())
        _sub(header, _K["time"], xs_clock(response.time))
        _write_author(header, _K["sender"], response.author)
        _write_author(header, _K["recipient"], response.recipient or response.request.author)
        folder = _sub(msg, _K["folder"])
        _write_plain_code(folder, _K["id"], "ID-KMEHR", "1")
        _write_patient(folder, response.patient)
        for n, tx in enumerate(response.transactions, start=1):
            trans = _sub(folder, _K["transaction"])
            _write_plain_code(trans, _K["id"], "ID-KMEHR", str(n))
            _write_code(trans, _K["cd"], tx.cd)
            _sub(trans, _K["date"], tx.date.isoformat())
            _sub(trans, _K["time"], xs_clock(tx.time))
            _write_author(trans, _K["author"], tx.author)
            _sub(trans, _K["iscomplete"], "true" if tx.iscomplete else "false")
            _sub(trans, _K["isvalidated"], "true" if tx.isvalidated else "false")
            for m, item in enumerate(tx.items, start=1):
                _write_item(trans, _K["item"], item, m)
    return root


def to_bytes(element: etree._Element) -> bytes:
    return etree.tostring(element, encoding="UTF-8", xml_declaration=True)


# ------------------------------------------------------------------------------------------------
# Readers
# ------------------------------------------------------------------------------------------------


class _Reader:
    """Small helpers for strict reading; ``fail`` decides which exception a problem becomes."""

    def __init__(self, *, for_request: bool) -> None:
        self.for_request = for_request

    def fail(self, code: str, message: str, url: str) -> Exception:
        if self.for_request:
            return KmehrRequestError(code, message, url)
        return MalformedResponseError(f"KMEHR response: {message}", location=url, origin="kmehr")

    def one(self, parent: etree._Element, tag: str, url: str) -> etree._Element:
        el = _child(parent, tag)
        if el is None:
            raise self.fail("100", f"mandatory element {etree.QName(tag).localname} is missing", url)
        return el

    def found(self, el: etree._Element | None, tag: str, url: str) -> etree._Element:
        """:meth:`one` for a child already looked up (``el`` is ``parent.find(tag)``)."""
        if el is None:
            raise self.fail("100", f"mandatory element {etree.QName(tag).localname} is missing", url)
        return el

    def found_text(self, el: etree._Element | None, tag: str, url: str) -> str:
        """:meth:`text` for a child already looked up (``el`` is ``parent.find(tag)``)."""
        value = (self.found(el, tag, url).text or "").strip()
        if not value:
            raise self.fail("100", f"{etree.QName(tag).localname} is empty", url)
        return value

    def text(self, parent: etree._Element, tag: str, url: str) -> str:
        value = (self.one(parent, tag, url).text or "").strip()
        if not value:
            raise self.fail("100", f"{etree.QName(tag).localname} is empty", url)
        return value

    def date(self, text: str, url: str) -> dt.date:
        try:
            return xs_date(text)
        except ValueError:
            raise self.fail("111", f"{text!r} is not a date (YYYY-MM-DD)", url) from None

    def time(self, text: str, url: str) -> dt.time:
        try:
            return xs_time(text)
        except ValueError:
            raise self.fail("111", f"{text!r} is not a time (hh:mm:ss)", url) from None

    def decimal(self, text: str, url: str) -> Decimal:
        try:
            return Decimal(text.strip())
        except InvalidOperation:
            raise self.fail("111", f"{text!r} is not a decimal", url) from None

    def code(self, el: etree._Element, url: str) -> Code:
        get = el.get
        s = get("S")
        if not s:
            raise self.fail("100", "attribute S is missing", url)
        return _read_code(s, (el.text or "").strip(), get("SV") or "", get("SL"), get("DN"))

    def hcparty(self, el: etree._Element, url: str) -> HcParty:
        id_els: list[etree._Element] = []
        cd_els: list[etree._Element] = []
        names: dict[str, str | None] = {}
        for child in el:  # one pass, same result as findall(id) / findall(cd) / findtext(names)
            tag = child.tag
            if tag == _K_ID:
                id_els.append(child)
            elif tag == _K_CD:
                cd_els.append(child)
            elif tag in _NAME_FIELDS and _NAME_FIELDS[tag] not in names:
                value = child.text
                names[_NAME_FIELDS[tag]] = value.strip() if value is not None and value.strip() else None
        code = self.code
        ids = tuple(code(e, f"{url}/id[{n}]") for n, e in enumerate(id_els, 1))
        cds = tuple(code(e, f"{url}/cd[{n}]") for n, e in enumerate(cd_els, 1))
        party = _new_code(HcParty)  # fields already typed: HcParty.__init__ would only re-tuple them
        _set(party, "cds", cds)
        _set(party, "ids", ids)
        _set(party, "firstname", names.get("firstname"))
        _set(party, "familyname", names.get("familyname"))
        _set(party, "name", names.get("name"))
        return party

    def author(self, el: etree._Element, url: str) -> tuple[HcParty, ...]:
        parties = el.findall(_K_HCPARTY)
        if not parties:
            raise self.fail("100", "the author names no hcparty", url + "/hcparty")
        return tuple(self.hcparty(p, f"{url}/hcparty[{n}]") for n, p in enumerate(parties, 1))

    def moment(self, el: etree._Element | None, url: str) -> dt.date | None:
        if el is None:
            return None
        day = _text_or_none(_child(el, _K_DATE))
        return self.date(day, url + "/date") if day else None

    def content(self, el: etree._Element, url: str) -> Content:
        ids: list[Code] = []
        cds: list[Code] = []
        date = text = decimal = boolean = hcparty = None
        for child in el:  # one pass: contents are read for every item of every answer
            tag = child.tag
            if tag == _K_CD:
                get = child.get
                s = get("S")
                if not s:
                    raise self.fail("100", "attribute S is missing", f"{url}/cd[{len(cds) + 1}]")
                cds.append(_read_code(s, (child.text or "").strip(), get("SV") or "", get("SL"), get("DN")))
            elif tag == _K_ID:
                ids.append(self.code(child, f"{url}/id"))
            elif tag == _K_DATE and child.text:
                date = self.date(child.text, url + "/date")
            elif tag == _K_DECIMAL and child.text:
                decimal = self.decimal(child.text, url + "/decimal")
            elif tag == _K_BOOLEAN:
                boolean = (child.text or "").strip() == "true"
            elif tag == _K_TEXT and (child.text or "").strip():
                text = (child.text or "").strip()
            elif tag == _K_HCPARTY:
                hcparty = self.hcparty(child, url + "/hcparty")
        content = _new_code(Content)  # fields already typed: Content.__init__ would only re-tuple them
        _set(content, "cds", tuple(cds))
        _set(content, "ids", tuple(ids))
        _set(content, "date", date)
        _set(content, "text", text)
        _set(content, "decimal", decimal)
        _set(content, "boolean", boolean)
        _set(content, "hcparty", hcparty)
        return content

    def item(self, el: etree._Element, url: str, position: int) -> Item:
        cd_el: etree._Element | None = None
        contents: list[Content] = []
        cost = beginmoment = endmoment = None
        for child in el:
            tag = child.tag
            if tag == _K_CD:
                if cd_el is None:
                    cd_el = child
            elif tag == _K_CONTENT:
                contents.append(self.content(child, f"{url}/content[{len(contents) + 1}]"))
            elif tag == _K_COST:
                amount = self.decimal(self.text(child, _K_DECIMAL, url + "/cost/decimal"), url + "/cost/decimal")
                unit = child.find(_K_UNIT_CD)
                cost = _new_code(Cost)
                _set(cost, "amount", amount)
                _set(cost, "currency", (unit.text or "eur").strip() if unit is not None else "eur")
            elif tag == _K_BEGINMOMENT:
                beginmoment = self.moment(child, url + "/beginmoment")
            elif tag == _K_ENDMOMENT:
                endmoment = self.moment(child, url + "/endmoment")
        if cd_el is None:
            raise self.fail("100", "an item has no cd", url + "/cd")
        item = _new_code(Item)
        _set(item, "cd", self.code(cd_el, url + "/cd"))
        _set(item, "contents", tuple(contents))
        _set(item, "cost", cost)
        _set(item, "beginmoment", beginmoment)
        _set(item, "endmoment", endmoment)
        _set(item, "position", position)
        return item

    def request_header(self, el: etree._Element, url: str) -> RequestHeader:
        ident = self.text(el, _C["id"], url + "/id")
        author = self.author(self.one(el, _C["author"], url + "/author"), url + "/author")
        maxrows = _text_or_none(_child(el, _C["maxrows"]))
        return RequestHeader(id=ident, author=author, date=self.date(self.text(el, _C["date"], url + "/date"),
                                                                     url + "/date"),
                             time=self.time(self.text(el, _C["time"], url + "/time"), url + "/time"),
                             maxrows=int(Decimal(maxrows)) if maxrows else None)


def _child(parent: etree._Element, tag: str) -> etree._Element | None:
    """``parent.find(tag)`` for a plain ``{ns}local`` tag: a loop over the (few) children is cheaper."""
    if tag[:1] != "{" or "/{" in tag:  # not a single qualified name: a path
        return parent.find(tag)
    for child in parent:
        if child.tag == tag:
            return child
    return None


def _text_or_none(el: etree._Element | None) -> str | None:
    """``findtext`` for a child already looked up: None when absent, ``""`` when empty."""
    if el is None:
        return None
    return el.text or ""


def _t(el: etree._Element, tag: str) -> str | None:
    child = _child(el, tag)
    value = child.text if child is not None else None
    return value.strip() if value is not None and value.strip() else None


def parse_request(element: etree._Element) -> RetrieveTransactionRequest:
    """Read a request blob (simulator side). Raises :class:`KmehrRequestError` (code 100/111 + XPath)."""
    r = _Reader(for_request=True)
    if element.tag != f"{{{NS_MS_PROTOCOL}}}RetrieveTransactionRequest":
        raise KmehrRequestError("130", f"unexpected root {etree.QName(element).localname}", REQUEST_ROOT)
    header = r.request_header(r.one(element, _C["request"], REQUEST_ROOT + "/request"), REQUEST_ROOT + "/request")
    select = r.one(element, _C["select"], REQUEST_ROOT + "/select")
    patient = None
    pel = _child(select, _C["patient"])
    if pel is not None:
        ssin = _t(pel, _C["id"])
        sex_el = pel.find(f"{_c('sex')}/{_k('cd')}")
        mem = _child(pel, _C["insurancymembership"])
        insurer = membership = None
        if mem is not None:
            insurer = _t(mem, _K["id"])
            membership = _t(mem, _K["membership"])
        try:
            patient = PatientSelector(ssin=ssin, insurer=insurer, membership=membership,
                                      sex=(sex_el.text or "").strip() if sex_el is not None else None)
        except ValueError:
            raise KmehrRequestError("100", "the patient has neither an SSIN nor insurer + membership",
                                    PATIENT_XPATH + "/id") from None
    tel = r.one(select, _C["transaction"], TRANSACTION_XPATH)
    cd_el = _child(tel, _C["cd"])
    if cd_el is None:
        raise KmehrRequestError("100", "the transaction has no cd", TRANSACTION_XPATH + "/cd")
    author_el = _child(tel, _C["author"])
    items = tuple(r.item(el, f"{TRANSACTION_XPATH}/item[{n}]", n) for n, el in enumerate(tel.findall(_C["item"]), 1))
    begin = _text_or_none(_child(tel, _C["begindate"]))
    end = _text_or_none(_child(tel, _C["enddate"]))
    tx = TransactionSelect(
        cd=r.code(cd_el, TRANSACTION_XPATH + "/cd"),
        author=r.author(author_el, TRANSACTION_XPATH + "/author") if author_el is not None else (),
        items=items, begindate=r.date(begin, TRANSACTION_XPATH + "/begindate") if begin else None,
        enddate=r.date(end, TRANSACTION_XPATH + "/enddate") if end else None,
    )
    return RetrieveTransactionRequest(header=header, transaction=tx, patient=patient,
                                      protocol_version=element.get("messageProtocoleSchemaVersion"))


def parse_response(element: etree._Element) -> RetrieveTransactionResponse:
    """Read a response blob (client side). Structure problems raise ``MalformedResponseError``."""
    r = _Reader(for_request=False)
    root = "/RetrieveTransactionResponse"
    if element.tag != f"{{{NS_MS_PROTOCOL}}}RetrieveTransactionResponse":
        raise MalformedResponseError(f"expected a KMEHR RetrieveTransactionResponse, got "
                                     f"{etree.QName(element).localname}", origin="kmehr")
    resp = r.one(element, _C["response"], root + "/response")
    url = root + "/response"
    ident = r.text(resp, _C["id"], url + "/id")
    author = r.author(r.one(resp, _C["author"], url + "/author"), url + "/author")
    day = r.date(r.text(resp, _C["date"], url + "/date"), url + "/date")
    clock = r.time(r.text(resp, _C["time"], url + "/time"), url + "/time")
    request = r.request_header(r.one(resp, _C["request"], url + "/request"), url + "/request")
    ack = r.one(element, _C["acknowledge"], root + "/acknowledge")
    complete = r.text(ack, _C["iscomplete"], root + "/acknowledge/iscomplete") == "true"
    errors = []
    for n, err in enumerate(ack.findall(_C["error"]), 1):
        eurl = f"{root}/acknowledge/error[{n}]"
        codes = tuple(r.code(c, eurl + "/cd") for c in err.findall(_K["cd"]))
        desc_el = _child(err, _K["description"])
        errors.append(AckError(codes=codes, description=(desc_el.text or "").strip() if desc_el is not None else "",
                               url=_t(err, _K["url"]),
                               lang=desc_el.get("L", "en") if desc_el is not None else "en"))
    patient = None
    transactions: list[Transaction] = []
    msg = _child(element, _C["kmehrmessage"])
    recipient: tuple[HcParty, ...] = ()
    if msg is not None:
        header = _child(msg, _K["header"])
        rec = _child(header, _K["recipient"]) if header is not None else None
        if rec is not None:
            recipient = r.author(rec, root + "/kmehrmessage/header/recipient")
        folder = r.one(msg, _K["folder"], root + "/kmehrmessage/folder")
        furl = root + "/kmehrmessage/folder"
        pel = r.one(folder, _K["patient"], furl + "/patient")
        patient = _read_patient(r, pel, furl + "/patient")
        for n, tel in enumerate(folder.findall(_K["transaction"]), 1):
            turl = f"{furl}/transaction[{n}]"
            item_els: list[etree._Element] = []
            first: dict[Any, etree._Element] = {}
            for child in tel:  # one pass instead of a find per field
                tag = child.tag
                if tag == _K_ITEM:
                    item_els.append(child)
                elif tag not in first:
                    first[tag] = child
            items = tuple(r.item(el, f"{turl}/item[{m}]", m) for m, el in enumerate(item_els, 1))
            author_el = first.get(_K["author"])
            iscomplete = _text_or_none(first.get(_K["iscomplete"]))
            isvalidated = _text_or_none(first.get(_K["isvalidated"]))
            transactions.append(Transaction(
                cd=r.code(r.found(first.get(_K_CD), _K_CD, turl + "/cd"), turl + "/cd"),
                author=r.author(author_el, turl + "/author") if author_el is not None else (),
                date=r.date(r.found_text(first.get(_K_DATE), _K_DATE, turl + "/date"), turl + "/date"),
                time=r.time(r.found_text(first.get(_K["time"]), _K["time"], turl + "/time"), turl + "/time"),
                items=items, iscomplete=(iscomplete or "true").strip() == "true",
                isvalidated=(isvalidated or "true").strip() == "true"))
    return RetrieveTransactionResponse(id=ident, author=author, date=day, time=clock, request=request,
                                       complete=complete, errors=tuple(errors), patient=patient,
                                       transactions=tuple(transactions), recipient=recipient,
                                       protocol_version=element.get("messageProtocoleSchemaVersion"))


_K_PATIENT_ID, _K_PATIENT_FIRSTNAME = _k("id"), _k("firstname")
_K_SEX_CD = f"{_k('sex')}/{_k('cd')}"
_K_INS = {n: _k(n) for n in ("insurancystatus", "id", "membership", "begindate", "enddate", "cg1", "cg2",
                             "familyname", "birthdate", "deathdate")}


def _read_patient(r: _Reader, pel: etree._Element, url: str) -> KmehrPatient:
    ssin = None
    firstnames = []
    first: dict[Any, etree._Element] = {}
    for child in pel:  # one pass instead of a find per field
        tag = child.tag
        if tag == _K_PATIENT_ID:
            if ssin is None and child.get("S") == "ID-PATIENT":
                ssin = (child.text or "").strip()
        elif tag == _K_PATIENT_FIRSTNAME:
            firstnames.append((child.text or "").strip())
        elif tag not in first:
            first[tag] = child
    sex_el = pel.find(_K_SEX_CD)
    insurance = None
    ins = first.get(_K_INS["insurancystatus"])
    if ins is not None:
        iurl = url + "/insurancystatus"
        fields: dict[Any, etree._Element] = {}
        for child in ins:
            if child.tag not in fields:
                fields[child.tag] = child
        begin = _text_or_none(fields.get(_K_INS["begindate"]))
        end = _text_or_none(fields.get(_K_INS["enddate"]))
        cg1 = _text_or_none(fields.get(_K_INS["cg1"]))
        cg2 = _text_or_none(fields.get(_K_INS["cg2"]))
        insurance = Insurance(insurer=r.found_text(fields.get(_K_INS["id"]), _K_INS["id"], iurl + "/id"),
                              membership=(_text_or_none(fields.get(_K_INS["membership"])) or "").strip(),
                              begindate=r.date(begin, iurl + "/begindate") if begin else None,
                              enddate=r.date(end, iurl + "/enddate") if end else None,
                              cg1=cg1.strip() if cg1 is not None and cg1.strip() else None,
                              cg2=cg2.strip() if cg2 is not None and cg2.strip() else None)
    return KmehrPatient(
        ssin=ssin, firstnames=tuple(firstnames),
        familyname=(_text_or_none(first.get(_K_INS["familyname"])) or "").strip(),
        birthdate=r.moment(first.get(_K_INS["birthdate"]), url + "/birthdate"),
        deathdate=r.moment(first.get(_K_INS["deathdate"]), url + "/deathdate"),
        sex=(sex_el.text or "unknown").strip() if sex_el is not None else "unknown", insurance=insurance)


__all__ = [
    "AckError", "Code", "Content", "Cost", "HcParty", "Insurance", "Item", "KmehrPatient", "KmehrRequestError",
    "PatientSelector", "RequestHeader", "RetrieveTransactionRequest", "RetrieveTransactionResponse",
    "Transaction", "TransactionSelect", "build_request", "build_response", "new_request_id", "parse_request",
    "parse_response", "request_id_consistent", "request_id_for", "to_bytes",
]
