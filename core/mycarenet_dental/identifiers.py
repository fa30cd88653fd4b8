"""Belgian identifiers and codes a dental MyCareNet exchange carries, as validated value types.

Each type is an immutable ``attrs`` class built by ``parse``; its properties derive everything else
from the canonical ``value`` so nothing can drift. Construction validates too, so an instance is
always well-formed. Every failure is an :class:`InvalidIdentifierError` naming the field and saying
what was expected (exit code 2: refused locally, nothing sent).

Facts and sources: ``domain.md`` §1 (SSIN, NIHII, insurers, registration numbers, CT1/CT2) and §2/§5
(nomenclature codes, FDI tooth numbers). Points marked UNSURE there are marked UNSURE here too.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from typing import Literal

import attrs

from .coded import Sex
from .errors import InvalidIdentifierError

__all__ = [
    "CT1_VALUES",
    "CT2_VALUES",
    "CURRENT_UNIONS",
    "DENTIST_QUALIFICATIONS",
    "FDI_TEETH",
    "PROFESSIONS",
    "UNIONS",
    "CompanyNumber",
    "CtCodes",
    "InsurerCode",
    "Nihii",
    "NomenclatureCode",
    "RegistrationNumber",
    "Ssin",
    "Tooth",
    "parse_patient",
]

_MAX_SHOWN = 64  # never echo an arbitrarily long input back in a message


def _error(field: str, value: object, reason: str, hint: str | None = None) -> InvalidIdentifierError:
    """Build the one exception type every identifier failure uses (caller raises it)."""
    shown = value if isinstance(value, str) else repr(value)
    if len(shown) > _MAX_SHOWN:
        shown = shown[:_MAX_SHOWN] + "…"
    return InvalidIdentifierError(field, shown, reason, hint=hint)


def _require_str(text: object, field: str, expected: str) -> str:
    """Reject non-text input: an int would silently lose leading zeros."""
    if not isinstance(text, str):
        raise _error(field, text, f"expected text, not {type(text).__name__} ({expected})")
    return text


_DIGITS = re.compile(r"[0-9]+")
_SEPARATORS = re.compile(r"[\s.\-]")  # spaces, dots, dashes: how people write these numbers
_SEPARATORS_SLASH = re.compile(r"[\s.\-/]")


def _is_digits(text: str, n: int | None = None) -> bool:
    """``n`` (or any number of) ASCII digits: ``str.isdigit`` would accept other scripts' digits."""
    return (n is None or len(text) == n) and _DIGITS.fullmatch(text) is not None


def _mod97_check(number: int) -> int:
    """``97 − (n mod 97)``: always 1…97, a zero remainder gives 97 (never 00)."""
    return 97 - number % 97


# --------------------------------------------------------------------------------------------
# SSIN (national number / bis number) — domain.md §1.1
# --------------------------------------------------------------------------------------------

_SSIN_EXPECTED = "expected 11 digits YYMMDDxxxcc with a valid mod-97 check"
_SSIN_HINT = "An SSIN (INSZ/NISS) is 11 digits, e.g. 85.07.30-033.28; spaces, dots and dashes are ignored."


def _ssin_century(value: str, today: datetime.date | None = None) -> Literal[1900, 2000] | None:
    """Which century's formula the check digits match, or None.

    The 2000+ formula (a ``2`` put in front) is only tried when the 2000s year is not in the future,
    as python-stdnum does: someone born in 2085 cannot hold a number yet, and this lowers the
    chance that a typo passes by matching the other formula.
    """
    first9 = int(value[:9])
    check = int(value[9:])
    if _mod97_check(first9) == check:
        return 1900
    year = (today or datetime.date.today()).year
    if 2000 + int(value[:2]) <= year and _mod97_check(2_000_000_000 + first9) == check:
        return 2000
    return None


def _validate_ssin(field: str, raw: object, value: str) -> None:
    if not value:
        raise _error(field, raw, f"is empty ({_SSIN_EXPECTED})", _SSIN_HINT)
    if not _is_digits(value):
        raise _error(
            field, raw, f"only digits, spaces, dots and dashes are allowed ({_SSIN_EXPECTED})", _SSIN_HINT
        )
    if len(value) != 11:
        raise _error(field, raw, f"has {len(value)} digits ({_SSIN_EXPECTED})", _SSIN_HINT)
    if _ssin_century(value) is None:
        raise _error(
            field,
            raw,
            f"check digits do not match ({_SSIN_EXPECTED})",
            "Check the number for a typo; both the pre-2000 and the 2000+ formulas were tried.",
        )


def _ssin_value(instance: object, attribute: object, value: str) -> None:
    if not isinstance(value, str):
        raise _error("ssin", value, f"must be text ({_SSIN_EXPECTED})")
    _validate_ssin("ssin", value, value)


@attrs.frozen
class Ssin:
    """A Belgian social security identification number: national number or bis number.

    The birth date digits are deliberately not checked against the calendar: month/day may be 00
    when unknown, and exhausted day counters alter the date digits (domain.md §1.1).
    """

    value: str = attrs.field(validator=_ssin_value)

    @classmethod
    def parse(cls, text: str, *, field: str = "ssin") -> Ssin:
        """Parse user or wire input; spaces, dots and dashes are ignored."""
        text = _require_str(text, field, _SSIN_EXPECTED)
        value = _SEPARATORS.sub("", text)
        _validate_ssin(field, text, value)
        return cls(value)

    @staticmethod
    def check_digits(first9: str, *, born_2000: bool) -> str:
        """The two check digits for ``first9``; for generators and tests.

        Note that :meth:`parse` refuses a 2000+ number whose year ``20YY`` is still in the future.
        """
        if not isinstance(first9, str) or not _is_digits(first9, 9):
            raise _error("ssin", first9, "check_digits needs the first 9 digits YYMMDDxxx as text")
        number = int(first9) + (2_000_000_000 if born_2000 else 0)
        return f"{_mod97_check(number):02d}"

    @property
    def century(self) -> Literal[1900, 2000]:
        """1900 or 2000, inferred from which check formula matches (at most one can)."""
        century = _ssin_century(self.value)
        assert century is not None  # guaranteed by the validator
        return century

    @property
    def _month_offset(self) -> int:
        """0 for a national number, 20 or 40 for a bis number."""
        month = int(self.value[2:4])
        if 20 <= month <= 32:
            return 20
        if 40 <= month <= 52:
            return 40
        return 0

    @property
    def is_bis(self) -> bool:
        """Bis number: month raised by 40 (sex known at assignment) or 20 (sex unknown)."""
        return self._month_offset != 0

    @property
    def birth_date(self) -> datetime.date | None:
        """The birth date, or None when the digits do not give a real date (unknown/altered)."""
        month = int(self.value[2:4]) - self._month_offset
        day = int(self.value[4:6])
        try:
            return datetime.date(self.century + int(self.value[:2]), month, day)
        except ValueError:
            return None

    @property
    def sex(self) -> Sex | None:
        """Odd serial = male, even = female; None for a +20 bis number or an out-of-range serial."""
        if self._month_offset == 20:
            return None
        serial = int(self.value[6:9])
        if not 1 <= serial <= 998:
            return None
        return Sex.MALE if serial % 2 else Sex.FEMALE

    def formatted(self) -> str:
        """Human form ``YY.MM.DD-XXX.CC``."""
        v = self.value
        return f"{v[:2]}.{v[2:4]}.{v[4:6]}-{v[6:9]}.{v[9:]}"

    def __str__(self) -> str:
        return self.value


# --------------------------------------------------------------------------------------------
# NIHII (RIZIV/INAMI number) — domain.md §1.2
# --------------------------------------------------------------------------------------------

#: Profession digit (first digit) → profession (nl.wikipedia RIZIV; 9 from care-ace.be).
PROFESSIONS: Mapping[str, str] = {
    "1": "physician",
    "2": "hospital_pharmacist",
    "3": "dentist",
    "4": "midwife_or_nurse",
    "5": "physiotherapist_or_speech_therapist",
    "6": "pharmacist",
    "7": "hospital",
    "8": "clinical_lab",  # UNSURE: care-ace.be also lists 8 for care assistants
    "9": "care_assistant",  # UNSURE: care-ace.be only
}

#: Qualification codes of dentists (last 3 digits) → title. Only the confirmed ones (domain.md §1.2).
#: UNSURE and deliberately absent: the periodontologist code (not found), "000" (physicians' "no
#: recognition" suffix; FHC also right-pads 8-digit numbers with 000), and 004/005/009 (commonly
#: assumed, never confirmed). A plugin should supply the full table as data.
DENTIST_QUALIFICATIONS: Mapping[str, str] = {
    "001": "general dentist",
    "007": "specialist in orthodontics",
    "010": "trainee dentist",  # since 1 Aug 2014
}

_NIHII_EXPECTED = (
    "expected 8 or 11 digits P-NNNNN-CC[-QQQ] whose check digits CC are 97 − (first 6 mod 97) "
    "or 89 − (first 6 mod 89)"
)
_NIHII_HINT = (
    "A NIHII (RIZIV/INAMI) number looks like 3-12345-67-001; spaces, dots, dashes and slashes are ignored."
)


def _nihii_moduli(value: str) -> tuple[int, ...]:
    """The moduli (97 and/or 89) whose formula matches digits 7–8."""
    first6 = int(value[:6])
    check = int(value[6:8])
    return tuple(m for m in (97, 89) if m - first6 % m == check)


def _validate_nihii(field: str, raw: object, value: str) -> None:
    if not value:
        raise _error(field, raw, f"is empty ({_NIHII_EXPECTED})", _NIHII_HINT)
    if not _is_digits(value):
        raise _error(field, raw, f"only digits and separators are allowed ({_NIHII_EXPECTED})", _NIHII_HINT)
    if len(value) not in (8, 11):
        raise _error(field, raw, f"has {len(value)} digits ({_NIHII_EXPECTED})", _NIHII_HINT)
    if not _nihii_moduli(value):
        raise _error(field, raw, f"check digits do not match ({_NIHII_EXPECTED})", _NIHII_HINT)


def _nihii_value(instance: object, attribute: object, value: str) -> None:
    if not isinstance(value, str):
        raise _error("nihii", value, f"must be text ({_NIHII_EXPECTED})")
    _validate_nihii("nihii", value, value)


@attrs.frozen
class Nihii:
    """A care provider's NIHII number: 6-digit base, 2 check digits, optional 3-digit qualification.

    The first 8 digits identify the provider for a whole career; the qualification changes with
    recognitions. Both the classic mod-97 and the 2012 mod-89 check are accepted (the mod-89 form
    comes from the KMEHR schematron only — UNSURE, so both branches stay).
    """

    value: str = attrs.field(validator=_nihii_value)

    @classmethod
    def parse(cls, text: str, *, field: str = "nihii") -> Nihii:
        """Parse user or wire input; spaces, dots, dashes and slashes are ignored."""
        text = _require_str(text, field, _NIHII_EXPECTED)
        value = _SEPARATORS_SLASH.sub("", text)
        _validate_nihii(field, text, value)
        return cls(value)

    @staticmethod
    def check_digits(first6: str, *, modulus: Literal[97, 89] = 97) -> str:
        """Check digits 7–8 for ``first6``: classic ``97 − n mod 97`` or the newer mod-89 variant."""
        if not isinstance(first6, str) or not _is_digits(first6, 6):
            raise _error("nihii", first6, "check_digits needs the first 6 digits as text")
        if modulus not in (97, 89):
            raise _error("nihii", str(modulus), "check_digits modulus must be 97 or 89")
        return f"{modulus - int(first6) % modulus:02d}"

    @property
    def check_modulus(self) -> Literal[97, 89]:
        """Which formula the check digits follow (97 when, rarely, both do)."""
        return 97 if 97 in _nihii_moduli(self.value) else 89

    @property
    def base(self) -> str:
        """The 8 career-stable digits."""
        return self.value[:8]

    @property
    def qualification(self) -> str | None:
        """The 3-digit qualification code, None for an 8-digit number."""
        return self.value[8:] if len(self.value) == 11 else None

    @property
    def profession(self) -> str:
        """Profession from the first digit (see :data:`PROFESSIONS`), ``"unknown"`` otherwise."""
        return PROFESSIONS.get(self.value[0], "unknown")

    @property
    def is_dentist(self) -> bool:
        """Dentist profession digit, and a known dentist qualification when there is one.

        An 8-digit number has no qualification: only the profession digit (FHC's heuristic) decides.
        """
        if self.value[0] != "3":
            return False
        return self.qualification is None or self.qualification in DENTIST_QUALIFICATIONS

    @property
    def qualification_title(self) -> str | None:
        """Title of a known dentist qualification, else None."""
        if self.value[0] != "3" or self.qualification is None:
            return None
        return DENTIST_QUALIFICATIONS.get(self.qualification)

    @property
    def is_physician(self) -> bool:
        return self.value[0] == "1"

    def formatted(self) -> str:
        """Human form ``P-NNNNN-CC-QQQ`` (or ``P-NNNNN-CC``)."""
        v = self.value
        text = f"{v[0]}-{v[1:6]}-{v[6:8]}"
        return f"{text}-{v[8:]}" if len(v) == 11 else text

    def __str__(self) -> str:
        return self.value


# --------------------------------------------------------------------------------------------
# Company number (CBE/KBO/BCE enterprise number)
# --------------------------------------------------------------------------------------------

_CBE_EXPECTED = "expected 10 digits 0NNN.NNN.NCC (or 1…) whose last 2 digits are 97 − (first 8 mod 97)"
_CBE_HINT = "A company (CBE/KBO/BCE) number looks like 0123.456.749; a BE prefix and separators are ignored."


def _validate_cbe(field: str, raw: object, value: str) -> None:
    if not value:
        raise _error(field, raw, f"is empty ({_CBE_EXPECTED})", _CBE_HINT)
    if not _is_digits(value):
        raise _error(field, raw, f"only digits and separators are allowed ({_CBE_EXPECTED})", _CBE_HINT)
    if len(value) != 10:
        raise _error(field, raw, f"has {len(value)} digits ({_CBE_EXPECTED})", _CBE_HINT)
    if value[0] not in "01":
        raise _error(
            field,
            raw,
            f"enterprise numbers start with 0 or 1 ({_CBE_EXPECTED})",
            "Numbers starting with 2–8 are establishment-unit numbers, not company numbers.",
        )
    if value[:8] == "00000000":
        raise _error(field, raw, f"is all zeros ({_CBE_EXPECTED})", _CBE_HINT)
    if _mod97_check(int(value[:8])) != int(value[8:]):
        raise _error(field, raw, f"check digits do not match ({_CBE_EXPECTED})", _CBE_HINT)


def _cbe_value(instance: object, attribute: object, value: str) -> None:
    if not isinstance(value, str):
        raise _error("cbe", value, f"must be text ({_CBE_EXPECTED})")
    _validate_cbe("cbe", value, value)


@attrs.frozen
class CompanyNumber:
    """A Belgian enterprise number (CBE/KBO/BCE): identifies companies acting as mandataries."""

    value: str = attrs.field(validator=_cbe_value)

    @classmethod
    def parse(cls, text: str, *, field: str = "cbe") -> CompanyNumber:
        """Parse input like ``BE 0123.456.749``; an old 9-digit number gets its leading 0 back."""
        text = _require_str(text, field, _CBE_EXPECTED)
        value = _SEPARATORS_SLASH.sub("", text)
        if value[:2].upper() == "BE":
            value = value[2:]
        if len(value) == 9 and _is_digits(value, 9):
            value = "0" + value
        _validate_cbe(field, text, value)
        return cls(value)

    @staticmethod
    def check_digits(first8: str) -> str:
        """The two check digits for ``first8``; for generators and tests."""
        if not isinstance(first8, str) or not _is_digits(first8, 8):
            raise _error("cbe", first8, "check_digits needs the first 8 digits as text")
        return f"{_mod97_check(int(first8)):02d}"

    def formatted(self) -> str:
        """Human form ``0123.456.749``."""
        v = self.value
        return f"{v[:4]}.{v[4:7]}.{v[7:]}"

    def __str__(self) -> str:
        return self.value


# --------------------------------------------------------------------------------------------
# Insurer (mutuality) codes and registration numbers — domain.md §1.3, §1.4
# --------------------------------------------------------------------------------------------

#: National unions (landsbonden / unions nationales), keyed by code.
UNIONS: Mapping[str, str] = {
    "100": "Christian mutualities (CM/MC)",
    "200": "Neutral mutualities",
    "300": "Socialist mutualities (Solidaris)",
    "400": "Liberal mutualities",
    "500": "Independent mutualities (Libres)",
    "600": "CAAMI/HZIV (public auxiliary fund)",
    "900": "HR Rail health fund",
}

#: Unions in FHC's current eFact matrix. 200/400 stay valid for old invoices and corrections;
#: the exact mergers behind their disappearance are UNSURE.
CURRENT_UNIONS: frozenset[str] = frozenset({"100", "300", "500", "600", "900"})

_INSURER_EXPECTED = (
    "expected a 3-digit mutuality code in a union " + ", ".join(UNIONS) + " (e.g. 100, 319, 501)"
)


def _validate_insurer(field: str, raw: object, value: str) -> None:
    if not _is_digits(value, 3):
        raise _error(field, raw, f"is not 3 digits ({_INSURER_EXPECTED})")
    if value[0] + "00" not in UNIONS:
        raise _error(field, raw, f"belongs to no known union ({_INSURER_EXPECTED})")


def _insurer_value(instance: object, attribute: object, value: str) -> None:
    if not isinstance(value, str):
        raise _error("mutuality", value, f"must be text ({_INSURER_EXPECTED})")
    _validate_insurer("mutuality", value, value)


@attrs.frozen(order=True)
class InsurerCode:
    """A 3-digit insurer code: a union (x00) or one mutuality inside it."""

    value: str = attrs.field(validator=_insurer_value)

    @classmethod
    def parse(cls, text: str, *, field: str = "mutuality") -> InsurerCode:
        """Parse a code such as ``319``; surrounding whitespace is ignored."""
        text = _require_str(text, field, _INSURER_EXPECTED)
        value = text.strip()
        _validate_insurer(field, text, value)
        return cls(value)

    @property
    def union(self) -> str:
        """The national union the code belongs to (its first digit followed by 00).

        Not necessarily the eFact destination: FHC sends some mutualities' batches to their own code.
        """
        return self.value[0] + "00"

    @property
    def union_name(self) -> str:
        return UNIONS[self.union]

    @property
    def is_union(self) -> bool:
        """True for the union code itself (100, 200, …)."""
        return self.value == self.union

    def __str__(self) -> str:
        return self.value


# UNSURE: the membership number's format varies per insurer (domain.md §1.4). Accept letters and
# digits with inner dots, dashes or slashes, as typed; only refuse what cannot be a number.
_REGNR = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9./-]{0,30}[A-Za-z0-9])?")
_REGNR_EXPECTED = (
    "expected MUT:REGNR or REGNR@MUT, a 3-digit mutuality code and the member's registration number"
)


def _registration_number_value(instance: object, attribute: object, value: str) -> None:
    if not isinstance(value, str) or not _REGNR.fullmatch(value):
        raise _error(
            "patient", value, f"registration number must be 1–32 letters or digits ({_REGNR_EXPECTED})"
        )


@attrs.frozen
class RegistrationNumber:
    """A patient identified by mutuality + registration number, for when no SSIN is known."""

    mutuality: InsurerCode = attrs.field(validator=attrs.validators.instance_of(InsurerCode))
    number: str = attrs.field(validator=_registration_number_value)

    @classmethod
    def parse(cls, text: str, *, field: str = "patient") -> RegistrationNumber:
        """Parse ``MUT:REGNR`` (the CLI form) or ``REGNR@MUT``."""
        text = _require_str(text, field, _REGNR_EXPECTED)
        stripped = text.strip()
        if ":" in stripped:
            mutuality, number = stripped.split(":", 1)
        elif "@" in stripped:
            number, mutuality = stripped.rsplit("@", 1)
        else:
            raise _error(field, text, f"no ':' or '@' separator ({_REGNR_EXPECTED})", "Example: 319:12345678")
        try:
            insurer = InsurerCode.parse(mutuality.strip(), field=field)
        except InvalidIdentifierError as exc:
            raise _error(field, text, f"mutuality code {exc.reason}", "Example: 319:12345678") from exc
        number = number.strip()
        if not _REGNR.fullmatch(number):
            raise _error(
                field,
                text,
                f"registration number must be 1–32 letters or digits ({_REGNR_EXPECTED})",
                "Example: 319:12345678",
            )
        return cls(insurer, number)

    def __str__(self) -> str:
        return f"{self.mutuality}:{self.number}"


def parse_patient(text: str, *, field: str = "patient") -> Ssin | RegistrationNumber:
    """A patient given as an SSIN or as ``MUT:REGNR`` / ``REGNR@MUT`` (the separator decides)."""
    text = _require_str(text, field, "expected an SSIN or MUT:REGNR")
    if ":" in text or "@" in text:
        return RegistrationNumber.parse(text, field=field)
    try:
        return Ssin.parse(text, field=field)
    except InvalidIdentifierError as exc:
        hint = (exc.hint + " " if exc.hint else "") + "Without an SSIN, give MUT:REGNR, e.g. 319:12345678."
        raise _error(field, exc.value, exc.reason, hint) from exc


# --------------------------------------------------------------------------------------------
# FDI tooth numbers — domain.md §2.2
# --------------------------------------------------------------------------------------------

#: The 52 FDI / ISO 3950 codes HL7BE maps to SNOMED CT: permanent 11–48, deciduous 51–85.
FDI_TEETH: frozenset[int] = frozenset(
    {10 * q + p for q in (1, 2, 3, 4) for p in range(1, 9)}
    | {10 * q + p for q in (5, 6, 7, 8) for p in range(1, 6)}
)

_TOOTH_EXPECTED = (
    "expected an FDI tooth number: 11–18, 21–28, 31–38, 41–48 (permanent) "
    "or 51–55, 61–65, 71–75, 81–85 (deciduous)"
)


def _validate_tooth(field: str, raw: object, value: int) -> None:
    if value == 0:
        raise _error(
            field,
            raw,
            f"00 is not a tooth ({_TOOTH_EXPECTED})",
            "00 is eFact's 'no tooth' filler: leave the tooth out.",
        )
    if value not in FDI_TEETH:
        raise _error(field, raw, f"is not a tooth ({_TOOTH_EXPECTED})")


def _tooth_value(instance: object, attribute: object, value: int) -> None:
    if type(value) is not int:
        raise _error("tooth", value, f"must be an int ({_TOOTH_EXPECTED})")
    _validate_tooth("tooth", value, value)


@attrs.frozen(order=True)
class Tooth:
    """A tooth in FDI two-digit notation (quadrant digit, then position from the midline)."""

    value: int = attrs.field(validator=_tooth_value)

    @classmethod
    def parse(cls, text: str | int, *, field: str = "tooth") -> Tooth:
        """Parse ``"36"`` or ``36``; the text form must be exactly two digits."""
        if type(text) is int:
            value = text
        elif isinstance(text, str):
            stripped = text.strip()
            if not _is_digits(stripped, 2):
                raise _error(field, text, f"is not two digits ({_TOOTH_EXPECTED})")
            value = int(stripped)
        else:
            raise _error(field, text, f"expected text or int, not {type(text).__name__} ({_TOOTH_EXPECTED})")
        _validate_tooth(field, text, value)
        return cls(value)

    @property
    def quadrant(self) -> int:
        """1–4 permanent, 5–8 deciduous (upper right, upper left, lower left, lower right)."""
        return self.value // 10

    @property
    def position(self) -> int:
        """1 (central incisor) … 8 permanent / 5 deciduous."""
        return self.value % 10

    @property
    def is_deciduous(self) -> bool:
        return self.quadrant >= 5

    @property
    def is_permanent(self) -> bool:
        return self.quadrant <= 4

    def __str__(self) -> str:
        return f"{self.value:02d}"


# --------------------------------------------------------------------------------------------
# CT1/CT2 — domain.md §1.5
# --------------------------------------------------------------------------------------------

#: Values of the HL7BE code systems BeCSHolderCode1/2 (used by ``strict`` parsing and ``is_known``).
CT1_VALUES: frozenset[str] = frozenset(
    "100 101 110 111 120 121 130 131 140 141 150 151 410 411 420 421 430 431 440 441 450 451 470 480".split()
)
CT2_VALUES: frozenset[str] = frozenset(
    "000 100 101 110 111 114 120 121 130 131 140 141 144 150 151 460 461 464 481 701 900 901 911".split()
)

_CT_EXPECTED = "expected CT1/CT2 as two 3-digit codes, e.g. 110/110"
_CT_FORM = re.compile(r"\s*([0-9]{3})\s*[/\-\s]?\s*([0-9]{3})\s*")


def _ct_value(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not _is_digits(value, 3):
        raise _error(attribute.name, value, f"is not 3 digits ({_CT_EXPECTED})")


@attrs.frozen
class CtCodes:
    """The holder codes CT1/CT2 an insurability answer gives; CT1's last digit flags BIM."""

    ct1: str = attrs.field(validator=_ct_value)
    ct2: str = attrs.field(validator=_ct_value)

    @classmethod
    def parse(cls, text: str, *, field: str = "ct", strict: bool = False) -> CtCodes:
        """Parse ``110/110`` (also ``110-110``, ``110 110``, ``110110``).

        Only the shape is checked unless ``strict``: an insurer may return a code newer than the
        HL7BE list, and refusing its answer would help nobody.
        """
        text = _require_str(text, field, _CT_EXPECTED)
        match = _CT_FORM.fullmatch(text)
        if match is None:
            raise _error(field, text, f"is not CT1/CT2 ({_CT_EXPECTED})")
        codes = cls(match[1], match[2])
        if strict and not codes.is_known:
            raise _error(
                field,
                text,
                f"is not a known CT1/CT2 pair ({_CT_EXPECTED}; values of the HL7BE BeCSHolderCode1/2 lists)",
            )
        return codes

    @property
    def is_bim(self) -> bool:
        """Increased reimbursement (BIM / verhoogde tegemoetkoming): CT1 ends in 1.

        UNSURE: the source (an assistool FAQ) says "last digit 1 = BIM" without naming the code;
        CT1 is used because CT2 values such as 114 or 464 show CT2's last digit is not a 0/1 flag.
        """
        return self.ct1[-1] == "1"

    @property
    def is_known(self) -> bool:
        """Both codes appear in the HL7BE code systems."""
        return self.ct1 in CT1_VALUES and self.ct2 in CT2_VALUES

    def __str__(self) -> str:
        return f"{self.ct1}/{self.ct2}"


# --------------------------------------------------------------------------------------------
# Nomenclature codes — domain.md §2.1, §5
# --------------------------------------------------------------------------------------------

_NOMEN_EXPECTED = "expected a 6-digit nomenclature code; dental codes are 30xxxx–37xxxx (e.g. 301593)"


def _validate_nomenclature(field: str, raw: object, value: str, dental: bool) -> None:
    if not _is_digits(value, 6):
        raise _error(field, raw, f"is not 6 digits ({_NOMEN_EXPECTED})")
    if dental and not "300000" <= value <= "379999":
        raise _error(field, raw, f"is not a dental (article 5) code ({_NOMEN_EXPECTED})")


def _nomenclature_value(instance: object, attribute: object, value: str) -> None:
    if not isinstance(value, str):
        raise _error("nomenclature", value, f"must be text ({_NOMEN_EXPECTED})")
    _validate_nomenclature("nomenclature", value, value, dental=False)


@attrs.frozen(order=True)
class NomenclatureCode:
    """A 6-digit INAMI/RIZIV nomenclature code (no check digit is documented, so shape only)."""

    value: str = attrs.field(validator=_nomenclature_value)

    @classmethod
    def parse(cls, text: str, *, field: str = "nomenclature", dental: bool = False) -> NomenclatureCode:
        """Parse a code; with ``dental`` also require the 30xxxx–37xxxx dental range."""
        text = _require_str(text, field, _NOMEN_EXPECTED)
        value = re.sub(r"[\s.]", "", text)
        _validate_nomenclature(field, text, value, dental)
        return cls(value)

    @property
    def is_dental(self) -> bool:
        """In the 30xxxx–37xxxx range of article 5 (group N04)."""
        return "300000" <= self.value <= "379999"

    @property
    def is_youth_code(self) -> bool:
        """37xxxx: children's/youth codes; 30xxxx/31xxxx are adult codes (pattern seen in examples)."""
        return self.value.startswith("37")

    def __str__(self) -> str:
        return self.value
