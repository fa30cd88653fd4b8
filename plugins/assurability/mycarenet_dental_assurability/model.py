"""Typed results of an insurability consultation (MemberData or GenericInsurability give the same shape).

A dentist at the chair wants three answers: is the patient insured, under which status (CT1/CT2, BIM),
and may third-party payment be applied. :class:`InsurabilityResult` holds them, plus everything the
insurer said (periods, general situation, medical house, hospitalisation, deceased, warnings).
Only a billing summary (:meth:`InsurabilityResult.log_summary`) is kept in the exchange log (R28, R30).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import attrs
from attrs import validators as v
from mycarenet_dental.coded import Sex
from mycarenet_dental.timeutil import iso_date, parse_datetime

_opt_str = v.optional(v.instance_of(str))
_opt_date = v.optional(v.instance_of(date))


class RequestType(str, enum.Enum):
    """MemberData ``requestType`` dimension (GenIns ``InsurabilityRequestType``)."""

    INFORMATION = "information"
    INVOICING = "invoicing"


class ContactType(str, enum.Enum):
    """MemberData ``contactType`` dimension. GenIns maps ``other`` to ``ambulatory_care``."""

    OTHER = "other"
    HOSPITALIZED = "hospitalized"


class Source(str, enum.Enum):
    MEMBERDATA = "memberdata"
    GENINS = "genins"
    CACHE = "cache"  # the answer kept on the contact (R34)


def _ct(instance: Any, attribute: Any, value: str | None) -> None:
    if value is not None and not (len(value) == 3 and value.isdigit()):
        raise ValueError(f"{attribute.name} must be 3 digits, got {value!r}")


@attrs.frozen
class PatientData:
    """``patientData`` (MDA) / ``CareReceiverDetail`` (GenIns)."""

    ssin: str | None = attrs.field(default=None, validator=_opt_str)
    last_name: str | None = attrs.field(default=None, validator=_opt_str)
    first_name: str | None = attrs.field(default=None, validator=_opt_str)
    birth_date: date | None = attrs.field(default=None, validator=_opt_date)
    sex: Sex | None = attrs.field(default=None, converter=attrs.converters.optional(Sex))
    deceased: date | None = attrs.field(default=None, validator=_opt_date)


@attrs.frozen
class CoveragePeriod:
    """One insurability period: mutuality, registration number, CT1/CT2 (CB1/CB2) and its dates."""

    mutuality: str | None = attrs.field(validator=_opt_str)
    registration_number: str | None = attrs.field(validator=_opt_str)
    ct1: str | None = attrs.field(validator=_ct)
    ct2: str | None = attrs.field(validator=_ct)
    start: date | None = attrs.field(default=None, validator=_opt_date)
    end: date | None = attrs.field(default=None, validator=_opt_date)  # inclusive
    communication_date: date | None = attrs.field(default=None, validator=_opt_date)
    payment_approval: str | None = attrs.field(default=None, validator=_opt_str)

    @property
    def bim(self) -> bool | None:
        """Increased reimbursement (BIM/VT): CT1 ending in 1.

        UNSURE: the "last digit 1 = BIM" rule is widely used (domain.md §1.5), not normative.
        """
        return None if self.ct1 is None else self.ct1.endswith("1")

    def covers(self, day: date) -> bool:
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)


@attrs.frozen
class Transfer:
    direction: str | None = None  # toOtherIo | fromOtherIo
    union: str | None = None  # GenIns InsuranceOrg: the other insurance organisation (IO = union)
    on: date | None = attrs.field(default=None, validator=_opt_date)


@attrs.frozen
class GeneralSituation:
    """Coverage closed before the period (``closedBefore``), starting later (``startLater``), changed
    during it (``changeDuring``) or ``multiple``; with the transfer date(s)."""

    event: str | None = attrs.field(default=None, validator=_opt_str)
    transfers: tuple[Transfer, ...] = attrs.field(default=(), converter=tuple)

    @property
    def transfer_date(self) -> date | None:
        return next((t.on for t in self.transfers if t.on), None)


@attrs.frozen
class Payment:
    """Payment by the insurer: ``third_party_payment`` = ``byIO`` / ``PaymentByIo``."""

    third_party_payment: bool | None = attrs.field(default=None, validator=v.optional(v.instance_of(bool)))
    max_invoiced_years: tuple[int, ...] = attrs.field(default=(), converter=tuple)  # GenIns MaxInvoiced (MAF)
    special_social_category: bool | None = None


@attrs.frozen
class Hospitalisation:
    hospital_nihii: str | None = attrs.field(default=None, validator=_opt_str)
    service: str | None = attrs.field(default=None, validator=_opt_str)
    admission_date: date | None = attrs.field(default=None, validator=_opt_date)


@attrs.frozen
class MedicalHouse:
    """Membership of a flat-rate medical house (the kinds of care it covers: medical, kine, nurse)."""

    nihii: str | None = attrs.field(default=None, validator=_opt_str)
    kinds: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    start: date | None = attrs.field(default=None, validator=_opt_date)
    end: date | None = attrs.field(default=None, validator=_opt_date)


@attrs.frozen
class Notice:
    """A warning the insurer or MyCareNet attached (partial answer, mutation, truncation)."""

    code: str
    source: str | None = None
    message: str | None = None
    location: str | None = None


@attrs.frozen
class Period:
    """The requested period (inclusive days)."""

    start: date = attrs.field(validator=v.instance_of(date))
    end: date = attrs.field(validator=v.instance_of(date))

    @end.validator
    def _order(self, attribute: Any, value: date) -> None:
        if value < self.start:
            raise ValueError("period end before start")


@attrs.frozen
class InsurabilityResult:
    """The typed answer of one consultation."""

    source: Source = attrs.field(converter=Source)
    period: Period
    request_type: RequestType = attrs.field(converter=RequestType)
    contact_type: ContactType = attrs.field(converter=ContactType)
    union: str | None = attrs.field(default=None, validator=_opt_str)  # the answering IO (union code, e.g. 100)
    patient: PatientData | None = None
    periods: tuple[CoveragePeriod, ...] = attrs.field(default=(), converter=tuple)
    payment: Payment | None = None
    general_situation: GeneralSituation | None = None
    hospitalisation: Hospitalisation | None = None
    medical_house: MedicalHouse | None = None
    notices: tuple[Notice, ...] = attrs.field(default=(), converter=tuple)
    partial: bool = False
    truncated: bool = False
    references: Mapping[str, str] = attrs.field(factory=dict)
    consulted_at: datetime | None = None
    contact_id: str | None = None

    # -- what the chair needs ---------------------------------------------------------------------
    @property
    def reference_day(self) -> date:
        return self.period.end

    @property
    def current_period(self) -> CoveragePeriod | None:
        """The period covering the reference day, else the latest one."""
        covering = [p for p in self.periods if p.covers(self.reference_day)]
        if covering:
            return covering[-1]
        return max(self.periods, key=lambda p: p.start or date.min, default=None)

    @property
    def insured(self) -> bool:
        """Insured on the reference day (a covering period exists)."""
        return any(p.covers(self.reference_day) for p in self.periods)

    @property
    def ct1(self) -> str | None:
        cur = self.current_period
        return cur.ct1 if cur else None

    @property
    def ct2(self) -> str | None:
        cur = self.current_period
        return cur.ct2 if cur else None

    @property
    def bim(self) -> bool | None:
        cur = self.current_period
        return cur.bim if cur else None

    @property
    def third_party_payment(self) -> bool | None:
        return self.payment.third_party_payment if self.payment else None

    @property
    def deceased(self) -> date | None:
        return self.patient.deceased if self.patient else None

    @property
    def status(self) -> str:
        return "partial" if self.partial else "ok"

    # -- exchange log (billing summary only: R28/R30) -----------------------------------------------
    def log_summary(self) -> dict[str, Any]:
        """What is kept on the contact for billing: status, union, CT1/CT2, third-party payment, period."""
        return {
            "status": self.status,
            "source": self.source.value,
            "union": self.union,
            "ct1": self.ct1,
            "ct2": self.ct2,
            "bim": self.bim,
            "insured": self.insured,
            "third_party_payment": self.third_party_payment,
            "period": {"start": self.period.start.isoformat(), "end": self.period.end.isoformat()},
            "request_type": self.request_type.value,
            "contact_type": self.contact_type.value,
            "periods": [{"mutuality": p.mutuality, "ct1": p.ct1, "ct2": p.ct2,
                         "start": p.start.isoformat() if p.start else None,
                         "end": p.end.isoformat() if p.end else None} for p in self.periods],
            "deceased": self.deceased.isoformat() if self.deceased else None,
            "sex": self.patient.sex.value if self.patient and self.patient.sex else None,  # eFact record 20 needs it
            "notices": [n.code for n in self.notices],
            "consulted_at": self.consulted_at.isoformat() if self.consulted_at else None,
            "references": dict(self.references),
        }

    @classmethod
    def from_log(cls, data: Mapping[str, Any], *, contact_id: str | None = None,
                 patient: str | None = None) -> InsurabilityResult:
        """The result kept on the contact (summary only: no names, no registration numbers); ``patient``
        is the patient key it was recorded under (an SSIN, or ``MUT:REGNR``)."""
        def d(text: Any) -> date | None:
            return iso_date(text) if text else None

        periods = tuple(CoveragePeriod(mutuality=p.get("mutuality"), registration_number=None, ct1=p.get("ct1"),
                                       ct2=p.get("ct2"), start=d(p.get("start")), end=d(p.get("end")))
                        for p in data.get("periods", ()))
        period = data.get("period") or {}
        consulted = data.get("consulted_at")
        return cls(source=Source.CACHE, period=Period(d(period["start"]) or date.min, d(period["end"]) or date.min),
                   request_type=data.get("request_type", "information"),
                   contact_type=data.get("contact_type", "other"),
                   union=data.get("union", data.get("insurer")),  # "insurer": rows kept before the rename
                   periods=periods, payment=Payment(third_party_payment=data.get("third_party_payment")),
                   notices=tuple(Notice(code=c) for c in data.get("notices", ())),
                   partial=data.get("status") == "partial",
                   references={str(k): str(v_) for k, v_ in (data.get("references") or {}).items()},
                   consulted_at=parse_datetime(consulted) if consulted else None, contact_id=contact_id,
                   patient=PatientData(ssin=patient if patient and ":" not in patient else None,
                                       sex=data.get("sex"), deceased=d(data.get("deceased"))))

    def to_dict(self) -> dict[str, Any]:
        """JSON view (``--json``): the full result plus the derived answers."""
        from mycarenet_dental.cli import to_jsonable

        out = to_jsonable(attrs.asdict(self, recurse=True))
        out.update({"insured": self.insured, "ct1": self.ct1, "ct2": self.ct2, "bim": self.bim,
                    "third_party_payment": self.third_party_payment, "status": self.status})
        return out
