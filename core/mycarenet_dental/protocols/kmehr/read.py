"""Reading KMEHR ``RetrieveTransactionRequest``/``RetrieveTransactionResponse`` into the typed records of :mod:`.model` (strict:
a request's problems carry the MyCareNet code and XPath the insurer echoes in ``acknowledge/error``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

from ...errors import MalformedResponseError
from ...timeutil import xs_date, xs_time
from .model import (
    _C,
    _K,
    _K_BEGINMOMENT,
    _K_BOOLEAN,
    _K_CD,
    _K_CONTENT,
    _K_COST,
    _K_DATE,
    _K_DECIMAL,
    _K_ENDMOMENT,
    _K_HCPARTY,
    _K_ID,
    _K_ITEM,
    _K_TEXT,
    _K_UNIT_CD,
    _NAME_FIELDS,
    NS_MS_PROTOCOL,
    PATIENT_XPATH,
    REQUEST_ROOT,
    TRANSACTION_XPATH,
    AckError,
    Code,
    Content,
    Cost,
    HcParty,
    Insurance,
    Item,
    KmehrPatient,
    KmehrRequestError,
    PatientSelector,
    RequestHeader,
    RetrieveTransactionRequest,
    RetrieveTransactionResponse,
    Transaction,
    TransactionSelect,
    _c,
    _k,
    _new_code,
    _read_code,
    _set,
)
from .quick import quick_response

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
    quick = quick_response(element)  # one pass; None when the general reader must decide
    return quick if quick is not None else parse_response_general(element)


def parse_response_general(element: etree._Element) -> RetrieveTransactionResponse:
    """:func:`parse_response` without its fast path: the reader that locates and raises every problem."""
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
