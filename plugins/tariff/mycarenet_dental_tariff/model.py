"""Typed inputs and results of a tariff consultation (frozen attrs; no dicts in the public API).

A consultation asks, for one patient and one service date, the price of one or more services, each
with its own tooth (FDI) and related service. The insurer answers per service: legal fee,
reimbursement, patient share, optional supplement and the payment commitment number
(``financialcontract``), or a dental refusal with its reason. Amounts are integer euro cents.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
from mycarenet_dental.coded import Sex
from mycarenet_dental.errors import BusinessError, Messages, UsageError
from mycarenet_dental.identifiers import NomenclatureCode, RegistrationNumber, Ssin, Tooth
from mycarenet_dental.timeutil import iso_date, parse_datetime

#: Kind of the results recorded in the exchange log (one row per service line).
RESULT_KIND = "tariff.consultation"
SERVICE = "tariff"


def _opt(kind: type) -> Any:
    return attrs.validators.optional(attrs.validators.instance_of(kind))


def _opt_cents(instance: object, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and (type(value) is not int):
        raise TypeError(f"{attribute.name} must be an int number of cents")


@attrs.frozen
class ServiceRequest:
    """One service asked: nomenclature code, tooth (FDI) and related service when they apply."""

    code: NomenclatureCode = attrs.field(validator=attrs.validators.instance_of(NomenclatureCode))
    tooth: Tooth | None = attrs.field(default=None, validator=_opt(Tooth))
    related: NomenclatureCode | None = attrs.field(default=None, validator=_opt(NomenclatureCode))

    @classmethod
    def parse(cls, text: str, *, field: str = "--service", dental: bool = True) -> ServiceRequest:
        """``CODE[:TOOTH[:RELATED]]`` as typed on the command line (``302153:36``, ``302153::301011``).

        ``dental``: the code must be an article 5 code (30xxxx–37xxxx); a GP code typed by mistake is
        refused here instead of being sent to the insurer (who would answer error 171).
        """
        if cls is ServiceRequest and type(text) is str:
            return _parsed(text, field, dental)  # the same text always gives the same (frozen) request
        return cls(*_parts(str(text), field, dental))

    def key(self) -> tuple[str, int | None]:
        return (self.code.value, self.tooth.value if self.tooth else None)

    def __str__(self) -> str:
        text = self.code.value
        if self.tooth or self.related:
            text += ":" + (str(self.tooth) if self.tooth else "")
        if self.related:
            text += ":" + self.related.value
        return text


def _parts(text: str, field: str, dental: bool) -> tuple[NomenclatureCode, Tooth | None, NomenclatureCode | None]:
    parts = [p.strip() for p in text.split(":")]
    if len(parts) > 3:
        raise UsageError(f"{field}: expected CODE[:TOOTH[:RELATED]], got {text!r}", location=field)
    code = NomenclatureCode.parse(parts[0], field=f"{field} code", dental=dental)
    tooth = Tooth.parse(parts[1], field=f"{field} tooth") if len(parts) > 1 and parts[1] else None
    related = (NomenclatureCode.parse(parts[2], field=f"{field} related service")
               if len(parts) > 2 and parts[2] else None)
    return code, tooth, related


@functools.lru_cache(maxsize=1024)
def _parsed(text: str, field: str, dental: bool) -> ServiceRequest:
    """:meth:`ServiceRequest.parse` of one text, once: a practice asks the same few codes all day. Keyed
    on every input of the parse; a refused text raises each time (exceptions are not cached)."""
    return ServiceRequest(*_parts(text, field, dental))


def _services(value: Iterable[ServiceRequest]) -> tuple[ServiceRequest, ...]:
    return tuple(value)


def _non_empty(instance: object, attribute: attrs.Attribute[Any], value: Sequence[Any]) -> None:
    if not value:
        raise UsageError("a tariff consultation needs at least one service", location="--service")
    for item in value:
        if not isinstance(item, ServiceRequest):
            raise TypeError("services must be ServiceRequest records")


@attrs.frozen
class TariffQuery:
    """One consultation: one patient (R32), one service date, one or more services."""

    patient: Ssin | RegistrationNumber = attrs.field(
        validator=attrs.validators.instance_of((Ssin, RegistrationNumber)))
    services: tuple[ServiceRequest, ...] = attrs.field(converter=_services, validator=_non_empty)
    service_date: dt.date = attrs.field(validator=attrs.validators.instance_of(dt.date))
    justification: str | None = attrs.field(default=None, validator=_opt(str))

    @property
    def patient_key(self) -> str:
        """How the patient is named in contacts and logs: the SSIN, or ``MUT:REGNR``."""
        return str(self.patient)


class LineStatus(str, enum.Enum):
    PRICED = "priced"
    REFUSED = "refused"


@attrs.frozen
class Refusal:
    """A dental refusal (FHIR eTariff reasons 001–010) and the earlier service that caused it."""

    reason: str
    messages: Messages
    because_of_code: str | None = None
    because_of_date: dt.date | None = None


@attrs.frozen
class TariffLine:
    """The insurer's answer for one service (amounts in cents; None when not given)."""

    code: str
    tooth: int | None
    related: str | None
    status: LineStatus = attrs.field(converter=LineStatus)
    fee_cents: int | None = attrs.field(default=None, validator=_opt_cents)
    reimbursement_cents: int | None = attrs.field(default=None, validator=_opt_cents)
    patient_share_cents: int | None = attrs.field(default=None, validator=_opt_cents)
    supplement_cents: int | None = attrs.field(default=None, validator=_opt_cents)
    commitment: str | None = None
    justification: str | None = None
    refusal: Refusal | None = None

    @property
    def priced(self) -> bool:
        return self.status is LineStatus.PRICED


@attrs.frozen
class InsuredPatient:
    """The patient block of the answer: identity, mutuality, registration number, coverage and CT1/CT2."""

    ssin: str | None
    first_name: str = ""
    last_name: str = ""
    birth_date: dt.date | None = None
    sex: Sex = attrs.field(default=Sex.UNKNOWN, converter=Sex)
    mutuality: str | None = None  # the patient's mutuality (e.g. 116), KMEHR insurancymembership/id
    registration_number: str | None = None  # at the mutuality, KMEHR insurancymembership/membership
    ct1: str | None = None
    ct2: str | None = None
    coverage_start: dt.date | None = None
    coverage_end: dt.date | None = None

    @property
    def bim(self) -> bool:
        """Increased reimbursement: CT1 ends in 1 (UNSURE, see ``identifiers.CtCodes.is_bim``)."""
        return bool(self.ct1) and self.ct1.endswith("1")  # type: ignore[union-attr]


def _lines(value: Iterable[TariffLine]) -> tuple[TariffLine, ...]:
    return tuple(value)


@attrs.frozen
class TariffResult:
    """A whole consultation. ``from_contact`` is True when the result kept on the contact was returned
    instead of asking the insurer again (R35)."""

    patient: str
    service_date: dt.date
    lines: tuple[TariffLine, ...] = attrs.field(converter=_lines)
    insured: InsuredPatient | None = None
    request_id: str = ""
    response_id: str = ""
    exchange_id: str = ""
    contact_id: str | None = None
    consulted_at: dt.datetime | None = None
    from_contact: bool = False

    def line_for(self, code: str, tooth: int | None = None) -> TariffLine | None:
        return next((ln for ln in self.lines if ln.code == code and (tooth is None or ln.tooth == tooth)), None)

    def covers(self, services: Iterable[ServiceRequest]) -> bool:
        have = {(ln.code, ln.tooth) for ln in self.lines}
        return all(s.key() in have for s in services)

    # -- the exchange log -------------------------------------------------------------------------

    def log_entries(self) -> list[dict[str, Any]]:
        """One JSON-able entry per service line, what is recorded under kind ``tariff.consultation``.

        Keys (stable, read by billing through ``ctx.log.find(kind="tariff.consultation", patient=...)``):
        ``patient`` (SSIN or MUT:REGNR), ``code`` (6 digits), ``service_date`` (YYYY-MM-DD), ``tooth``
        (int FDI or null), ``related`` (code or null), ``status`` (``priced`` | ``refused``),
        ``fee_cents``, ``reimbursement_cents``, ``patient_share_cents``, ``supplement_cents`` (int or
        null), ``commitment`` (payment commitment number or null), ``justification``,
        ``refusal_reason``, ``refusal_because_of_code``, ``refusal_because_of_date``, ``line`` (1-based
        index in the request), ``line_count`` (number of lines), ``request_id``, ``response_id``,
        ``consulted_at`` (ISO UTC), ``mutuality``, ``registration_number``, ``ct1``, ``ct2``, ``patient_ssin``.
        """
        ins = self.insured
        shared = {
            "patient": self.patient, "service_date": self.service_date.isoformat(), "line_count": len(self.lines),
            "request_id": self.request_id, "response_id": self.response_id,
            "consulted_at": self.consulted_at.isoformat() if self.consulted_at else None,
            "mutuality": ins.mutuality if ins else None,
            "registration_number": ins.registration_number if ins else None,
            "ct1": ins.ct1 if ins else None, "ct2": ins.ct2 if ins else None,
            "patient_ssin": ins.ssin if ins else None,
            "first_name": ins.first_name if ins else "", "last_name": ins.last_name if ins else "",
            "birth_date": ins.birth_date.isoformat() if ins and ins.birth_date else None,
            "sex": ins.sex.value if ins else Sex.UNKNOWN.value,
            "coverage_start": ins.coverage_start.isoformat() if ins and ins.coverage_start else None,
            "coverage_end": ins.coverage_end.isoformat() if ins and ins.coverage_end else None,
        }
        entries = []
        for n, line in enumerate(self.lines, start=1):
            ref = line.refusal
            entries.append({
                **shared, "line": n, "code": line.code, "tooth": line.tooth, "related": line.related,
                "status": line.status.value, "fee_cents": line.fee_cents,
                "reimbursement_cents": line.reimbursement_cents,
                "patient_share_cents": line.patient_share_cents, "supplement_cents": line.supplement_cents,
                "commitment": line.commitment, "justification": line.justification,
                "refusal_reason": ref.reason if ref else None,
                "refusal_because_of_code": ref.because_of_code if ref else None,
                "refusal_because_of_date": ref.because_of_date.isoformat() if ref and ref.because_of_date else None,
            })
        return entries

    @classmethod
    def from_log(cls, entries: Sequence[Mapping[str, Any]], *, exchange_id: str = "", contact_id: str | None = None,
                 refusal_messages: Any = None) -> TariffResult:
        """Rebuild a result from the rows of one exchange (``log_entries`` in order)."""
        if not entries:
            raise ValueError("no entries")
        rows = sorted(entries, key=lambda e: int(e.get("line", 0)))
        first = rows[0]

        def _d(value: Any) -> dt.date | None:
            return iso_date(value) if value else None

        insured = InsuredPatient(
            ssin=first.get("patient_ssin"), first_name=first.get("first_name") or "",
            last_name=first.get("last_name") or "", birth_date=_d(first.get("birth_date")),
            sex=first.get("sex") or "unknown",
            mutuality=first.get("mutuality", first.get("insurer")),  # "insurer"/"membership": rows before the rename
            registration_number=first.get("registration_number", first.get("membership")),
            ct1=first.get("ct1"), ct2=first.get("ct2"), coverage_start=_d(first.get("coverage_start")),
            coverage_end=_d(first.get("coverage_end")))
        lines = []
        for row in rows:
            refusal = None
            if row.get("refusal_reason"):
                msgs = refusal_messages(row["refusal_reason"]) if refusal_messages else Messages(row["refusal_reason"])
                refusal = Refusal(row["refusal_reason"], msgs, row.get("refusal_because_of_code"),
                                  _d(row.get("refusal_because_of_date")))
            lines.append(TariffLine(
                code=row["code"], tooth=row.get("tooth"), related=row.get("related"), status=row["status"],
                fee_cents=row.get("fee_cents"), reimbursement_cents=row.get("reimbursement_cents"),
                patient_share_cents=row.get("patient_share_cents"), supplement_cents=row.get("supplement_cents"),
                commitment=row.get("commitment"), justification=row.get("justification"), refusal=refusal))
        consulted = first.get("consulted_at")
        return cls(patient=first["patient"], service_date=iso_date(first["service_date"]),
                   lines=lines, insured=insured, request_id=first.get("request_id") or "",
                   response_id=first.get("response_id") or "", exchange_id=exchange_id, contact_id=contact_id,
                   consulted_at=parse_datetime(consulted) if consulted else None, from_contact=True)


@attrs.frozen
class TariffIssue:
    """One business error of the insurer, located: the service line (1-based) and field it concerns."""

    code: str
    messages: Messages
    url: str | None = None
    service_index: int | None = None
    field: str | None = None
    remote_text: str = ""


class TariffBusinessError(BusinessError):
    """The insurer refused the consultation (``acknowledge/error``, codes 100–175). ``issues`` lists
    every error with the service line and field it points at; ``code`` is the first one's."""

    default_code = "TARIFF"

    def __init__(self, issues: Sequence[TariffIssue]) -> None:
        self.issues = tuple(issues)
        first = self.issues[0]
        more = f" (+{len(self.issues) - 1} more)" if len(self.issues) > 1 else ""
        where = first.field or first.url
        messages = Messages(en=first.messages.en + more, fr=first.messages.fr + more, nl=first.messages.nl + more)
        super().__init__(messages, code=first.code, origin="insurer", location=where,
                         hint=_HINTS.get(first.code))

    def to_dict(self) -> dict[str, object]:
        data = super().to_dict()
        data["issues"] = [{"code": i.code, "field": i.field, "service": i.service_index, "url": i.url,
                           "message": {"en": i.messages.en, "fr": i.messages.fr, "nl": i.messages.nl},
                           "remote": i.remote_text} for i in self.issues]
        return data


class TariffValidationError(UsageError):
    """Refused locally before sending (date window, shapes): carries the insurer's code it anticipates."""

    default_code = "TARIFF_INPUT"


_HINTS = {
    "130": "check the nomenclature code (and the justification) against the dental nomenclature",
    "146": "the service date cannot be in the future",
    "166": "a tariff can only be consulted for services of the last two months",
    "169": "the patient is registered with a medical house: this code is covered by the flat fee",
    "170": "the patient must put his insurability in order with his mutuality",
    "171": "this code is not a dental code; dentists may only ask dental codes",
    "120": "check the SSIN; the patient may not be insured on the date of the service",
}
