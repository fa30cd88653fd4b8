"""Writing the typed records of :mod:`.model` as KMEHR ``RetrieveTransactionRequest`` and
``RetrieveTransactionResponse`` elements."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from lxml import etree

from ...timeutil import xs_clock
from .model import (
    _C,
    _K,
    _K_BOOLEAN,
    _K_CD,
    _K_CONTENT,
    _K_COST,
    _K_DATE,
    _K_DECIMAL,
    _K_FAMILYNAME,
    _K_FIRSTNAME,
    _K_HCPARTY,
    _K_ID,
    _K_MOMENT_TAGS,
    _K_NAME,
    _K_TEXT,
    _K_UNIT,
    KMEHR_STANDARD,
    KMEHR_STANDARD_SV,
    NS_MS_PROTOCOL,
    NSMAP,
    SV,
    Code,
    Content,
    HcParty,
    Item,
    KmehrPatient,
    RequestHeader,
    RetrieveTransactionRequest,
    RetrieveTransactionResponse,
    _k,
)


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
