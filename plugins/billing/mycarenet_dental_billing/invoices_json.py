"""JSON invoice input: a documented JSON form of one eFact sending → :class:`~.efact.model.Sending`.

The JSON mirrors the Python model (same names, amounts in integer euro **cents**, dates
``YYYY-MM-DD``). Unknown keys are refused so that a typo never silently drops data. Every error
names the offending field with its path (``invoices[0].lines[2].tooth``) and is a
:class:`~mycarenet_dental.errors.UsageError` (an identifier: :class:`InvalidIdentifierError`),
i.e. exit code 2: nothing was sent. Example (every key not marked optional is required)::

    {
      "sending": {
        "sending_number": 12,                   # 1..999, unique per third-party payer and year
        "third_party": "30012345001",           # NIHII of the invoicing dentist/practice (11 digits)
        "invoicing_period": "2026-10",          # invoiced year-month
        "creation_date": "2026-11-02",
        "reference": "20261130000012",          # ≤14 digits: S200 zone 204 / GenericAsync InputReference
        "iban": "BE68 5390 0754 7034", "bic": "GEBABEBB",
        "bce": "0123456749",                    # optional (mandatory for the insurers since 2015)
        "test": true,                           # optional, default true (acceptance / simulator)
        "contact": {"last_name": "Dupont", "first_name": "Anne", "phone": "0471123456"},   # optional
        "file_reference": "F12", "sender_reference": "PRACTICE-2026-12",                    # optional
        "account_b": {"iban": "...", "bic": "..."},                                         # optional
        "profession_code": "001",               # optional ET10 Z18: default the third party's NIHII qualification
        "format_version": 2, "summary_invoice_number": 1                                    # optional
      },
      "invoices": [{
        "number": 260000000001,                 # 12 digits max, unique
        "patient": {"ssin": "85073003328",      # or "membership_number": "123456789" (no SSIN)
                    "sex": "M",                 # "M"/"F" or 1/2
                    "mutuality": "319", "ct1": "110", "ct2": "110"},
        "destination": "300",                   # optional: default from the routing table
        "reference": "INV-2026-0001",           # optional, ≤25 ASCII characters
        "type": "normal",                       # optional: normal | corrective | credit_note
        "previous": {"number": 1, "sending_number": 3, "mutuality": "300", "period": "2026-09"},  # corrections
        "lifting_prescription": false, "treatment_cause": 0,                                   # optional
        "lines": [{
          "code": "301011", "date": "2026-10-03",
          "reimbursement": 2500, "patient_share": 500, "supplement": 0,   # cents
          "tooth": 36,                          # optional FDI number
          "provider": "30012345001",            # optional: default the sending's third_party
          "end_date": "...", "units": 1, "related_code": "301033", "account": "A",          # optional
          "reference": "L1", "norm": 0, "time_code": 0, "provider_norm": 1, "derogation": 0,  # optional
          "third_party_exception": "0", "billing_code": 0, "side": 0, "convention": 1,        # optional
          "service_time": "1015", "place": "...", "prescriber": "...", "prescriber_norm": 0,  # optional
          "prescription_date": "...", "trainee": "...",                                       # optional
          "commitment": {"number": "...", "date": "2026-10-03"},        # optional: record 51 (tariff consultation)
          "identity_check": {"input_type": "1", "support_type": "1",    # optional: record 52
                             "read_date": "2026-10-03", "read_time": "1015", "reader": "30012345001",
                             "manual_reason": 0, "vignette_reason": 0, "serial": "...",
                             "justification": 0, "device": 0}
        }]
      }]
    }

``related_code`` is the related service (CD-NIHDI-RELATEDSERVICE) the tariff consultation used: record 50
zones 17-18, repeated in record 51 zones 17-18 when the line has a ``commitment``.
(The ``#`` comments are documentation only; JSON has no comments.) :func:`sending_to_json` is the
exact inverse, so ``load_sending(sending_to_json(s)) == s``.
"""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import attrs
from mycarenet_dental.errors import InvalidIdentifierError, UsageError
from mycarenet_dental.identifiers import CtCodes, NomenclatureCode
from mycarenet_dental.timeutil import iso_date

from .efact.model import (
    Commitment,
    IdentityCheck,
    Invoice,
    PreviousInvoice,
    Sending,
    SendingHeader,
    ServiceLine,
    destination_for,
    federation_of,
)

T = TypeVar("T")

# UNSURE: meaning of invoicing types 2 and 4 (ET20 Z11); accepted under neutral names.
INVOICE_TYPES = {"normal": 0, "corrective": 1, "type_2": 2, "credit_note": 3, "type_4": 4}
_TYPE_NAMES = {v: k for k, v in INVOICE_TYPES.items()}


def ascii_text(text: str) -> str:
    """Strip diacritics (the file is ASCII-only): ``Hélène`` → ``Helene``."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


class _Obj:
    """A JSON object being read, remembering its path for error messages and refusing unknown keys."""

    def __init__(self, value: object, path: str, allowed: set[str]) -> None:
        if not isinstance(value, Mapping):
            raise UsageError(f"{path}: expected an object, got {type(value).__name__}", location=path)
        unknown = set(value) - allowed
        if unknown:
            raise UsageError(f"{path}: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}",
                             location=f"{path}.{sorted(unknown)[0]}")
        self.v = value
        self.path = path

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def req(self, key: str) -> Any:
        if key not in self.v or self.v[key] is None:
            raise UsageError(f"{self.at(key)}: missing", location=self.at(key))
        return self.v[key]

    def opt(self, key: str, default: Any = None) -> Any:
        v = self.v.get(key)
        return default if v is None else v

    def has(self, key: str) -> bool:
        return self.v.get(key) is not None

    def int(self, key: str, default: int | None = None) -> int:
        v = self.req(key) if default is None else self.opt(key, default)
        if isinstance(v, bool) or not isinstance(v, int):
            if isinstance(v, str) and _is_ascii_digits(v) and len(v) <= 18:
                return int(v)
            raise UsageError(f"{self.at(key)}: expected an integer (cents for amounts), got {v!r}",
                             location=self.at(key))
        return v

    def str(self, key: str, default: str | None = None) -> str:
        v = self.req(key) if default is None else self.opt(key, default)
        if isinstance(v, int) and not isinstance(v, bool):
            return str(v)
        if not isinstance(v, str):
            raise UsageError(f"{self.at(key)}: expected a string, got {v!r}", location=self.at(key))
        return v

    def bool(self, key: str, default: bool) -> bool:
        v = self.opt(key, default)
        if not isinstance(v, bool):
            raise UsageError(f"{self.at(key)}: expected true/false, got {v!r}", location=self.at(key))
        return v

    def date(self, key: str, *, required: bool = True) -> dt.date | None:
        v = self.req(key) if required else self.opt(key)
        if v is None:
            return None
        try:
            return iso_date(v) if isinstance(v, str) and len(v) == 10 else _bad()
        except ValueError:
            raise UsageError(f"{self.at(key)}: expected a date YYYY-MM-DD, got {v!r}", location=self.at(key)) from None

    def period(self, key: str) -> tuple[int, int]:
        v = self.str(key)
        try:
            year, month = v.split("-")
            if len(year) != 4 or not 1 <= int(month) <= 12:
                raise ValueError
            return int(year), int(month)
        except ValueError:
            raise UsageError(f"{self.at(key)}: expected a period YYYY-MM, got {v!r}", location=self.at(key)) from None


def _bad() -> dt.date:
    raise ValueError


def _is_ascii_digits(text: str) -> bool:
    """``0-9`` only: ``"²".isdigit()`` is true in Python, and ``int("²")`` then fails."""
    return text.isascii() and text.isdigit()


MAX_BYTES = 256 * 1024 * 1024


def _build(path: str, factory: Callable[..., T], **kwargs: Any) -> T:
    """Call a model constructor; re-raise its errors with the JSON path of the field."""
    try:
        return factory(**kwargs)
    except InvalidIdentifierError as e:
        field = _json_name(f"{path}.{e.field}" if path else e.field)
        raise InvalidIdentifierError(field, e.value, e.reason, hint=e.hint) from e
    except UsageError as e:
        attr = e.location or ""
        loc = _json_name(f"{path}.{attr}" if path and attr else (attr or path))
        reason = e.message[len(attr) + 2:] if attr and e.message.startswith(f"{attr}: ") else e.message
        raise UsageError(f"{loc}: {reason}" if loc else reason, code=e.code, location=loc or None,
                         hint=e.hint) from e
    except (ValueError, TypeError) as e:  # an attrs validator: (message, attribute, allowed, value)
        attribute = e.args[1] if len(e.args) == 4 and isinstance(e.args[1], attrs.Attribute) else None
        if attribute is None:
            raise
        loc = _json_name(f"{path}.{attribute.name}" if path else attribute.name)
        allowed = e.args[2]
        choice = f"one of {', '.join(sorted(map(str, allowed)))}" if isinstance(allowed, (set, frozenset)) else "valid"
        raise UsageError(f"{loc}: {e.args[3]!r} is not {choice}", location=loc) from None


_MODEL_TO_JSON = {"patient_id": "patient.ssin", "communicated": "date", "sex": "patient.sex",
                  "affiliation": "patient.mutuality", "ct1": "patient.ct1", "ct2": "patient.ct2",
                  "invoicing_type": "type", "account_b": "account", "year_month": "period",
                  "iban_b": "account_b.iban", "bic_b": "account_b.bic", "contact_phone": "contact.phone",
                  "contact_last_name": "contact.last_name", "contact_first_name": "contact.first_name"}


def _json_name(path: str) -> str:
    head, _, last = path.rpartition(".")
    last = _MODEL_TO_JSON.get(last, last)
    return f"{head}.{last}" if head else last


_SENDING_KEYS = {"sending_number", "third_party", "invoicing_period", "creation_date", "reference", "iban", "bic",
                 "bce", "test", "contact", "file_reference", "sender_reference", "account_b", "profession_code",
                 "format_version", "summary_invoice_number", "billing_content"}
_INVOICE_KEYS = {"number", "patient", "destination", "reference", "type", "previous", "lifting_prescription",
                 "treatment_cause", "lines"}
_LINE_KEYS = {"code", "date", "reimbursement", "patient_share", "supplement", "tooth", "provider", "end_date", "units",
              "related_code", "account", "reference", "norm", "time_code", "provider_norm", "derogation",
              "third_party_exception", "billing_code", "side", "convention", "service_time", "place", "prescriber",
              "prescriber_norm", "prescription_date", "trainee", "commitment", "identity_check"}


def _header(o: _Obj) -> SendingHeader:
    year, month = o.period("invoicing_period")
    contact = _Obj(o.opt("contact", {}), o.at("contact"), {"last_name", "first_name", "phone"})
    b = _Obj(o.opt("account_b", {}), o.at("account_b"), {"iban", "bic"})
    ref = o.str("reference")
    if not (_is_ascii_digits(ref) and len(ref) <= 14 and int(ref) > 0):
        raise UsageError(f"{o.at('reference')}: expected 1 to 14 digits, got {ref!r}", location=o.at("reference"))
    return _build("sending", SendingHeader,
                  sending_number=o.int("sending_number"), third_party=o.str("third_party"),
                  invoicing_year=year, invoicing_month=month, creation_date=o.date("creation_date"),
                  reference=int(ref), iban=o.str("iban").replace(" ", "").upper(), bic=o.str("bic").upper(),
                  bce=o.str("bce").replace(".", "").replace(" ", "") if o.has("bce") else None,
                  test=o.bool("test", True),
                  contact_last_name=ascii_text(contact.str("last_name", "")),
                  contact_first_name=ascii_text(contact.str("first_name", "")),
                  contact_phone=contact.str("phone") if contact.has("phone") else None,
                  file_reference=ascii_text(o.str("file_reference", "")),
                  sender_reference=ascii_text(o.str("sender_reference", "")),
                  iban_b=b.str("iban", "").replace(" ", "").upper(), bic_b=b.str("bic", "").upper(),
                  profession_code=o.str("profession_code") if o.has("profession_code") else None, billing_content=o.str("billing_content", "040"),
                  format_version=o.int("format_version", 2),
                  summary_invoice_number=o.int("summary_invoice_number") if o.has("summary_invoice_number") else None)


def _line(o: _Obj, default_provider: str) -> ServiceLine:
    account = o.str("account", "A")
    if account not in ("A", "B"):
        raise UsageError(f"{o.at('account')}: expected \"A\" or \"B\", got {account!r}", location=o.at("account"))
    commitment = None
    if o.has("commitment"):
        c = _Obj(o.req("commitment"), o.at("commitment"), {"number", "date"})
        commitment = _build(c.path, Commitment, number=c.str("number"), communicated=c.date("date"))
    identity = None
    if o.has("identity_check"):
        c = _Obj(o.req("identity_check"), o.at("identity_check"),
                 {"input_type", "support_type", "read_date", "read_time", "reader", "manual_reason",
                  "vignette_reason", "serial", "justification", "device"})
        identity = _build(c.path, IdentityCheck, input_type=c.str("input_type"), support_type=c.str("support_type"),
                          reader=c.str("reader", default_provider), read_date=c.date("read_date", required=False),
                          read_time=c.str("read_time") if c.has("read_time") else None,
                          manual_reason=c.int("manual_reason", 0), vignette_reason=c.int("vignette_reason", 0),
                          serial=c.str("serial", ""), justification=c.int("justification", 0) or None,
                          device=c.int("device", 0) or None)
    code = o.str("code")
    try:  # eFact from a dentist carries article 5 (dental) codes only: refused here, not by the insurer
        NomenclatureCode.parse(code, field=o.at("code"), dental=True)
    except InvalidIdentifierError:
        if not (_is_ascii_digits(code) and len(code) == 7 and code.startswith("0")):
            raise
        NomenclatureCode.parse(code[1:], field=o.at("code"), dental=True)  # the 7-digit zone form
    units = o.int("units", 1)
    if units == 0:
        raise UsageError(f"{o.at('units')}: must not be 0 (a line bills at least one unit; "
                         "a negative number cancels)", location=o.at("units"))
    tooth = o.opt("tooth")
    if tooth is not None and (isinstance(tooth, bool) or not isinstance(tooth, int)):
        if isinstance(tooth, str) and _is_ascii_digits(tooth) and len(tooth) <= 3:
            tooth = int(tooth)
        else:
            raise InvalidIdentifierError(o.at("tooth"), str(tooth), "expected an FDI tooth number such as 36")
    return _build(o.path, ServiceLine,
                  code=code, date=o.date("date"), reimbursement=o.int("reimbursement"),
                  provider=o.str("provider", default_provider), patient_share=o.int("patient_share", 0),
                  supplement=o.int("supplement", 0), tooth=tooth, end_date=o.date("end_date", required=False),
                  units=units,
                  related_code=o.str("related_code") if o.has("related_code") else None,
                  account_b=account == "B", norm=o.int("norm", 0), time_code=o.int("time_code", 0),
                  provider_norm=o.int("provider_norm", 1), derogation=o.int("derogation", 0),
                  reference=ascii_text(o.str("reference", "")),
                  third_party_exception=o.str("third_party_exception", "0"), billing_code=o.int("billing_code", 0),
                  side=o.int("side", 0), convention=o.int("convention", 1),
                  service_time=o.str("service_time") if o.has("service_time") else None,
                  place=o.str("place") if o.has("place") else None,
                  prescriber=o.str("prescriber") if o.has("prescriber") else None,
                  prescriber_norm=o.int("prescriber_norm", 0),
                  prescription_date=o.date("prescription_date", required=False),
                  trainee=o.str("trainee") if o.has("trainee") else None,
                  commitment=commitment, identity_check=identity)


def _invoice(o: _Obj, default_provider: str, routing: Mapping[str, str] | None) -> Invoice:
    p = _Obj(o.req("patient"), o.at("patient"), {"ssin", "membership_number", "sex", "mutuality", "ct1", "ct2"})
    if p.has("ssin") == p.has("membership_number"):
        raise UsageError(f"{p.path}: give exactly one of 'ssin' or 'membership_number'", location=p.path)
    sex = p.req("sex")
    sex_code = ({"M": 1, "F": 2, 1: 1, 2: 2}.get(sex.upper() if isinstance(sex, str) else sex)
                if isinstance(sex, str | int) and not isinstance(sex, bool) else None)
    if sex_code is None:
        raise UsageError(f"{p.at('sex')}: expected \"M\" or \"F\", got {sex!r}", location=p.at("sex"))
    kind = o.str("type", "normal")
    if kind not in INVOICE_TYPES:
        raise UsageError(f"{o.at('type')}: expected one of {sorted(INVOICE_TYPES)}, got {kind!r}", location=o.at("type"))
    mutuality = p.str("mutuality")
    # UNSURE: CT1/CT2 must be codes of the HL7BE lists (an insurer might one day answer a newer code;
    # then the list in identifiers.py is extended). "999" or "000" as CT1 is a typo, not a holder code.
    CtCodes.parse(f"{p.str('ct1')}/{p.str('ct2')}", field=f"{p.path}.ct1/ct2", strict=True)
    lines_raw = o.req("lines")
    if not isinstance(lines_raw, list) or not lines_raw:
        raise UsageError(f"{o.at('lines')}: expected a non-empty list", location=o.at("lines"))
    lines = []
    for i, raw in enumerate(lines_raw):
        lines.append(_line(_Obj(raw, f"{o.at('lines')}[{i}]", _LINE_KEYS), default_provider))
    previous = None
    if o.has("previous"):
        q = _Obj(o.req("previous"), o.at("previous"), {"number", "sending_number", "mutuality", "period"})
        y, m = q.period("period")
        previous = _build(q.path, PreviousInvoice, number=q.int("number"), sending_number=q.int("sending_number"),
                          mutuality=q.str("mutuality"), year_month=f"{y:04d}{m:02d}")
    destination = o.str("destination") if o.has("destination") else destination_for(mutuality, routing)
    ssin = p.has("ssin")
    return _build(o.path, Invoice,
                  number=o.int("number"), patient_id=p.str("ssin") if ssin else p.str("membership_number"),
                  sex=sex_code, affiliation=mutuality, destination=destination, ct1=p.str("ct1"), ct2=p.str("ct2"),
                  lines=tuple(lines), id_is_ssin=ssin, reference=ascii_text(o.str("reference", "")),
                  invoicing_type=INVOICE_TYPES[kind], lifting_prescription=o.bool("lifting_prescription", False),
                  treatment_cause=o.int("treatment_cause", 0), previous=previous)


def _decode(data: str | bytes | Path | Mapping[str, Any]) -> Any:
    """The decoded JSON document; every way a file can be unreadable is a UsageError (exit 2)."""
    if isinstance(data, Path):
        try:
            if data.stat().st_size > MAX_BYTES:
                raise UsageError(f"{data}: larger than {MAX_BYTES // (1024 * 1024)} MiB", location=str(data))
            data = data.read_bytes()
        except OSError as e:
            raise UsageError(f"cannot read {data}: {e.strerror or e}", location=str(data)) from e
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise UsageError(f"the invoice file is not UTF-8 text (byte {e.start})", location=f"byte {e.start}",
                             hint="save the file as UTF-8 JSON") from e
    if isinstance(data, str):
        try:
            data = json.loads(data, parse_constant=_no_constant)
        except json.JSONDecodeError as e:
            raise UsageError(f"invalid JSON: {e.msg} at line {e.lineno} column {e.colno}",
                             location=f"line {e.lineno}") from e
        except (ValueError, RecursionError) as e:  # a 5000-digit number, 200,000-deep nesting
            raise UsageError(f"invalid JSON: {str(e)[:120]}", location="invoices") from e
    return data


def _no_constant(name: str) -> Any:
    raise UsageError(f"invalid JSON: {name} is not a number", location="invoices")


def _invoices(top: _Obj, provider: str, routing: Mapping[str, str] | None) -> list[Invoice]:
    raw = top.req("invoices")
    if not isinstance(raw, list) or not raw:
        raise UsageError("invoices: expected a non-empty list", location="invoices")
    invoices = [_invoice(_Obj(v, f"invoices[{i}]", _INVOICE_KEYS), provider, routing) for i, v in enumerate(raw)]
    seen: dict[int, int] = {}
    for i, inv in enumerate(invoices):
        if inv.number in seen:
            first = seen[inv.number]
            raise UsageError(f"invoices: invoice number {inv.number} used twice, by invoices[{first}] and "
                             f"invoices[{i}] (must be unique, insurer error 202420)",
                             location=f"invoices[{first}].number")
        seen[inv.number] = i
    return invoices


def load_invoices(data: str | bytes | Path | Mapping[str, Any], *, default_provider: str,
                  routing: Mapping[str, str] | None = None) -> list[Invoice]:
    """The invoices of the JSON format for the outbox: the ``sending`` block is optional (numbering,
    period and bank data are the outbox's) and invoices may go to several unions (one sending each).
    A ``sending.third_party`` given in the file overrides ``default_provider``."""
    top = _Obj(_decode(data), "", {"sending", "invoices", "format"})
    sending = top.opt("sending")
    provider = default_provider
    if isinstance(sending, Mapping) and sending.get("third_party"):
        provider = str(sending["third_party"])
    return _invoices(top, provider, routing)


def load_sending(data: str | bytes | Path | Mapping[str, Any], *, routing: Mapping[str, str] | None = None) -> Sending:
    """Parse the JSON invoice format into a :class:`Sending` (invoices ordered by destination).

    ``data`` is a JSON text, a path to a JSON file, or the already-decoded object. All invoices must
    belong to one insurer federation (one 920000 per federation); split them beforehand otherwise.
    """
    top = _Obj(_decode(data), "", {"sending", "invoices", "format"})
    header = _header(_Obj(top.req("sending"), "sending", _SENDING_KEYS))
    invoices = _invoices(top, header.third_party, routing)
    feds = {federation_of(inv.destination) for inv in invoices}
    if len(feds) > 1:
        raise UsageError(f"invoices: destinations of several insurer federations {sorted(feds)}; "
                         "one sending per federation", location="invoices",
                         hint="split the invoices per federation (model.split_by_federation)")
    return _build("", Sending.build, header=header, invoices=invoices)


def _d(d: dt.date | None) -> str | None:
    return None if d is None else d.isoformat()


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def sending_to_json(sending: Sending) -> dict[str, Any]:
    """The JSON form of a sending (inverse of :func:`load_sending`)."""
    h = sending.header
    head = _drop_none({
        "sending_number": h.sending_number, "third_party": h.third_party,
        "invoicing_period": f"{h.invoicing_year:04d}-{h.invoicing_month:02d}", "creation_date": _d(h.creation_date),
        "reference": str(h.reference), "iban": h.iban, "bic": h.bic, "bce": h.bce, "test": h.test,
        "contact": _drop_none({"last_name": h.contact_last_name or None, "first_name": h.contact_first_name or None,
                               "phone": h.contact_phone}) or None,
        "file_reference": h.file_reference or None, "sender_reference": h.sender_reference or None,
        "account_b": _drop_none({"iban": h.iban_b or None, "bic": h.bic_b or None}) or None,
        "profession_code": h.profession_code, "format_version": h.format_version,
        "billing_content": h.billing_content, "summary_invoice_number": h.summary_invoice_number,
    })
    invoices = []
    for inv in sending.invoices:
        lines = []
        for ln in inv.lines:
            c, idc = ln.commitment, ln.identity_check
            lines.append(_drop_none({
                "code": ln.code, "date": _d(ln.date), "reimbursement": ln.reimbursement,
                "patient_share": ln.patient_share, "supplement": ln.supplement, "tooth": ln.tooth,
                "provider": ln.provider, "end_date": _d(ln.end_date), "units": ln.units,
                "related_code": ln.related_code, "account": "B" if ln.account_b else "A",
                "reference": ln.reference or None, "norm": ln.norm, "time_code": ln.time_code,
                "provider_norm": ln.provider_norm, "derogation": ln.derogation,
                "third_party_exception": ln.third_party_exception, "billing_code": ln.billing_code, "side": ln.side,
                "convention": ln.convention, "service_time": ln.service_time, "place": ln.place,
                "prescriber": ln.prescriber, "prescriber_norm": ln.prescriber_norm,
                "prescription_date": _d(ln.prescription_date), "trainee": ln.trainee,
                "commitment": None if c is None else {"number": c.number, "date": _d(c.communicated)},
                "identity_check": None if idc is None else _drop_none({
                    "input_type": idc.input_type, "support_type": idc.support_type, "read_date": _d(idc.read_date),
                    "read_time": idc.read_time, "reader": idc.reader, "manual_reason": idc.manual_reason,
                    "vignette_reason": idc.vignette_reason, "serial": idc.serial or None,
                    "justification": idc.justification, "device": idc.device}),
            }))
        prev = inv.previous
        invoices.append(_drop_none({
            "number": inv.number,
            "patient": {("ssin" if inv.id_is_ssin else "membership_number"): inv.patient_id,
                        "sex": "M" if inv.sex == 1 else "F", "mutuality": inv.affiliation, "ct1": inv.ct1,
                        "ct2": inv.ct2},
            "destination": inv.destination, "reference": inv.reference or None,
            "type": _TYPE_NAMES.get(inv.invoicing_type, "normal"),
            "previous": None if prev is None else {
                "number": prev.number, "sending_number": prev.sending_number, "mutuality": prev.mutuality,
                "period": f"{prev.year_month[:4]}-{prev.year_month[4:]}"},
            "lifting_prescription": inv.lifting_prescription, "treatment_cause": inv.treatment_cause,
            "lines": lines,
        }))
    return {"sending": head, "invoices": invoices}
