"""The security headers a browser expects, on every answer of the gateway (API, status page, docs).

Patient data must not stay in a browser or proxy cache (``no-store``), pages cannot be framed
(clickjacking), content types are not sniffed, no referrer leaks a URL, and the status page may run
no script at all. The docs page loads Swagger UI from its CDN, so it gets a CSP allowing that origin.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]

STRICT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
              "frame-ancestors 'none'; base-uri 'none'")
# UNSURE: the interactive docs need Swagger UI's script and style from jsdelivr (Litestar's default).
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https:; "
            "frame-ancestors 'none'; base-uri 'none'")


class SecurityHeaders:
    """ASGI middleware adding the headers to every HTTP answer."""

    def __init__(self, app: ASGIApp, *, tls: bool) -> None:
        self.app = app
        base = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                (b"referrer-policy", b"no-referrer"), (b"cache-control", b"no-store"),
                (b"cross-origin-opener-policy", b"same-origin")]
        if tls:
            base.append((b"strict-transport-security", b"max-age=31536000"))
        self.base = base

    @classmethod
    def factory(cls, *, tls: bool) -> Callable[[ASGIApp], SecurityHeaders]:
        return lambda app: cls(app, tls=tls)

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Any]],
                       send: Callable[[Any], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = DOCS_CSP if scope.get("path", "").startswith("/docs") else STRICT_CSP
        extra = self.base + [(b"content-security-policy", csp.encode())]

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                known = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [h for h in extra if h[0] not in known]
            await send(message)

        await self.app(scope, receive, send_with_headers)
