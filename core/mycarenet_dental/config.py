"""Configuration: one TOML file, three profiles, secrets only from the environment or a prompt.

``profile`` is ``simulator`` (default), ``acceptance`` or ``production``; each profile brings its
default endpoints and the file overrides them. The keystore and licence passwords are never read
from the file: the file names the environment variable that holds them (or the CLI prompts).
Plugins keep their own settings in a table named after them (``[tariff]``, ``[billing]``...)
and read it with :meth:`Config.section`.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from .errors import ConfigError

if sys.version_info >= (3, 11):  # pragma: no cover
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PROFILES = ("simulator", "acceptance", "production")
ENV_CONFIG = "MYCARENET_DENTAL_CONFIG"
ENV_PROFILE = "MYCARENET_DENTAL_PROFILE"
DEFAULT_PASSWORD_ENV = "MYCARENET_DENTAL_KEYSTORE_PASSWORD"
DEFAULT_LICENCE_ENV = "MYCARENET_DENTAL_LICENCE_PASSWORD"

# Default endpoints per profile (spec/insurability.md §0, spec/efact.md transport).
PROFILE_ENDPOINTS: Mapping[str, Mapping[str, str]] = {
    "simulator": {
        "services": "https://127.0.0.1:8443",
        "async": "https://127.0.0.1:8443/mycarenet-ws/async/generic",
    },
    "acceptance": {
        "services": "https://services-acpt.ehealth.fgov.be",
        "async": "https://pilot.mycarenet.be/mycarenet-ws/async/generic",
    },
    "production": {
        "services": "https://services.ehealth.fgov.be",
        "async": "https://prod.mycarenet.be/mycarenet-ws/async/generic",
    },
}
STS_PATH = "/IAM/SecurityTokenService/v1"
ETK_PATH = "/EtkDepot/v1"


def _default_storage() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("mycarenet-dental")) / "mycarenet-dental.sqlite"


@attrs.frozen
class Identity:
    """The responsible dentist (R6)."""

    nihii: str
    ssin: str
    name: str = ""


@attrs.frozen
class ExecutorConfig:
    """Who executes the transmissions (R7): the dentist, a practice user, or a mandatary."""

    kind: str = "dentist"
    id: str = ""
    name: str = ""
    ssin: str | None = None
    nihii: str | None = None
    cbe: str | None = None


@attrs.frozen
class Endpoints:
    services: str
    async_: str
    sts: str
    etk_depot: str
    ca_file: Path | None = None


@attrs.frozen
class Config:
    """The validated configuration. ``raw`` keeps every table for the plugins' own sections."""

    profile: str
    path: Path | None
    dentist: Identity | None
    executor: ExecutorConfig
    keystore_path: Path | None
    keystore_password_env: str
    licence_username: str
    licence_password_env: str
    package_name: str
    endpoints: Endpoints
    storage_path: Path
    plugins_allow: tuple[str, ...] = ()
    plugins_block: tuple[str, ...] = ()
    rules_disabled: tuple[str, ...] = ()
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float = 60.0
    trace_dir: Path | None = None
    token_cache: Path | None = None
    trust_anchor: Path | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict)

    def section(self, name: str) -> Mapping[str, Any]:
        """A plugin's own table (``{}`` when absent)."""
        value = self.raw.get(name, {})
        if not isinstance(value, Mapping):
            raise ConfigError(f"[{name}] must be a table", location=str(self.path or "config"))
        return value

    def require_dentist(self) -> Identity:
        if self.dentist is None:
            raise ConfigError("no dentist configured", location="[dentist]",
                              hint="add [dentist] nihii = ..., ssin = ... to the configuration")
        return self.dentist

    def keystore_password(self, *, prompt: bool = False) -> str:
        """The keystore password from its environment variable (or an interactive prompt)."""
        value = os.environ.get(self.keystore_password_env)
        if value:
            return value
        if prompt and sys.stdin.isatty():
            import getpass

            return getpass.getpass("eHealth keystore password: ")
        raise ConfigError(
            f"the keystore password is not set: put it in the environment variable {self.keystore_password_env}",
            location="[keystore] password_env",
        )

    def licence_password(self) -> str:
        return os.environ.get(self.licence_password_env, "")

    def with_trace(self, trace_dir: Path | None) -> Config:
        return attrs.evolve(self, trace_dir=trace_dir) if trace_dir else self


def _get(table: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str, default: Any = None,
         required: bool = False) -> Any:
    if key not in table:
        if required:
            raise ConfigError(f"missing key {key!r} in {where}", location=f"{where}.{key}")
        return default
    value = table[key]
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ConfigError(f"{where}.{key} must be a {names}, not {type(value).__name__}", location=f"{where}.{key}")
    return value


def _path(base: Path | None, value: str | None) -> Path | None:
    if value is None:
        return None
    p = Path(os.path.expanduser(value))
    if not p.is_absolute() and base is not None:
        p = base / p
    return p


def _table(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"[{name}] must be a table", location=name)
    return value


def _deadline_seconds(timeouts: Mapping[str, Any]) -> float:
    """``[timeouts] total``: the overall deadline of one exchange (all attempts), in seconds."""
    value = _get(timeouts, "total", (int, float), "[timeouts]", 60.0)
    if isinstance(value, bool) or not math.isfinite(value) or not 0 < value <= 3600:
        raise ConfigError(f"[timeouts] total must be a number of seconds in (0, 3600], not {value!r}",
                          location="timeouts.total",
                          hint="the deadline bounds one exchange with the remote service, retries included")
    return float(value)


def load_config(path: Path | str | None = None, *, profile: str | None = None) -> Config:
    """Load and validate the configuration (file from ``path``, ``$MYCARENET_DENTAL_CONFIG`` or none)."""
    path = path or os.environ.get(ENV_CONFIG)
    data: Mapping[str, Any] = {}
    cfg_path: Path | None = None
    if path:
        cfg_path = Path(path)
        try:
            with open(cfg_path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError as exc:
            raise ConfigError(f"configuration file {cfg_path} not found", location="--config") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"configuration file {cfg_path} is not valid TOML: {exc}", location=str(cfg_path)) from exc
    return config_from_mapping(data, path=cfg_path, profile=profile)


def config_from_mapping(data: Mapping[str, Any], *, path: Path | None = None, profile: str | None = None) -> Config:
    """Validate a parsed configuration mapping (the TOML document)."""
    base = path.parent if path else None
    profile = profile or os.environ.get(ENV_PROFILE) or _get(data, "profile", str, "top level", "simulator")
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}", location="profile")

    dentist_t = _table(data, "dentist")
    dentist = None
    if dentist_t:
        from .identifiers import Nihii, Ssin

        nihii = Nihii.parse(str(_get(dentist_t, "nihii", (str, int), "[dentist]", required=True)), field="dentist.nihii")
        ssin = Ssin.parse(str(_get(dentist_t, "ssin", (str, int), "[dentist]", required=True)), field="dentist.ssin")
        dentist = Identity(nihii=nihii.value, ssin=ssin.value, name=_get(dentist_t, "name", str, "[dentist]", ""))

    ex_t = _table(data, "executor")
    kind = _get(ex_t, "kind", str, "[executor]", "dentist")
    if kind not in ("dentist", "user", "mandatary"):
        raise ConfigError("[executor] kind must be dentist, user or mandatary", location="executor.kind")
    executor = ExecutorConfig(
        kind=kind,
        id=str(_get(ex_t, "id", (str, int), "[executor]", "") or (dentist.nihii if dentist and kind == "dentist" else "")),
        name=_get(ex_t, "name", str, "[executor]", dentist.name if dentist and kind == "dentist" else ""),
        ssin=_get(ex_t, "ssin", str, "[executor]"),
        nihii=_get(ex_t, "nihii", str, "[executor]"),
        cbe=_get(ex_t, "cbe", str, "[executor]"),
    )
    if kind == "mandatary" and not (executor.ssin or executor.nihii or executor.cbe):
        raise ConfigError("a mandatary executor needs ssin, nihii or cbe", location="executor")

    ks = _table(data, "keystore")
    if "password" in ks:
        raise ConfigError("the keystore password must not be written in the configuration file",
                          location="[keystore] password", hint="use password_env = \"VARIABLE\" instead")
    lic = _table(data, "licence")
    if "password" in lic:
        raise ConfigError("the licence password must not be written in the configuration file",
                          location="[licence] password", hint="use password_env = \"VARIABLE\" instead")

    ep = _table(data, "endpoints")
    defaults = PROFILE_ENDPOINTS[profile]
    services = _get(ep, "services", str, "[endpoints]", defaults["services"]).rstrip("/")
    endpoints = Endpoints(
        services=services,
        async_=_get(ep, "async", str, "[endpoints]", defaults["async"]).rstrip("/"),
        sts=_get(ep, "sts", str, "[endpoints]", services + STS_PATH),
        etk_depot=_get(ep, "etk_depot", str, "[endpoints]", services + ETK_PATH),
        ca_file=_path(base, _get(ep, "ca_file", str, "[endpoints]")),
    )
    for name, url in (("services", endpoints.services), ("async", endpoints.async_), ("sts", endpoints.sts)):
        if not url.startswith("https://"):
            raise ConfigError(f"[endpoints] {name} must be an https:// URL (TLS is always on)", location=f"endpoints.{name}")

    st = _table(data, "storage")
    storage_path = _path(base, _get(st, "path", str, "[storage]")) or _default_storage()
    pl = _table(data, "plugins")
    rules = _table(data, "rules")
    timeouts = _table(data, "timeouts")
    sec = _table(data, "security")
    return Config(
        profile=profile,
        path=path,
        dentist=dentist,
        executor=executor,
        keystore_path=_path(base, _get(ks, "path", str, "[keystore]")),
        keystore_password_env=_get(ks, "password_env", str, "[keystore]", DEFAULT_PASSWORD_ENV),
        licence_username=_get(lic, "username", str, "[licence]", ""),
        licence_password_env=_get(lic, "password_env", str, "[licence]", DEFAULT_LICENCE_ENV),
        package_name=_get(lic, "package_name", str, "[licence]", "mycarenet-dental"),
        endpoints=endpoints,
        storage_path=storage_path,
        plugins_allow=tuple(_get(pl, "allow", list, "[plugins]", [])),
        plugins_block=tuple(_get(pl, "block", list, "[plugins]", [])),
        rules_disabled=tuple(_get(rules, "disabled", list, "[rules]", [])),
        connect_timeout=float(_get(timeouts, "connect", (int, float), "[timeouts]", 10.0)),
        read_timeout=float(_get(timeouts, "read", (int, float), "[timeouts]", 30.0)),
        total_timeout=_deadline_seconds(timeouts),
        token_cache=_path(base, _get(sec, "token_cache", str, "[security]")),
        trust_anchor=_path(base, _get(sec, "trust_anchor", str, "[security]")),
        raw=dict(data),
    )
