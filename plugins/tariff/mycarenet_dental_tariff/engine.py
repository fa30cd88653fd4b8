"""The simulated insurer's tariff engine, driven by a data table of dental codes (SIMULATOR DATA).

Per claimed service: the age window of the code at the service date (youth 37xxxx until the 18th
birthday, adult 30/31xxxx from it), the tooth rule (required / forbidden / optional), frequency limits
(per patient or per tooth, over a window of months, counting earlier services and earlier lines of
the same request), combinations not allowed on one day (same tooth when both carry one), then the
amounts: fee, reimbursement for a regular or a BIM patient, patient share, optional supplement.
Refusal reasons are the dental ones of the FHIR eTariff model (001–010, ``tariff.md`` §5).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

import attrs
from mycarenet_dental.timeutil import iso_date

REFUSE_MAX = "002"
REFUSE_PREREQUISITE = "008"  # UNSURE: used for "tooth required / forbidden" (no dedicated FHIR reason)
REFUSE_DATE = "009"  # age of the patient at the service date outside the code's range
REFUSE_COMBINATION = "010"


@attrs.frozen
class Frequency:
    scope: str  # "patient" | "tooth"
    max: int
    months: int  # 0 = lifetime
    reason: str = REFUSE_MAX


@attrs.frozen
class CodeRule:
    """One row of the code table (amounts in cents)."""

    code: str
    label: str
    fee: int
    reimbursement_regular: int
    reimbursement_bim: int
    age_min: int = 0
    age_max: int = 200  # exclusive: the code applies until this birthday
    tooth: str = attrs.field(default="optional", validator=attrs.validators.in_(("required", "forbidden", "optional")))
    provider: str = "dentist"
    etarif: bool = True
    medical_house_excluded: bool = False
    supplement: int | None = None
    frequency: Frequency | None = None
    not_with: tuple[str, ...] = ()


class CodeTable:
    """The code table, loaded once from ``data/dental_codes.json`` (or given for tests)."""

    def __init__(self, rules: Iterable[CodeRule], currency: str = "eur") -> None:
        self.rules = {r.code: r for r in rules}
        self.currency = currency

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> CodeTable:
        rules = []
        for code, row in data["codes"].items():
            freq = row.get("frequency")
            rules.append(CodeRule(
                code=code, label=row["label"], fee=int(row["fee"]),
                reimbursement_regular=int(row["reimbursement"]["regular"]),
                reimbursement_bim=int(row["reimbursement"]["bim"]), age_min=int(row.get("age_min", 0)),
                age_max=int(row.get("age_max", 200)), tooth=row.get("tooth", "optional"),
                provider=row.get("provider", "dentist"), etarif=bool(row.get("etarif", True)),
                medical_house_excluded=bool(row.get("medical_house_excluded", False)),
                supplement=row.get("supplement"),
                frequency=Frequency(freq["scope"], int(freq["max"]), int(freq["months"]),
                                    freq.get("reason", REFUSE_MAX)) if freq else None,
                not_with=tuple(row.get("not_with", ()))))
        return cls(rules, data.get("currency", "eur"))

    def get(self, code: str) -> CodeRule | None:
        return self.rules.get(code)


@lru_cache(maxsize=1)
def default_table() -> CodeTable:
    text = resources.files("mycarenet_dental_tariff").joinpath("data/dental_codes.json").read_text("utf-8")
    return CodeTable.from_mapping(json.loads(text))


@attrs.frozen
class PastService:
    """A service the insurer already knows for this patient (from the population facts)."""

    code: str
    date: dt.date
    tooth: int | None = None


@attrs.frozen
class Claim:
    code: str
    tooth: int | None = None
    related: str | None = None
    position: int = 0  # item position in the request (for error XPaths)


@attrs.frozen
class Priced:
    claim: Claim
    fee: int
    reimbursement: int
    patient_share: int
    supplement: int | None = None


@attrs.frozen
class Refused:
    claim: Claim
    reason: str
    because_of_code: str | None = None
    because_of_date: dt.date | None = None


def _months_back(day: dt.date, months: int) -> dt.date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    for dd in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month + 1, dd)
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def _frequency(rule: CodeRule, claim: Claim, day: dt.date, done: Sequence[PastService]) -> Refused | None:
    freq = rule.frequency
    if freq is None:
        return None
    since = _months_back(day, freq.months) if freq.months else dt.date.min
    same = [p for p in done if p.code == rule.code and since < p.date <= day
            and (freq.scope != "tooth" or p.tooth == claim.tooth)]
    if len(same) >= freq.max:
        last = max(same, key=lambda p: p.date)
        return Refused(claim, freq.reason, last.code, last.date)
    return None


def _combination(rule: CodeRule, claim: Claim, day: dt.date, done: Sequence[PastService]) -> Refused | None:
    for past in done:
        if past.date != day or past.code not in rule.not_with:
            continue
        if claim.tooth is not None and past.tooth is not None and claim.tooth != past.tooth:
            continue
        return Refused(claim, REFUSE_COMBINATION, past.code, past.date)
    return None


def price(table: CodeTable, claims: Sequence[Claim], *, age: int, bim: bool, service_date: dt.date,
          history: Sequence[PastService] = ()) -> list[Priced | Refused]:
    """Price each claim (codes must exist in ``table``: unknown codes are refused earlier, code 130)."""
    done = list(history)
    outcomes: list[Priced | Refused] = []
    for claim in claims:
        rule = table.get(claim.code)
        if rule is None:
            raise KeyError(claim.code)
        outcome: Priced | Refused | None = None
        if not rule.age_min <= age < rule.age_max:
            outcome = Refused(claim, REFUSE_DATE)
        elif rule.tooth == "required" and claim.tooth is None:
            outcome = Refused(claim, REFUSE_PREREQUISITE)
        elif rule.tooth == "forbidden" and claim.tooth is not None:
            outcome = Refused(claim, REFUSE_PREREQUISITE)
        else:
            outcome = _frequency(rule, claim, service_date, done) or _combination(rule, claim, service_date, done)
        if outcome is None:
            reimbursement = rule.reimbursement_bim if bim else rule.reimbursement_regular
            outcome = Priced(claim, fee=rule.fee, reimbursement=reimbursement,
                             patient_share=rule.fee - reimbursement, supplement=rule.supplement)
            done.append(PastService(claim.code, service_date, claim.tooth))
        outcomes.append(outcome)
    return outcomes


def history_from_facts(facts: Mapping[str, Any], today: dt.date) -> list[PastService]:
    """``tariff.history`` facts: ``[{"code": "302153", "tooth": 36, "days_ago": 40}, ...]``."""
    out = []
    for row in facts.get("tariff.history", ()):
        day = today - dt.timedelta(days=int(row.get("days_ago", 0))) if "days_ago" in row \
            else iso_date(row["date"])
        out.append(PastService(str(row["code"]), day, row.get("tooth")))
    return out
