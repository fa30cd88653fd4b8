"""The typed records of KMEHR ``RetrieveTransactionRequest``/``RetrieveTransactionResponse``, their
namespaces and request ids (writing: :mod:`.write`; reading: :mod:`.read`)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import attrs

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
# Qualified tag names, computed once (the writers and readers run for every element of every message).
_K_ITEM, _K_MOMENT_TAGS, _K_UNIT = _k("item"), {t: _k(t) for t in ("beginmoment", "endmoment", "birthdate",
                                                                     "deathdate")}, _k("unit")
_NAME_FIELDS = {_K_FIRSTNAME: "firstname", _K_FAMILYNAME: "familyname", _K_NAME: "name"}
_K = {n: _k(n) for n in (
    "author", "begindate", "cd", "cg1", "cg2", "date", "description", "enddate", "familyname", "firstname", "folder",
    "header", "id", "insurancystatus", "item", "iscomplete", "isvalidated", "membership", "patient", "recipient",
    "sender", "sex", "standard", "time", "transaction", "url")}
_C = {n: _c(n) for n in (
    "acknowledge", "author", "begindate", "cd", "date", "enddate", "error", "id", "insurancymembership", "item",
    "iscomplete", "kmehrmessage", "maxrows", "patient", "request", "response", "select", "sex", "time",
    "transaction")}


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
