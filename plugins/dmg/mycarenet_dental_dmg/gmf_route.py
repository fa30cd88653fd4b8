"""Route B: eHealth GlobalMedicalFileConsultation v1 (``dmg.md`` §3) — the DMG specifics of both sides.

The SOAP body is ``ConsultGlobalMedicalFileRequest`` (the core's commons ``GMF`` flavour: eHealth
commons 1.7); its plain ``Detail`` blob is a KMEHR ``RetrieveTransactionRequest`` (core
:mod:`mycarenet_dental.protocols.kmehr`) selecting transaction ``gmd`` for a patient on a date. The
answer's blob is a ``RetrieveTransactionResponse`` whose ``acknowledge`` lists refusals (codes 120,
140, 145, 146...) and whose ``gmd`` transaction holds the ``gmdmanager`` item. This module only adds
what is DMG-specific: the transaction code, the holder item and the reading of the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

import attrs
from lxml import etree
from mycarenet_dental.errors import MalformedResponseError
from mycarenet_dental.protocols import commons, kmehr
from mycarenet_dental.timeutil import belgian_wall_clock
from mycarenet_dental.xmlsafe import parse_xml

from .model import DmgHolder, HolderKind, infer_kind

NS_GMF = commons.GMF.protocol_ns
REQUEST_ROOT = f"{{{NS_GMF}}}ConsultGlobalMedicalFileRequest"
RESPONSE_ROOT = f"{{{NS_GMF}}}ConsultGlobalMedicalFileResponse"
SOAP_ACTION = "urn:be:fgov:ehealth:globalmedicalfile:protocol:v1:ConsultGlobalMedicalFile"
PATH = "/GlobalMedicalFileConsultation/v1"
TRANSACTION = kmehr.Code("CD-TRANSACTION-MYCARENET", "gmd", sv="1.0")  # dmg.md §3: SV 1.0
SUCCESS_CODES = ("100", "200")
# UNSURE: dmg.md §3/§5 — the official connector hard-codes quality "doctor" / CD-HCPARTY "persphysician";
# a dentist sends its own authenticated quality (R4). Configurable: [dmg] gmf_quality.
DEFAULT_QUALITY = "dentist"
HCPARTY_FOR_QUALITY = {"dentist": "persdentist", "doctor": "persphysician", "physician": "persphysician"}
HOLDER_ITEM = "gmdmanager"
PAYMENT_ITEM = "payment"
MEDICAL_HOUSE_CD = "orgmedicalhouse"


@attrs.frozen
class GmfAnswer:
    """What the GMF answer says: status, refusals, and the holder when there is one."""

    status_code: str
    complete: bool
    errors: tuple[kmehr.AckError, ...] = ()
    holder: DmgHolder | None = None
    mutuality: str | None = None  # the KMEHR author's ID-INSURANCE
    output_reference: str | None = None
    kmehr_id: str | None = None


# -- client side ---------------------------------------------------------------------------------------


def kmehr_request(*, author: kmehr.HcParty, patient_ssin: str, reference_date: date, now: datetime,
                  nihii: str, input_reference: str) -> kmehr.RetrieveTransactionRequest:
    """The KMEHR request record for the ``gmd`` transaction on ``reference_date``.

    Its id is ``<NIHII11>.<InputReference>`` (MyCareNet answers 155 when the suffix differs); date and
    time are the Belgian wall clock."""
    local = belgian_wall_clock(now)
    header = kmehr.RequestHeader(id=kmehr.request_id_for(nihii, input_reference), author=(author,),
                                 date=local.date(), time=local.time().replace(microsecond=0))
    return kmehr.RetrieveTransactionRequest(
        header=header, patient=kmehr.PatientSelector(ssin=patient_ssin),
        transaction=kmehr.TransactionSelect(cd=TRANSACTION, begindate=reference_date))


def consult_request(*, common_input: commons.CommonInput, request: kmehr.RetrieveTransactionRequest,
                    patient_ssin: str, reference_date: date) -> etree._Element:
    """The SOAP body ``ConsultGlobalMedicalFileRequest`` (plain blob: ContentEncoding none, dmg.md §3)."""
    blob = commons.make_blob(kmehr.request_bytes(request), encoding="none")
    routing = commons.Routing(reference_date=reference_date, ssin=patient_ssin)
    return commons.build_request(commons.GMF, REQUEST_ROOT, common_input=common_input, blob=blob, routing=routing)


def parse_consult_response(body: etree._Element | None, *,
                           check: Callable[[commons.SendResponse, kmehr.RetrieveTransactionResponse | None], None]
                           | None = None) -> GmfAnswer:
    """Read a ``ConsultGlobalMedicalFileResponse`` body element; the blob goes through the safe parser.

    ``check`` sees the envelope and the KMEHR answer before anything is read from them (the client's
    answer authentication: XAdES, echoed request id, patient)."""
    if body is None or body.tag != RESPONSE_ROOT:
        raise MalformedResponseError("the answer is not a ConsultGlobalMedicalFileResponse", code="DMG_MALFORMED",
                                     origin="gmf")
    reply = commons.parse_response(commons.GMF, body)
    status = reply.status.code if reply.status is not None else ""
    out_ref = reply.common_output.output_reference
    if status not in SUCCESS_CODES:
        if check is not None:
            check(reply, None)
        text = "; ".join(t for _, t in (reply.status.messages if reply.status else ()))
        return GmfAnswer(status_code=status or "?", complete=False,
                         errors=(kmehr.AckError.of(status or "?", text),), output_reference=out_ref)
    blob = parse_xml(reply.blob.content, what="GMF answer blob")
    response = kmehr.parse_response(blob)
    if check is not None:
        check(reply, response)
    answer = read_kmehr_response(response)
    return attrs.evolve(answer, status_code=status, output_reference=out_ref)


def read_kmehr_response(response: kmehr.RetrieveTransactionResponse) -> GmfAnswer:
    """Refusals, the answering insurer and the ``gmdmanager`` holder (None when absent: no DMG holder)."""
    mutuality = next((p.id_of("ID-INSURANCE") for p in response.author if p.id_of("ID-INSURANCE")), None)
    holder = None
    for tx in response.transactions:
        if tx.kind != TRANSACTION.value:
            continue
        item = tx.item(HOLDER_ITEM)
        if item is None:
            continue
        party = item.content_hcparty()
        if party is None or not party.nihii:
            raise MalformedResponseError("the gmdmanager item names no physician (hcparty with a NIHII)",
                                         code="DMG_MALFORMED", origin="gmf", location=item.xpath())
        first = party.firstname
        name = party.familyname or party.name or ""
        kind = HolderKind.MEDICAL_HOUSE if party.kind == MEDICAL_HOUSE_CD else infer_kind(party.nihii, first)
        try:
            holder = DmgHolder(nihii=party.nihii, name=name, first_name=first, start=item.beginmoment,
                               end=item.endmoment, kind=kind)
        except ValueError as exc:
            raise MalformedResponseError(f"the gmdmanager item is not valid: {exc}", code="DMG_MALFORMED",
                                         origin="gmf") from None
        break
    return GmfAnswer(status_code="200", complete=response.complete, errors=response.errors, holder=holder,
                     mutuality=mutuality, kmehr_id=response.id)


# -- simulator side ------------------------------------------------------------------------------------


def holder_items(holder: DmgHolder | None) -> tuple[kmehr.Item, ...]:
    """``gmdmanager`` (when there is a holder) then ``payment`` (DMG fee paid to the holder).

    # UNSURE: dmg.md §7 — the exact "no GMD" rendering on route B is not documented; without holder
    # the gmd transaction carries only the payment item (false): KMEHR forbids an empty transaction.
    """
    items: list[kmehr.Item] = []
    if holder is not None:
        if holder.first_name:
            party = kmehr.HcParty.person(kind="persphysician", nihii=holder.nihii, firstname=holder.first_name,
                                         familyname=holder.name)
        else:
            party = kmehr.HcParty(cds=(kmehr.Code("CD-HCPARTY", MEDICAL_HOUSE_CD if holder.is_organisation
                                                  else "persphysician", sv=kmehr.CD_HCPARTY_SV),),
                                  ids=(kmehr.Code("ID-HCPARTY", holder.nihii),), name=holder.name)
        items.append(kmehr.Item(cd=kmehr.Code("CD-ITEM", HOLDER_ITEM), contents=(kmehr.Content(hcparty=party),),
                                beginmoment=holder.start, endmoment=holder.end))
    items.append(kmehr.Item(cd=kmehr.Code("CD-ITEM-MYCARENET", PAYMENT_ITEM),
                            contents=(kmehr.Content(boolean=holder is not None),)))
    return tuple(items)


def kmehr_answer(request: kmehr.RetrieveTransactionRequest, *, now: datetime, insurer: str,
                 errors: Sequence[kmehr.AckError] = (), patient: kmehr.KmehrPatient | None = None,
                 holder: DmgHolder | None = None) -> etree._Element:
    """The insurer's ``RetrieveTransactionResponse``: refusals only, or the folder with the gmd transaction."""
    author = (kmehr.HcParty.insurer(insurer),)
    clock = now.time().replace(microsecond=0, tzinfo=None)
    transactions: tuple[kmehr.Transaction, ...] = ()
    if not errors and patient is not None:
        transactions = (kmehr.Transaction(cd=TRANSACTION, author=author, date=now.date(), time=clock,
                                          items=holder_items(holder)),)
    response = kmehr.RetrieveTransactionResponse(
        id=f"{insurer}.{now:%Y%m%d%H%M%S}", author=author, date=now.date(), time=clock, request=request.header,
        complete=not errors, errors=tuple(errors), patient=None if errors else patient, transactions=transactions)
    return kmehr.build_response(response)


def consult_response(*, request: commons.SendRequest | None, kmehr_element: etree._Element | None, now: datetime,
                     status_code: str = "200", message: str = "Success", signer: Any = None) -> etree._Element:
    """The SOAP body ``ConsultGlobalMedicalFileResponse`` (eHealth commons 1.7 Status + plain blob), with a
    ``XadesT`` over the blob when ``signer`` (a KeyEntry) is given."""
    content = kmehr.to_bytes(kmehr_element) if kmehr_element is not None else b""
    in_ref = request.common_input.input_reference if request is not None else None
    blob = commons.make_blob(content, encoding="none")
    signature = None
    if signer is not None and content:
        from mycarenet_dental.ehealth import xades

        signature = xades.sign_blob(content, key=signer, blob_id=blob.id or "blob", content_type=blob.content_type,
                                    now=now)
    return commons.build_response(
        commons.GMF, RESPONSE_ROOT,
        common_output=commons.CommonOutput(input_reference=in_ref, nip_reference=commons.new_output_reference(),
                                           output_reference=commons.new_output_reference()),
        blob=blob, in_response_to=None, issue_instant=now, xades_t=signature,
        status=commons.Status(status_code, (("EN", message),)))
