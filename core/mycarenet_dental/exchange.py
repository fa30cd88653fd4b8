"""Exchanges: one object describing every service call, and the guard every call goes through.

Every MyCareNet call a plugin makes is described by an :class:`Exchange` (service, operation,
responsible care provider, executor, patient, contact, trigger, timestamps) and run inside
``context.exchange(...)``: the convention rules may veto it before anything is sent, the audit
records its start, every disturbance and its outcome (R5–R9), and the ``exchange_finished`` hook
sees the outcome afterwards.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

from .timeutil import utc_now

if TYPE_CHECKING:  # pragma: no cover
    from .audit import AuditLog


class Trigger(str, enum.Enum):
    """Why an exchange happens: an explicit user request, or the software on its own (R37, R42)."""

    USER = "user"
    AUTOMATIC = "automatic"


class PartyKind(str, enum.Enum):
    DENTIST = "dentist"
    USER = "user"
    MANDATARY = "mandatary"


@attrs.frozen
class Party:
    """A responsible care provider or an executor (R6, R7).

    ``id`` is the identifier that names the party (NIHII for a dentist, a user name for a practice
    user, SSIN/NIHII/CBE for a mandatary); ``ssin`` and ``nihii`` when known.
    """

    kind: PartyKind = attrs.field(converter=PartyKind)
    id: str
    name: str = ""
    ssin: str | None = None
    nihii: str | None = None
    cbe: str | None = None

    def label(self) -> str:
        return f"{self.kind.value}:{self.id}" + (f" ({self.name})" if self.name else "")


@attrs.frozen
class Exchange:
    """One service call, as the rules and the audit see it."""

    service: str
    operation: str
    responsible: Party
    executor: Party
    patient: str | None = None
    contact_id: str | None = None
    trigger: Trigger = attrs.field(default=Trigger.USER, converter=Trigger)
    purpose: str | None = None
    details: Mapping[str, Any] = attrs.field(factory=dict)
    id: str = attrs.field(factory=lambda: uuid.uuid4().hex)
    created_at: datetime = attrs.field(factory=utc_now)

    @property
    def by_mandatary(self) -> bool:
        return self.executor.kind is PartyKind.MANDATARY


@attrs.frozen
class Disturbance:
    """Something that went wrong while processing (R9): a timeout, a retry, a fault, a refusal."""

    kind: str
    detail: str
    code: str | None = None
    at: datetime = attrs.field(factory=utc_now)


@attrs.frozen
class Outcome:
    """What came of an exchange. ``status``: ok | refused | business_error | failed."""

    status: str
    finished_at: datetime
    code: str | None = None
    message: str | None = None
    references: Mapping[str, str] = attrs.field(factory=dict)
    disturbances: tuple[Disturbance, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@attrs.frozen
class KeptResult:
    """A result an exchange keeps in the exchange log (see :meth:`ExchangeRun.keep`)."""

    kind: str
    data: Mapping[str, Any]
    status: str = "ok"
    retention: str = "keep"


class ExchangeRun:
    """Handed to the code that performs an exchange: records references and disturbances as they
    happen, so the audit can rebuild the timeline of one transmission (R8, R9)."""

    def __init__(self, exchange: Exchange, audit: AuditLog, *, kinds: Collection[str] | None = None) -> None:
        self.exchange = exchange
        self._audit = audit
        self._kinds = kinds  # the declared result kinds (None: not checked)
        self.references: dict[str, str] = {}
        self.disturbances: list[Disturbance] = []
        self.status: str | None = None
        self.kept: list[KeptResult] = []

    def keep(self, kind: str, data: Mapping[str, Any], *, status: str = "ok", retention: str = "keep") -> None:
        """Keep a result in the exchange log (for rules and other plugins). It is written together with
        the outcome row of the audit, in one transaction: a result is never on record without its outcome."""
        if retention not in ("keep", "contact"):
            raise ValueError("retention must be 'keep' or 'contact'")
        if self._kinds is not None and kind not in self._kinds:
            from .plugins import UndeclaredResultKindError

            raise UndeclaredResultKindError(f"result kind {kind!r} is not declared by any loaded plugin",
                                            hint="declare it with the mycarenet_dental_result_kinds hook")
        self.kept.append(KeptResult(kind=kind, data=dict(data), status=status, retention=retention))

    def reference(self, name: str, value: str) -> None:
        """Keep a message reference (request id, InputReference, ...)."""
        self.references[name] = value

    def disturbance(self, kind: str, detail: str, *, code: str | None = None) -> None:
        """Record a disturbance now, linked to this exchange, in the audit."""
        item = Disturbance(kind=kind, detail=detail, code=code)
        self.disturbances.append(item)
        ex = self.exchange
        self._audit.append(
            "disturbance", exchange_id=ex.id, service=ex.service, operation=ex.operation,
            responsible=ex.responsible.label(), executor=ex.executor.label(), patient=ex.patient,
            contact_id=ex.contact_id, trigger=ex.trigger.value, code=code, message=detail,
            detail={"kind": kind},
        )

    def mark(self, status: str) -> None:
        """Let the performing code state the outcome status (e.g. ``business_error`` with a result)."""
        self.status = status
