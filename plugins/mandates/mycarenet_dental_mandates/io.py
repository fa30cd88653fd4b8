"""JSON and CSV forms of the register, so a register kept in eMandate can be mirrored (R22) and the
simulator's MyCareNet side can load the very same file.

JSON (``format: mycarenet-dental-mandates/1``)::

    {"format": "mycarenet-dental-mandates/1",
     "mandates": [{"id": "M-1", "mandator": {"nihii": "31234592001", "ssin": "85073003328"},
                   "mandatary": "cbe:0412345614", "service": "assurability",
                   "start": "2026-01-01", "end": null, "ended_on": null, "end_reason": null,
                   "given_by": null, "emandate_ref": "EM-123", "history": [...]}],
     "events": [{"party": "nihii:31234592001", "kind": "death", "on": "2026-05-01"}]}

CSV: one mandate per line with the columns of :data:`CSV_COLUMNS` (events cannot travel in CSV).
Payment fields are refused on import (R25): a mandate never concerns the way of paying.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
from mycarenet_dental.errors import MyCareNetDentalError, UsageError

from .model import HistoryEntry, Mandate, MandateRefusal, PartyEvent, PartyId

FORMAT = "mycarenet-dental-mandates/1"
CSV_COLUMNS = ("id", "mandator_nihii", "mandator_ssin", "mandatary", "service", "start", "end", "ended_on",
               "end_reason", "given_by", "emandate_ref")
_PAYMENT_FIELDS = ("iban", "bic", "bank_account", "account", "payment", "payment_method", "payee", "pay_to")
MAX_BYTES = 20 * 1024 * 1024


@attrs.frozen
class RegisterDocument:
    """A register as exchanged in a file: mandates (with their history when known) and R27 events."""

    mandates: tuple[Mandate, ...] = attrs.field(converter=tuple, factory=tuple)
    events: tuple[PartyEvent, ...] = attrs.field(converter=tuple, factory=tuple)
    history: Mapping[str, tuple[HistoryEntry, ...]] = attrs.field(factory=dict)


def _where(index: int, what: str = "mandates") -> str:
    return f"{what}[{index}]"


def _refuse_payment(record: Mapping[str, Any], location: str) -> None:
    bad = sorted(k for k in record if k.lower() in _PAYMENT_FIELDS)
    if bad:
        raise MandateRefusal("R25", f"{location}: a mandate never concerns the way of paying; remove "
                             f"{', '.join(bad)}")


def _mandate_from(record: Mapping[str, Any], location: str) -> Mandate:
    if not isinstance(record, Mapping):
        raise UsageError(f"{location} must be an object", location=location, code="BAD_REGISTER_FILE")
    _refuse_payment(record, location)
    mandator = record.get("mandator")
    if isinstance(mandator, Mapping):
        nihii, ssin = mandator.get("nihii"), mandator.get("ssin")
    else:
        nihii, ssin = record.get("mandator_nihii", mandator), record.get("mandator_ssin")
    mandatary = record.get("mandatary")
    if isinstance(mandatary, Mapping):
        mandatary = f"{mandatary.get('kind', '')}:{mandatary.get('id', '')}" if mandatary.get("kind") else \
            str(mandatary.get("id", ""))
    try:
        from mycarenet_dental.identifiers import Nihii, Ssin

        return Mandate(
            id=str(record.get("id") or "").strip() or _missing(location, "id"),
            mandator_nihii=Nihii.parse(str(nihii or ""), field=f"{location}.mandator").value,
            mandator_ssin=Ssin.parse(str(ssin), field=f"{location}.mandator_ssin").value if ssin else None,
            mandatary=PartyId.parse(str(mandatary or ""), field=f"{location}.mandatary"),
            service=record.get("service"), start=record.get("start"), end=record.get("end") or None,
            ended_on=record.get("ended_on") or None, end_reason=record.get("end_reason") or None,
            given_by=record.get("given_by") or None, emandate_ref=record.get("emandate_ref") or None,
            created_at=str(record.get("created_at") or ""),
        )
    except MyCareNetDentalError:
        raise
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{location}: {exc}", location=location, code="BAD_REGISTER_FILE") from None


def _missing(location: str, field: str) -> str:
    raise UsageError(f"{location}: missing {field}", location=f"{location}.{field}", code="BAD_REGISTER_FILE")


def loads_json(text: str | bytes) -> RegisterDocument:
    """Parse and validate a JSON register (every mandate, every identifier)."""
    if len(text) > MAX_BYTES:
        raise UsageError("the register file is too large", code="BAD_REGISTER_FILE")
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"the register is not valid JSON: {exc}", code="BAD_REGISTER_FILE") from None
    except (ValueError, RecursionError) as exc:  # a 5000-digit number, absurd nesting
        raise UsageError(f"the register is not valid JSON: {str(exc)[:120]}", code="BAD_REGISTER_FILE") from None
    if isinstance(data, list):
        data = {"mandates": data}
    if not isinstance(data, Mapping):
        raise UsageError("the register must be a JSON object with a 'mandates' list", code="BAD_REGISTER_FILE")
    fmt = data.get("format", FORMAT)
    if fmt != FORMAT:
        raise UsageError(f"unknown register format {fmt!r}; expected {FORMAT!r}", code="BAD_REGISTER_FILE")
    records = data.get("mandates", [])
    if not isinstance(records, list):
        raise UsageError("'mandates' must be a list", code="BAD_REGISTER_FILE")
    mandates = tuple(_mandate_from(r, _where(i)) for i, r in enumerate(records))
    events = []
    for i, rec in enumerate(data.get("events", []) or []):
        loc = _where(i, "events")
        if not isinstance(rec, Mapping):
            raise UsageError(f"{loc} must be an object", code="BAD_REGISTER_FILE")
        try:
            events.append(PartyEvent(party=PartyId.parse(str(rec.get("party", "")), field=f"{loc}.party"),
                                     kind=rec.get("kind"), on=rec.get("on"), recorded_at=str(rec.get("recorded_at") or "")))
        except MyCareNetDentalError:
            raise
        except (ValueError, TypeError) as exc:
            raise UsageError(f"{loc}: {exc}", location=loc, code="BAD_REGISTER_FILE") from None
    history = {}
    for rec in records:
        if isinstance(rec, Mapping) and isinstance(rec.get("history"), list):
            history[str(rec.get("id"))] = tuple(
                HistoryEntry(mandate_id=str(rec.get("id")), at=str(h.get("at", "")), action=str(h.get("action", "")),
                             reason=h.get("reason"), rule=h.get("rule"), detail=str(h.get("detail", "")))
                for h in rec["history"] if isinstance(h, Mapping))
    return RegisterDocument(mandates, events, history)


def mandate_record(mandate: Mandate, history: Sequence[HistoryEntry] | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": mandate.id,
        "mandator": {"nihii": mandate.mandator_nihii, "ssin": mandate.mandator_ssin},
        "mandatary": str(mandate.mandatary),
        "service": mandate.service.value,
        "start": mandate.start.isoformat(),
        "end": mandate.end.isoformat() if mandate.end else None,
        "ended_on": mandate.ended_on.isoformat() if mandate.ended_on else None,
        "end_reason": mandate.end_reason.value if mandate.end_reason else None,
        "given_by": mandate.given_by,
        "emandate_ref": mandate.emandate_ref,
        "created_at": mandate.created_at,
    }
    if history is not None:
        record["history"] = [{"at": h.at, "action": h.action, "reason": h.reason, "rule": h.rule,
                              "detail": h.detail} for h in history]
    return record


def dumps_json(document: RegisterDocument) -> str:
    return json.dumps({
        "format": FORMAT,
        "mandates": [mandate_record(m, document.history.get(m.id)) for m in document.mandates],
        "events": [{"party": str(e.party), "kind": e.kind.value, "on": e.on.isoformat(),
                    "recorded_at": e.recorded_at} for e in document.events],
    }, indent=2, ensure_ascii=False) + "\n"


def loads_csv(text: str) -> RegisterDocument:
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None:
        return RegisterDocument()
    missing = {"mandator_nihii", "mandatary", "service", "start"} - set(reader.fieldnames)
    if missing:
        raise UsageError(f"the CSV register lacks the columns {', '.join(sorted(missing))}",
                         code="BAD_REGISTER_FILE", hint="columns: " + ",".join(CSV_COLUMNS))
    return RegisterDocument(tuple(_mandate_from({k: (v or None) for k, v in row.items() if k}, f"line {i + 2}")
                                  for i, row in enumerate(reader)))


def dumps_csv(mandates: Iterable[Mandate]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for m in mandates:
        writer.writerow([m.id, m.mandator_nihii, m.mandator_ssin or "", str(m.mandatary), m.service.value,
                         m.start.isoformat(), m.end.isoformat() if m.end else "",
                         m.ended_on.isoformat() if m.ended_on else "", m.end_reason.value if m.end_reason else "",
                         m.given_by or "", m.emandate_ref or ""])
    return out.getvalue()


def guess_format(path: Path, fmt: str | None) -> str:
    if fmt:
        return fmt
    return "csv" if path.suffix.lower() == ".csv" else "json"


def read_file(path: Path, fmt: str | None = None) -> RegisterDocument:
    try:
        if path.stat().st_size > MAX_BYTES:
            raise UsageError(f"{path} is too large for a mandate register", code="BAD_REGISTER_FILE")
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}", location=str(path)) from None
    except UnicodeDecodeError as exc:  # e.g. a keystore given by mistake
        raise UsageError(f"{path} is not a text register (not UTF-8 at byte {exc.start})", location=str(path),
                         code="BAD_REGISTER_FILE", hint="give the JSON or CSV register file") from None
    return loads_csv(text) if guess_format(path, fmt) == "csv" else loads_json(text)


def export_document(register: Any) -> RegisterDocument:
    """Everything a register holds (mandates with their history, and the R27 events)."""
    mandates = register.mandates()
    return RegisterDocument(mandates, register.events(), {m.id: tuple(register.history(m.id)) for m in mandates})


def write_file(register: Any, path: Path, fmt: str | None = None) -> int:
    document = export_document(register)
    text = dumps_csv(document.mandates) if guess_format(path, fmt) == "csv" else dumps_json(document)
    try:
        from mycarenet_dental.storage import private_write_text

        private_write_text(path, text)  # identities of dentists and mandataries: 0600 like the database
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}", location=str(path)) from None
    return len(document.mandates)
