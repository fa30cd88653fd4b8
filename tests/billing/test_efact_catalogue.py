"""The error catalogue is data with FR/NL/EN texts for every code the validator can emit."""

from __future__ import annotations

import re
from pathlib import Path

from mycarenet_dental_billing.efact.catalogue import codes, describe, routing_table, severity_text
from mycarenet_dental_billing.efact.model import destination_for

SOURCES = Path(__file__).resolve().parents[2] / "plugins" / "billing" / "mycarenet_dental_billing" / "efact"


def test_every_entry_has_three_languages() -> None:
    table = codes()
    assert len(table) > 90
    for code, entry in table.items():
        assert re.fullmatch(r"[0-9]{4}[0-9A-Z]{2}", code), code
        assert entry["letter"] in "BFRES" and entry["en"] and entry["fr"] and entry["nl"], code


def test_known_generic_and_segment_codes() -> None:
    e = describe("502940")
    assert e.known and e.letter == "R" and "dent" in e.messages.fr.lower() and "tand" in e.messages.nl.lower()
    g = describe("503901")  # not listed: described from its generic ending
    assert not g.known and "record 50 zone 39" in g.messages.en and g.blocking
    s = describe("3011/40")
    assert s.known and "double" in s.messages.fr.lower()
    assert "zone 301" in describe("3011/11").messages.en
    assert severity_text("B").fr.startswith("bloquant")


def test_validator_codes_are_explained() -> None:
    """Every literal code in the validator is either in the catalogue or covered by a generic ending."""
    source = (SOURCES / "validator.py").read_text("utf-8")
    found = set(re.findall(r'"([0-9]{6})"', source))
    for code in found - {"000010", "920000", "000000", "00000000"}:
        e = describe(code)
        assert e.messages.fr and e.messages.nl, code


def test_routing_table_is_data() -> None:
    table = routing_table()
    assert table["3xx"] == "300" and destination_for("319") == "300" and destination_for("306") == "306"
    assert destination_for("116") == "116" and destination_for("116", {"1xx": "100"}) == "100"
