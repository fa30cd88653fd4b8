"""KMEHR message services 1.2 (KMEHR 1.19): ``RetrieveTransactionRequest`` / ``RetrieveTransactionResponse``.

The blob that MyCareNet Tarification (transaction ``tariff``) and the GMF consultation (transaction
``gmd``, route B) carry inside their commons envelope. Both sides of the wire live here, generic over
the transaction type, so that the client plugins and the simulator build and read the same typed
records: :func:`build_request` / :func:`parse_request` and :func:`build_response` /
:func:`parse_response`.
The records are in :mod:`.model`, the writers in :mod:`.write`, the readers in :mod:`.read`.

Namespaces (``xsd/README.md`` §2): the root element is in the message-services *protocol* namespace,
its children (``request``, ``select``, ``response``, ``acknowledge``...) in the message-services *core*
namespace, and everything typed by KMEHR (``hcparty``, ``item``, ``content``, ``cd``...) in the KMEHR
schema namespace. Errors found while reading a *request* carry the MyCareNet code (100 missing,
111 format) and the XPath into the request, exactly what the simulator echoes in ``acknowledge/error``.
"""

from __future__ import annotations

from .model import (
    CD_HCPARTY_SV,
    CD_TRANSACTION_MYCARENET_SV,
    KMEHR_STANDARD,
    KMEHR_STANDARD_SV,
    NS_KMEHR,
    NS_MS_CORE,
    NS_MS_PROTOCOL,
    NSMAP,
    PATIENT_XPATH,
    REQUEST_ID_XPATH,
    REQUEST_ROOT,
    SV,
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
    new_request_id,
    request_id_consistent,
    request_id_for,
)
from .read import parse_request, parse_response
from .serialize import request_bytes
from .write import build_request, build_response, to_bytes

__all__ = [
    "AckError",
    "CD_HCPARTY_SV",
    "CD_TRANSACTION_MYCARENET_SV",
    "Code",
    "Content",
    "Cost",
    "HcParty",
    "Insurance",
    "Item",
    "KMEHR_STANDARD",
    "KMEHR_STANDARD_SV",
    "KmehrPatient",
    "KmehrRequestError",
    "NSMAP",
    "NS_KMEHR",
    "NS_MS_CORE",
    "NS_MS_PROTOCOL",
    "PATIENT_XPATH",
    "PatientSelector",
    "REQUEST_ID_XPATH",
    "REQUEST_ROOT",
    "RequestHeader",
    "RetrieveTransactionRequest",
    "RetrieveTransactionResponse",
    "SV",
    "TRANSACTION_XPATH",
    "Transaction",
    "TransactionSelect",
    "build_request",
    "build_response",
    "new_request_id",
    "parse_request",
    "parse_response",
    "request_id_consistent",
    "request_bytes",
    "request_id_for",
    "to_bytes",
]
