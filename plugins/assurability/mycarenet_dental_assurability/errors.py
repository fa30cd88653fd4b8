"""Typed errors of the insurability service, with the FR/NL/EN catalogue in ``data/errors.json``.

Every code MyCareNet or an insurer can answer becomes :class:`InsurabilityRefused` (the service said
no: exit 1) or :class:`InsurerUnavailable` (a disturbance at MyCareNet or the insurer: exit 3, a new
consultation in the same contact stays allowed). An unknown code surfaces verbatim, with the remote
message, never swallowed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

from mycarenet_dental.errors import BusinessError, Messages, RemoteError

from .model import Notice


@lru_cache(maxsize=1)
def catalogue() -> Mapping[str, Mapping[str, Mapping[str, str]]]:
    """``{"memberdata": {code: {kind, en, fr, nl, hint}}, "genins": {...}, "genins_fault": {...}, ...}``."""
    text = resources.files("mycarenet_dental_assurability").joinpath("data/errors.json").read_text("utf-8")
    data = json.loads(text)
    data.pop("_about", None)
    return data  # type: ignore[no-any-return]


def entry(table: str, code: str) -> Mapping[str, str] | None:
    return catalogue().get(table, {}).get(code)


def messages(table: str, code: str, remote: str | None = None) -> Messages:
    """Catalogue texts for ``code``; for an unknown code the remote text (or the code) verbatim."""
    known = entry(table, code)
    if known is None:
        text = f"{code}: {remote}" if remote else code
        return Messages(en=text, fr=text, nl=text)
    en = known["en"] + (f" ({remote})" if remote and remote not in known["en"] else "")
    return Messages(en=en, fr=known.get("fr", ""), nl=known.get("nl", ""))


class _InsurabilityErrorMixin:
    status: str | None
    sub_status: str | None
    fault_code: str | None
    fault_source: str | None
    details: tuple[Notice, ...]

    def __init__(self, message: Messages, *, code: str, origin: str | None = None, location: str | None = None,
                 hint: str | None = None, status: str | None = None, sub_status: str | None = None,
                 fault_code: str | None = None, fault_source: str | None = None,
                 details: Iterable[Notice] = ()) -> None:
        self.status = status
        self.sub_status = sub_status
        self.fault_code = fault_code
        self.fault_source = fault_source
        self.details = tuple(details)
        super().__init__(message, code=code, origin=origin, location=location, hint=hint)  # type: ignore[call-arg]

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), **self.extra_dict()}  # type: ignore[misc]

    def extra_dict(self) -> dict[str, Any]:
        return {"status": self.status, "sub_status": self.sub_status, "fault_code": self.fault_code,
                "fault_source": self.fault_source,
                "details": [{"code": d.code, "source": d.source, "location": d.location, "message": d.message}
                            for d in self.details]}


class InsurabilityRefused(_InsurabilityErrorMixin, BusinessError):
    """MyCareNet or the insurer refused the consultation (status Requester/Responder, GenIns MessageFault)."""

    default_code = "INSURABILITY_REFUSED"


class InsurerUnavailable(_InsurabilityErrorMixin, RemoteError):
    """A disturbance at MyCareNet or the insurer (InternalError): retry later; R34 allows it."""

    default_code = "INSURER_UNAVAILABLE"


def error_for(table: str, code: str, *, remote_message: str | None = None, responder_internal: bool = False,
              **extra: Any) -> InsurabilityRefused | InsurerUnavailable:
    """The typed error for a remote code: catalogue kind decides; unknown codes follow the status."""
    known = entry(table, code)
    kind = known["kind"] if known else ("remote" if responder_internal else "refusal")
    cls = InsurerUnavailable if kind == "remote" else InsurabilityRefused
    hint = known.get("hint") if known else "an unknown code: see the message and contact the vendor"
    return cls(messages(table, code, remote_message), code=code, hint=hint, **extra)
