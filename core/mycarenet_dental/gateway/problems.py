"""Errors mapped once: every error leaves the gateway as an :class:`ErrorBody`, the CLI's ``--json``
error (code, origin, location, FR/NL/EN message, hint, exit code) with the rule and its article for a
rule veto, and a reference into the server log for an internal error — never a traceback.

    rule veto, insurer business refusal ............ 409 / 422
    bad input (the field is named in ``location``) . 400
    no or wrong token / role not allowed ........... 401 / 403
    too many requests for one token ................ 429
    remote or transport failure / timeout .......... 502 / 504
    internal error, configuration of the server .... 500 (with ``reference``)
"""

from __future__ import annotations

import logging
import uuid

import attrs

from ..errors import (
    BusinessError,
    ConfigError,
    Messages,
    MyCareNetDentalError,
    RemoteTimeoutError,
    RuleRefusal,
    UsageError,
)

log = logging.getLogger("mycarenet_dental.gateway")

#: codes that are not bad input although raised as a usage error
_CONFLICT_CODES = frozenset({"IDEMPOTENCY_CONFLICT", "NO_CONTACT", "CONTACT_CLOSED"})


@attrs.frozen
class ErrorBody:
    """The body of every error answer (the same fields as ``--json`` errors)."""

    error: str
    code: str
    message: Messages
    exit_code: int
    origin: str | None = None
    location: str | None = None
    hint: str | None = None
    rule: str | None = None
    article: str | None = None
    reference: str | None = None


class HttpProblem(Exception):
    """Raised inside the gateway to answer ``status`` with ``body`` (401, 403, 429...)."""

    def __init__(self, status: int, body: ErrorBody, headers: dict[str, str] | None = None) -> None:
        super().__init__(body.code)
        self.status = status
        self.body = body
        self.headers = headers or {}


def problem(status: int, code: str, text: str, *, location: str | None = None, hint: str | None = None,
            exit_code: int = 2, headers: dict[str, str] | None = None) -> HttpProblem:
    return HttpProblem(status, ErrorBody(error="GatewayError", code=code, message=Messages(en=text),
                                         exit_code=exit_code, origin="gateway", location=location, hint=hint),
                       headers)


def status_of(exc: MyCareNetDentalError) -> int:
    if isinstance(exc, RuleRefusal):
        return 409
    if isinstance(exc, BusinessError):
        return 422
    if isinstance(exc, ConfigError):
        return 500
    if isinstance(exc, UsageError):
        if exc.code.startswith("UNKNOWN_") or exc.code.endswith("NOT_FOUND"):
            return 404
        return 409 if exc.code in _CONFLICT_CODES else 400
    if isinstance(exc, RemoteTimeoutError):
        return 504
    if exc.exit_code == 3:
        return 502
    return 409  # exit code 1: another business refusal (a plugin's own error class)


def body_of(exc: MyCareNetDentalError) -> ErrorBody:
    rule = exc.rule_id if isinstance(exc, RuleRefusal) else None
    article = exc.article if isinstance(exc, RuleRefusal) else None
    reference = None
    if isinstance(exc, ConfigError):
        reference = _reference()
        log.error("configuration error [ref %s]: %s", reference, exc)
    return ErrorBody(error=type(exc).__name__, code=exc.code, message=exc.messages, exit_code=exc.exit_code,
                     origin=exc.origin, location=exc.location, hint=exc.hint, rule=rule, article=article,
                     reference=reference)


def internal(exc: BaseException) -> tuple[int, ErrorBody]:
    """A defect: the traceback goes to the server log under a reference; the caller gets the reference."""
    reference = _reference()
    log.error("internal error [ref %s]", reference, exc_info=exc)
    return 500, ErrorBody(error="InternalError", code="INTERNAL", exit_code=4, origin="gateway",
                          message=Messages(en=f"internal error; the server log has the details under reference "
                                              f"{reference}"), reference=reference)


def _reference() -> str:
    return uuid.uuid4().hex[:12]
