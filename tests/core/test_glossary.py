"""One name per field: every key the consultations print with ``--json`` and every field of the eFact
invoice model (the JSON invoice file) is named in ``docs/glossary.md``; the old double meanings are gone."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner
from mycarenet_dental.cli.main import build_cli
from mycarenet_dental.sim.population import base_population

GLOSSARY = Path(__file__).resolve().parents[2] / "docs" / "glossary.md"
#: keys that are message references named after their wire element (listed under `references`)
WIRE_REFERENCE_KEYS = re.compile(r"^[a-z]+:[A-Za-z]+$")


def glossary_names() -> set[str]:
    return set(re.findall(r"`([a-z_0-9]+)`", GLOSSARY.read_text(encoding="utf-8")))


def _keys(value: Any, found: set[str]) -> set[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            found.add(key)
            _keys(item, found)
    elif isinstance(value, list):
        for item in value:
            _keys(item, found)
    return found


def test_the_cli_json_of_the_consultations_uses_the_glossary_names(sim: Any) -> None:
    cli, runner = build_cli(sim.pm), CliRunner()
    config = ["--config", str(sim.config_path)]
    patient = base_population()[0].ssin
    assert runner.invoke(cli, [*config, "contact", "open", "--patient", patient]).exit_code == 0
    printed = {}
    for args in (["insurability"], ["tariff", "--service", "301011", "--service", "304415:36"],
                 ["dmg", "--consent"]):
        result = runner.invoke(cli, [*config, args[0], "--patient", patient, *args[1:], "--json"])
        assert result.exit_code == 0, result.output
        printed[args[0]] = json.loads(result.output)
    names = glossary_names()
    for command, data in printed.items():
        keys = {k for k in _keys(data, set()) if not WIRE_REFERENCE_KEYS.match(k)}
        assert keys - names == set(), f"{command} --json prints names the glossary lacks"
    # one meaning per field: the union answered insurability, the mutuality is the patient's
    assert printed["insurability"]["union"] == "100" and printed["tariff"]["insured"]["mutuality"] == "116"
    assert "insurer" not in _keys(printed, set())
    assert printed["insurability"]["patient"]["sex"] == printed["tariff"]["insured"]["sex"] == "male"


@pytest.mark.parametrize("name", ["SendingHeader", "Invoice", "ServiceLine", "Commitment", "IdentityCheck",
                                  "PreviousInvoice"])
def test_every_invoice_model_field_is_in_the_glossary(name: str) -> None:
    from mycarenet_dental_billing.efact import model

    missing = {a.name for a in attrs.fields(getattr(model, name))} - glossary_names()
    assert missing == set()
