"""What the gateway does for one request, without the web framework: who calls (token, role, rate),
as whom the exchanges run (R7), the idempotent replay of sending POSTs, and the error mapping.

:mod:`.app` only turns :class:`~mycarenet_dental.registrations.RouteSpec` records into web routes
that call :meth:`Gateway.call`.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ..context import Context
from ..errors import MyCareNetDentalError
from ..exchange import Party, PartyKind
from ..plugins import PluginConflictError
from ..registrations import RouteCall, RouteSpec
from .idempotency import IdempotencyStore
from .kernel_routes import TokenStatus, kernel_routes
from .problems import HttpProblem, body_of, internal, problem, status_of
from .settings import GatewaySettings
from .tokens import ApiToken, TokenStore

Encoder = Callable[[Any], bytes]


class RateLimiter:
    """A token bucket per API token: ``per_minute`` requests, refilled continuously."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 when allowed, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            level, at = self._buckets.get(key, (self.capacity, now))
            level = min(self.capacity, level + (now - at) * self.rate)
            if level < 1.0:
                self._buckets[key] = (level, now)
                return (1.0 - level) / self.rate
            self._buckets[key] = (level - 1.0, now)
            return 0.0


@attrs.frozen
class Answer:
    status: int
    body: bytes
    headers: Mapping[str, str] = attrs.field(factory=dict)


def executor_for(ctx: Context, token: ApiToken) -> Party:
    """The token's user as the executor of its exchanges (R7).

    A practice user, or the configured dentist when the token is the dentist's own (its user is the
    dentist's NIHII). UNSURE: a mandatary office keeps its organisation as executor (the mandate is
    its), named with the token's user, since the mandate rule (R21) matches the organisation.
    """
    configured = ctx.executor()
    if configured.kind is PartyKind.MANDATARY:
        return attrs.evolve(configured, name=f"{configured.name} / user {token.user_id}".strip(" /"))
    dentist = ctx.config.dentist
    if dentist is not None and token.role == "dentist" and token.user_id == dentist.nihii:
        return ctx.responsible()
    return Party(kind=PartyKind.USER, id=token.user_id, name=f"gateway {token.role}")


class Gateway:
    """The routes of every loaded plugin and of the kernel, over one :class:`Context`."""

    def __init__(self, ctx: Context, settings: GatewaySettings, *, encode: Encoder | None = None) -> None:
        self.ctx = ctx
        self.settings = settings
        self.tokens = TokenStore(ctx.storage)
        self.idempotency = IdempotencyStore(ctx.storage)
        self.limiter = RateLimiter(settings.rate_per_minute)
        self.sessions: dict[str, tuple[str, float]] = {}  # status page: session id -> (token id, expiry)
        self.encode: Encoder = encode or (lambda value: json.dumps(value).encode())
        token_status = RouteSpec(method="GET", path="/token", handler=self._token_status, response=TokenStatus,
                                 summary="The calling token: user, role, validity", tags=("token",))
        self.routes = self._collect(token_status)

    def _collect(self, token_status: RouteSpec) -> list[tuple[str, RouteSpec]]:
        found: list[tuple[str, RouteSpec]] = [("core", spec) for spec in kernel_routes(token_status)]
        found += self.ctx.pm.collect("mycarenet_dental_routes")
        seen: dict[tuple[str, str], str] = {}
        for plugin, spec in found:
            key = (spec.method, spec.path)
            if key in seen:
                raise PluginConflictError(f"route {spec.method} {spec.path} is declared by {seen[key]!r} and {plugin!r}")
            seen[key] = plugin
        return found

    def now(self) -> dt.datetime:
        return self.ctx.now()

    # -- who calls -------------------------------------------------------------------------------
    def authenticate(self, authorization: str | None, where: str) -> ApiToken:
        """The caller's valid token from ``Authorization: Bearer``, else 401 (audited, nothing sent)."""
        presented = ""
        if authorization and authorization[:7].lower() == "bearer ":
            presented = authorization[7:].strip()
        token = self.tokens.check(presented, now=self.now()) if presented else None
        if token is None:
            self.deny(401, "UNAUTHORIZED", "no valid API token" if presented else "no API token", where, None)
        assert token is not None
        return token

    def deny(self, status: int, code: str, text: str, where: str, token: ApiToken | None) -> None:
        self.ctx.audit.append("gateway_denied", operation=where[:200], outcome="refused", code=code,
                              executor=f"user:{token.user_id} (token {token.id}, {token.role})" if token else None,
                              message=text)
        raise problem(status, code, text, exit_code=2,
                      hint="send `Authorization: Bearer <token>` (mycarenet-dental gateway token add)"
                      if status == 401 else None,
                      headers={"WWW-Authenticate": 'Bearer realm="mycarenet-dental"'} if status == 401 else None)

    def admit(self, token: ApiToken, spec: RouteSpec, where: str) -> None:
        if token.role not in spec.roles:
            self.deny(403, "FORBIDDEN", f"role {token.role!r} may not call {spec.method} {spec.path} "
                      f"(allowed: {', '.join(sorted(spec.roles))})", where, token)
        wait = self.limiter.take(token.id)
        if wait:
            raise problem(429, "RATE_LIMITED", f"more than {self.settings.rate_per_minute} requests a minute "
                          "with this token", headers={"Retry-After": str(max(1, round(wait)))})

    # -- one call ----------------------------------------------------------------------------------
    def call(self, spec: RouteSpec, *, authorization: str | None, body: Any, params: Mapping[str, str],
             query: Mapping[str, str | None], idempotency_key: str | None) -> Answer:
        where = f"{spec.method} {spec.path}"
        try:
            token = self.authenticate(authorization, where)
            self.admit(token, spec, where)
            if spec.sends:
                replay = self.idempotency.claim(token.id, idempotency_key or "", where + " " + json.dumps(
                    dict(params), sort_keys=True), self.encode(body))
                if replay is not None:
                    return Answer(replay.status, replay.body, {"Idempotent-Replayed": "true"})
        except HttpProblem as exc:
            return Answer(exc.status, self.encode(exc.body), exc.headers)
        except MyCareNetDentalError as exc:
            return self.error(exc)
        answer = self._run(spec, token, body, params, query)
        if spec.sends:
            self.idempotency.finish(token.id, idempotency_key or "", answer.status, answer.body)
        return answer

    def _run(self, spec: RouteSpec, token: ApiToken, body: Any, params: Mapping[str, str],
             query: Mapping[str, str | None]) -> Answer:
        ctx = self.ctx
        try:
            with ctx.acting_as(executor_for(ctx, token)):
                result = spec.handler(RouteCall(context=ctx, body=body, params=dict(params), query=dict(query),
                                                user=token.user_id, role=token.role, token_id=token.id))
            return Answer(spec.status_code, self.encode(result))
        except MyCareNetDentalError as exc:
            return self.error(exc)
        except Exception as exc:  # noqa: BLE001 — a defect: a reference, never a traceback in the body
            status, error = internal(exc)
            return Answer(status, self.encode(error))

    def error(self, exc: MyCareNetDentalError) -> Answer:
        return Answer(status_of(exc), self.encode(body_of(exc)))

    # -- the token route ---------------------------------------------------------------------------
    def _token_status(self, call: RouteCall) -> TokenStatus:
        token = self.tokens.get(call.token_id)
        return TokenStatus(token_id=token.id, user=token.user_id, role=token.role,
                           executor=call.context.executor().label(), created_at=token.created_at,
                           expires_at=token.expires_at)
