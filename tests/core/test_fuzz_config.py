"""Fuzz: the configuration loader gives a Config or a typed error (ConfigError, exit 2), never another exception."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mycarenet_dental.config import Config, config_from_mapping, load_config
from mycarenet_dental.errors import UsageError

from tests.conftest import DENTIST_NIHII, DENTIST_SSIN

TABLES = ("dentist", "executor", "keystore", "licence", "endpoints", "storage", "plugins", "rules", "timeouts",
          "security", "tariff", "assurability", "billing", "dmg", "mandates", "simulator", "mycarenet")
KEYS = ("nihii", "ssin", "name", "kind", "id", "cbe", "path", "password_env", "password", "username", "services",
        "async", "sts", "etk_depot", "ca_file", "allow", "block", "disabled", "connect", "read", "token_cache",
        "trust_anchor", "tarification_url", "memberdata_url", "hcpfac_url", "gmf_url", "max_per_minute", "poll_max",
        "repost_after_minutes", "port", "latency_s", "backend", "route", "is_test", "package_name")

# TOML values: what tomllib can give (incl. inf/nan, dates, nested tables and arrays)
scalars = st.one_of(
    st.none().map(lambda _: ""), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
    st.sampled_from(["https://127.0.0.1:8443", "http://127.0.0.1", "https://h:99999", "https://[::1",
                     DENTIST_NIHII, DENTIST_SSIN, "123", "R2", "inf", "", "ca.pem", "/", "MY_VAR", "a b&c"]),
    st.dates(), st.datetimes(),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)),
                      max_leaves=8)
# the keys each table really has, so that most examples reach the validators instead of stopping early
TABLE_KEYS = {
    "dentist": ("nihii", "ssin", "name"), "executor": ("kind", "id", "name", "ssin", "nihii", "cbe"),
    "keystore": ("path", "password_env", "password"), "licence": ("username", "password_env", "package_name"),
    "endpoints": ("services", "async", "sts", "etk_depot", "ca_file"), "storage": ("path",),
    "plugins": ("allow", "block"), "rules": ("disabled",), "timeouts": ("connect", "read"),
    "security": ("token_cache", "trust_anchor"), "tariff": ("tarification_url", "max_per_minute"),
    "assurability": ("memberdata_url", "backend"), "billing": ("hcpfac_url", "poll_max", "repost_after_minutes"),
    "dmg": ("gmf_url", "max_per_minute", "route"), "simulator": ("port", "latency_s"),
}
settings_ = st.lists(st.sampled_from(sorted(TABLE_KEYS)).flatmap(
    lambda t: st.tuples(st.just(t), st.sampled_from((*TABLE_KEYS[t], *KEYS[:3])), values)), max_size=5)


def _document(items: list[tuple[str, str, Any]], top: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = dict(top)
    for table, key, value in items:
        doc.setdefault(table, {})
        if isinstance(doc[table], dict):
            doc[table][key] = value
    return doc


documents = st.builds(_document, settings_, st.dictionaries(st.sampled_from((*TABLES, "profile")),
                                                            st.one_of(values, st.sampled_from(["simulator", "x"])),
                                                            max_size=2))

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(result: Any) -> None:
    assert isinstance(result, Config)
    assert result.endpoints.services.startswith("https://")
    assert math.isfinite(result.read_timeout) and result.read_timeout > 0
    assert math.isfinite(result.connect_timeout) and result.connect_timeout > 0
    assert all(isinstance(r, str) for r in result.rules_disabled)


@FUZZ
@given(documents)
def test_config_mapping_typed_error_or_success(data: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        try:
            result = config_from_mapping(data, path=Path(tmp) / "config.toml")
        except UsageError:
            return
        _check(result)


toml_lines = st.lists(st.one_of(
    st.sampled_from(["[endpoints]", "[timeouts]", "[rules]", "[tariff]", "[security]", "[storage]", "[[x]]",
                     "read = inf", "read = nan", "connect = -1", "disabled = [1]", 'services = "http://h"',
                     'max_per_minute = "lots"', "port = 99999", 'password_env = "a&b"', 'ca_file = "."',
                     'path = "/dev/null"', "a = 1979-05-27T07:32:00Z", 'profile = "production"', "x = {", "= 1"]),
    st.text(max_size=30)), max_size=8)


@FUZZ
@given(st.one_of(toml_lines.map(lambda ls: "\n".join(ls).encode("utf-8", "surrogatepass")), st.binary(max_size=200)))
def test_config_file_typed_error_or_success(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.toml"
        path.write_bytes(raw)
        try:
            result = load_config(path)
        except UsageError:
            return
        _check(result)
