"""The status page: what the practice and the billing office check on a phone — the outbox and the
insurers' answers (from the plugins' panels), the audit chain, the token and the certificate.

Server-rendered (Jinja2, autoescaped), no script. Who may see it: a token in ``Authorization``, or a
session cookie opened by a one-time link (``POST /status/link``): the cookie holds a random session
id (never the token), is HttpOnly, SameSite=Strict, limited to ``/status``, Secure under TLS, and is
accepted by this page only — never by the JSON API, so it cannot be used for a cross-site request.
"""

from __future__ import annotations

import functools
import secrets
import time
from typing import TYPE_CHECKING, Any

import attrs

from ..errors import MyCareNetDentalError
from ..registrations import StatusPanel
from ..timeutil import utc_ms
from .problems import HttpProblem
from .tokens import ApiToken

if TYPE_CHECKING:  # pragma: no cover
    from .service import Gateway

COOKIE = "mcdg_session"
SESSION_S = 12 * 3600
LINK_MINUTES = 10


@attrs.frozen
class Health:
    status: str
    version: str
    routes: int


@attrs.frozen
class StatusLink:
    """Open ``url`` (relative to the gateway) within ``minutes``; it works once."""

    url: str
    minutes: int


@functools.cache
def _version() -> str:
    from importlib.metadata import version

    return version("mycarenet-dental")


def health(gateway: Gateway) -> Health:
    return Health(status="ok", version=_version(), routes=len(gateway.routes))


def link_for(gateway: Gateway, token: ApiToken) -> StatusLink:
    code = gateway.tokens.status_link(token.id, now=gateway.now(), minutes=LINK_MINUTES)
    return StatusLink(url=f"/status/login?code={code}", minutes=LINK_MINUTES)


def open_session(gateway: Gateway, code: str) -> str | None:
    token = gateway.tokens.redeem_link(code, now=gateway.now())
    if token is None:
        return None
    session = secrets.token_urlsafe(32)
    gateway.sessions[session] = (token.id, time.monotonic() + SESSION_S)
    return session


def session_token(gateway: Gateway, authorization: str | None, cookie: str | None) -> ApiToken | None:
    """The token behind the request (header first, then the session cookie); ``None`` when neither is valid."""
    if authorization:
        try:
            return gateway.authenticate(authorization, "GET /status")
        except HttpProblem:
            return None
    found = gateway.sessions.get(cookie or "")
    if found is None or found[1] < time.monotonic():
        return None
    token = gateway.tokens.get(found[0])
    return token if token.valid_at(gateway.now()) else None


def _env() -> Any:
    import jinja2

    return jinja2.Environment(loader=jinja2.PackageLoader("mycarenet_dental.gateway", "templates"),
                              autoescape=True, trim_blocks=True, lstrip_blocks=True)


def login_page(*, expired: bool = False) -> str:
    return _env().get_template("login.html").render(expired=expired)


def _audit_state(gateway: Gateway) -> tuple[bool, str]:
    from .kernel_routes import verify_trail

    try:
        result = verify_trail(gateway.ctx)
    except MyCareNetDentalError as exc:
        return False, f"cannot be checked: {exc.message}"
    if result.ok:
        return True, f"intact: {result.rows} entries, chained and matching the signed checkpoints"
    where = f" at entry {result.first_broken}" if result.first_broken else ""
    return False, f"BROKEN{where} ({result.problem}): {result.reason}"


def _certificate(gateway: Gateway) -> tuple[str, str]:
    """The authentication certificate's expiry in plain words, and a mark (ok, warn, bad)."""
    ctx = gateway.ctx
    if ctx.config.keystore_path is None:
        return "no keystore configured", "warn"
    try:
        not_after = ctx.security.keystore.authentication.certificate.not_valid_after_utc
    except (MyCareNetDentalError, AttributeError, OSError) as exc:
        return f"cannot be read: {getattr(exc, 'message', type(exc).__name__)}", "bad"
    left = (not_after - gateway.now()).days
    mark = "bad" if left < 0 else "warn" if left < 30 else "ok"
    return f"expires on {not_after.date().isoformat()} ({left} days left)", mark


def _panels(gateway: Gateway) -> list[StatusPanel]:
    out: list[StatusPanel] = []
    for plugin, spec in gateway.ctx.pm.collect("mycarenet_dental_status_panels"):
        try:
            out.extend(spec.render(gateway.ctx))
        except Exception as exc:  # noqa: BLE001 — one plugin's panel must not take the page down
            out.append(StatusPanel(title=f"{spec.name} ({plugin})", columns=(), rows=(),
                                   notes=(f"unavailable: {type(exc).__name__}",)))
    return out


def render(gateway: Gateway, token: ApiToken) -> str:
    audit_ok, audit_text = _audit_state(gateway)
    cert_text, cert_mark = _certificate(gateway)
    now = gateway.now()
    return _env().get_template("status.html").render(
        now=utc_ms(now)[:16].replace("T", " ") + " UTC", token=token,
        token_valid=token.valid_at(now), audit_ok=audit_ok, audit_text=audit_text, cert_text=cert_text,
        cert_mark=cert_mark, panels=_panels(gateway))
