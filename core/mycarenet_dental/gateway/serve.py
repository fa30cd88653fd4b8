"""Run the gateway with uvicorn, refusing an unsafe bind (see :mod:`.settings`)."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..context import Context
from ..errors import ConfigError
from .settings import GatewaySettings

EXTRA_HINT = "pip install 'mycarenet-dental[gateway]'"


def require_extra() -> None:
    """The web framework and the server come with the ``gateway`` extra; say how to get them."""
    try:
        import litestar  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"the gateway needs the 'gateway' extra ({exc.name} is missing)", hint=EXTRA_HINT) from None


def bind(settings: GatewaySettings) -> socket.socket:
    settings.check_bind()
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
        sock.listen(2048)  # connections queue from now on: the announced port answers at once
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}",
                          location="gateway.port", hint="choose another with --port (0 picks a free one)") from None
    return sock


def server(ctx: Context, settings: GatewaySettings) -> Any:
    """A uvicorn server for the app over ``ctx`` (not started)."""
    require_extra()
    import uvicorn

    from .app import build_app

    config = uvicorn.Config(build_app(ctx, settings), log_level="warning", access_log=False, server_header=False,
                            proxy_headers=False, timeout_keep_alive=30, limit_concurrency=256,
                            ssl_certfile=str(settings.tls_cert) if settings.tls else None,
                            ssl_keyfile=str(settings.tls_key) if settings.tls else None)
    return uvicorn.Server(config)


def serve(ctx: Context, settings: GatewaySettings, *, port_file: Path | None = None,
          announce: Callable[[str], None] = print) -> None:
    """Bind (refusing a clear-text non-loopback address), say where, serve until interrupted."""
    require_extra()
    sock = bind(settings)
    host, port = sock.getsockname()[:2]
    scheme = "https" if settings.tls else "http"
    url = f"{scheme}://{host if ':' not in host else f'[{host}]'}:{port}"
    if port_file is not None:
        port_file.write_text(json.dumps({"url": url, "port": port}), encoding="utf-8")
    announce(f"gateway listening on {url} (docs: {url}/docs, status page: {url}/status)")
    server(ctx, settings).run(sockets=[sock])
