"""The fast path of :func:`.read.parse_response` for a well-formed answer without acknowledge errors.

One pass over each element's children, dispatching on precomputed Clark tags, and the typed records built
without re-running their converters (every field already has its final type). It never raises: on anything
it does not expect (a missing or empty mandatory field, a bad date or amount, acknowledge errors) it returns
``None`` and the general reader of :mod:`.read` reads the answer again and raises its precise error. For
every answer it accepts it gives what the general reader gives (``tests/core/test_kmehr_quick.py``
plays both on real and on broken answers)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from lxml import etree

from ...errors import MalformedResponseError
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
    _K_UNIT,
    _NAME_FIELDS,
    NS_MS_PROTOCOL,
    Code,
    Content,
    Cost,
    HcParty,
    Insurance,
    Item,
    KmehrPatient,
    RequestHeader,
    RetrieveTransactionResponse,
    Transaction,
    _k,
    _new_code,
    _read_code,
    _set,
)

_ROOT = f"{{{NS_MS_PROTOCOL}}}RetrieveTransactionResponse"
_C_ID, _C_AUTHOR, _C_DATE, _C_TIME, _C_MAXROWS = _C["id"], _C["author"], _C["date"], _C["time"], _C["maxrows"]
_C_RESPONSE, _C_REQUEST, _C_ACK, _C_MSG = _C["response"], _C["request"], _C["acknowledge"], _C["kmehrmessage"]
_C_ISCOMPLETE, _C_ERROR = _C["iscomplete"], _C["error"]
_K_TIME, _K_AUTHOR, _K_HEADER, _K_RECIPIENT, _K_FOLDER = _K["time"], _K["author"], _K["header"], _K["recipient"], \
    _K["folder"]
_K_PATIENT, _K_TRANSACTION, _K_ISCOMPLETE, _K_ISVALIDATED = _K["patient"], _K["transaction"], _K["iscomplete"], \
    _K["isvalidated"]
_K_FIRSTNAME, _K_FAMILYNAME, _K_SEX, _K_INSURANCYSTATUS = _K["firstname"], _K["familyname"], _K["sex"], \
    _K["insurancystatus"]
_K_BIRTHDATE, _K_DEATHDATE = _k("birthdate"), _k("deathdate")
_K_MEMBERSHIP, _K_BEGINDATE, _K_ENDDATE, _K_CG1, _K_CG2 = _K["membership"], _K["begindate"], _K["enddate"], _K["cg1"], \
    _K["cg2"]
_date = dt.date.fromisoformat
_time = dt.time.fromisoformat


class _Fallback(Exception):
    """Something the fast path leaves to the general reader."""


def _first_children(el: etree._Element) -> dict[object, etree._Element]:
    """The first child of each tag (what ``find(tag)`` returns for each)."""
    first: dict[object, etree._Element] = {}
    for child in el:
        tag = child.tag
        if tag not in first:
            first[tag] = child
    return first


def _text(el: etree._Element | None) -> str:
    """The stripped text of a mandatory element (``_Reader.found_text``)."""
    if el is None:
        raise _Fallback
    value = el.text
    value = value.strip() if value else ""
    if not value:
        raise _Fallback
    return value


#: Codes already read, keyed on the element's text and attributes (all a Code is read from); Code is frozen,
#: so one instance serves every element with the same key. Bounded: cleared when full.
_CODES: dict[tuple[object, ...], Code] = {}
_CODES_MAX = 4096


def _code(el: etree._Element | None) -> Code:
    if el is None:
        raise _Fallback
    key = (el.text, tuple(el.items()))
    code = _CODES.get(key)
    if code is None:
        get = el.get
        s = get("S")
        if not s:
            raise _Fallback
        text = el.text
        code = _read_code(s, text.strip() if text else "", get("SV") or "", get("SL"), get("DN"))
        if len(_CODES) >= _CODES_MAX:
            _CODES.clear()
        _CODES[key] = code
    return code


def _hcparty(el: etree._Element) -> HcParty:
    ids: list[Code] = []
    cds: list[Code] = []
    names: dict[str, str | None] = {}
    for child in el:
        tag = child.tag
        if tag == _K_ID:
            ids.append(_code(child))
        elif tag == _K_CD:
            cds.append(_code(child))
        else:
            field = _NAME_FIELDS.get(tag)
            if field is not None and field not in names:
                value = child.text
                names[field] = value.strip() if value is not None and value.strip() else None
    party = _new_code(HcParty)
    _set(party, "cds", tuple(cds))
    _set(party, "ids", tuple(ids))
    _set(party, "firstname", names.get("firstname"))
    _set(party, "familyname", names.get("familyname"))
    _set(party, "name", names.get("name"))
    return party


def _author(el: etree._Element) -> tuple[HcParty, ...]:
    parties = tuple(_hcparty(child) for child in el if child.tag == _K_HCPARTY)
    if not parties:
        raise _Fallback
    return parties


def _content(el: etree._Element) -> Content:
    ids: list[Code] = []
    cds: list[Code] = []
    date = text = decimal = boolean = hcparty = None
    for child in el:
        tag = child.tag
        if tag == _K_CD:
            cds.append(_code(child))
        elif tag == _K_ID:
            ids.append(_code(child))
        elif tag == _K_DATE:
            if child.text:
                date = _date(child.text.strip()[:10])
        elif tag == _K_DECIMAL:
            if child.text:
                decimal = Decimal(child.text.strip())
        elif tag == _K_BOOLEAN:
            boolean = (child.text or "").strip() == "true"
        elif tag == _K_TEXT:
            value = (child.text or "").strip()
            if value:
                text = value
        elif tag == _K_HCPARTY:
            hcparty = _hcparty(child)
    content = _new_code(Content)
    _set(content, "cds", tuple(cds))
    _set(content, "ids", tuple(ids))
    _set(content, "date", date)
    _set(content, "text", text)
    _set(content, "decimal", decimal)
    _set(content, "boolean", boolean)
    _set(content, "hcparty", hcparty)
    return content


def _cost(el: etree._Element) -> Cost:
    amount_el = unit_cd = None
    for child in el:
        tag = child.tag
        if tag == _K_DECIMAL:
            if amount_el is None:
                amount_el = child
        elif tag == _K_UNIT and unit_cd is None:
            for grandchild in child:  # find("unit/cd"): the first cd of the first unit that has one
                if grandchild.tag == _K_CD:
                    unit_cd = grandchild
                    break
    cost = _new_code(Cost)
    _set(cost, "amount", Decimal(_text(amount_el)))
    _set(cost, "currency", (unit_cd.text or "eur").strip() if unit_cd is not None else "eur")
    return cost


def _moment(el: etree._Element) -> dt.date | None:
    for child in el:
        if child.tag == _K_DATE:
            day = child.text
            return _date(day.strip()[:10]) if day else None
    return None


def _item(el: etree._Element, position: int) -> Item:
    cd_el: etree._Element | None = None
    contents: list[Content] = []
    cost = beginmoment = endmoment = None
    for child in el:
        tag = child.tag
        if tag == _K_CD:
            if cd_el is None:
                cd_el = child
        elif tag == _K_CONTENT:
            contents.append(_content(child))
        elif tag == _K_COST:
            cost = _cost(child)
        elif tag == _K_BEGINMOMENT:
            beginmoment = _moment(child)
        elif tag == _K_ENDMOMENT:
            endmoment = _moment(child)
    item = _new_code(Item)
    _set(item, "cd", _code(cd_el))
    _set(item, "contents", tuple(contents))
    _set(item, "cost", cost)
    _set(item, "beginmoment", beginmoment)
    _set(item, "endmoment", endmoment)
    _set(item, "position", position)
    return item


def _request_header(el: etree._Element) -> RequestHeader:
    first = _first_children(el)
    ident = _text(first.get(_C_ID))
    author = first.get(_C_AUTHOR)
    if author is None:
        raise _Fallback
    parties = _author(author)
    day = _date(_text(first.get(_C_DATE))[:10])
    clock = _time(_text(first.get(_C_TIME))[:8])
    maxrows_el = first.get(_C_MAXROWS)
    maxrows = (maxrows_el.text or "") if maxrows_el is not None else None
    header = _new_code(RequestHeader)
    _set(header, "id", ident)
    _set(header, "author", parties)
    _set(header, "date", day)
    _set(header, "time", clock)
    _set(header, "maxrows", int(Decimal(maxrows)) if maxrows else None)
    return header


def _transaction(el: etree._Element) -> Transaction:
    item_els: list[etree._Element] = []
    first: dict[object, etree._Element] = {}
    for child in el:
        tag = child.tag
        if tag == _K_ITEM:
            item_els.append(child)
        elif tag not in first:
            first[tag] = child
    items = tuple(_item(item, n) for n, item in enumerate(item_els, 1))
    author_el = first.get(_K_AUTHOR)
    iscomplete = first.get(_K_ISCOMPLETE)
    isvalidated = first.get(_K_ISVALIDATED)
    tx = _new_code(Transaction)
    _set(tx, "cd", _code(first.get(_K_CD)))
    _set(tx, "author", _author(author_el) if author_el is not None else ())
    _set(tx, "date", _date(_text(first.get(_K_DATE))[:10]))
    _set(tx, "time", _time(_text(first.get(_K_TIME))[:8]))
    _set(tx, "items", items)
    _set(tx, "iscomplete", iscomplete is None or (iscomplete.text or "true").strip() == "true")
    _set(tx, "isvalidated", isvalidated is None or (isvalidated.text or "true").strip() == "true")
    return tx


def _patient(el: etree._Element) -> KmehrPatient:
    """What ``read._read_patient`` gives for a patient it accepts."""
    ssin = None
    firstnames: list[str] = []
    first: dict[object, etree._Element] = {}
    sex_cd = None
    for child in el:
        tag = child.tag
        if tag == _K_ID:
            if ssin is None and child.get("S") == "ID-PATIENT":
                ssin = (child.text or "").strip()
        elif tag == _K_FIRSTNAME:
            firstnames.append((child.text or "").strip())
        else:
            if tag == _K_SEX and sex_cd is None:  # find("sex/cd"): the first cd of the first sex that has one
                sex_cd = next((grandchild for grandchild in child if grandchild.tag == _K_CD), None)
            if tag not in first:
                first[tag] = child
    insurance = None
    ins = first.get(_K_INSURANCYSTATUS)
    if ins is not None:
        fields = _first_children(ins)
        begin, end = fields.get(_K_BEGINDATE), fields.get(_K_ENDDATE)
        membership = fields.get(_K_MEMBERSHIP)
        insurance = _new_code(Insurance)
        _set(insurance, "insurer", _text(fields.get(_K_ID)))
        _set(insurance, "membership", (membership.text or "").strip() if membership is not None else "")
        _set(insurance, "begindate", _date(begin.text.strip()[:10]) if begin is not None and begin.text else None)
        _set(insurance, "enddate", _date(end.text.strip()[:10]) if end is not None and end.text else None)
        for name, tag in (("cg1", _K_CG1), ("cg2", _K_CG2)):
            value = fields.get(tag)
            text = value.text if value is not None else None
            _set(insurance, name, text.strip() if text is not None and text.strip() else None)
    familyname = first.get(_K_FAMILYNAME)
    birthdate, deathdate = first.get(_K_BIRTHDATE), first.get(_K_DEATHDATE)
    patient = _new_code(KmehrPatient)
    _set(patient, "ssin", ssin)
    _set(patient, "firstnames", tuple(firstnames))
    _set(patient, "familyname", (familyname.text or "").strip() if familyname is not None else "")
    _set(patient, "birthdate", _moment(birthdate) if birthdate is not None else None)
    _set(patient, "deathdate", _moment(deathdate) if deathdate is not None else None)
    _set(patient, "sex", (sex_cd.text or "unknown").strip() if sex_cd is not None else "unknown")
    _set(patient, "insurance", insurance)
    return patient


def _answer(element: etree._Element) -> RetrieveTransactionResponse:
    if element.tag != _ROOT:
        raise _Fallback
    top = _first_children(element)
    resp, ack = top.get(_C_RESPONSE), top.get(_C_ACK)
    if resp is None or ack is None:
        raise _Fallback
    fields = _first_children(resp)
    ident = _text(fields.get(_C_ID))
    author_el, request_el = fields.get(_C_AUTHOR), fields.get(_C_REQUEST)
    if author_el is None or request_el is None:
        raise _Fallback
    author = _author(author_el)
    day = _date(_text(fields.get(_C_DATE))[:10])
    clock = _time(_text(fields.get(_C_TIME))[:8])
    request = _request_header(request_el)
    complete = None
    for child in ack:
        tag = child.tag
        if tag == _C_ERROR:
            raise _Fallback  # errors are read (and located) by the general reader
        if tag == _C_ISCOMPLETE and complete is None:
            complete = _text(child) == "true"
    if complete is None:
        raise _Fallback
    patient = None
    transactions: tuple[Transaction, ...] = ()
    recipient: tuple[HcParty, ...] = ()
    msg = top.get(_C_MSG)
    if msg is not None:
        parts = _first_children(msg)
        header, folder = parts.get(_K_HEADER), parts.get(_K_FOLDER)
        if folder is None:
            raise _Fallback
        if header is not None:
            rec = next((child for child in header if child.tag == _K_RECIPIENT), None)
            if rec is not None:
                recipient = _author(rec)
        patient_el = None
        tx_els = []
        for child in folder:
            tag = child.tag
            if tag == _K_TRANSACTION:
                tx_els.append(child)
            elif tag == _K_PATIENT and patient_el is None:
                patient_el = child
        if patient_el is None:
            raise _Fallback
        patient = _patient(patient_el)
        transactions = tuple(_transaction(tx) for tx in tx_els)
    response = _new_code(RetrieveTransactionResponse)
    for name, value in (("id", ident), ("author", author), ("date", day), ("time", clock), ("request", request),
                        ("complete", complete), ("errors", ()), ("patient", patient),
                        ("transactions", transactions), ("recipient", recipient),
                        ("protocol_version", element.get("messageProtocoleSchemaVersion"))):
        _set(response, name, value)
    return response


def quick_response(element: etree._Element) -> RetrieveTransactionResponse | None:
    """The answer read in one pass, or ``None`` when the general reader must decide (see module doc)."""
    try:
        return _answer(element)
    except (_Fallback, MalformedResponseError, ValueError, ArithmeticError):
        return None
