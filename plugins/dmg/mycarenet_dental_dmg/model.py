"""Typed results and errors of the DMG-right consultation (Annex 5).

The answer of either route (MemberData facet or GMF consultation) becomes one :class:`DmgResult`
whose ``holder`` is ``None`` when nobody holds the patient's global medical file: "no holder" is a
normal answer, not an error. Refusals become :class:`DmgRefusedError` with the insurer's code and
FR/NL/EN text from ``data/errors.json``. Light module: no lxml, importable by ``plugin.py``.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from datetime import date, datetime
from functools import lru_cache
from importlib import resources
from typing import Any

import attrs
from mycarenet_dental.errors import BusinessError, Messages
from mycarenet_dental.identifiers import Ssin
from mycarenet_dental.timeutil import xs_date

from .names import RESULT_KIND, SERVICE  # noqa: F401 - re-exported

FACET = "urn:be:cin:nippin:globalMedicalFile"
#: The only purpose the protocol allows (R41, Annex 5). Rules check the ``art74`` prefix so a vendor
#: may word the rest of the text itself.
PURPOSE_PREFIX = "art74"
PURPOSE = ("art74: report of the dental examinations to the patient's treating physician "
           "(art. 74, coordinated law of 14 July 1994), with the patient's agreement")


class Route(str, enum.Enum):
    """Which service answers: MemberData facet (current, default) or the eHealth GMF consultation."""

    MEMBERDATA = "memberdata"
    GMF = "gmf"


class HolderKind(str, enum.Enum):
    PHYSICIAN = "physician"
    MEDICAL_HOUSE = "medicalhouse"


def _nihii(instance: object, attribute: object, value: str) -> None:
    # Format only: the insurer is authoritative, and real answers carry numbers whose check digits
    # do not follow either NIHII formula (conformance/memberdata: 19999123004).
    if not (isinstance(value, str) and len(value) == 11 and value.isdigit()):
        raise ValueError(f"holder NIHII must be 11 digits, got {value!r}")


def _ssin(instance: object, attribute: object, value: str) -> None:
    Ssin.parse(value, field="patient")


def _non_empty(instance: object, attribute: Any, value: str) -> None:
    if not value or not value.strip():
        raise ValueError(f"{attribute.name} must not be empty")


def _optional_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return xs_date(str(value))


def _date(value: Any) -> date:
    parsed = _optional_date(value)
    if parsed is None:
        raise ValueError("a date is required")
    return parsed


def infer_kind(nihii: str, first_name: str | None) -> HolderKind:
    """A holder with only a name, or a NIHII starting with 8, is an organisation (medical house).

    # UNSURE: dmg.md §2 only shows a medical house with a NIHII starting with 8 and no first name;
    # the profession digit 8 is otherwise listed as "clinical lab" in identifiers.PROFESSIONS.
    """
    if not first_name or nihii.startswith("8"):
        return HolderKind.MEDICAL_HOUSE
    return HolderKind.PHYSICIAN


@attrs.frozen
class DmgHolder:
    """The physician (or medical house) holding the patient's global medical file."""

    nihii: str = attrs.field(validator=_nihii)
    name: str = attrs.field(validator=_non_empty)
    first_name: str | None = None
    start: date | None = attrs.field(default=None, converter=_optional_date)
    end: date | None = attrs.field(default=None, converter=_optional_date)
    kind: HolderKind = attrs.field(converter=HolderKind)

    @kind.default
    def _kind_default(self) -> HolderKind:
        return infer_kind(self.nihii, self.first_name)

    @end.validator
    def _end_after_start(self, attribute: object, value: date | None) -> None:
        if value is not None and self.start is not None and value < self.start:
            raise ValueError("holder period ends before it starts")

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.name}" if self.first_name else self.name

    @property
    def is_organisation(self) -> bool:
        return self.kind is HolderKind.MEDICAL_HOUSE


@attrs.frozen
class DmgResult:
    """One DMG consultation: who holds the file on ``reference_date`` (``holder`` None = nobody).

    ``consent`` is the patient's agreement to the art. 74 report when the dentist recorded it (R41);
    ``union`` the answering insurance organisation (route A: MemberData's IO, e.g. 100) and
    ``mutuality`` the patient's mutuality (route B: the KMEHR author's ID-INSURANCE, e.g. 116), each when
    the answer names it.
    """

    patient: str = attrs.field(validator=_ssin)
    reference_date: date = attrs.field(converter=_date)
    route: Route = attrs.field(converter=Route)
    holder: DmgHolder | None = None
    union: str | None = None
    mutuality: str | None = None
    exchange_id: str = ""
    contact_id: str | None = None
    purpose: str = PURPOSE
    consent: bool | None = None
    references: Mapping[str, str] = attrs.field(factory=dict, converter=lambda m: dict(m or {}))

    @property
    def has_holder(self) -> bool:
        return self.holder is not None

    def to_log(self) -> dict[str, Any]:
        """The form kept in the exchange log (erased with the contact unless configured otherwise)."""
        holder = None
        if self.holder is not None:
            h = self.holder
            holder = {"nihii": h.nihii, "name": h.name, "first_name": h.first_name, "kind": h.kind.value,
                      "start": h.start.isoformat() if h.start else None,
                      "end": h.end.isoformat() if h.end else None}
        return {"patient": self.patient, "reference_date": self.reference_date.isoformat(),
                "route": self.route.value, "holder": holder, "union": self.union,
                "mutuality": self.mutuality,
                "exchange_id": self.exchange_id, "contact_id": self.contact_id, "purpose": self.purpose,
                "consent": self.consent, "references": dict(self.references)}

    @classmethod
    def from_log(cls, data: Mapping[str, Any]) -> DmgResult:
        raw = data.get("holder")
        holder = None
        if raw:
            holder = DmgHolder(nihii=raw["nihii"], name=raw["name"], first_name=raw.get("first_name"),
                               start=raw.get("start"), end=raw.get("end"), kind=raw.get("kind")
                               or infer_kind(raw["nihii"], raw.get("first_name")))
        return cls(patient=data["patient"], reference_date=data["reference_date"], route=data["route"],
                   holder=holder, union=data.get("union"), mutuality=data.get("mutuality"), exchange_id=data.get("exchange_id", ""),
                   contact_id=data.get("contact_id"), purpose=data.get("purpose", PURPOSE),
                   consent=data.get("consent"), references=data.get("references") or {})


@lru_cache(maxsize=1)
def error_catalogue() -> dict[str, dict[str, str]]:
    """Code -> {route, en, fr, nl} (``data/errors.json``)."""
    text = resources.files("mycarenet_dental_dmg").joinpath("data/errors.json").read_text("utf-8")
    return dict(json.loads(text)["codes"])


def messages_for(code: str, remote_text: str | None = None) -> Messages:
    """FR/NL/EN text of ``code``; the insurer's own text is kept in English when the code is unknown."""
    known = error_catalogue().get(code)
    if known is None:
        return Messages(en=remote_text or f"DMG consultation refused with code {code}")
    en = known["en"] + (f" ({remote_text})" if remote_text and remote_text not in known["en"] else "")
    return Messages(en=en, fr=known.get("fr", ""), nl=known.get("nl", ""))


class DmgRefusedError(BusinessError):
    """The insurer refused the DMG consultation (KMEHR code on route B, MemberData detail code on route A)."""

    default_code = "DMG_REFUSED"

    def __init__(self, code: str, *, remote_text: str | None = None, location: str | None = None,
                 origin: str | None = None, route: Route | None = None) -> None:
        self.route = route
        super().__init__(messages_for(code, remote_text), code=code, origin=origin, location=location,
                         hint=_HINTS.get(code))


_HINTS: Mapping[str, str] = {
    "120": "check the SSIN and the date: the patient is unknown or not affiliated on that date",
    "140": "the insurer does not accept this request from a dentist on this route; try `--route memberdata`",
    "145": "the date may be at most two years back",
    "146": "the date may not be in the future",
    "UNAUTHORIZED_FACET": "the insurers do not open the globalMedicalFile facet to dentists; "
                          "try `--route gmf` or ask the patient",
}
