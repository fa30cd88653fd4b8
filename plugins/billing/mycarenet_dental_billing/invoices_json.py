"""JSON invoice input: the Python model of an eFact sending, written as JSON → :class:`~.efact.model.Sending`.

The JSON *is* the model: the same field names, the same defaults (:mod:`.invoices_schema` reads both
from the attrs classes and publishes the JSON Schema: ``mycarenet-dental billing schema``); amounts in
integer euro **cents**, dates ``YYYY-MM-DD``, the sex ``"male"``/``"female"`` (:class:`~mycarenet_dental.coded.Sex`;
the file's ``1``/``2`` is written by the eFact writer only). Unknown keys are refused so that a typo
never silently drops data. Every error names the offending field with its path
(``invoices[0].lines[2].tooth``) and is a :class:`~mycarenet_dental.errors.UsageError` (an identifier:
:class:`InvalidIdentifierError`), i.e. exit code 2: nothing was sent. Example (``billing build`` needs
``invoices`` only; ``sending`` is the header of a whole 920000 for :func:`load_sending`)::

    {
      "sending": {"sending_number": 12, "third_party": "30012345001", "invoicing_year": 2026,
                  "invoicing_month": 10, "creation_date": "2026-11-02", "reference": 20261130000012,
                  "iban": "BE68 5390 0754 7034", "bic": "GEBABEBB", "bce": "0123456749"},
      "invoices": [{
        "number": 260000000001,                  # 12 digits max, unique
        "patient_id": "85073003328",             # the SSIN (or, with "id_is_ssin": false, the registration number)
        "sex": "male", "mutuality": "319", "ct1": "110", "ct2": "110",
        "destination": "300",                    # optional: default from the routing table (mutuality → union)
        "lines": [{"code": "301011", "date": "2026-10-03", "reimbursement": 2500, "patient_share": 500,
                   "tooth": 36,
                   "commitment": {"number": "C-42", "communicated": "2026-10-03"}}]   # optional: record 51
      }]
    }

(The ``#`` comments are documentation only.) Every other field of the model may be given under its
model name (see the schema). :func:`sending_to_json` is the exact inverse: ``load_sending(sending_to_json(s)) == s``.
"""

from __future__ import annotations

import datetime as dt
import enum
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
    IdentityCheck,
    Invoice,
    Sending,
    SendingHeader,
    ServiceLine,
    destination_for,
    federation_of,
)
from .invoices_schema import FieldKind, fields_of, item_class

T = TypeVar("T")
MAX_BYTES = 256 * 1024 * 1024
#: free texts written to the ASCII-only file: diacritics are folded (``Hélène`` → ``Helene``)
_ASCII_FIELDS = frozenset({"contact_last_name", "contact_first_name", "file_reference", "sender_reference",
                           "reference", "serial"})
#: bank and company numbers as people type them
_COMPACT_FIELDS = {"iban": str.upper, "iban_b": str.upper, "bic": str.upper, "bic_b": str.upper, "bce": str}


def ascii_text(text: str) -> str:
    """Strip diacritics (the file is ASCII-only): ``Hélène`` → ``Helene``."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _fail(path: str, reason: str) -> UsageError:
    return UsageError(f"{path}: {reason}", location=path)


def _scalar(value: object, kind: FieldKind, path: str) -> Any:
    """One JSON value of a plain field, as the model stores it (strict JSON types: the schema's)."""
    tp = kind.python
    if kind.enum_values:
        if not isinstance(value, str) or value not in kind.enum_values:
            raise _fail(path, f"expected one of {', '.join(kind.enum_values)}, got {value!r}")
        return tp(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise _fail(path, f"expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(path, f"expected an integer (cents for amounts), got {value!r}")
        return value
    if tp is dt.date:
        try:
            if isinstance(value, str) and len(value) == 10:
                return iso_date(value)
        except ValueError:
            pass
        raise _fail(path, f"expected a date YYYY-MM-DD, got {value!r}")
    if not isinstance(value, str):
        raise _fail(path, f"expected a string, got {value!r}")
    if kind.name in _COMPACT_FIELDS:
        return _COMPACT_FIELDS[kind.name](value.replace(" ", "").replace(".", ""))
    return ascii_text(value) if kind.name in _ASCII_FIELDS else value


def _object(value: object, cls: type[T], path: str, defaults: Mapping[str, Any]) -> T:
    """A model object from its JSON object: unknown keys refused, file defaults applied, model checks run."""
    if not isinstance(value, Mapping):
        raise _fail(path or "document", f"expected an object, got {type(value).__name__}")
    kinds = fields_of(cls)
    allowed = {k.name for k in kinds}
    unknown = set(value) - allowed
    if unknown:
        first = sorted(unknown)[0]
        raise UsageError(f"{path}: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}",
                         location=f"{path}.{first}" if path else first)
    values: dict[str, Any] = {}
    for kind in kinds:
        at = f"{path}.{kind.name}" if path else kind.name
        raw = value.get(kind.name)
        if raw is None:
            if kind.name in defaults:
                values[kind.name] = defaults[kind.name]
            elif kind.required or (kind.name in value and not kind.optional):
                raise _fail(at, "missing")
            continue
        values[kind.name] = _value(raw, kind, at, defaults)
    return _build(path, cls, **values)


def _value(raw: object, kind: FieldKind, path: str, defaults: Mapping[str, Any]) -> Any:
    inner = item_class(kind.python)
    if inner is not None:
        if not isinstance(raw, list) or not raw:
            raise _fail(path, "expected a non-empty list")
        return tuple(_object(item, inner, f"{path}[{i}]", _defaults_for(inner, defaults))
                     for i, item in enumerate(raw))
    if attrs.has(kind.python):
        return _object(raw, kind.python, path, _defaults_for(kind.python, defaults))
    return _scalar(raw, kind, path)


def _defaults_for(cls: type, context: Mapping[str, Any]) -> Mapping[str, Any]:
    """The file's defaults that apply to ``cls`` (the dentist as a line's provider and as the reader)."""
    if cls is ServiceLine:
        return {"provider": context["provider"]}
    if cls is IdentityCheck:
        return {"reader": context["provider"]}
    return {}


def _build(path: str, factory: Callable[..., T], **kwargs: Any) -> T:
    """Call a model constructor; re-raise its errors with the JSON path of the field."""
    try:
        return factory(**kwargs)
    except InvalidIdentifierError as e:
        field = f"{path}.{e.field}" if path and not e.field.startswith(path) else e.field
        raise InvalidIdentifierError(field, e.value, e.reason, hint=e.hint) from e
    except UsageError as e:
        attr = e.location or ""
        loc = f"{path}.{attr}" if path and attr else (attr or path)
        reason = e.message[len(attr) + 2:] if attr and e.message.startswith(f"{attr}: ") else e.message
        raise UsageError(f"{loc}: {reason}" if loc else reason, code=e.code, location=loc or None,
                         hint=e.hint) from e
    except (ValueError, TypeError) as e:  # an attrs validator: (message, attribute, allowed, value)
        attribute = e.args[1] if len(e.args) == 4 and isinstance(e.args[1], attrs.Attribute) else None
        if attribute is None:
            raise
        loc = f"{path}.{attribute.name}" if path else attribute.name
        allowed = e.args[2]
        choice = f"one of {', '.join(sorted(map(str, allowed)))}" if isinstance(allowed, (set, frozenset)) else "valid"
        raise UsageError(f"{loc}: {e.args[3]!r} is not {choice}", location=loc) from None


def _check_line(raw: Mapping[str, Any], path: str) -> None:
    """What the model cannot tell: a dentist bills article 5 (dental) codes only; a line bills a unit."""
    code = raw.get("code")
    if isinstance(code, str):
        try:  # refused here, not by the insurer
            NomenclatureCode.parse(code, field=f"{path}.code", dental=True)
        except InvalidIdentifierError:
            if not (code.isascii() and code.isdigit() and len(code) == 7 and code.startswith("0")):
                raise
            NomenclatureCode.parse(code[1:], field=f"{path}.code", dental=True)  # the 7-digit zone form
    if raw.get("units") == 0:
        raise _fail(f"{path}.units", "must not be 0 (a line bills at least one unit; a negative number cancels)")


def _check_invoice(raw: Mapping[str, Any], path: str) -> None:
    # UNSURE: CT1/CT2 must be codes of the HL7BE lists (an insurer might one day answer a newer code;
    # then the list in identifiers.py is extended). "999" or "000" as CT1 is a typo, not a holder code.
    ct1, ct2 = raw.get("ct1"), raw.get("ct2")
    if isinstance(ct1, str) and isinstance(ct2, str):
        CtCodes.parse(f"{ct1}/{ct2}", field=f"{path}.ct1/ct2", strict=True)
    lines = raw.get("lines")
    for i, line in enumerate(lines if isinstance(lines, list) else ()):
        if isinstance(line, Mapping):
            _check_line(line, f"{path}.lines[{i}]")


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


def _top(data: str | bytes | Path | Mapping[str, Any]) -> Mapping[str, Any]:
    top = _decode(data)
    if not isinstance(top, Mapping):
        raise UsageError(f"expected an object with \"invoices\", got {type(top).__name__}", location="invoices")
    unknown = set(top) - {"sending", "invoices"}
    if unknown:
        raise UsageError(f"unknown key(s) {sorted(unknown)}; allowed: ['invoices', 'sending']",
                         location=sorted(unknown)[0])
    return top


def _invoices(top: Mapping[str, Any], provider: str, routing: Mapping[str, str] | None) -> list[Invoice]:
    raw = top.get("invoices")
    if not isinstance(raw, list) or not raw:
        raise UsageError("invoices: expected a non-empty list", location="invoices")
    invoices = []
    for i, item in enumerate(raw):
        path = f"invoices[{i}]"
        defaults: dict[str, Any] = {"provider": provider}
        if isinstance(item, Mapping):
            _check_invoice(item, path)
            if routing is not None and isinstance(item.get("mutuality"), str):
                defaults["destination"] = destination_for(item["mutuality"], routing)
        invoices.append(_object(item, Invoice, path, defaults))
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
    top = _top(data)
    sending = top.get("sending")
    provider = default_provider
    if isinstance(sending, Mapping) and isinstance(sending.get("third_party"), str) and sending["third_party"]:
        provider = sending["third_party"]
    return _invoices(top, provider, routing)


def load_sending(data: str | bytes | Path | Mapping[str, Any], *, routing: Mapping[str, str] | None = None) -> Sending:
    """Parse the JSON invoice format into a :class:`Sending` (invoices ordered by destination).

    ``data`` is a JSON text, a path to a JSON file, or the already-decoded object. All invoices must
    belong to one insurer federation (one 920000 per federation); split them beforehand otherwise.
    """
    top = _top(data)
    if top.get("sending") is None:
        raise _fail("sending", "missing")
    header = _object(top["sending"], SendingHeader, "sending", {})
    invoices = _invoices(top, header.third_party, routing)
    feds = {federation_of(inv.destination) for inv in invoices}
    if len(feds) > 1:
        raise UsageError(f"invoices: destinations of several insurer federations {sorted(feds)}; "
                         "one sending per federation", location="invoices",
                         hint="split the invoices per federation (model.split_by_federation)")
    return _build("", Sending.build, header=header, invoices=invoices)


def _to_json(value: Any) -> Any:
    if attrs.has(type(value)):
        return {k.name: _to_json(getattr(value, k.name)) for k in fields_of(type(value))
                if getattr(value, k.name) is not None}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_to_json(v) for v in value]
    return value


def sending_to_json(sending: Sending) -> dict[str, Any]:
    """The JSON form of a sending (inverse of :func:`load_sending`): the model's fields by name."""
    return {"sending": _to_json(sending.header), "invoices": [_to_json(inv) for inv in sending.invoices]}
