"""The JSON invoice format *is* the Python model: field names, types and defaults read from the attrs
classes of :mod:`.efact.model`, here once, for the loader (:mod:`.invoices_json`) and for the published
JSON Schema (``mycarenet-dental billing schema``). A field added to the model appears in both.

Three defaults depend on the file rather than on the model (listed in :data:`CONTEXT_DEFAULTS`): a
line's ``provider`` and an identity check's ``reader`` default to the sending's third party (the
dentist), and with a routing table given to the loader an invoice's ``destination`` follows it.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import types
import typing
from typing import Any

import attrs

from .efact import model as efact_model
from .efact.model import Commitment, IdentityCheck, Invoice, PreviousInvoice, SendingHeader, ServiceLine

SCHEMA_ID = "https://mycarenet-dental.invalid/schemas/invoices.schema.json"
#: the model classes a JSON invoice file holds, each a ``$defs`` entry of the schema
CLASSES: tuple[type, ...] = (SendingHeader, Invoice, ServiceLine, Commitment, IdentityCheck, PreviousInvoice)
#: defaults the model computes from the other fields
COMPUTED_DEFAULTS = {
    (Invoice, "destination"): "default: the routing table's destination of the mutuality (its union, e.g. 319 → 300)",
}
#: defaults that come from the file, not from the model
CONTEXT_DEFAULTS = {
    (ServiceLine, "provider"): "default: the sending's third_party (the dentist's NIHII)",
    (IdentityCheck, "reader"): "default: the sending's third_party (the dentist's NIHII)",
}


@attrs.frozen
class FieldKind:
    """How one model field is written in JSON."""

    name: str
    python: Any  # the resolved annotation, ``None`` stripped
    optional: bool  # ``None`` is allowed (``X | None``)
    required: bool  # no model default and no file default
    default: Any  # the model's default (``attrs.NOTHING`` when none or computed)
    enum_values: tuple[str, ...] = ()
    description: str = ""


def _strip_none(tp: Any) -> tuple[Any, bool]:
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return (args[0] if len(args) == 1 else tp), len(args) < len(typing.get_args(tp))
    return tp, False


@functools.cache
def fields_of(cls: type) -> tuple[FieldKind, ...]:
    """The JSON view of a model class's fields, in the model's order."""
    hints = typing.get_type_hints(cls, vars(efact_model))
    out = []
    for a in attrs.fields(cls):
        tp, optional = _strip_none(hints[a.name])
        computed = isinstance(a.default, attrs.Factory)  # type: ignore[arg-type]
        default = attrs.NOTHING if computed else a.default
        context = CONTEXT_DEFAULTS.get((cls, a.name), "")
        if computed:
            context = COMPUTED_DEFAULTS[(cls, a.name)]
        values: tuple[str, ...] = ()
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            values = tuple(a.metadata.get("enum", [m.value for m in tp]))
        out.append(FieldKind(name=a.name, python=tp, optional=optional, default=default, enum_values=values,
                             required=a.default is attrs.NOTHING and not context, description=context))
    return tuple(out)


def item_class(tp: Any) -> type | None:
    """``X`` for ``tuple[X, ...]``."""
    if typing.get_origin(tp) is tuple:
        return typing.get_args(tp)[0]  # type: ignore[no-any-return]
    return None


def _json_type(kind: FieldKind) -> dict[str, Any]:
    tp = kind.python
    inner = item_class(tp)
    if inner is not None:
        out: dict[str, Any] = {"type": "array", "minItems": 1, "items": {"$ref": f"#/$defs/{inner.__name__}"}}
    elif attrs.has(tp):
        out = {"$ref": f"#/$defs/{tp.__name__}"}
    elif kind.enum_values:
        out = {"enum": list(kind.enum_values)}
    elif tp is bool:
        out = {"type": "boolean"}
    elif tp is int:
        out = {"type": "integer"}
    elif tp is dt.date:
        out = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
    elif tp is str:
        out = {"type": "string"}
    else:  # pragma: no cover - a model field of a new kind must be taught here
        raise TypeError(f"no JSON form for {kind.name}: {tp!r}")
    if kind.optional:
        out = {"anyOf": [out, {"type": "null"}]}
    if kind.default is not attrs.NOTHING and isinstance(kind.default, (str, int, bool, type(None))):
        out["default"] = kind.default.value if isinstance(kind.default, enum.Enum) else kind.default
    if kind.description:
        out["description"] = kind.description
    return out


def object_schema(cls: type) -> dict[str, Any]:
    """The schema of one model class: its fields, their JSON types and defaults, the required ones."""
    kinds = fields_of(cls)
    return {"type": "object", "description": (cls.__doc__ or "").strip().splitlines()[0],
            "properties": {k.name: _json_type(k) for k in kinds},
            "required": [k.name for k in kinds if k.required], "additionalProperties": False}


def invoices_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of an invoice file: ``invoices`` (and ``sending`` for a whole 920000)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
        "title": "mycarenet-dental eFact invoices",
        "description": "Amounts in integer euro cents, dates YYYY-MM-DD; the names are the Python model's "
                       "(mycarenet_dental_billing.efact.model) and docs/glossary.md's.",
        "type": "object",
        "properties": {"sending": {"$ref": "#/$defs/SendingHeader"},
                       "invoices": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/Invoice"}}},
        "required": ["invoices"], "additionalProperties": False,
        "$defs": {cls.__name__: object_schema(cls) for cls in CLASSES},
    }
