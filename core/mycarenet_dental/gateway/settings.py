"""``[gateway]`` settings, safe by default: loopback only unless told, TLS required for any other bind.

    [gateway]
    host = "127.0.0.1"        # another address needs tls_cert and tls_key, else the gateway refuses to start
    port = 8741
    tls_cert = "gateway.pem"  # PEM certificate (chain) and key, relative to the configuration file
    tls_key = "gateway.key"
    cors_origins = []         # CORS is off unless origins are listed
    max_body_bytes = 2097152  # larger requests: 413
    rate_per_minute = 600     # per token; beyond: 429 with Retry-After
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from ..errors import ConfigError

DEFAULT_PORT = 8741


@attrs.frozen
class GatewaySettings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    tls_cert: Path | None = None
    tls_key: Path | None = None
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = 2 * 1024 * 1024
    rate_per_minute: int = 600

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None and self.tls_key is not None

    def check_bind(self) -> None:
        """Refuse to serve the practice network in clear text: a non-loopback bind needs TLS files."""
        if not self.loopback and not self.tls:
            raise ConfigError(f"the gateway would listen on {self.host} without TLS",
                              location="gateway.host",
                              hint="set [gateway] tls_cert and tls_key (PEM), or keep host = \"127.0.0.1\"")
        for name, path in (("tls_cert", self.tls_cert), ("tls_key", self.tls_key)):
            if path is not None and not path.is_file():
                raise ConfigError(f"[gateway] {name}: {path} is not a file", location=f"gateway.{name}")


def _int(table: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"[gateway] {key} must be an integer in [{low}, {high}], not {value!r}",
                          location=f"gateway.{key}")
    return value


def settings_from(section: Mapping[str, Any], base: Path | None, *, host: str | None = None,
                  port: int | None = None) -> GatewaySettings:
    """Read ``[gateway]``; ``host``/``port`` given on the command line win over the file."""

    def path(key: str) -> Path | None:
        value = section.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise ConfigError(f"[gateway] {key} must be a file path", location=f"gateway.{key}")
        p = Path(value).expanduser()
        return p if p.is_absolute() or base is None else base / p

    origins = section.get("cors_origins", [])
    if not isinstance(origins, list) or not all(isinstance(o, str) and o.startswith(("http://", "https://"))
                                                 for o in origins):
        raise ConfigError("[gateway] cors_origins must be a list of http(s) origins", location="gateway.cors_origins")
    chosen_host = host if host is not None else section.get("host", "127.0.0.1")
    if not isinstance(chosen_host, str) or not chosen_host:
        raise ConfigError("[gateway] host must be an address", location="gateway.host")
    rate = _int(section, "rate_per_minute", 600, 1, 1_000_000)
    return GatewaySettings(host=chosen_host, port=port if port is not None else _int(section, "port", DEFAULT_PORT, 0, 65535),
                           tls_cert=path("tls_cert"), tls_key=path("tls_key"), cors_origins=tuple(origins),
                           max_body_bytes=_int(section, "max_body_bytes", 2 * 1024 * 1024, 1024, 256 * 1024 * 1024),
                           rate_per_minute=rate)
