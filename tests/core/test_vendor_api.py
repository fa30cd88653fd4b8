"""The vendor's API as one shape: ``with Context.from_config(path) as ctx``, credentials checked there,
``ctx.open_contact(patient)``, each plugin's ``verb_noun`` functions in its ``__all__``, and the vendor
script of the docs (``examples/vendor_script.py``) running as written against the simulator."""

from __future__ import annotations

import importlib
import re
import runpy
from pathlib import Path
from typing import Any

import pytest
from mycarenet_dental import Contact, Context
from mycarenet_dental.errors import ConfigError, InvalidIdentifierError, NoContactError
from mycarenet_dental.sim.population import base_population

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "vendor_script.py"
#: the vendor functions each plugin exports, one shape: verb_noun(ctx, ...)
VENDOR_CALLS = {
    "mycarenet_dental_assurability": ["consult_insurability"],
    "mycarenet_dental_tariff": ["consult_tariff"],
    "mycarenet_dental_dmg": ["consult_dmg"],
    "mycarenet_dental_billing": ["build_sendings", "validate_sending", "send_sending", "send_sendings",
                                 "poll_sendings", "settle_sendings", "sending_status", "list_sendings",
                                 "sending_lines", "sending_file"],
    "mycarenet_dental_mandates": ["add_mandate", "stop_mandate", "list_mandates", "mandate_history",
                                 "record_party_event", "mandate_coverage", "import_mandates", "export_mandates"],
}


@pytest.fixture
def sim_env(sim: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in sim.env.items():  # the keystore and licence passwords, as `source sim/keystore.env`
        monkeypatch.setenv(name, value)
    return sim


def test_the_vendor_script_consults_prices_and_bills(sim_env: Any) -> None:
    main = runpy.run_path(str(SCRIPT))["main"]
    patient = base_population()[0]  # insured at mutuality 116, union 100
    shown = main(str(sim_env.config_path), patient.ssin)
    assert shown["insured"] is True
    assert (shown["mutuality"], shown["union"]) == ("116", "100")
    assert [code for code, *_ in shown["lines"]] == ["301011", "304415"]
    assert shown["refused_before_sending"] == []
    assert shown["sendings"] == [("100", 1, "posted")]


def _config_with(sim: Any, name: str, old: str, new: str) -> Path:
    """A variant of the simulator's config, beside it (its relative paths still resolve)."""
    text = sim.config_path.read_text(encoding="utf-8")
    assert re.search(old, text, re.M), old
    path = sim.config_path.with_name(name)
    path.write_text(re.sub(old, new, text, flags=re.M), encoding="utf-8")
    return path


def test_credentials_are_checked_at_from_config(sim_env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    requests = dict(sim_env.state.counters)
    with Context.from_config(sim_env.config_path) as ctx:  # the good case: no error
        assert ctx.config.keystore_path is not None
    assert dict(sim_env.state.counters) == requests  # a local check: nothing was sent (no STS login)
    missing = _config_with(sim_env, "gone.toml", r'^path = ".*\.p12"$', f'path = "{tmp_path / "gone.p12"}"')
    with pytest.raises(ConfigError, match="keystore cannot be read"):
        Context.from_config(missing)
    monkeypatch.setenv("MYCARENET_DENTAL_KEYSTORE_PASSWORD", "not-the-password")
    with pytest.raises(ConfigError) as wrong:
        Context.from_config(sim_env.config_path)
    assert wrong.value.code == "KEYSTORE_PASSWORD" and "not-the-password" not in str(wrong.value)
    monkeypatch.delenv("MYCARENET_DENTAL_KEYSTORE_PASSWORD")
    with pytest.raises(ConfigError, match="keystore password is not set"):
        Context.from_config(sim_env.config_path)
    monkeypatch.setenv("MYCARENET_DENTAL_KEYSTORE_PASSWORD", sim_env.env["MYCARENET_DENTAL_KEYSTORE_PASSWORD"])
    monkeypatch.delenv("MYCARENET_DENTAL_LICENCE_PASSWORD")
    with pytest.raises(ConfigError, match="licence password is not set"):
        Context.from_config(sim_env.config_path)
    with Context.from_config(sim_env.config_path, check_credentials=False) as offline:  # offline work needs none
        assert offline.open_contact(base_population()[2].ssin).is_open


def test_the_context_closes_its_store_and_opens_contacts(sim_env: Any, tmp_path: Path) -> None:
    path = _config_with(sim_env, "own.toml", r'^path = ".*\.sqlite"$', f'path = "{tmp_path / "own.sqlite"}"')
    with Context.from_config(path) as ctx:
        contact = ctx.open_contact(base_population()[1].ssin)
        assert isinstance(contact, Contact) and contact.is_open
        assert (contact.dentist, contact.user_id) == (ctx.responsible().id, ctx.user_id)
        assert ctx.resolve_contact(contact.patient) == ctx.contact(contact.id) == contact
        with pytest.raises(InvalidIdentifierError):
            ctx.open_contact("85073003329")  # a bad check digit: nothing opened
        ctx.contacts.close(contact.id)
        with pytest.raises(NoContactError):
            ctx.resolve_contact(contact)  # closed since: R29
        storage = ctx.storage
    with pytest.raises(Exception, match="closed"):
        storage.query("SELECT 1")


@pytest.mark.parametrize("package", sorted(VENDOR_CALLS))
def test_each_plugin_exports_its_calls_in_all(package: str) -> None:
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name} is in __all__ but does not resolve"
    assert set(VENDOR_CALLS[package]) <= set(module.__all__)
    for name in VENDOR_CALLS[package]:
        assert list(__import__("inspect").signature(getattr(module, name)).parameters)[0] == "ctx"
