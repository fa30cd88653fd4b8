"""ET10 zone 18, the profession code of the invoicing third party (issue 12.1).

We used to write ``000``; real insurers refuse such files created from April 2024 with blocking
error B101810 (real 920099 answers in [PB]). The code is now a typed value (3 digits, not 000),
configured in ``[billing] profession_code`` with the dentist's own qualification code as default,
and the validator reports B101810 for files created from 2024-04-01 (older CIN files unchanged).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner
from mycarenet_dental.cli.main import build_cli
from mycarenet_dental.config import config_from_mapping
from mycarenet_dental.errors import ConfigError, UsageError
from mycarenet_dental.plugins import make_plugin_manager
from mycarenet_dental_billing.efact.model import (
    PROFESSION_CODE_REQUIRED_FROM,
    Sending,
    check_profession_code,
    default_profession_code,
)
from mycarenet_dental_billing.efact.reader import read_sending
from mycarenet_dental_billing.efact.validator import ValidationOptions, assert_sendable, validate
from mycarenet_dental_billing.efact.writer import to_text
from mycarenet_dental_billing.invoices_json import load_sending, sending_to_json
from mycarenet_dental_billing.outbox import BillingSettings

from tests.billing.billing_factories import (
    DENTIST,
    DENTIST_2,
    TODAY,
    header,
    invoice,
    line,
    records_of,
    replace_zone,
)

OPTS = ValidationOptions(today=TODAY)


def _zone18(text: str) -> str:
    return records_of(text)[1][0][84:87]


def _text(**kw: object) -> str:
    return to_text(Sending(header(**kw), (invoice(1),)))


def test_the_writer_fills_zone_18_from_the_third_party() -> None:
    assert _zone18(_text()) == "001" == DENTIST[8:]  # general dentist
    assert _zone18(_text(third_party=DENTIST_2)) == "007"  # orthodontist
    assert _zone18(_text(profession_code="007")) == "007"  # configured
    assert default_profession_code(DENTIST) == "001"


def test_zone_18_000_is_refused_from_april_2024() -> None:
    text = replace_zone(_text(), 0, 85, "000")  # what we used to write
    findings = [f for f in validate(text, OPTS) if f.code == "101810"]
    assert len(findings) == 1 and findings[0].blocking and findings[0].zone == "18"
    assert findings[0].record_type == "10" and findings[0].value == "000"
    with pytest.raises(UsageError) as e:
        assert_sendable(text, OPTS)
    assert e.value.code == "101810"
    # a file created before 2024-04-01 is judged as before (CIN acceptance files of 2014)
    day = PROFESSION_CODE_REQUIRED_FROM - dt.timedelta(days=1)
    sending = Sending(header(creation_date=day, invoicing_year=2024, invoicing_month=3),
                      (invoice(1, (line(date=dt.date(2024, 3, 4)),)),))
    old = replace_zone(to_text(sending), 0, 85, "000")
    assert validate(old, ValidationOptions(today=day)) == []
    on_the_day = Sending(header(creation_date=day + dt.timedelta(days=1), invoicing_year=2024, invoicing_month=3),
                         (invoice(1, (line(date=dt.date(2024, 3, 4)),)),))
    assert {f.code for f in validate(replace_zone(to_text(on_the_day), 0, 85, "000"),
                                     ValidationOptions(today=day + dt.timedelta(days=1)))} == {"101810"}
    # the start date is an option (None: never checked)
    assert "101810" not in {f.code for f in validate(text, ValidationOptions(today=TODAY,
                                                                             profession_code_required_from=None))}


def test_profession_code_round_trips_and_is_typed() -> None:
    sending = Sending(header(profession_code="007"), (invoice(1),))
    assert read_sending(to_text(sending)).sending == sending
    assert load_sending(sending_to_json(sending)) == sending
    doc = sending_to_json(Sending(header(), (invoice(1),)))
    del doc["sending"]["profession_code"]
    assert load_sending(doc).header.profession_code == "001"  # JSON default: the third party's code
    for bad in ("000", "01", "0a1", 1, None):
        with pytest.raises(UsageError):
            check_profession_code(bad)
    with pytest.raises(UsageError):
        header(profession_code="01")


def _settings(billing: dict[str, object], nihii: str = DENTIST) -> BillingSettings:
    class Ctx:
        config = config_from_mapping({"profile": "simulator", "billing": billing,
                                      "dentist": {"nihii": nihii, "ssin": "85073003328"}})

    return BillingSettings.from_context(Ctx())  # type: ignore[arg-type]


def test_billing_config_profession_code() -> None:
    assert _settings({}).profession_code == "001"  # default: the dentist's own qualification code
    assert _settings({}, DENTIST_2).profession_code == "007"
    assert _settings({"profession_code": "010"}).profession_code == "010"
    for bad in ("000", "1", 1, "abc"):
        with pytest.raises(ConfigError) as e:
            _settings({"profession_code": bad})
        assert e.value.location == "[billing] profession_code" and e.value.exit_code == 2
    with pytest.raises(ConfigError):  # a NIHII without a qualification code needs the setting
        _settings({}, DENTIST[:8] + "000")


def test_cli_validate_reports_b101810_and_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MYCARENET_DENTAL_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    file = tmp_path / "old-writer.920000"
    file.write_text(replace_zone(_text(), 0, 85, "000"), encoding="ascii")
    result = CliRunner().invoke(build_cli(make_plugin_manager()), ["billing", "validate", str(file), "--json"])
    assert result.exit_code == 1, result.output
    assert "101810" in result.output and '"letter": "B"' in result.output
    file.write_text(_text(), encoding="ascii")
    result = CliRunner().invoke(build_cli(make_plugin_manager()), ["billing", "validate", str(file)])
    assert result.exit_code == 0, result.output
