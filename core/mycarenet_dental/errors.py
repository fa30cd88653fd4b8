"""Typed exceptions shared by the core and every plugin.

Every error a vendor can meet is one of these classes. Each carries a stable ``code`` (the
eHealth/MyCareNet/insurer code when the error came from the remote side), where it came from
(``origin``), an optional ``location`` (XPath, field, record/zone), the message in French, Dutch
and English, and a ``hint`` that says what to do. ``exit_code`` is what the CLI returns, one of
:class:`ExitCode` (the contract, defined here once; ``docs/exit-codes.md`` lists it per command).

Secrets never go into an exception: callers pass identifiers and codes, never passwords or keys.
"""

from __future__ import annotations

import enum
from typing import ClassVar

import attrs


class ExitCode(enum.IntEnum):
    """The exit codes of ``mycarenet-dental``, for every command of every plugin."""

    OK = 0  #: done as asked
    REFUSED = 1  #: a business refusal (the insurer, or a local check the insurer would make) or a rule veto
    USAGE = 2  #: bad command line, input file or configuration; nothing was sent
    REMOTE = 3  #: the remote side failed or could not be reached, or its answer failed authentication
    INTERNAL = 4  #: a defect: short message, traceback in a private file


@attrs.frozen
class Messages:
    """The same message in the three languages the insurers use (FR/NL) plus English."""

    en: str
    fr: str = ""
    nl: str = ""

    def get(self, lang: str) -> str:
        """The message in ``lang`` (``fr``, ``nl`` or ``en``), falling back to English."""
        return getattr(self, lang, "") or self.en


class MyCareNetDentalError(Exception):
    """Base class of every error raised by mycarenet-dental."""

    exit_code: ClassVar[int] = ExitCode.REFUSED
    default_code: ClassVar[str] = "ERROR"

    def __init__(
        self,
        message: str | Messages,
        *,
        code: str | None = None,
        origin: str | None = None,
        location: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.messages = message if isinstance(message, Messages) else Messages(en=message)
        self.code = code or self.default_code
        self.origin = origin
        self.location = location
        self.hint = hint
        super().__init__(self._render())

    @property
    def message(self) -> str:
        return self.messages.en

    def _render(self) -> str:
        text = f"[{self.code}] {self.messages.en}"
        if self.location:
            text += f" (at {self.location})"
        if self.hint:
            text += f" — {self.hint}"
        return text

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form used by ``--json`` output and the audit.

        ``message`` always has ``en``; ``fr`` and ``nl`` only when there is a text in that language
        (the insurers' catalogues give them; a local error has English only): an empty string would
        read as "the insurer said nothing".
        """
        message = {"en": self.messages.en}
        message.update({lang: text for lang in ("fr", "nl") if (text := getattr(self.messages, lang))})
        return {
            "error": type(self).__name__,
            "code": self.code,
            "origin": self.origin,
            "location": self.location,
            "message": message,
            "hint": self.hint,
            "exit_code": int(self.exit_code),
        }


# --- exit code 2: refused locally, nothing left the machine ---------------------------------


class UsageError(MyCareNetDentalError):
    """Bad input from the caller; nothing was sent."""

    exit_code = ExitCode.USAGE
    default_code = "USAGE"


class InvalidIdentifierError(UsageError, ValueError):
    """An identifier (SSIN, NIHII, tooth, ...) failed validation; ``field`` names it."""

    default_code = "INVALID_IDENTIFIER"

    def __init__(self, field: str, value: str, reason: str, *, hint: str | None = None) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}: {reason} (got {value!r})", location=field, hint=hint)


class ConfigError(UsageError):
    """Missing or invalid configuration (file, key, keystore, certificate)."""

    default_code = "CONFIG"


# --- exit code 1: a business refusal ----------------------------------------------------------


class BusinessError(MyCareNetDentalError):
    """The remote service answered, and refused the request for a business reason."""

    exit_code = ExitCode.REFUSED
    default_code = "BUSINESS"


class RuleRefusal(MyCareNetDentalError):
    """A convention rule vetoed an exchange before anything was sent."""

    exit_code = ExitCode.REFUSED
    default_code = "RULE_REFUSAL"

    def __init__(self, rule_id: str, article: str, reason: str, *, hint: str | None = None) -> None:
        self.rule_id = rule_id
        self.article = article
        self.reason = reason
        super().__init__(f"refused by rule {rule_id} ({article}): {reason}", code=rule_id, hint=hint)


class NoContactError(RuleRefusal):
    """A consultation needs an open patient contact (rule R29) and none was found.

    A rule veto (exit 1) like every rule, though found while resolving the contact, before the
    exchange exists; its code stays ``NO_CONTACT`` (what scripts match), ``rule_id`` is ``R29``.
    """

    default_code = "NO_CONTACT"

    def __init__(self, reason: str, *, hint: str | None = None) -> None:
        self.rule_id = "R29"
        self.article = "Annexes 2, 3, 5"  # as the built-in rule R29 cites it
        self.reason = reason
        MyCareNetDentalError.__init__(self, reason, hint=hint)


# --- exit code 3: remote side or transport failed --------------------------------------------


class RemoteError(MyCareNetDentalError):
    """The remote side failed (SOAP fault, system error) or could not be reached."""

    exit_code = ExitCode.REMOTE
    default_code = "REMOTE"


class TransportError(RemoteError):
    """Network, TLS or HTTP failure; the request may or may not have been received."""

    default_code = "TRANSPORT"


class RemoteTimeoutError(TransportError):
    """No answer within the configured time."""

    default_code = "TIMEOUT"


class MalformedResponseError(RemoteError):
    """The answer is not acceptable XML (truncated, DTD/entities, too large, wrong structure)."""

    default_code = "MALFORMED_RESPONSE"


class SoapFaultError(RemoteError):
    """A SOAP fault or eHealth ``SystemError`` answered by the remote service."""

    default_code = "SOAP_FAULT"


class SecurityError(MyCareNetDentalError):
    """A signature, certificate, token or encryption check failed."""

    exit_code = ExitCode.REMOTE
    default_code = "SECURITY"


class MalformedCertificateError(SecurityError, ValueError):
    """A certificate received in a message is not base64 DER (a ValueError too, for existing handlers)."""

    default_code = "CERT_MALFORMED"
