"""Typed model of one eFact sending (one 920000 file for one insurer federation).

Hierarchy (``efact.md`` §2.2)::

    Sending                       S200 + S300 + R10 … R90 + R95* + R96   (one federation/union)
      header: SendingHeader       sending number, third-party payer, period, bank account, contact
      invoices (by destination)   R20 … R80 — one patient, one destination mutuality
        lines: ServiceLine        R50 — one dental act (code, date, tooth, amounts in cents)
          commitment              R51 — payment commitment of the tariff consultation
          identity_check          R52 — reading of the patient's identity document

:attr:`Sending.groups` gives the per-destination-mutuality view (one R95 each). Amounts are
integer euro cents. Every class is frozen and validated at construction, so a model that exists
can be written: the writer is strict and only fails on overflowing totals.

Identifier checks (SSIN, NIHII) delegate to :mod:`mycarenet_dental.identifiers` (one place for the
check-digit logic); the helpers here only add what the file format needs (exactly 11 digits, no
separators) and a bounded memo, because the same identifiers repeat on every line of a sending.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
from mycarenet_dental.coded import Sex
from mycarenet_dental.errors import InvalidIdentifierError, UsageError
from mycarenet_dental.identifiers import Nihii, Ssin

# --- identifier checks (delegating to mycarenet_dental.identifiers) ----------------------------

PERMANENT_TEETH = frozenset(q * 10 + t for q in (1, 2, 3, 4) for t in range(1, 9))
DECIDUOUS_TEETH = frozenset(q * 10 + t for q in (5, 6, 7, 8) for t in range(1, 6))
FDI_TEETH = PERMANENT_TEETH | DECIDUOUS_TEETH
"""The 52 ISO 3950 / FDI tooth numbers (``domain.md`` §2.2)."""


_MEMO_LIMIT = 100_000
_GOOD_SSINS: set[str] = set()  # memo of SSINs already found valid (bounded)
_GOOD_NIHIIS: set[str] = set()  # memo of NIHIIs already found valid (bounded)


def ssin_is_valid(ssin: str) -> bool:
    """SSIN/bis (exactly 11 ASCII digits) with valid check digits, per :meth:`Ssin.parse`."""
    return _valid_11_digits(ssin, _GOOD_SSINS, Ssin.parse)


def _valid_11_digits(value: str, memo: set[str], parse: Any) -> bool:
    """Exactly 11 ASCII digits that ``parse`` accepts; accepted values are memoised (bounded)."""
    if value.__class__ is str and value in memo:
        return True
    if not (isinstance(value, str) and len(value) == 11 and value.isdigit() and value.isascii()):
        return False
    try:
        parse(value)
    except InvalidIdentifierError:
        return False
    if len(memo) < _MEMO_LIMIT:
        memo.add(value)
    return True


def nihii_is_valid(nihii: str) -> bool:
    """NIHII/INAMI of exactly 11 ASCII digits whose check digits 7–8 hold, per :meth:`Nihii.parse`."""
    return _valid_11_digits(nihii, _GOOD_NIHIIS, Nihii.parse)


def iban_is_valid(iban: str) -> bool:
    """ISO 13616 IBAN check (mod 97 = 1)."""
    s = iban.replace(" ", "").upper()
    if not (15 <= len(s) <= 34) or not (s.isascii() and s.isalnum()) or not s[:2].isalpha() or not s[2:4].isdigit():
        return False
    digits = "".join(str(int(c, 36)) for c in s[4:] + s[:4])
    return int(digits) % 97 == 1


# --- validators (cheap: they run once per line) -----------------------------------------------


def _digits(n: int, *, allow_zero: bool = True) -> Any:
    def check(inst: object, a: attrs.Attribute, v: str) -> None:
        if not (isinstance(v, str) and len(v) == n and v.isdigit() and v.isascii()):
            raise InvalidIdentifierError(a.name, str(v), f"must be exactly {n} digits")
        if not allow_zero and v == "0" * n:
            raise InvalidIdentifierError(a.name, v, "must not be all zeros")

    return check


def _opt(check: Any) -> Any:
    def inner(inst: object, a: attrs.Attribute, v: object) -> None:
        if v is not None:
            check(inst, a, v)

    return inner


def _one_of(options: Any) -> Any:
    """A field that takes one of ``options``: a typed UsageError otherwise (a read file's bad code is
    reported as a format error, not a ValueError traceback)."""
    allowed = frozenset(options)

    def check(inst: object, a: attrs.Attribute, v: object) -> None:
        if v not in allowed:
            raise UsageError(f"{a.name}: {v!r} is not one of {sorted(allowed)}", location=a.name)

    return check


def _nihii(inst: object, a: attrs.Attribute, v: str) -> None:
    if not (isinstance(v, str) and nihii_is_valid(v)):
        raise InvalidIdentifierError(a.name, str(v), "not a valid 11-digit NIHII/INAMI number (check digits)")


def _int_range(lo: int, hi: int) -> Any:
    def check(inst: object, a: attrs.Attribute, v: int) -> None:
        if not (isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi):
            raise UsageError(f"{a.name}: {v!r} is not an integer in {lo}..{hi}", location=a.name)

    return check


def _text(n: int) -> Any:
    def check(inst: object, a: attrs.Attribute, v: str) -> None:
        if not isinstance(v, str) or len(v) > n or not v.isascii() or not v.isprintable():
            raise UsageError(
                f"{a.name}: {v!r} must be printable ASCII of at most {n} characters "
                "(strip diacritics first)",
                location=a.name,
            )

    return check


def _rstrip(v: object) -> object:
    return v.rstrip() if isinstance(v, str) else v


def _code7(v: object) -> object:
    """Nomenclature codes: accept the 6-digit INAMI code and store the 7-digit zone form."""
    if isinstance(v, int) and not isinstance(v, bool):
        v = f"{v:07d}"
    if isinstance(v, str) and len(v) == 6 and v.isdigit():
        return "0" + v
    return v


def _date(inst: object, a: attrs.Attribute, v: object) -> None:
    if not isinstance(v, dt.date) or isinstance(v, dt.datetime) or v.year < 1000:
        raise UsageError(f"{a.name}: {v!r} is not a date", location=a.name)


def _hhmm(inst: object, a: attrs.Attribute, v: str) -> None:
    ok = isinstance(v, str) and len(v) == 4 and v.isdigit() and int(v[:2]) < 24 and int(v[2:]) < 60
    if not ok:
        raise UsageError(f"{a.name}: {v!r} is not a time HHMM", location=a.name)


MAX_11 = 10**11 - 1
MAX_9 = 10**9 - 1


def _amount(limit: int) -> Any:
    def check(inst: object, a: attrs.Attribute, v: int) -> None:
        if not (isinstance(v, int) and not isinstance(v, bool) and -limit <= v <= limit):
            raise UsageError(f"{a.name}: {v!r} is not an amount in cents within ±{limit}", location=a.name)

    return check


# --- service line and its attached records ---------------------------------------------------


@attrs.frozen
class Commitment:
    """Record 51: the payment commitment returned by the tariff consultation (protocol R36)."""

    number: str = attrs.field(converter=_rstrip, validator=_text(48))
    communicated: dt.date = attrs.field(validator=_date)

    def __attrs_post_init__(self) -> None:
        if not self.number:
            raise UsageError("number: the commitment number must not be empty", location="number")


INPUT_TYPES = frozenset("1234A")
SUPPORT_TYPES = frozenset("01234567")


@attrs.frozen
class IdentityCheck:
    """Record 52: how the patient's identity document was read (newer layout, ``efact.md`` §2.9)."""

    input_type: str = attrs.field(validator=_one_of(INPUT_TYPES))
    support_type: str = attrs.field(validator=_one_of(SUPPORT_TYPES))
    reader: str = attrs.field(validator=_nihii)
    read_date: dt.date | None = attrs.field(default=None, validator=_opt(_date))
    read_time: str | None = attrs.field(default=None, validator=_opt(_hhmm))
    manual_reason: int = attrs.field(default=0, validator=_int_range(0, 9))
    vignette_reason: int = attrs.field(default=0, validator=_int_range(0, 9))
    serial: str = attrs.field(default="", converter=_rstrip, validator=_text(15))
    justification: int | None = attrs.field(default=None, validator=_opt(_int_range(1, 10**25 - 1)))
    device: int | None = attrs.field(default=None, validator=_opt(_int_range(1, 10**12 - 1)))

    #: manual-entry reasons whose reading date/time must be zero (deferred cases, §2.9).
    DEFERRED_REASONS = frozenset({3, 4, 5, 6, 8})

    def __attrs_post_init__(self) -> None:
        if self.read_time == "0000":  # the file cannot tell 00:00 from "not given"
            object.__setattr__(self, "read_time", None)


def _check_nihii(field: str, v: object) -> None:
    if not (isinstance(v, str) and nihii_is_valid(v)):
        raise InvalidIdentifierError(field, str(v), "not a valid 11-digit NIHII/INAMI number (check digits)")


def _small(field: str, v: object, lo: int, hi: int) -> None:
    if type(v) is not int or not lo <= v <= hi:  # noqa: E721 — bool is not accepted
        raise UsageError(f"{field}: {v!r} is not an integer in {lo}..{hi}", location=field)


@attrs.frozen(weakref_slot=False)
class ServiceLine:
    """Record 50: one dental act. ``fee`` = reimbursement + patient share (supplement apart).

    Validation is one pass in ``__attrs_post_init__`` (not per-field validators) because a
    sending can hold hundreds of thousands of lines. No weak-reference slot, so that the reader's
    trusted constructor can fill it as a mutable twin (see ``_trusted_factory``).
    """

    code: str
    date: dt.date
    reimbursement: int
    provider: str
    patient_share: int = 0
    supplement: int = 0
    tooth: int | None = None  # FDI number, zone 29
    end_date: dt.date | None = None
    units: int = 1
    related_code: str | None = None
    account_b: bool = False
    norm: int = 0
    time_code: int = 0
    provider_norm: int = 1
    place: str | None = None
    prescriber: str | None = None
    prescriber_norm: int = 0
    prescription_date: dt.date | None = None
    derogation: int = 0
    reference: str = ""
    # UNSURE: value list of the third-party exception code (ET50 Z32) is not documented.
    third_party_exception: str = "0"
    billing_code: int = 0
    side: int = 0
    convention: int = 1
    service_time: str | None = None
    trainee: str | None = None
    commitment: Commitment | None = None
    identity_check: IdentityCheck | None = None

    def __attrs_post_init__(self) -> None:  # noqa: C901 — one flat pass on purpose
        setattr_ = object.__setattr__
        code = self.code
        if code.__class__ is not str or len(code) != 7 or not code.isdigit() or code == "0000000":
            code = _code7(code)
            if not (isinstance(code, str) and len(code) == 7 and code.isdigit() and code.isascii()
                    and code != "0000000"):
                raise InvalidIdentifierError("code", str(self.code), "nomenclature code must be 6 or 7 digits, not 0")
            setattr_(self, "code", code)
        if self.related_code is not None:
            rc = _code7(self.related_code)
            if not (isinstance(rc, str) and len(rc) == 7 and rc.isdigit() and rc.strip("0")):
                raise InvalidIdentifierError("related_code", str(self.related_code), "must be 6 or 7 digits, not zero")
            setattr_(self, "related_code", rc)
        day = self.date
        if day.__class__ is not dt.date:
            raise UsageError(f"date: {day!r} is not a date", location="date")
        end = self.end_date
        if end is not None:
            if end.__class__ is not dt.date:
                raise UsageError(f"end_date: {end!r} is not a date", location="end_date")
            if end == day:  # a single act: Z6 repeats Z5, keep the model canonical
                setattr_(self, "end_date", None)
            elif end < day:
                raise UsageError("end_date: before the service date", location="end_date")
        if self.prescription_date is not None and self.prescription_date.__class__ is not dt.date:
            raise UsageError(f"prescription_date: {self.prescription_date!r} is not a date", location="prescription_date")
        r, p, sup = self.reimbursement, self.patient_share, self.supplement
        if (r.__class__ is not int or p.__class__ is not int or sup.__class__ is not int
                or not (-MAX_11 <= r <= MAX_11 and -MAX_9 <= p <= MAX_9 and -MAX_9 <= sup <= MAX_9)):
            for name, limit in (("reimbursement", MAX_11), ("patient_share", MAX_9), ("supplement", MAX_9)):
                v = getattr(self, name)
                if v.__class__ is not int or not -limit <= v <= limit:
                    raise UsageError(f"{name}: {v!r} is not an amount in cents within ±{limit}", location=name)
        if self.provider.__class__ is not str or self.provider not in _GOOD_NIHIIS:
            _check_nihii("provider", self.provider)
        if self.place is not None or self.prescriber is not None or self.trainee is not None:
            for name in ("place", "prescriber", "trainee"):
                v = getattr(self, name)
                if v is not None:
                    _check_nihii(name, v)
        tooth = self.tooth
        # UNSURE: quadrant/jaw coding in zone 29 (error 502258); only FDI teeth are accepted here.
        if tooth is not None and (tooth.__class__ is not int or tooth not in FDI_TEETH):
            raise InvalidIdentifierError("tooth", str(tooth), "not an FDI (ISO 3950) tooth number")
        if not (self.units in _UNITS and self.norm in _DIGIT and self.time_code in _DIGIT
                and self.prescriber_norm in _DIGIT and self.billing_code in _DIGIT and self.derogation in _TWO_DIGITS
                and self.provider_norm in _DIGIT and self.side in _SIDES and self.convention in _DIGIT):
            _small("units", self.units, -9999, 9999)
            for name, hi in (("norm", 9), ("time_code", 9), ("prescriber_norm", 9), ("billing_code", 9),
                             ("derogation", 99), ("provider_norm", 9), ("side", 2), ("convention", 9)):
                _small(name, getattr(self, name), 0, hi)
        if self.account_b.__class__ is not bool:
            raise UsageError(f"account_b: {self.account_b!r} is not a boolean", location="account_b")
        ref = self.reference
        if ref:
            if ref.__class__ is not str or len(ref) > 25 or not ref.isascii() or not ref.isprintable():
                raise UsageError(f"reference: {ref!r} must be printable ASCII of at most 25 characters",
                                 location="reference")
            if ref[-1] == " ":
                setattr_(self, "reference", ref.rstrip())
        if self.third_party_exception not in THIRD_PARTY_EXCEPTIONS:
            raise UsageError(f"third_party_exception: {self.third_party_exception!r} not allowed",
                             location="third_party_exception")
        if self.service_time is not None:
            _hhmm(self, _FakeAttr("service_time"), self.service_time)
            if self.service_time == "0000":  # the file cannot tell 00:00 from "not given"
                setattr_(self, "service_time", None)
        if self.commitment is not None and self.commitment.__class__ is not Commitment:
            raise UsageError("commitment: not a Commitment", location="commitment")
        if self.identity_check is not None and self.identity_check.__class__ is not IdentityCheck:
            raise UsageError("identity_check: not an IdentityCheck", location="identity_check")

    @property
    def last_date(self) -> dt.date:
        return self.end_date or self.date

    @property
    def fee(self) -> int:
        """The conventional fee in cents: insurer's part + patient's personal share."""
        return self.reimbursement + self.patient_share


THIRD_PARTY_EXCEPTIONS = frozenset("0123456789N")
# membership tests double as type + range checks on the hot path (bools are ints and pass as 0/1)
_DIGIT = frozenset(range(10))
_TWO_DIGITS = frozenset(range(100))
_SIDES = frozenset(range(3))
_UNITS = frozenset(range(-9999, 10000))


@attrs.frozen
class _FakeAttr:
    name: str


def _trusted_factory(cls: type) -> Any:
    """A positional constructor that sets every field of a frozen attrs class without validation.

    Private: only for values a reader has already checked to be exactly what the validated
    constructor would store (canonical, in range). User-built objects always go through
    ``cls(...)`` and its validators.

    A class without a ``__weakref__`` slot is built as a plain twin with the same slots (plain
    attribute stores, ~2× cheaper than one descriptor call per field) and then given its class;
    CPython allows that ``__class__`` change only between identical slot layouts.
    """
    names = [a.name for a in attrs.fields(cls)]
    ns: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    if "__weakref__" not in cls.__slots__ and tuple(cls.__slots__) == tuple(names):
        twin = type(f"_Mutable{cls.__name__}", (), {"__slots__": tuple(names)})
        body = "".join(f"    self.{n} = {n}\n" for n in names)
        src = f"def make({', '.join(names)}):\n    self = _new(_twin)\n{body}    self.__class__ = _cls\n    return self\n"
        ns["_twin"] = twin
    else:
        # the slots' own descriptors (``__set__``) are a little faster than ``object.__setattr__``
        body = "".join(f"    _set_{i}(self, {n})\n" for i, n in enumerate(names))
        src = f"def make({', '.join(names)}):\n    self = _new(_cls)\n{body}    return self\n"
        ns.update({f"_set_{i}": cls.__dict__[n].__set__ for i, n in enumerate(names)})
    exec(src, ns)  # noqa: S102 — generated from the class's own field names
    return ns["make"]


#: ``ServiceLine`` from already-checked values, positionally in field order (reader fast path).
_trusted_service_line = _trusted_factory(ServiceLine)


# --- invoice -----------------------------------------------------------------------------------


INVOICING_TYPES = {0: "normal", 1: "corrective", 2: "UNSURE-2", 3: "credit note", 4: "UNSURE-4"}


@attrs.frozen
class PreviousInvoice:
    """The earlier invoice a corrective invoice or credit note refers to (ET20 Z29–41)."""

    number: int = attrs.field(validator=_int_range(1, 10**12 - 1))
    sending_number: int = attrs.field(validator=_int_range(1, 999))
    mutuality: str = attrs.field(validator=_digits(3))
    year_month: str = attrs.field(validator=_digits(6))


@attrs.frozen(weakref_slot=False)  # no weak-reference slot: see ``_trusted_factory``
class Invoice:
    """Records 20…80: one patient's invoice for one destination mutuality."""

    number: int
    patient_id: str  # the SSIN, or the registration number at the mutuality when ``id_is_ssin`` is false
    sex: Sex = attrs.field(metadata={"enum": ("male", "female")})  # eFact zone 9 (1/2) at the file's edge
    mutuality: str  # the patient's mutuality (ET20 Z7)
    ct1: str
    ct2: str
    lines: tuple[ServiceLine, ...] = attrs.field(converter=tuple)
    # ET20 Z18: the insurer the invoice goes to; default from the routing table (mutuality → its union)
    destination: str = attrs.field(default=attrs.Factory(lambda self: destination_for(self.mutuality),
                                                         takes_self=True))
    id_is_ssin: bool = True
    reference: str = attrs.field(default="", converter=_rstrip)
    invoicing_type: int = 0
    lifting_prescription: bool = False
    treatment_cause: int = 0
    previous: PreviousInvoice | None = None

    def _check_patient(self, a: attrs.Attribute, v: str) -> None:
        if self.id_is_ssin:
            if not (isinstance(v, str) and ssin_is_valid(v)):
                raise InvalidIdentifierError("patient_id", str(v), "not a valid SSIN (11 digits, check digits)")
        elif not (isinstance(v, str) and 1 <= len(v) <= 13 and v.isdigit() and v.isascii()):
            raise InvalidIdentifierError("patient_id", str(v), "membership number must be 1–13 digits")

    def __attrs_post_init__(self) -> None:
        # Field checks in one pass (an invoice is built per patient and per read): the common case is
        # decided by cheap tests; anything else runs every field's check in field order, which raises
        # exactly what per-field validators would.
        pid, ref, n = self.patient_id, self.reference, self.number
        if not (n.__class__ is int and 1 <= n <= _MAX_INVOICE_NUMBER
                and self.id_is_ssin is True and pid.__class__ is str and pid in _GOOD_SSINS
                and self.sex in _SEXES
                and self.mutuality.__class__ is str and self.mutuality in _THREE_DIGITS
                and self.destination.__class__ is str and self.destination in _THREE_DIGITS
                and self.destination != "000"
                and self.ct1.__class__ is str and self.ct1 in _THREE_DIGITS
                and self.ct2.__class__ is str and self.ct2 in _THREE_DIGITS
                and ref.__class__ is str and len(ref) <= 25 and ref.isascii() and ref.isprintable()
                and self.invoicing_type in _INVOICING_TYPE_CODES
                and self.treatment_cause.__class__ is int and 0 <= self.treatment_cause <= 9999):
            for attribute, check in _INVOICE_CHECKS:
                check(self, attribute, getattr(self, attribute.name))
        if not self.lines:
            raise UsageError(f"invoice {self.number}: has no service line", location="lines")
        if self.invoicing_type in (1, 3) and self.previous is None:
            # a correction must say which invoice it corrects (ET20 Z29–41)
            raise UsageError(f"invoice {self.number}: a corrective invoice or credit note needs 'previous'",
                             location="previous")

    @property
    def total_a(self) -> int:
        return sum(ln.reimbursement for ln in self.lines if not ln.account_b)

    @property
    def total_b(self) -> int:
        return sum(ln.reimbursement for ln in self.lines if ln.account_b)

    @property
    def total_supplement(self) -> int:
        return sum(ln.supplement for ln in self.lines)


_MAX_INVOICE_NUMBER = 10**12 - 1
_SEXES = (Sex.MALE, Sex.FEMALE)
#: eFact record 20/50/80 zone 9: the one place the sex is a digit (the file's edge: writer and reader)
EFACT_SEX = {Sex.MALE: 1, Sex.FEMALE: 2}
SEX_OF_EFACT = {"1": Sex.MALE, "2": Sex.FEMALE}
_INVOICING_TYPE_CODES = tuple(INVOICING_TYPES)
_THREE_DIGITS = frozenset(f"{i:03d}" for i in range(1000))
#: the field checks of :class:`Invoice`, in field order (run when the fast test is not conclusive),
#: each with its attribute as a per-field validator would see it (same error messages)
_INVOICE_CHECKS: tuple[tuple[attrs.Attribute, Any], ...] = tuple(
    (getattr(attrs.fields(Invoice), name).evolve(validator=check), check) for name, check in (
        ("number", _int_range(1, _MAX_INVOICE_NUMBER)),
        ("patient_id", Invoice._check_patient),
        ("sex", _one_of(_SEXES)),
        ("mutuality", _digits(3)),
        ("destination", _digits(3, allow_zero=False)),
        ("ct1", _digits(3)),
        ("ct2", _digits(3)),
        ("reference", _text(25)),
        ("invoicing_type", _one_of(_INVOICING_TYPE_CODES)),
        ("treatment_cause", _int_range(0, 9999)),
    )
)


# --- sending -----------------------------------------------------------------------------------


@attrs.frozen
class SendingHeader:
    """Everything of a sending that is not an invoice: segments 200/300 and records 10/90."""

    sending_number: int = attrs.field(validator=_int_range(1, 999))
    third_party: str = attrs.field(validator=_nihii)
    invoicing_year: int = attrs.field(validator=_int_range(2000, 9999))
    invoicing_month: int = attrs.field(validator=_int_range(1, 12))
    creation_date: dt.date = attrs.field(validator=_date)
    reference: int = attrs.field(validator=_int_range(1, 10**14 - 1))
    iban: str = attrs.field(converter=_rstrip, validator=_text(34))
    bic: str = attrs.field(converter=_rstrip, validator=_text(11))
    bce: str | None = attrs.field(default=None, validator=_opt(_digits(10, allow_zero=False)))
    test: bool = True
    contact_last_name: str = attrs.field(default="", converter=_rstrip, validator=_text(45))
    contact_first_name: str = attrs.field(default="", converter=_rstrip, validator=_text(24))
    contact_phone: str | None = attrs.field(default=None, validator=_opt(_digits(10)))
    file_reference: str = attrs.field(default="", converter=_rstrip, validator=_text(13))
    sender_reference: str = attrs.field(default="", converter=_rstrip, validator=_text(25))
    iban_b: str = attrs.field(default="", converter=_rstrip, validator=_text(34))
    bic_b: str = attrs.field(default="", converter=_rstrip, validator=_text(11))
    # ET10 Z18; None = the third party's own qualification code (see ``default_profession_code``).
    profession_code: str | None = attrs.field(default=None, validator=_opt(_digits(3)))
    billing_content: str = attrs.field(default="040", validator=_digits(3))
    format_version: int = attrs.field(default=2, validator=_one_of((1, 2)))
    invoice_kind: str = attrs.field(default="03", validator=_digits(2))
    invoicing_mode: str = attrs.field(default="01", validator=_digits(2))
    # UNSURE: ET95 Z402 summary invoice number; None = last 12 digits of ``reference`` ([TK]).
    summary_invoice_number: int | None = attrs.field(default=None, validator=_opt(_int_range(0, 10**12 - 1)))

    def __attrs_post_init__(self) -> None:
        if self.profession_code is None:
            object.__setattr__(self, "profession_code", default_profession_code(self.third_party))
        if self.summary_invoice_number == self.reference % 10**12:  # the default: keep the model canonical
            object.__setattr__(self, "summary_invoice_number", None)

    @property
    def period(self) -> str:
        """Invoicing ``YYYYMM`` (S300 zone 300, ET10 Z22–23)."""
        return f"{self.invoicing_year:04d}{self.invoicing_month:02d}"

    @property
    def instructions_version(self) -> str:
        return "9991999" if self.test else "0001999"

    @property
    def code_indice(self) -> int:
        return 1 if self.iban_b else 0

    @property
    def summary_number(self) -> int:
        if self.summary_invoice_number is not None:
            return self.summary_invoice_number
        return self.reference % 10**12


#: Files created from this date on are refused (B101810) when ET10 Z18 is ``000``: seen on real 920099
#: answers to files of 2024-04-02 ([PB] ``d9b17e46-….txt``). UNSURE: the exact start date.
PROFESSION_CODE_REQUIRED_FROM = dt.date(2024, 4, 1)


def default_profession_code(third_party: str) -> str:
    """ET10 Z18 from the third party's NIHII: its 3-digit qualification code (``001`` general dentist).

    UNSURE: the eFact instructions' value table for zone 18 was not found. [IC] fills it from the
    sender's profession and [PB] points to the NIHII qualification ("bevoegdheidscode") codes; a real
    refused file carried ``000`` for a physiotherapist whose NIHII ends in 527. For dentists the NIHII
    qualification is ``001`` (general dentist), ``007`` (orthodontist), ``010`` (trainee); configurable
    in ``[billing] profession_code``.
    """
    return third_party[8:11] if len(third_party) == 11 else "000"


def check_profession_code(value: object, *, where: str = "profession_code") -> str:
    """A profession code the insurers take: exactly 3 digits, not ``000`` (B101810)."""
    if not (isinstance(value, str) and len(value) == 3 and value.isdigit() and value.isascii()) or value == "000":
        raise UsageError(f"{where}: {value!r} is not a profession code (3 digits, not 000: insurer error B101810)",
                         code="101810", location=where,
                         hint='set the dentist\'s code, e.g. profession_code = "001" (general dentist)')
    return value


def federation_of(destination: str) -> str:
    """The insurer union (federation) a destination mutuality belongs to: ``319`` → ``300``."""
    return destination[0] + "00"


@attrs.frozen
class MutualityGroup:
    """The invoices of one destination mutuality (one record 95)."""

    destination: str
    invoices: tuple[Invoice, ...]


@attrs.frozen
class Sending:
    """One 920000 file: one sending to one insurer federation, invoices ordered by destination."""

    header: SendingHeader
    invoices: tuple[Invoice, ...] = attrs.field(converter=tuple)

    def __attrs_post_init__(self) -> None:
        if not self.invoices:
            raise UsageError("sending has no invoice", location="invoices")
        check_destination_order(inv.destination for inv in self.invoices)

    @property
    def federation(self) -> str:
        return federation_of(self.invoices[0].destination)

    @property
    def groups(self) -> tuple[MutualityGroup, ...]:
        out: list[MutualityGroup] = []
        current: list[Invoice] = []
        for inv in self.invoices:
            if current and current[0].destination != inv.destination:
                out.append(MutualityGroup(current[0].destination, tuple(current)))
                current = []
            current.append(inv)
        out.append(MutualityGroup(current[0].destination, tuple(current)))
        return tuple(out)

    @property
    def line_count(self) -> int:
        return sum(len(inv.lines) for inv in self.invoices)

    @classmethod
    def build(cls, header: SendingHeader, invoices: Iterable[Invoice]) -> Sending:
        """Order the invoices by destination mutuality (stable), as the insurers require (201812)."""
        return cls(header, tuple(sorted(invoices, key=lambda i: i.destination)))


def check_destination_order(destinations: Iterable[str]) -> None:
    """Destinations must be ascending and of one federation (one file per union)."""
    previous: str | None = None
    for d in destinations:
        if previous is not None:
            if d < previous:
                raise UsageError(
                    f"invoices: destination {d} after {previous}; order invoices by destination mutuality "
                    "(use Sending.build)", code="201812", location="invoices")
            if d[0] != previous[0]:
                raise UsageError(
                    f"invoices: destinations {previous} and {d} belong to different federations; "
                    "one 920000 file per federation (use split_by_federation)", location="invoices")
        previous = d


def split_by_federation(invoices: Iterable[Invoice]) -> dict[str, tuple[Invoice, ...]]:
    """Group invoices per insurer federation (one sending each), ordered by destination."""
    out: dict[str, list[Invoice]] = {}
    for inv in invoices:
        out.setdefault(federation_of(inv.destination), []).append(inv)
    return {fed: tuple(sorted(v, key=lambda i: i.destination)) for fed, v in sorted(out.items())}


def destination_for(mutuality: str, routing: Mapping[str, str] | None = None) -> str:
    """Destination of an invoice from the patient's mutuality (configurable table)."""
    from .catalogue import routing_table

    table = routing if routing is not None else routing_table()
    if not isinstance(mutuality, str) or not mutuality:
        return mutuality  # the invoice's own check names the bad mutuality
    if mutuality in table:
        return table[mutuality]
    return table.get(mutuality[0] + "xx", mutuality)


#: ``Invoice`` and ``Commitment`` from already-checked values (reader fast path), positionally.
_trusted_invoice = _trusted_factory(Invoice)
_trusted_commitment = _trusted_factory(Commitment)
