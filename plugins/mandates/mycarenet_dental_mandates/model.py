"""Typed records of the mandate register: parties, mandates, history entries, party events.

A mandate (Annex 1 §4) is given by a dentist (the *mandator*, identified by NIHII, SSIN when known) to a
*mandatary* (a natural person by SSIN, an institution by NIHII, a company by CBE number) for exactly one
service. These classes validate on construction, so a record that exists is well-formed; what the
lifecycle rules (R21–R27) decide lives in :mod:`mycarenet_dental_mandates.register`.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Mapping

import attrs
from mycarenet_dental.errors import InvalidIdentifierError, RuleRefusal, UsageError
from mycarenet_dental.identifiers import CompanyNumber, Nihii, Ssin
from mycarenet_dental.timeutil import iso_date

ARTICLE = "Annex 1 §4"

#: Rule id -> short title, as listed by ``mycarenet-dental rules`` (spec/rules.md §F).
RULE_TITLES: Mapping[str, str] = {
    "R21": "mandates only for insurability consultation, tariff consultation and billing",
    "R22": "the register mirrors the eHealth eMandate tool",
    "R23": "the mandator stays responsible (audit: responsible = dentist, executor = mandatary)",
    "R24": "a mandate states its object (one service) explicitly",
    "R25": "a mandate never concerns the way of paying",
    "R26": "no overlapping mandates per mandator and service: a new mandate closes the previous one",
    "R27": "death, bankruptcy or liquidation of either party ends every mandate at once",
}


class MandateRefusal(RuleRefusal):
    """The register refuses a change because a rule of Annex 1 §4 forbids it (exit code 1)."""

    def __init__(self, rule_id: str, reason: str, *, hint: str | None = None) -> None:
        super().__init__(rule_id, ARTICLE, reason, hint=hint)


class MandateNotFound(UsageError):
    """No mandate with that id in the register: a wrong argument (exit 2), not a rule's veto."""

    default_code = "UNKNOWN_MANDATE"

    def __init__(self, mandate_id: str) -> None:
        super().__init__(f"no mandate {mandate_id!r} in the register", location="mandate id",
                         hint="see `mycarenet-dental mandates list --all`")


class Service(str, enum.Enum):
    """The three mandatable services of Annex 1 §4 (R21)."""

    ASSURABILITY = "assurability"
    TARIFF = "tariff"
    BILLING = "billing"


#: Words that make an object a payment matter (R25); checked before the generic "unknown service" (R24).
# UNSURE: a keyword list (FR/NL/EN) — any other unknown object is refused under R24 anyway.
_PAYMENT_WORDS = ("pay", "paie", "paiement", "betal", "bank", "iban", "compte", "rekening", "money", "argent",
                  "geld", "reimburse", "rembours", "terugbetal", "virement", "transfer")
#: Objects that are real services but not mandatable (R21).
_NOT_MANDATABLE = ("dmg", "gmd", "insurability-dmg", "dmg-right", "chapter4", "eattest", "eagreement")
#: Other spellings people (or eMandate exports) use for the three services.
SERVICE_ALIASES: Mapping[str, Service] = {
    "assurability": Service.ASSURABILITY, "insurability": Service.ASSURABILITY,
    "assurabilite": Service.ASSURABILITY, "assurabilité": Service.ASSURABILITY,
    "verzekerbaarheid": Service.ASSURABILITY, "memberdata": Service.ASSURABILITY, "mda": Service.ASSURABILITY,
    "tariff": Service.TARIFF, "tarif": Service.TARIFF, "tarification": Service.TARIFF,
    "tarifs": Service.TARIFF, "tarieven": Service.TARIFF,
    "billing": Service.BILLING, "efact": Service.BILLING, "facturation": Service.BILLING,
    "facturatie": Service.BILLING, "third-party-billing": Service.BILLING,
}


def parse_service(text: object) -> Service:
    """The explicit object of a mandate; refusals name R24 (not explicit), R25 (payment) or R21 (not mandatable)."""
    if isinstance(text, Service):
        return text
    if not isinstance(text, str) or not text.strip():
        raise MandateRefusal("R24", "a mandate must state its object explicitly: one of assurability, tariff, "
                             "billing", hint="--service assurability|tariff|billing")
    key = text.strip().lower()
    if key in SERVICE_ALIASES:
        return SERVICE_ALIASES[key]
    if any(word in key for word in _PAYMENT_WORDS):
        raise MandateRefusal("R25", f"a mandate never concerns the way of paying ({text!r}); payment needs a "
                             "specific agreement between the dentist and the insurer")
    if key in _NOT_MANDATABLE or key.startswith("dmg"):
        raise MandateRefusal("R21", f"{text!r} cannot be mandated: Annex 1 §4 allows mandates only for "
                             "insurability consultation, tariff consultation and billing")
    raise MandateRefusal("R24", f"unknown mandate object {text!r}: expected one of assurability, tariff, billing")


class PartyKind(str, enum.Enum):
    """How a party of a mandate is identified (domain.md §3.1)."""

    SSIN = "ssin"
    NIHII = "nihii"
    CBE = "cbe"


_PREFIX = re.compile(r"^\s*(ssin|nihii|cbe|inss|niss|insz|kbo|bce)\s*[:=]\s*", re.IGNORECASE)
_PREFIX_KIND = {"ssin": PartyKind.SSIN, "inss": PartyKind.SSIN, "niss": PartyKind.SSIN, "insz": PartyKind.SSIN,
                "nihii": PartyKind.NIHII, "cbe": PartyKind.CBE, "kbo": PartyKind.CBE, "bce": PartyKind.CBE}


def _canonical(kind: PartyKind, text: str, field: str) -> str:
    if kind is PartyKind.SSIN:
        return Ssin.parse(text, field=field).value
    if kind is PartyKind.NIHII:
        return Nihii.parse(text, field=field).value
    return CompanyNumber.parse(text, field=field).value


def _party_value(instance: PartyId, attribute: object, value: str) -> None:
    if not isinstance(value, str) or _canonical(instance.kind, value, "party") != value:
        raise InvalidIdentifierError("party", str(value), f"not a canonical {instance.kind.value} number")


@attrs.frozen
class PartyId:
    """A mandator or mandatary: an SSIN (person), a NIHII (care provider) or a CBE number (company)."""

    kind: PartyKind = attrs.field(converter=PartyKind)
    value: str = attrs.field(validator=_party_value)

    @classmethod
    def parse(cls, text: str, *, field: str = "party", kind: PartyKind | str | None = None) -> PartyId:
        """``ssin:…``, ``nihii:…``, ``cbe:…`` or a bare number whose shape tells its kind.

        Bare numbers: ``BE``/10 digits -> CBE, 8 digits -> NIHII, 11 digits -> SSIN or NIHII by their
        check digits; an 11-digit number valid as both is refused as ambiguous (give the prefix).
        """
        if not isinstance(text, str):
            raise InvalidIdentifierError(field, repr(text), "expected text: an SSIN, a NIHII or a CBE number")
        match = _PREFIX.match(text)
        if match:
            kind = _PREFIX_KIND[match[1].lower()]
            text = text[match.end():]
        if kind is not None:
            kind = PartyKind(kind)
            return cls(kind, _canonical(kind, text, field))
        digits = re.sub(r"[\s./\-]", "", text)
        if digits[:2].upper() == "BE" or len(digits) in (9, 10):
            return cls(PartyKind.CBE, _canonical(PartyKind.CBE, text, field))
        if len(digits) == 8:
            return cls(PartyKind.NIHII, _canonical(PartyKind.NIHII, text, field))
        if len(digits) == 11:
            found = []
            for candidate in (PartyKind.SSIN, PartyKind.NIHII):
                try:
                    found.append(cls(candidate, _canonical(candidate, text, field)))
                except InvalidIdentifierError:
                    continue
            if len(found) == 1:
                return found[0]
            if len(found) == 2:
                raise InvalidIdentifierError(field, text, "is a valid SSIN and a valid NIHII",
                                             hint="prefix it: ssin:… or nihii:…")
        raise InvalidIdentifierError(field, text, "expected an SSIN (11 digits), a NIHII (8 or 11 digits) or a "
                                     "company number (10 digits, mod-97 check)",
                                     hint="prefix with ssin:, nihii: or cbe: to say which")

    @property
    def key(self) -> str:
        """What identifies the party across records: a NIHII's 8 career-stable digits, else the number.

        UNSURE: the qualification suffix of a NIHII changes with titles (domain.md §1.2), so a mandate
        keeps covering a dentist whose qualification changed; matching on 8 digits is our reading.
        """
        return self.value[:8] if self.kind is PartyKind.NIHII else self.value

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.value}"


class EndReason(str, enum.Enum):
    """Why a mandate no longer covers anything from a date on (every ended mandate has one)."""

    STOPPED_BY_MANDATOR = "stopped_by_mandator"
    STOPPED_BY_MANDATARY = "stopped_by_mandatary"
    SUPERSEDED = "superseded"  # R26: a new mandate for the service closed it
    DEATH = "death"  # R27
    BANKRUPTCY = "bankruptcy"  # R27
    LIQUIDATION = "liquidation"  # R27
    EXPIRED = "expired"  # fixed term reached


class EventKind(str, enum.Enum):
    """Events that end every mandate of a party at once (R27)."""

    DEATH = "death"
    BANKRUPTCY = "bankruptcy"
    LIQUIDATION = "liquidation"


class MandateState(str, enum.Enum):
    """The state of a mandate on a given day."""

    PENDING = "pending"  # starts later
    ACTIVE = "active"
    ENDED = "ended"  # see ``end_reason``


def _date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return iso_date(value.strip())
        except ValueError:
            raise InvalidIdentifierError("date", value, "expected an ISO date YYYY-MM-DD") from None
    raise InvalidIdentifierError("date", repr(value), "expected an ISO date YYYY-MM-DD")


def _opt_date(value: object) -> dt.date | None:
    return None if value is None or value == "" else _date(value)


def _opt_reason(value: object) -> EndReason | None:
    return None if value is None or value == "" else EndReason(value)


def _nihii_value(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or Nihii.parse(value, field=attribute.name).value != value:
        raise InvalidIdentifierError(attribute.name, str(value), "not a canonical NIHII")


def _opt_ssin_value(instance: object, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None and Ssin.parse(value, field=attribute.name).value != value:
        raise InvalidIdentifierError(attribute.name, value, "not a canonical SSIN")


@attrs.frozen
class Mandate:
    """One mandate of the register.

    ``start`` and ``end`` (inclusive, optional) are the period as given; ``ended_on`` is the first day
    it no longer covers after an act (stop, R26 closing, R27 event) with ``end_reason``. There is
    deliberately no payment attribute (R25).
    """

    id: str = attrs.field(validator=attrs.validators.matches_re(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}"))
    mandator_nihii: str = attrs.field(validator=_nihii_value)
    mandatary: PartyId = attrs.field(validator=attrs.validators.instance_of(PartyId))
    service: Service = attrs.field(converter=parse_service)
    start: dt.date = attrs.field(converter=_date)
    end: dt.date | None = attrs.field(default=None, converter=_opt_date)
    mandator_ssin: str | None = attrs.field(default=None, validator=_opt_ssin_value)
    ended_on: dt.date | None = attrs.field(default=None, converter=_opt_date)
    end_reason: EndReason | None = attrs.field(default=None, converter=_opt_reason)
    given_by: str | None = None  # R27: liquidator / curator who gave it, when one did
    emandate_ref: str | None = None  # R22: reference of the record in eMandate
    created_at: str = ""

    def __attrs_post_init__(self) -> None:
        if self.end is not None and self.end < self.start:
            raise MandateRefusal("R24", f"mandate {self.id}: the period ends ({self.end}) before it starts "
                                 f"({self.start})")
        if (self.ended_on is None) != (self.end_reason is None):
            raise MandateRefusal("R22", f"mandate {self.id}: an end date needs its reason and vice versa")

    @property
    def mandator(self) -> PartyId:
        return PartyId(PartyKind.NIHII, self.mandator_nihii)

    @property
    def mandator_key(self) -> str:
        return self.mandator_nihii[:8]

    @property
    def effective_end(self) -> dt.date | None:
        """First day not covered (exclusive), or None when open-ended."""
        candidates = [d for d in (self.end + dt.timedelta(days=1) if self.end else None, self.ended_on) if d]
        return min(candidates) if candidates else None

    def covers(self, day: dt.date) -> bool:
        """True when the mandate is in force on ``day``."""
        end = self.effective_end
        return self.start <= day and (end is None or day < end)

    def is_void(self) -> bool:
        """Ended before it ever started (e.g. superseded before its start)."""
        end = self.effective_end
        return end is not None and end <= self.start

    def state_on(self, day: dt.date) -> MandateState:
        if self.covers(day):
            return MandateState.ACTIVE
        end = self.effective_end
        if end is not None and day >= end:
            return MandateState.ENDED
        if self.is_void():
            return MandateState.ENDED
        return MandateState.PENDING

    def reason_on(self, day: dt.date) -> EndReason | None:
        """Why it is ended on ``day``: the recorded act, or ``expired`` for a fixed term that ran out."""
        if self.state_on(day) is not MandateState.ENDED:
            return None
        if self.end_reason is not None and (self.end is None or self.ended_on is not None and
                                            self.ended_on <= self.end + dt.timedelta(days=1)):
            return self.end_reason
        return EndReason.EXPIRED

    def involves(self, party: PartyId) -> bool:
        """Is ``party`` the mandator (by NIHII, or SSIN when known) or the mandatary?"""
        if party.kind is PartyKind.NIHII and party.key == self.mandator_key:
            return True
        if party.kind is PartyKind.SSIN and party.value == self.mandator_ssin:
            return True
        return party.kind is self.mandatary.kind and party.key == self.mandatary.key


@attrs.frozen
class HistoryEntry:
    """One change of one mandate (created, closed, stopped, terminated, expired, imported)."""

    mandate_id: str
    at: str
    action: str
    reason: str | None = None
    rule: str | None = None
    detail: str = ""


@attrs.frozen
class PartyEvent:
    """A death, bankruptcy or liquidation recorded for a party (R27)."""

    party: PartyId = attrs.field(validator=attrs.validators.instance_of(PartyId))
    kind: EventKind = attrs.field(converter=EventKind)
    on: dt.date = attrs.field(converter=_date)
    recorded_at: str = ""


@attrs.frozen
class Coverage:
    """The answer to "may this mandatary act for this dentist for this service on that day?"."""

    allowed: bool
    reason: str
    mandate: Mandate | None = None


def as_date(value: object) -> dt.date:
    """Public date parser (ISO text, date or datetime) used by the CLI and the importers."""
    return _date(value)
