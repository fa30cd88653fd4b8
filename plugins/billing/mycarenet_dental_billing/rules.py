"""Annex 3 and 4 rules as the billing side applies them (``rules.md`` R31, R36, R37, R39).

* **R36** — every service billed in third-party payment needs a tariff consultation recorded for
  the same patient, nomenclature code and date. The tariff plugin records one exchange-log entry per
  consulted line under kind ``tariff.consultation``; billing reads them through the core
  (``ctx.log.find``), never by importing the tariff plugin. A line without one is kept out of the
  sending and reported naming R36; the rule also guards the ``post`` exchange. It only prompts the
  dentist: it never starts a consultation itself (**R37**).
* **R39** — an invoice counts as received only once the insurer's 931000 came back (enforced by the
  outbox's state machine; listed here so ``mycarenet-dental rules`` shows it).
* **R31** — :func:`unattested` lists insurability and tariff consultations not followed by an
  invoice line for that patient, so the dentist can check them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
from mycarenet_dental.registrations import RuleCheck, RuleSpec
from mycarenet_dental.timeutil import iso_date, optional_xs_date

if TYPE_CHECKING:  # pragma: no cover
    from mycarenet_dental.context import Context
    from mycarenet_dental.exchange import Exchange

    from .efact.model import ServiceLine

SERVICE = "billing"
#: The services whose recorded consultations billing reads; the kinds are the ones their plugins declare
#: (``Context.result_kinds_of``), never a spelling guessed here.
TARIFF_SERVICE = "tariff"
INSURABILITY_SERVICE = "assurability"


@attrs.frozen
class ConsultedLine:
    """One service line of a recorded tariff consultation."""

    patient: str
    code: str  # 6 digits
    date: dt.date
    tooth: int | None
    status: str
    commitment: str | None
    consulted_at: str
    related: str | None = None  # the related service (CD-NIHDI-RELATEDSERVICE) the consultation priced


def _code6(code: object) -> str:
    text = str(code or "").strip()
    return text[-6:] if len(text) == 7 and text.startswith("0") else text


def _related(value: object) -> str | None:
    """The consultation's related service as the invoice line takes it (6 or 7 digits), else None."""
    text = str(value or "").strip()
    return text if len(text) in (6, 7) and text.isdigit() and text.isascii() and text.strip("0") else None


def _date(value: object) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    return optional_xs_date(str(value))


def _lines_of(data: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Both shapes: one entry per line (tariff plugin) or ``lines: [...]`` inside one entry."""
    nested = data.get("lines")
    if isinstance(nested, list):
        for item in nested:
            if isinstance(item, Mapping):
                yield {**data, **item}
    else:
        yield data


def consulted_lines(ctx: Context, patient: str) -> list[ConsultedLine]:
    """Every tariff-consulted line recorded for ``patient`` in the exchange log."""
    out = []
    entries = [e for kind in ctx.result_kinds_of(TARIFF_SERVICE) for e in ctx.log.find(kind=kind, patient=patient)]
    for entry in entries:
        if entry.status == "failed":
            continue
        for line in _lines_of(entry.data):
            day = _date(line.get("service_date") or line.get("date"))
            code = _code6(line.get("code"))
            if day is None or not code:
                continue
            tooth = line.get("tooth")
            out.append(ConsultedLine(patient=patient, code=code, date=day,
                                     tooth=int(tooth) if isinstance(tooth, int) else None,
                                     status=str(line.get("status") or ""), commitment=line.get("commitment"),
                                     consulted_at=entry.recorded_at, related=_related(line.get("related"))))
    return out


def consultation_for(consulted: Sequence[ConsultedLine], line: ServiceLine) -> ConsultedLine | None:
    """The consultation covering ``line`` (same code and date).

    UNSURE: the tooth is not compared (R36 speaks of the service, not the tooth), and a line the
    insurer refused to price still counts as consulted — its billing would be refused by the insurer.
    """
    code = _code6(line.code)
    for item in consulted:
        if item.code == code and item.date == line.date:
            return item
    return None


def _r36_check(exchange: Exchange, context: Context) -> RuleCheck | None:
    """Guard of the ``post`` exchange: every line of the sending has its tariff consultation."""
    if exchange.operation != "post":
        return None
    sid = exchange.details.get("sending_id")
    if not sid:
        return None
    rows = context.storage.query("SELECT patient, code, date FROM billing_line WHERE sending_id = ?", (sid,))
    cache: dict[str, set[tuple[str, dt.date]]] = {}
    missing = []
    for row in rows:
        have = cache.get(row["patient"])
        if have is None:
            have = cache[row["patient"]] = {(c.code, c.date) for c in consulted_lines(context, row["patient"])}
        if (row["code"], iso_date(row["date"])) not in have:
            missing.append(row)
    if missing:
        first = missing[0]
        return RuleCheck(
            f"{len(missing)} line(s) billed in third-party payment without a tariff consultation, first: patient "
            f"{first['patient']}, code {first['code']} on {first['date']}",
            hint="the dentist consults the tariff for these services (explicit request, R37), then builds again")
    return None


R36 = RuleSpec(id="R36", article="Annex 3", title="tariff consultation for every service billed in third-party payment",
               check=_r36_check, services=frozenset({SERVICE}))
R39 = RuleSpec(id="R39", article="Annex 4", title="an invoice counts as received only once the insurer's "
               "acknowledgement (931000) came back", services=frozenset({SERVICE}))
R31 = RuleSpec(id="R31", article="Annexes 2, 3", title="consulted patients are then actually attested "
               "(report: billing unattested)", services=frozenset({SERVICE}))


def billing_rules() -> list[RuleSpec]:
    return [R36, R39, R31]


# --- R31 -----------------------------------------------------------------------------------------


@attrs.frozen
class UnattestedConsultation:
    """A consultation with no invoice line for that patient on or after its date."""

    kind: str  # the kind the tariff or the insurability plugin declares
    patient: str
    date: dt.date
    recorded_at: str
    exchange_id: str
    codes: tuple[str, ...]


def unattested(ctx: Context, *, days: int = 90) -> list[UnattestedConsultation]:
    """R31: insurability and tariff consultations of the last ``days`` days not followed by an invoice
    line for that patient (in a sending that was not refused)."""
    since = ctx.now() - dt.timedelta(days=days)
    grouped: dict[tuple[str, str], dict[str, Any]] = {}
    tariff_kinds = ctx.result_kinds_of(TARIFF_SERVICE)
    for kind in (*tariff_kinds, *ctx.result_kinds_of(INSURABILITY_SERVICE)):
        for entry in ctx.log.find(kind=kind, since=since):
            if entry.status == "failed" or not entry.patient:
                continue
            day = _date(entry.data.get("service_date") or entry.data.get("date")) or _date(entry.recorded_at)
            if day is None:
                continue
            item = grouped.setdefault((entry.exchange_id, entry.patient), {
                "kind": kind, "patient": entry.patient,
                "date": day, "recorded_at": entry.recorded_at, "codes": []})
            if kind in tariff_kinds:
                for line in _lines_of(entry.data):
                    code = _code6(line.get("code"))
                    if code and code not in item["codes"]:
                        item["codes"].append(code)
    out = []
    for (exchange_id, patient), item in grouped.items():
        row = ctx.storage.query_one(
            "SELECT 1 FROM billing_line l JOIN billing_sending s ON s.id = l.sending_id "
            "WHERE l.patient = ? AND l.date >= ? AND s.state NOT IN ('refused', 'invalid') LIMIT 1",
            (patient, item["date"].isoformat()))
        if row is None:
            out.append(UnattestedConsultation(kind=item["kind"], patient=patient, date=item["date"],
                                              recorded_at=item["recorded_at"], exchange_id=exchange_id,
                                              codes=tuple(item["codes"])))
    return sorted(out, key=lambda u: (u.date, u.patient))
