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
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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
    storage_url: str | None = None  # postgresql://… (no password: libpq's PGPASSWORD, ~/.pgpass, PGSERVICE)
    plugins_allow: tuple[str, ...] = ()
    plugins_block: tuple[str, ...] = ()
    rules_disabled: tuple[str, ...] = ()
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float = 60.0
    trace_dir: Path | None = None
    token_cache: Path | None = None
    trust_anchor: Path | None = None
    etk_trust_anchor: Path | None = None  # CA certificates ETKs must chain to (ETK-RA and owners)
    ehealth_ca: Path | None = None  # CA certificates the insurers' answer signers must chain to
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


def _identifier(table: Mapping[str, Any], key: str) -> str | None:
    """``[executor] ssin/nihii/cbe``: checked like every identifier (a bad one is refused here, not at the insurer)."""
    value = _get(table, key, (str, int), "[executor]")
    if value is None:
        return None
    from .identifiers import CompanyNumber, Nihii, Ssin

    parser = {"ssin": Ssin, "nihii": Nihii, "cbe": CompanyNumber}[key]
    return str(parser.parse(str(value), field=f"executor.{key}").value)


def _path(base: Path | None, value: str | None) -> Path | None:
    if value is None:
        return None
    p = Path(os.path.expanduser(value))
    if not p.is_absolute() and base is not None:
        p = base / p
    return p


def _storage_target(st: Mapping[str, Any], base: Path | None) -> tuple[Path, str | None]:
    """``[storage] path`` or ``url``: a SQLite file (the default), or a PostgreSQL database.

    The URL must carry no password: libpq takes it from ``PGPASSWORD``, ``~/.pgpass`` or a service
    file, so the configuration file (often shared, backed up, pasted into tickets) never holds it.
    """
    path = _get(st, "path", str, "[storage]")
    url = _get(st, "url", str, "[storage]")
    if path is not None and url is not None:
        raise ConfigError("[storage] has both path and url", location="[storage]", hint="keep one of them")
    if url is None:
        return _path(base, path) or _default_storage(), None
    if url.startswith("sqlite:///"):
        return _path(base, url[len("sqlite:///"):]) or _default_storage(), None
    if not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError("[storage] url must start with postgresql:// or sqlite:///", location="[storage] url")
    from urllib.parse import parse_qs, urlsplit

    parts = urlsplit(url)
    if parts.password is not None or "password" in parse_qs(parts.query):
        raise ConfigError("the database password must not be written in the configuration file",
                          location="[storage] url",
                          hint="remove it from the URL; set PGPASSWORD, or use ~/.pgpass or a PGSERVICE file")
    database = (parts.path.lstrip("/") or "postgres").replace("/", "_")
    return _default_storage().with_name(f"postgresql-{parts.hostname or 'local'}-{database}"), url


def _table(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"[{name}] must be a table", location=name)
    return value


# -- one typed validator per kind of setting ---------------------------------------------------
# Every URL, port, timeout, count, variable name and list goes through one of these, so that a bad
# value is a ConfigError (exit 2) naming the setting, never a traceback or a silently wrong run.

_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


def https_url(value: object, where: str) -> str:
    """An ``https://`` URL with a host and a valid port; ``http://`` is refused in every profile.

    Plain HTTP would carry the licence password and the SSINs in clear (and again on each retry);
    the simulator serves TLS too, so no profile needs it.
    """
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a string URL, not {type(value).__name__}", location=where)
    text = value.strip()
    try:
        parts = urlsplit(text)
        port = parts.port  # raises ValueError when out of 0..65535 or not a number
    except ValueError as exc:
        raise ConfigError(f"{where} is not a valid URL: {exc}", location=where) from exc
    if parts.scheme.lower() != "https":
        raise ConfigError(f"{where} must be an https:// URL (TLS is always on; plain http is refused)",
                          location=where, hint="the simulator serves TLS too: use https://127.0.0.1:PORT")
    if not parts.hostname:
        raise ConfigError(f"{where} has no host", location=where)
    if port is not None and not 1 <= port <= 65535:
        raise ConfigError(f"{where}: port {port} is out of range 1..65535", location=where)
    if parts.username is not None or parts.password is not None:
        raise ConfigError(f"{where} must not carry credentials", location=where)
    if any(c.isspace() or ord(c) < 32 for c in text):
        raise ConfigError(f"{where} contains spaces or control characters", location=where)
    return text


def _shown(value: object) -> str:
    """A refused value as shown in a message: numbers as they are, anything else by its type only
    (a string in the wrong place may be a password)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    return f"a {type(value).__name__}"


def port_number(value: object, where: str, *, allow_zero: bool = False) -> int:
    """A TCP port (0 only where it means "pick a free one")."""
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 65535:
        raise ConfigError(f"{where} must be a port number {low}..65535, not {_shown(value)}", location=where)
    return value


def positive_number(value: object, where: str, *, allow_zero: bool = False) -> float:
    """A finite number > 0 (or >= 0): timeouts, delays. ``inf``, ``nan`` and negatives are refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where} must be a number, not {type(value).__name__}", location=where)
    number = float(value)
    if not math.isfinite(number) or number < 0 or (number == 0 and not allow_zero) or number > 86400 * 366:
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"{where} must be a finite number {bound} (at most a year), not {value!r}", location=where)
    return number


def positive_int(value: object, where: str, *, maximum: int = 1_000_000) -> int:
    """A whole count >= 1 (limits, poll counts); strings, floats and booleans are refused."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise ConfigError(f"{where} must be a whole number 1..{maximum}, not {_shown(value)}", location=where)
    return value


def variable_name(value: object, where: str) -> str:
    """The NAME of an environment variable, never its value.

    A password pasted here by mistake must not be echoed on stderr nor land in an audit row, so
    the message never repeats the value.
    """
    if not isinstance(value, str) or not _VAR_NAME.fullmatch(value):
        raise ConfigError(f"{where} must name an environment variable (letters, digits, _), "
                          "not hold a value; the value given is not repeated here", location=where,
                          hint='write password_env = "MY_VARIABLE" and put the password in that variable')
    return value


def string_list(value: object, where: str) -> tuple[str, ...]:
    """A list of non-empty strings (rule ids, plugin names)."""
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where} must be a list of names (strings)", location=where)
    return tuple(value)


def pem_certificates(path: Path | None, where: str) -> Path | None:
    """A readable file of PEM certificates (CA bundle, STS trust anchor), checked at load."""
    if path is None:
        return None
    if not path.exists():
        raise ConfigError(f"{where}: file {path} not found", location=where)
    if not path.is_file():
        raise ConfigError(f"{where}: {path} is not a regular file", location=where)
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read {path}: {exc.strerror}", location=where) from exc
    from cryptography import x509

    try:
        x509.load_pem_x509_certificates(head if len(head) < (1 << 16) else path.read_bytes())
    except ValueError as exc:
        raise ConfigError(f"{where}: {path} is not a PEM certificate file", location=where,
                          hint="give the certificate(s) in PEM form (-----BEGIN CERTIFICATE-----)") from exc
    return path


def writable_file(path: Path | None, where: str) -> Path | None:
    """A file the program writes (token cache): must not be a directory."""
    if path is not None and path.exists() and not path.is_file():
        raise ConfigError(f"{where}: {path} exists and is not a regular file", location=where)
    return path


# Plugins' own tables: settings recognised by their name, wherever they appear.
def _check_plugin_settings(name: str, table: Mapping[str, Any]) -> None:
    for key, value in table.items():
        where = f"[{name}] {key}"
        if key.endswith("_url"):
            https_url(value, where)
        elif key in ("max_per_minute", "poll_max"):
            positive_int(value, where)
        elif key.endswith("_minutes") or key.endswith("_s"):
            positive_number(value, where, allow_zero=True)
        elif key.endswith("_env"):
            variable_name(value, where)
        elif name == "simulator" and key == "port":
            port_number(value, where, allow_zero=True)


_CORE_TABLES = frozenset({"dentist", "executor", "keystore", "licence", "endpoints", "storage", "plugins",
                          "rules", "timeouts", "security"})


def _deadline_seconds(timeouts: Mapping[str, Any]) -> float:
    """``[timeouts] total``: the overall deadline of one exchange (all attempts), in seconds."""
    value = _get(timeouts, "total", (int, float), "[timeouts]", 60.0)
    if isinstance(value, bool) or not math.isfinite(value) or not 0 < value <= 3600:
        raise ConfigError(f"[timeouts] total must be a number of seconds in (0, 3600], not {value!r}",
                          location="timeouts.total",
                          hint="the deadline bounds one exchange with the remote service, retries included")
    return float(value)


def _read_toml(path: Path | str | None) -> tuple[Mapping[str, Any], Path | None]:
    """The parsed file from ``path`` or ``$MYCARENET_DENTAL_CONFIG`` (none: empty); typed errors only."""
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
        except UnicodeDecodeError as exc:
            raise ConfigError(f"configuration file {cfg_path} is not UTF-8 text (byte {exc.start})",
                              location=str(cfg_path), hint="save the file as UTF-8") from exc
        except OSError as exc:  # a directory, no permission, an I/O error
            raise ConfigError(f"cannot read the configuration file {cfg_path}: {exc.strerror or exc}",
                              location="--config") from exc
    return data, cfg_path


def load_config(path: Path | str | None = None, *, profile: str | None = None) -> Config:
    """Load and validate the configuration (file from ``path``, ``$MYCARENET_DENTAL_CONFIG`` or none)."""
    data, cfg_path = _read_toml(path)
    return config_from_mapping(data, path=cfg_path, profile=profile)


def load_plugin_lists(path: Path | str | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``[plugins] allow`` and ``block`` of the configuration file, read before the plugins load.

    Only this table is validated here: the plugin manager must exist before the CLI (whose commands
    come from plugins) can run, while the rest of the file is validated when a command needs it.
    """
    data, _ = _read_toml(path)
    pl = _table(data, "plugins")
    return string_list(pl.get("allow", []), "[plugins] allow"), string_list(pl.get("block", []), "[plugins] block")


def config_from_mapping(data: Mapping[str, Any], *, path: Path | None = None, profile: str | None = None) -> Config:
    """Validate a parsed configuration mapping (the TOML document).

    Long because: one table after another in the order of the documented configuration file, a few lines each;
    split into helpers the reader would jump around to follow one file top to bottom.
    """
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

    for name, table in data.items():
        if name not in _CORE_TABLES and isinstance(table, Mapping):
            _check_plugin_settings(name, table)

    ex_t = _table(data, "executor")
    kind = _get(ex_t, "kind", str, "[executor]", "dentist")
    if kind not in ("dentist", "user", "mandatary"):
        raise ConfigError("[executor] kind must be dentist, user or mandatary", location="executor.kind")
    executor = ExecutorConfig(
        kind=kind,
        id=str(_get(ex_t, "id", (str, int), "[executor]", "") or (dentist.nihii if dentist and kind == "dentist" else "")),
        name=_get(ex_t, "name", str, "[executor]", dentist.name if dentist and kind == "dentist" else ""),
        ssin=_identifier(ex_t, "ssin"),
        nihii=_identifier(ex_t, "nihii"),
        cbe=_identifier(ex_t, "cbe"),
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
    services = https_url(ep.get("services", defaults["services"]), "[endpoints] services").rstrip("/")
    endpoints = Endpoints(
        services=services,
        async_=https_url(ep.get("async", defaults["async"]), "[endpoints] async").rstrip("/"),
        sts=https_url(ep.get("sts", services + STS_PATH), "[endpoints] sts"),
        etk_depot=https_url(ep.get("etk_depot", services + ETK_PATH), "[endpoints] etk_depot"),
        ca_file=pem_certificates(_path(base, _get(ep, "ca_file", str, "[endpoints]")), "[endpoints] ca_file"),
    )

    st = _table(data, "storage")
    storage_path, storage_url = _storage_target(st, base)
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
        keystore_password_env=variable_name(ks.get("password_env", DEFAULT_PASSWORD_ENV), "[keystore] password_env"),
        licence_username=_get(lic, "username", str, "[licence]", ""),
        licence_password_env=variable_name(lic.get("password_env", DEFAULT_LICENCE_ENV), "[licence] password_env"),
        package_name=_get(lic, "package_name", str, "[licence]", "mycarenet-dental"),
        endpoints=endpoints,
        storage_path=storage_path,
        storage_url=storage_url,
        plugins_allow=string_list(pl.get("allow", []), "[plugins] allow"),
        plugins_block=string_list(pl.get("block", []), "[plugins] block"),
        rules_disabled=string_list(rules.get("disabled", []), "[rules] disabled"),
        connect_timeout=positive_number(timeouts.get("connect", 10.0), "[timeouts] connect"),
        read_timeout=positive_number(timeouts.get("read", 30.0), "[timeouts] read"),
        token_cache=writable_file(_path(base, _get(sec, "token_cache", str, "[security]")), "[security] token_cache"),
        trust_anchor=pem_certificates(_path(base, _get(sec, "trust_anchor", str, "[security]")),
                                      "[security] trust_anchor"),
        etk_trust_anchor=pem_certificates(_path(base, _get(sec, "etk_trust_anchor", str, "[security]")),
                                          "[security] etk_trust_anchor"),
        ehealth_ca=pem_certificates(_path(base, _get(sec, "ehealth_ca", str, "[security]")), "[security] ehealth_ca"),
        total_timeout=_deadline_seconds(timeouts),
        raw=dict(data),
    )
