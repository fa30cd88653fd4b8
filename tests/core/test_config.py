"""Configuration: profiles, validation with clear messages, secrets never in the file."""

from __future__ import annotations

from pathlib import Path

import pytest
from mycarenet_dental.config import config_from_mapping, load_config
from mycarenet_dental.errors import ConfigError, InvalidIdentifierError


def test_defaults_are_the_simulator_profile(tmp_path: Path) -> None:
    cfg = config_from_mapping({})
    assert cfg.profile == "simulator" and cfg.endpoints.services.startswith("https://127.0.0.1")
    assert cfg.endpoints.sts.endswith("/IAM/SecurityTokenService/v1")


def test_acceptance_profile_endpoints() -> None:
    cfg = config_from_mapping({"profile": "acceptance"})
    assert cfg.endpoints.services == "https://services-acpt.ehealth.fgov.be"


def test_unknown_profile() -> None:
    with pytest.raises(ConfigError, match="unknown profile"):
        config_from_mapping({"profile": "prod"})


def test_password_in_file_refused() -> None:
    with pytest.raises(ConfigError, match="must not be written") as info:
        config_from_mapping({"keystore": {"path": "x.p12", "password": "s3cret"}})
    assert "s3cret" not in str(info.value)


def test_invalid_dentist_nihii_names_the_field() -> None:
    with pytest.raises(InvalidIdentifierError) as info:
        config_from_mapping({"dentist": {"nihii": "31234593001", "ssin": "85073003328"}})
    assert info.value.field == "dentist.nihii"


def test_wrong_type_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"\[timeouts\].read must be"):
        config_from_mapping({"timeouts": {"read": "slow"}})


def test_plain_http_endpoint_refused() -> None:
    with pytest.raises(ConfigError, match="https"):
        config_from_mapping({"endpoints": {"services": "http://example.test"}})


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("profile = [", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_relative_paths_resolve_against_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[keystore]\npath = "ks.p12"\n[storage]\npath = "db.sqlite"\n', encoding="utf-8")
    cfg = load_config(path)
    assert cfg.keystore_path == tmp_path / "ks.p12" and cfg.storage_path == tmp_path / "db.sqlite"


def test_keystore_password_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = config_from_mapping({"keystore": {"path": "x.p12", "password_env": "MY_KS_PW"}})
    with pytest.raises(ConfigError, match="MY_KS_PW"):
        cfg.keystore_password()
    monkeypatch.setenv("MY_KS_PW", "pw")
    assert cfg.keystore_password() == "pw"


def test_total_deadline_default_and_validation() -> None:
    assert config_from_mapping({}).total_timeout == 60.0
    assert config_from_mapping({"timeouts": {"total": 5}}).total_timeout == 5.0
    for bad in (0, -1, float("inf"), float("nan"), 10_000, True, "60"):
        with pytest.raises(ConfigError) as info:
            config_from_mapping({"timeouts": {"total": bad}})
        assert (info.value.location or "").endswith("total")


def test_the_context_gives_the_deadline_to_the_soap_client(tmp_path: Path) -> None:
    from mycarenet_dental.context import Context

    cfg = config_from_mapping({"timeouts": {"total": 7.5}, "storage": {"path": str(tmp_path / "s.sqlite")}})
    assert Context(cfg).soap.deadline == 7.5
