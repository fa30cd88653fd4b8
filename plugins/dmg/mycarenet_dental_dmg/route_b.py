"""Route B: eHealth GlobalMedicalFileConsultation v1 (``dmg.md`` §3) — both sides of the wire.

The SOAP body is ``ConsultGlobalMedicalFileRequest`` (eHealth commons protocol 1.7 base, GMF copy of
the MyCareNet commons types); its ``Detail`` blob carries a KMEHR ``RetrieveTransactionRequest``
(messageservices 1.2, KMEHR 1.19) selecting transaction ``gmd`` for a patient and a date. The
answer's blob is a ``RetrieveTransactionResponse`` whose ``acknowledge`` lists refusals (KMEHR
codes 120, 140, 145, 146, ...) and whose ``kmehrmessage`` holds the ``gmdmanager`` item.

Pure functions over lxml elements (no network), shared by the client and the simulator, so that one
place defines the message shapes and the schema tests cover both directions.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import attrs
from lxml import etree

from mycarenet_dental.errors import MalformedResponseError
from mycarenet_dental.xmlsafe import parse_xml

from .model import DmgHolder, HolderKind, infer_kind

NS_GMF = "urn:be:fgov:ehealth:globalmedicalfile:protocol:v1"
NS_GMF_CORE = "urn:be:fgov:ehealth:globalmedicalfile:core:v1"
NS_MSG = "http://www.ehealth.fgov.be/messageservices/protocol/v1"
NS_MSG_CORE = "http://www.ehealth.fgov.be/messageservices/core/v1"
NS_KMEHR = "http://www.ehealth.fgov.be/standards/kmehr/schema/v1"

SOAP_ACTION = "urn:be:fgov:ehealth:globalmedicalfile:protocol:v1:ConsultGlobalMedicalFile"
PATH = "/GlobalMedicalFileConsultation/v1"
TRANSACTION = "gmd"
KMEHR_STANDARD = "20161201"  # the last CD-STANDARD value of KMEHR 1.19
SUCCESS_CODES = ("100", "200")
# UNSURE: dmg.md §3 — the official connector hard-codes quality "doctor" / CD-HCPARTY "persphysician";
# a dentist sends its own quality (R4: only authenticated qualities). Configurable: [dmg] gmf_quality.
DEFAULT_QUALITY = "dentist"
HCPARTY_FOR_QUALITY = {"dentist": "persdentist", "doctor": "persphysician"}


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _sub(parent: etree._Element, ns: str, name: str, text: str | None = None, **attrib: str) -> etree._Element:
    el = etree.SubElement(parent, _q(ns, name), attrib)
    if text is not None:
        el.text = text
    return el


@attrs.frozen
class Author:
    """The health-care party that signs the KMEHR request (the dentist)."""

    nihii: str
    ssin: str | None = None
    first_name: str | None = None
    family_name: str | None = None
    quality: str = DEFAULT_QUALITY


@attrs.frozen
class GmfOrigin:
    """CommonInput/Origin of the GMF envelope. ``repr`` never shows the licence password."""

    licence_username: str
    licence_password: str = attrs.field(repr=False)
    package_name: str
    nihii: str
    quality: str = DEFAULT_QUALITY
    name: str | None = None
    ssin: str | None = None
    is_test: bool = False


# -- client side: the request ---------------------------------------------------------------------------


def kmehr_request(*, author: Author, patient_ssin: str, reference_date: date, now: datetime,
                  reference: str) -> etree._Element:
    """KMEHR ``RetrieveTransactionRequest`` for the ``gmd`` transaction on ``reference_date``."""
    root = etree.Element(_q(NS_MSG, "RetrieveTransactionRequest"),
                         nsmap={None: NS_MSG, "core": NS_MSG_CORE, "kmehr": NS_KMEHR})
    _request_header(root, author=author, now=now, reference=reference)
    select = _sub(root, NS_MSG_CORE, "select")
    patient = _sub(select, NS_MSG_CORE, "patient")
    _sub(patient, NS_MSG_CORE, "id", patient_ssin, S="ID-PATIENT", SV="1.0")
    transaction = _sub(select, NS_MSG_CORE, "transaction")
    _sub(transaction, NS_MSG_CORE, "id", "1", S="ID-KMEHR", SV="1.0")
    _sub(transaction, NS_MSG_CORE, "cd", TRANSACTION, S="CD-TRANSACTION-MYCARENET", SV="1.0")
    _sub(transaction, NS_MSG_CORE, "begindate", reference_date.isoformat())
    return root


def _request_header(root: etree._Element, *, author: Author, now: datetime, reference: str) -> etree._Element:
    request = _sub(root, NS_MSG_CORE, "request")
    _sub(request, NS_MSG_CORE, "id", f"{author.nihii}.{reference}", S="ID-KMEHR", SV="1.0")
    author_el = _sub(request, NS_MSG_CORE, "author")
    _hcparty(author_el, nihii=author.nihii, ssin=author.ssin,
             cd=HCPARTY_FOR_QUALITY.get(author.quality, "persdentist"),
             first_name=author.first_name, family_name=author.family_name)
    _sub(request, NS_MSG_CORE, "date", now.date().isoformat())
    _sub(request, NS_MSG_CORE, "time", now.strftime("%H:%M:%S"))
    return request


def _hcparty(parent: etree._Element, *, nihii: str | None, cd: str, ssin: str | None = None,
             first_name: str | None = None, family_name: str | None = None,
             name: str | None = None) -> etree._Element:
    hcp = _sub(parent, NS_KMEHR, "hcparty")
    if nihii:
        _sub(hcp, NS_KMEHR, "id", nihii, S="ID-HCPARTY", SV="1.0")
    if ssin:
        _sub(hcp, NS_KMEHR, "id", ssin, S="INSS", SV="1.0")
    _sub(hcp, NS_KMEHR, "cd", cd, S="CD-HCPARTY", SV="1.1")
    if first_name and family_name:
        _sub(hcp, NS_KMEHR, "firstname", first_name)
        _sub(hcp, NS_KMEHR, "familyname", family_name)
    elif name or family_name:
        _sub(hcp, NS_KMEHR, "name", name or family_name)
    return hcp


def consult_request(*, origin: GmfOrigin, patient_ssin: str, reference_date: date, blob: bytes,
                    input_reference: str, blob_id: str | None = None) -> etree._Element:
    """The SOAP body ``ConsultGlobalMedicalFileRequest`` carrying ``blob`` (not compressed)."""
    root = etree.Element(_q(NS_GMF, "ConsultGlobalMedicalFileRequest"), nsmap={"gmf": NS_GMF, "gc": NS_GMF_CORE})
    common = _sub(root, NS_GMF, "CommonInput")
    req = _sub(common, NS_GMF_CORE, "Request")
    _sub(req, NS_GMF_CORE, "IsTest", "true" if origin.is_test else "false")
    orig = _sub(common, NS_GMF_CORE, "Origin")
    package = _sub(orig, NS_GMF_CORE, "Package")
    _sub(package, NS_GMF_CORE, "Name", origin.package_name)
    lic = _sub(package, NS_GMF_CORE, "License")
    _sub(lic, NS_GMF_CORE, "Username", origin.licence_username)
    _sub(lic, NS_GMF_CORE, "Password", origin.licence_password)
    care = _sub(orig, NS_GMF_CORE, "CareProvider")
    nihii = _sub(care, NS_GMF_CORE, "Nihii")
    _sub(nihii, NS_GMF_CORE, "Quality", origin.quality)
    _sub(nihii, NS_GMF_CORE, "Value", origin.nihii)
    if origin.name or origin.ssin:
        person = _sub(care, NS_GMF_CORE, "PhysicalPerson")
        if origin.name:
            _sub(person, NS_GMF_CORE, "Name", origin.name)
        if origin.ssin:
            _sub(person, NS_GMF_CORE, "Ssin", origin.ssin)
    _sub(common, NS_GMF_CORE, "InputReference", input_reference)
    routing = _sub(root, NS_GMF, "Routing")
    receiver = _sub(routing, NS_GMF_CORE, "CareReceiver")
    _sub(receiver, NS_GMF_CORE, "Ssin", patient_ssin)
    _sub(routing, NS_GMF_CORE, "ReferenceDate", reference_date.isoformat())
    # The blob is plain, not deflated (ContentEncoding none, dmg.md §3).
    _sub(root, NS_GMF, "Detail", base64.b64encode(blob).decode("ascii"),
         ContentType="text/xml", ContentEncoding="none", Id=blob_id or f"_{uuid.uuid4()}")
    return root


# -- both sides: blobs ---------------------------------------------------------------------------------


def read_blob(detail: etree._Element | None, *, what: str) -> bytes:
    """The decoded content of a commons ``Detail`` blob (base64, raw deflate unless ``none``)."""
    import zlib

    if detail is None or not (detail.text or "").strip():
        raise MalformedResponseError(f"{what} has no Detail blob", code="DMG_MALFORMED", origin="gmf")
    try:
        raw = base64.b64decode("".join((detail.text or "").split()), validate=True)
    except (ValueError, TypeError):
        raise MalformedResponseError(f"{what}: the Detail blob is not base64", code="DMG_MALFORMED",
                                     origin="gmf") from None
    encoding = (detail.get("ContentEncoding") or "deflate").lower()  # XSD default: deflate
    if encoding == "deflate":
        try:
            raw = zlib.decompress(raw, -15)
        except zlib.error:
            raise MalformedResponseError(f"{what}: the Detail blob does not inflate", code="DMG_MALFORMED",
                                         origin="gmf") from None
    return raw


# -- client side: the answer ------------------------------------------------------------------------------


@attrs.frozen
class KmehrError:
    """One ``acknowledge/error`` of the answer: KMEHR code, the insurer's text and the XPath it points at."""

    code: str
    description: str = ""
    url: str | None = None


@attrs.frozen
class GmfAnswer:
    """What the GMF answer says: status, refusals, and the holder when there is one."""

    status_code: str
    complete: bool
    errors: tuple[KmehrError, ...] = ()
    holder: DmgHolder | None = None
    insurer: str | None = None
    output_reference: str | None = None


def parse_consult_response(body: etree._Element | None) -> GmfAnswer:
    """Read a ``ConsultGlobalMedicalFileResponse`` body element (the blob is parsed with the safe parser)."""
    if body is None or body.tag != _q(NS_GMF, "ConsultGlobalMedicalFileResponse"):
        raise MalformedResponseError("the answer is not a ConsultGlobalMedicalFileResponse", code="DMG_MALFORMED",
                                     origin="gmf")
    status = body.find("Status")
    code = (status.findtext("Code") if status is not None else "") or ""
    ret = body.find(_q(NS_GMF, "Return"))
    out_ref = None
    if ret is not None:
        out_ref = ret.findtext(f"{_q(NS_GMF, 'CommonOutput')}/{_q(NS_GMF_CORE, 'OutputReference')}")
    if code.strip() not in SUCCESS_CODES:
        texts = [m.text or "" for m in (status.findall("Message") if status is not None else [])]
        return GmfAnswer(status_code=code.strip() or "?", complete=False,
                         errors=(KmehrError(code=code.strip() or "?", description="; ".join(texts)),),
                         output_reference=out_ref)
    detail = ret.find(_q(NS_GMF, "Detail")) if ret is not None else None
    blob = parse_xml(read_blob(detail, what="the GMF answer"), what="GMF answer blob")
    answer = parse_kmehr_response(blob)
    return attrs.evolve(answer, status_code=code.strip(), output_reference=out_ref)


def _text(el: etree._Element | None, path: str) -> str | None:
    if el is None:
        return None
    value = el.findtext(path)
    return value.strip() if value and value.strip() else None


def parse_kmehr_response(root: etree._Element) -> GmfAnswer:
    """Read a KMEHR ``RetrieveTransactionResponse``: refusals, and the ``gmdmanager`` holder if any."""
    if root.tag != _q(NS_MSG, "RetrieveTransactionResponse"):
        raise MalformedResponseError("the GMF blob is not a RetrieveTransactionResponse", code="DMG_MALFORMED",
                                     origin="gmf")
    c, k = NS_MSG_CORE, NS_KMEHR
    ack = root.find(_q(c, "acknowledge"))
    if ack is None:
        raise MalformedResponseError("the GMF answer has no acknowledge", code="DMG_MALFORMED", origin="gmf")
    complete = (ack.findtext(_q(c, "iscomplete")) or "").strip() == "true"
    errors = tuple(
        KmehrError(code=(err.findtext(_q(k, "cd")) or "").strip(),
                   description=(err.findtext(_q(k, "description")) or "").strip(),
                   url=_text(err, _q(k, "url")))
        for err in ack.findall(_q(c, "error"))
    )
    insurer = None
    author = root.find(f"{_q(c, 'response')}/{_q(c, 'author')}/{_q(k, 'hcparty')}")
    if author is not None:
        for id_el in author.findall(_q(k, "id")):
            if id_el.get("S") in ("ID-INSURANCE", "LOCAL") and id_el.text:
                insurer = id_el.text.strip()
    holder = None
    message = root.find(_q(c, "kmehrmessage"))
    if message is not None:
        for item in message.iter(_q(k, "item")):
            cds = [(cd.text or "").strip() for cd in item.findall(_q(k, "cd"))]
            if "gmdmanager" not in cds:
                continue
            hcp = item.find(f"{_q(k, 'content')}/{_q(k, 'hcparty')}")
            if hcp is None:
                continue
            nihii = next((i.text.strip() for i in hcp.findall(_q(k, "id"))
                          if i.get("S") == "ID-HCPARTY" and i.text), None)
            if not nihii:
                raise MalformedResponseError("the gmdmanager item names no NIHII", code="DMG_MALFORMED",
                                             origin="gmf")
            first = _text(hcp, _q(k, "firstname"))
            family = _text(hcp, _q(k, "familyname")) or _text(hcp, _q(k, "name")) or ""
            cds_hcp = [(cd.text or "").strip() for cd in hcp.findall(_q(k, "cd"))]
            kind = HolderKind.MEDICAL_HOUSE if "orgmedicalhouse" in cds_hcp else infer_kind(nihii, first)
            try:
                holder = DmgHolder(nihii=nihii, name=family, first_name=first,
                                   start=_text(item, f"{_q(k, 'beginmoment')}/{_q(k, 'date')}"),
                                   end=_text(item, f"{_q(k, 'endmoment')}/{_q(k, 'date')}"), kind=kind)
            except ValueError as exc:
                raise MalformedResponseError(f"the gmdmanager item is not valid: {exc}", code="DMG_MALFORMED",
                                             origin="gmf") from None
            break
    return GmfAnswer(status_code="200", complete=complete, errors=errors, holder=holder, insurer=insurer)


# -- simulator side: the answer -------------------------------------------------------------------------


@attrs.frozen
class PatientInfo:
    """What the insurer tells about the patient in the ``folder`` of the answer."""

    ssin: str
    first_name: str
    last_name: str
    sex: str  # M | F


def kmehr_response(request: etree._Element, *, now: datetime, insurer: str,
                   errors: Sequence[KmehrError] = (), patient: PatientInfo | None = None,
                   holder: DmgHolder | None = None, dentist_nihii: str | None = None) -> etree._Element:
    """The insurer's ``RetrieveTransactionResponse`` (echoing the request header).

    No holder: the ``gmd`` transaction carries only the ``payment`` item (false).
    # UNSURE: dmg.md §7 — the exact "no GMD" rendering on route B is not documented.
    """
    c, k = NS_MSG_CORE, NS_KMEHR
    root = etree.Element(_q(NS_MSG, "RetrieveTransactionResponse"), nsmap={None: NS_MSG, "core": c, "kmehr": k})
    response = _sub(root, c, "response")
    _sub(response, c, "id", f"{insurer}.{uuid.uuid4().hex[:16]}", S="ID-KMEHR", SV="1.0")
    author = _sub(response, c, "author")
    hcp = _sub(author, k, "hcparty")
    _sub(hcp, k, "id", insurer, S="ID-INSURANCE", SV="1.0")
    _sub(hcp, k, "cd", "orginsurance", S="CD-HCPARTY", SV="1.1")
    _sub(response, c, "date", now.date().isoformat())
    _sub(response, c, "time", now.strftime("%H:%M:%S"))
    import copy

    echoed = request.find(_q(c, "request"))
    if echoed is not None:
        response.append(copy.deepcopy(echoed))
    else:  # a request without header was already refused; echo a minimal one to stay schema-valid
        _request_header(root=response, author=Author(nihii=dentist_nihii or "00000000000"), now=now,
                        reference="unknown")
    ack = _sub(root, c, "acknowledge")
    _sub(ack, c, "iscomplete", "false" if errors else "true")
    for err in errors:
        el = _sub(ack, c, "error")  # errorMyCarenetType: children in the KMEHR namespace
        _sub(el, k, "cd", err.code, S="CD-ERROR", SV="1.0")
        _sub(el, k, "description", err.description or err.code, L="en")
        if err.url:
            _sub(el, k, "url", err.url)
    if errors or patient is None:
        return root
    msg = _sub(root, c, "kmehrmessage")
    header = _sub(msg, k, "header")
    standard = _sub(header, k, "standard")
    _sub(standard, k, "cd", KMEHR_STANDARD, S="CD-STANDARD", SV="1.19")
    _sub(header, k, "id", f"{insurer}.{uuid.uuid4().hex[:16]}", S="ID-KMEHR", SV="1.0")
    _sub(header, k, "date", now.date().isoformat())
    _sub(header, k, "time", now.strftime("%H:%M:%S"))
    sender = _sub(header, k, "sender")
    shcp = _sub(sender, k, "hcparty")
    _sub(shcp, k, "id", insurer, S="ID-INSURANCE", SV="1.0")
    _sub(shcp, k, "cd", "orginsurance", S="CD-HCPARTY", SV="1.1")
    recipient = _sub(header, k, "recipient")
    _hcparty(recipient, nihii=dentist_nihii, cd="persdentist")
    folder = _sub(msg, k, "folder")
    _sub(folder, k, "id", "1", S="ID-KMEHR", SV="1.0")
    pat = _sub(folder, k, "patient")
    _sub(pat, k, "id", patient.ssin, S="ID-PATIENT", SV="1.0")
    _sub(pat, k, "firstname", patient.first_name)
    _sub(pat, k, "familyname", patient.last_name)
    sex = _sub(pat, k, "sex")
    _sub(sex, k, "cd", "male" if patient.sex.upper().startswith("M") else "female", S="CD-SEX", SV="1.1")
    tr = _sub(folder, k, "transaction")
    _sub(tr, k, "id", "1", S="ID-KMEHR", SV="1.0")
    _sub(tr, k, "cd", TRANSACTION, S="CD-TRANSACTION-MYCARENET", SV="1.0")
    _sub(tr, k, "date", now.date().isoformat())
    _sub(tr, k, "time", now.strftime("%H:%M:%S"))
    tauthor = _sub(tr, k, "author")
    ahcp = _sub(tauthor, k, "hcparty")
    _sub(ahcp, k, "id", insurer, S="ID-INSURANCE", SV="1.0")
    _sub(ahcp, k, "cd", "orginsurance", S="CD-HCPARTY", SV="1.1")
    _sub(tr, k, "iscomplete", "true")
    _sub(tr, k, "isvalidated", "true")
    n = 1
    if holder is not None:
        item = _sub(tr, k, "item")
        _sub(item, k, "id", str(n), S="ID-KMEHR", SV="1.0")
        _sub(item, k, "cd", "gmdmanager", S="CD-ITEM", SV="1.0")
        content = _sub(item, k, "content")
        if holder.first_name:
            _hcparty(content, nihii=holder.nihii, cd="persphysician", first_name=holder.first_name,
                     family_name=holder.name)
        else:
            _hcparty(content, nihii=holder.nihii, cd="orgmedicalhouse" if holder.is_organisation
                     else "persphysician", name=holder.name)
        if holder.start:
            _sub(_sub(item, k, "beginmoment"), k, "date", holder.start.isoformat())
        if holder.end:
            _sub(_sub(item, k, "endmoment"), k, "date", holder.end.isoformat())
        n += 1
    item = _sub(tr, k, "item")
    _sub(item, k, "id", str(n), S="ID-KMEHR", SV="1.0")
    _sub(item, k, "cd", "payment", S="CD-ITEM-MYCARENET", SV="1.0")
    _sub(_sub(item, k, "content"), k, "boolean", "true" if holder is not None else "false")
    return root


def consult_response(*, request_body: etree._Element | None, blob: bytes, now: datetime,
                     status_code: str = "200", message: str = "Success") -> etree._Element:
    """The SOAP body ``ConsultGlobalMedicalFileResponse`` (status + plain blob)."""
    root = etree.Element(_q(NS_GMF, "ConsultGlobalMedicalFileResponse"), nsmap={"gmf": NS_GMF, "gc": NS_GMF_CORE})
    root.set("Id", f"_{uuid.uuid4()}")
    status = etree.SubElement(root, "Status")
    etree.SubElement(status, "Code").text = status_code
    msg = etree.SubElement(status, "Message")
    msg.set("Lang", "EN")
    msg.text = message
    ret = _sub(root, NS_GMF, "Return")
    out = _sub(ret, NS_GMF, "CommonOutput")
    in_ref = None
    if request_body is not None:
        in_ref = request_body.findtext(f"{_q(NS_GMF, 'CommonInput')}/{_q(NS_GMF_CORE, 'InputReference')}")
    if in_ref:
        _sub(out, NS_GMF_CORE, "InputReference", in_ref)
    _sub(out, NS_GMF_CORE, "NIPReference", f"SIM{uuid.uuid4().hex[:12].upper()}")
    _sub(out, NS_GMF_CORE, "OutputReference", f"GMF{now:%Y%m%d%H%M%S}")
    _sub(ret, NS_GMF, "Detail", base64.b64encode(blob).decode("ascii"), ContentType="text/xml",
         ContentEncoding="none", Id=f"_{uuid.uuid4()}")
    return root


def tostring(el: etree._Element) -> bytes:
    return etree.tostring(el, encoding="UTF-8")


def request_fields(body: etree._Element) -> dict[str, Any]:
    """Simulator helper: the fields of a ``ConsultGlobalMedicalFileRequest`` it checks (None when absent)."""
    g, gc = NS_GMF, NS_GMF_CORE
    return {
        "licence_username": body.findtext(f"{_q(g, 'CommonInput')}/{_q(gc, 'Origin')}/{_q(gc, 'Package')}/"
                                          f"{_q(gc, 'License')}/{_q(gc, 'Username')}"),
        "licence_password": body.findtext(f"{_q(g, 'CommonInput')}/{_q(gc, 'Origin')}/{_q(gc, 'Package')}/"
                                          f"{_q(gc, 'License')}/{_q(gc, 'Password')}"),
        "nihii": body.findtext(f"{_q(g, 'CommonInput')}/{_q(gc, 'Origin')}/{_q(gc, 'CareProvider')}/"
                               f"{_q(gc, 'Nihii')}/{_q(gc, 'Value')}"),
        "quality": body.findtext(f"{_q(g, 'CommonInput')}/{_q(gc, 'Origin')}/{_q(gc, 'CareProvider')}/"
                                 f"{_q(gc, 'Nihii')}/{_q(gc, 'Quality')}"),
        "routing_ssin": body.findtext(f"{_q(g, 'Routing')}/{_q(gc, 'CareReceiver')}/{_q(gc, 'Ssin')}"),
        "reference_date": body.findtext(f"{_q(g, 'Routing')}/{_q(gc, 'ReferenceDate')}"),
        "detail": body.find(_q(g, "Detail")),
    }


def kmehr_request_fields(root: etree._Element) -> dict[str, Any]:
    """Simulator helper: author NIHII, patient SSIN, transaction code and begin date of a KMEHR request."""
    c, k = NS_MSG_CORE, NS_KMEHR
    author = root.find(f"{_q(c, 'request')}/{_q(c, 'author')}/{_q(k, 'hcparty')}")
    author_nihii = None
    if author is not None:
        author_nihii = next((i.text.strip() for i in author.findall(_q(k, "id"))
                             if i.get("S") == "ID-HCPARTY" and i.text), None)
    select = root.find(_q(c, "select"))
    ssin = None
    if select is not None:
        ssin = next((i.text.strip() for i in select.findall(f"{_q(c, 'patient')}/{_q(c, 'id')}")
                     if i.get("S") in ("ID-PATIENT", "INSS") and i.text), None)
    tr = select.find(_q(c, "transaction")) if select is not None else None
    return {
        "author_nihii": author_nihii,
        "ssin": ssin,
        "transaction": _text(tr, _q(c, "cd")),
        "begindate": _text(tr, _q(c, "begindate")),
    }
