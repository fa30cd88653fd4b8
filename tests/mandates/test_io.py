"""JSON and CSV import/export: a register mirrored from eMandate replays through the lifecycle rules."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from mycarenet_dental.errors import InvalidIdentifierError, UsageError
from mycarenet_dental_mandates import (
    EndReason,
    MandateRefusal,
    MandateRegister,
    dumps_csv,
    loads_csv,
    loads_json,
    read_file,
    write_file,
)

from .conftest import DENTIST_NIHII, DENTIST_SSIN, OFFICE_CBE, OTHER_CBE, Clock


def _fill(register: MandateRegister) -> None:
    register.add(mandator_nihii=DENTIST_NIHII, mandator_ssin=DENTIST_SSIN, mandatary=OFFICE_CBE,
                 service="assurability", start="2026-01-01", emandate_ref="EM-1")
    register.add(mandator_nihii=DENTIST_NIHII, mandatary=OTHER_CBE, service="assurability", start="2026-02-01")
    register.add(mandator_nihii=DENTIST_NIHII, mandatary=OFFICE_CBE, service="tariff", start="2026-01-01",
                 end="2026-12-31")
    register.add(mandator_nihii=DENTIST_NIHII, mandatary=OFFICE_CBE, service="billing", start="2026-01-01")
    register.record_event(OFFICE_CBE, "bankruptcy", "2026-02-20")
    register.add(mandator_nihii=DENTIST_NIHII, mandatary=OFFICE_CBE, service="billing", start="2026-03-01",
                 given_by="Me Curator")


def _snapshot(register: MandateRegister) -> list[tuple]:
    return [(m.id, m.mandatary, m.service, m.start, m.end, m.effective_end, m.end_reason, m.given_by,
             m.emandate_ref) for m in sorted(register.mandates(), key=lambda m: m.id)]


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_export_then_import_gives_the_same_register(tmp_path: Path, register: MandateRegister, clock: Clock,
                                                    suffix: str) -> None:
    _fill(register)
    path = tmp_path / f"register{suffix}"
    assert write_file(register, path) == 5
    mirror = MandateRegister.in_memory(today=clock)
    document = read_file(path)
    result = mirror.import_mandates(document.mandates, document.events)
    assert len(result.added) == 5
    assert _snapshot(mirror) == _snapshot(register)
    again = mirror.import_mandates(document.mandates, document.events)
    assert not again.added and len(again.skipped) == 5


def test_json_keeps_history_and_events(tmp_path: Path, register: MandateRegister) -> None:
    _fill(register)
    path = tmp_path / "r.json"
    write_file(register, path)
    data = json.loads(path.read_text())
    assert data["format"] == "mycarenet-dental-mandates/1"
    assert data["events"][0]["kind"] == "bankruptcy"
    first = data["mandates"][0]
    assert [h["action"] for h in first["history"]] == ["created", "closed"]
    doc = loads_json(path.read_text())
    assert doc.history[first["id"]][1].rule == "R26"
    mirror = MandateRegister.in_memory(today=register.today)
    mirror.import_mandates(doc.mandates, doc.events, doc.history)
    actions = [h.action for h in mirror.history(first["id"])]
    assert actions[:2] == ["imported:created", "imported:closed"] and "created" in actions[2:]


def test_import_replays_r26_in_start_order(register: MandateRegister) -> None:
    text = json.dumps({"mandates": [
        {"id": "B", "mandator": {"nihii": DENTIST_NIHII}, "mandatary": f"cbe:{OTHER_CBE}", "service": "tariff",
         "start": "2026-02-01"},
        {"id": "A", "mandator": {"nihii": DENTIST_NIHII}, "mandatary": OFFICE_CBE, "service": "tariff",
         "start": "2026-01-01"},
    ]})
    doc = loads_json(text)
    register.import_mandates(doc.mandates)
    a = register.get("A")
    assert a.end_reason is EndReason.SUPERSEDED and a.effective_end == dt.date(2026, 2, 1)
    assert register.get("B").end_reason is None


@pytest.mark.parametrize(("record", "error", "rule"), [
    ({"service": "tariff", "iban": "BE71096123456769"}, MandateRefusal, "R25"),
    ({"service": "dmg"}, MandateRefusal, "R21"),
    ({"service": None}, MandateRefusal, "R24"),
    ({"service": "tariff", "mandatary": "0412345615"}, InvalidIdentifierError, None),
    ({"service": "tariff", "start": "01/01/2026"}, InvalidIdentifierError, None),
])
def test_bad_records_are_refused_and_nothing_is_imported(register: MandateRegister, record: dict,
                                                         error: type, rule: str | None) -> None:
    good = {"id": "G", "mandator": {"nihii": DENTIST_NIHII}, "mandatary": OFFICE_CBE, "service": "billing",
            "start": "2026-01-01"}
    bad = {"id": "X", "mandator": {"nihii": DENTIST_NIHII}, "mandatary": OFFICE_CBE, "start": "2026-01-01",
           **record}
    with pytest.raises(error) as info:
        doc = loads_json(json.dumps({"mandates": [good, bad]}))
        register.import_mandates(doc.mandates)
    if rule:
        assert info.value.rule_id == rule
    assert register.mandates() == []


def test_import_is_all_or_nothing_when_a_rule_refuses(register: MandateRegister) -> None:
    doc = loads_json(json.dumps({
        "mandates": [{"id": "A", "mandator": {"nihii": DENTIST_NIHII}, "mandatary": OFFICE_CBE,
                      "service": "tariff", "start": "2026-01-01"},
                     {"id": "B", "mandator": {"nihii": DENTIST_NIHII}, "mandatary": OFFICE_CBE,
                      "service": "billing", "start": "2026-03-01"}],
        "events": [{"party": f"cbe:{OFFICE_CBE}", "kind": "death", "on": "2026-02-01"}]}))
    with pytest.raises(MandateRefusal) as info:
        register.import_mandates(doc.mandates, doc.events)
    assert info.value.rule_id == "R27"
    assert register.mandates() == [] and register.events() == []


@pytest.mark.parametrize("text", ["not json", "[1]", '{"format": "other/9"}', '{"mandates": {}}'])
def test_malformed_files_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        loads_json(text)


def test_csv_round_trip_and_missing_columns(register: MandateRegister) -> None:
    _fill(register)
    text = dumps_csv(register.mandates())
    assert text.splitlines()[0].startswith("id,mandator_nihii")
    assert [m.id for m in loads_csv(text).mandates] == [m.id for m in register.mandates()]
    with pytest.raises(UsageError):
        loads_csv("id,service\nA,tariff\n")
