"""The mandate register: storage in the core database, lifecycle rules R21–R27 and the history.

Every change goes through :class:`MandateRegister` inside one storage transaction, so the invariants
hold across processes: per mandator and service the periods in force never overlap (R26: a new
mandate closes the previous one the day before it starts), a death/bankruptcy/liquidation ends every
mandate of the party (R27), either party stops a mandate with immediate effect, fixed-term mandates
expire — and each of these is written to the history with its reason (and to the audit trail when the
register belongs to a practice's context).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
from mycarenet_dental.audit import AuditLog
from mycarenet_dental.errors import UsageError
from mycarenet_dental.registrations import TableSpec
from mycarenet_dental.storage import Storage
from mycarenet_dental.timeutil import belgian_date, utc_ms

from .model import (
    ARTICLE,
    Coverage,
    EndReason,
    EventKind,
    HistoryEntry,
    Mandate,
    MandateNotFound,
    MandateRefusal,
    MandateState,
    PartyEvent,
    PartyId,
    PartyKind,
    Service,
    parse_service,
)

if TYPE_CHECKING:  # pragma: no cover
    from mycarenet_dental.context import Context

TABLES = TableSpec(
    name="mandates",
    migrations=[
        """
        CREATE TABLE mandate (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            mandator_nihii TEXT NOT NULL,
            mandator_key TEXT NOT NULL,
            mandator_ssin TEXT,
            mandatary_kind TEXT NOT NULL,
            mandatary_id TEXT NOT NULL,
            mandatary_key TEXT NOT NULL,
            service TEXT NOT NULL,
            start_on TEXT NOT NULL,
            end_on TEXT,
            ended_on TEXT,
            end_reason TEXT,
            expiry_recorded INTEGER NOT NULL DEFAULT 0,
            given_by TEXT,
            emandate_ref TEXT,
            created_at TEXT NOT NULL
        );
        CREATE INDEX mandate_mandator ON mandate(mandator_key, service);
        CREATE INDEX mandate_mandatary ON mandate(mandatary_kind, mandatary_key);
        CREATE TABLE mandate_history (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            mandate_id TEXT NOT NULL,
            at TEXT NOT NULL,
            action TEXT NOT NULL,
            reason TEXT,
            rule TEXT,
            detail TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX mandate_history_id ON mandate_history(mandate_id, seq);
        CREATE TABLE mandate_party_event (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            party_kind TEXT NOT NULL,
            party_id TEXT NOT NULL,
            party_key TEXT NOT NULL,
            kind TEXT NOT NULL,
            on_date TEXT NOT NULL,
            recorded_at TEXT NOT NULL
        )
        """,
    ],
)


@attrs.frozen
class AddResult:
    """A new mandate and the previous ones it closed (R26)."""

    mandate: Mandate
    closed: tuple[Mandate, ...] = ()


@attrs.frozen
class EventResult:
    """A recorded R27 event and every mandate it ended."""

    event: PartyEvent
    ended: tuple[Mandate, ...] = ()


@attrs.frozen
class ImportResult:
    """What an import did: new mandates, ids already present, mandates it ended."""

    added: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    events: int = 0


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def _row_mandate(row: Any) -> Mandate:
    return Mandate(
        id=row["id"], mandator_nihii=row["mandator_nihii"], mandator_ssin=row["mandator_ssin"],
        mandatary=PartyId(row["mandatary_kind"], row["mandatary_id"]), service=row["service"],
        start=row["start_on"], end=row["end_on"], ended_on=row["ended_on"], end_reason=row["end_reason"],
        given_by=row["given_by"], emandate_ref=row["emandate_ref"], created_at=row["created_at"],
    )


def new_mandate_id() -> str:
    return "M-" + uuid.uuid4().hex[:12]


class MandateRegister:
    """The register of one practice or billing office (or of the simulator's MyCareNet side).

    ``today`` gives the current (Belgian) date; ``audit`` — when given — receives one entry per change.
    """

    def __init__(self, storage: Storage, *, today: Callable[[], dt.date] | None = None,
                 audit: AuditLog | None = None, actor: str = "") -> None:
        self.storage = storage
        self._today = today or dt.date.today
        self.audit = audit
        self.actor = actor

    @classmethod
    def in_memory(cls, *, today: Callable[[], dt.date] | None = None) -> MandateRegister:
        """A register in a private in-memory database (simulator, tests)."""
        storage = Storage(":memory:")
        storage.migrate([TABLES])
        return cls(storage, today=today)

    def today(self) -> dt.date:
        return self._today()

    # -- reading ----------------------------------------------------------------------------------
    def get(self, mandate_id: str) -> Mandate:
        row = self.storage.query_one("SELECT * FROM mandate WHERE id = ?", (mandate_id,))
        if row is None:
            raise MandateNotFound(mandate_id)
        return _row_mandate(row)

    def mandates(self, *, mandator: PartyId | None = None, mandatary: PartyId | None = None,
                 service: Service | str | None = None, on: dt.date | None = None,
                 states: Iterable[MandateState] | None = None) -> list[Mandate]:
        """Mandates in registration order, filtered; ``states`` are evaluated on ``on`` (default today)."""
        where, params = [], []
        if mandator is not None:
            if mandator.kind is PartyKind.SSIN:
                where.append("mandator_ssin = ?")
                params.append(mandator.value)
            else:
                where.append("mandator_key = ?")
                params.append(mandator.key)
        if mandatary is not None:
            where.append("mandatary_kind = ? AND mandatary_key = ?")
            params += [mandatary.kind.value, mandatary.key]
        if service is not None:
            where.append("service = ?")
            params.append(parse_service(service).value)
        sql = "SELECT * FROM mandate" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY seq"
        found = [_row_mandate(r) for r in self.storage.query(sql, params)]
        if states is not None:
            day = on or self.today()
            wanted = set(states)
            found = [m for m in found if m.state_on(day) in wanted]
        return found

    def history(self, mandate_id: str) -> list[HistoryEntry]:
        self.get(mandate_id)
        rows = self.storage.query("SELECT * FROM mandate_history WHERE mandate_id = ? ORDER BY seq", (mandate_id,))
        return [HistoryEntry(mandate_id=r["mandate_id"], at=r["at"], action=r["action"], reason=r["reason"],
                             rule=r["rule"], detail=r["detail"]) for r in rows]

    def events(self, party: PartyId | None = None) -> list[PartyEvent]:
        sql, params = "SELECT * FROM mandate_party_event", []
        if party is not None:
            sql += " WHERE party_kind = ? AND party_key = ?"
            params = [party.kind.value, party.key]
        rows = self.storage.query(sql + " ORDER BY seq", params)
        return [PartyEvent(party=PartyId(r["party_kind"], r["party_id"]), kind=r["kind"], on=r["on_date"],
                           recorded_at=r["recorded_at"]) for r in rows]

    def coverage(self, *, mandator_nihii: str, mandatary: Sequence[PartyId], service: Service | str,
                 on: dt.date) -> Coverage:
        """Whether a mandate in force on ``on`` lets one of the ``mandatary`` identities act (R21, R24)."""
        try:
            svc = parse_service(service)
        except MandateRefusal as exc:
            return Coverage(False, exc.reason)
        key = mandator_nihii[:8]
        for party in mandatary:
            rows = self.storage.query(
                "SELECT * FROM mandate WHERE mandator_key = ? AND service = ? AND mandatary_kind = ? "
                "AND mandatary_key = ? ORDER BY seq", (key, svc.value, party.kind.value, party.key))
            for mandate in (_row_mandate(r) for r in rows):
                if mandate.covers(on):
                    return Coverage(True, f"mandate {mandate.id} ({svc.value}, from {mandate.start}"
                                    f"{' to ' + str(mandate.end) if mandate.end else ''})", mandate)
        who = " / ".join(str(p) for p in mandatary) or "(unknown mandatary)"
        return Coverage(False, f"no mandate in force on {on} from dentist {mandator_nihii} to {who} for "
                        f"{svc.value}")

    # -- changing -----------------------------------------------------------------------------------
    def add(self, *, mandator_nihii: str, mandatary: PartyId | str, service: Service | str,
            start: dt.date | str, end: dt.date | str | None = None, mandator_ssin: str | None = None,
            given_by: str | None = None, emandate_ref: str | None = None,
            mandate_id: str | None = None) -> AddResult:
        """Register a mandate; closes the overlapping ones of the same mandator and service (R26)."""
        from mycarenet_dental.identifiers import Nihii, Ssin

        nihii = Nihii.parse(mandator_nihii, field="mandator")
        if not nihii.is_dentist:
            raise MandateRefusal("R21", f"NIHII {nihii.value} is not a dentist's: the mandator is the dentist")
        party = mandatary if isinstance(mandatary, PartyId) else PartyId.parse(mandatary, field="mandatary")
        if party.kind is PartyKind.NIHII and party.key == nihii.base:
            raise MandateRefusal("R24", "a dentist cannot give a mandate to himself")
        ssin = Ssin.parse(mandator_ssin, field="mandator_ssin").value if mandator_ssin else None
        if ssin is not None and party.kind is PartyKind.SSIN and party.value == ssin:
            raise MandateRefusal("R24", "a dentist cannot give a mandate to himself")
        with self.storage.transaction():
            self._sweep()
            mandate = Mandate(id=mandate_id or new_mandate_id(), mandator_nihii=nihii.value, mandator_ssin=ssin,
                              mandatary=party, service=service, start=start, end=end,
                              given_by=(given_by or None), emandate_ref=(emandate_ref or None),
                              created_at=utc_ms())
            if self.storage.query_one("SELECT 1 FROM mandate WHERE id = ?", (mandate.id,)):
                raise UsageError(f"a mandate {mandate.id!r} already exists", code="DUPLICATE_MANDATE")
            self._check_events(mandate)
            closed = self._close_overlapping(mandate)
            self.storage.execute(
                "INSERT INTO mandate(id, mandator_nihii, mandator_key, mandator_ssin, mandatary_kind, mandatary_id, "
                "mandatary_key, service, start_on, end_on, given_by, emandate_ref, created_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (mandate.id, mandate.mandator_nihii, mandate.mandator_key, mandate.mandator_ssin,
                 party.kind.value, party.value, party.key, mandate.service.value, _iso(mandate.start),
                 _iso(mandate.end), mandate.given_by, mandate.emandate_ref, mandate.created_at))
            detail = f"{mandate.service.value} from {mandate.start}" + (f" to {mandate.end}" if mandate.end else "")
            if mandate.given_by:
                detail += f"; given by {mandate.given_by} (liquidator/curator)"
            self._history(mandate, "created", None, "R24", detail)
            self._expire_one(mandate)
        return AddResult(mandate, tuple(closed))

    def stop(self, mandate_id: str, *, by: str = "mandator", on: dt.date | None = None) -> Mandate:
        """Either party stops a mandate at any time, with immediate effect (from ``on``, default today)."""
        reasons = {"mandator": EndReason.STOPPED_BY_MANDATOR, "mandatary": EndReason.STOPPED_BY_MANDATARY}
        if by not in reasons:
            raise UsageError("a mandate is stopped by the mandator or by the mandatary", location="--by")
        day = on or self.today()
        with self.storage.transaction():
            self._sweep()
            mandate = self.get(mandate_id)
            end = mandate.effective_end
            if end is not None and end <= max(day, mandate.start):
                raise UsageError(f"mandate {mandate_id} has already ended "
                                 f"({(mandate.reason_on(day) or mandate.end_reason or EndReason.EXPIRED).value})",
                                 code="MANDATE_ENDED", hint=f"mycarenet-dental mandates history {mandate_id}")
            # UNSURE: "immediate effect" read as: the day of the stop is no longer covered.
            stopped = self._end(mandate, max(day, mandate.start), reasons[by])
            self._history(stopped, "stopped", reasons[by].value, None, f"stopped by the {by} from {day}")
        return stopped

    def record_event(self, party: PartyId | str, kind: EventKind | str, on: dt.date | str) -> EventResult:
        """Death, bankruptcy or liquidation of a party ends every mandate of that party at once (R27)."""
        party = party if isinstance(party, PartyId) else PartyId.parse(party, field="party")
        event = PartyEvent(party=party, kind=kind, on=on, recorded_at=utc_ms())
        reason = EndReason(event.kind.value)
        ended: list[Mandate] = []
        with self.storage.transaction():
            self._sweep()
            self.storage.execute(
                "INSERT INTO mandate_party_event(party_kind, party_id, party_key, kind, on_date, recorded_at) "
                "VALUES (?,?,?,?,?,?)", (party.kind.value, party.value, party.key, event.kind.value,
                                         event.on.isoformat(), event.recorded_at))
            for mandate in self.mandates():
                if not mandate.involves(party):
                    continue
                cut = max(event.on, mandate.start)
                end = mandate.effective_end
                if end is not None and end <= cut:
                    continue  # already over before the event
                done = self._end(mandate, cut, reason)
                self._history(done, "terminated", reason.value, "R27",
                              f"{event.kind.value} of {party} on {event.on}")
                ended.append(done)
        return EventResult(event, tuple(ended))

    def expire(self, on: dt.date | None = None) -> list[Mandate]:
        """Record the expiry of fixed-term mandates whose end has passed (they show as ``expired``)."""
        with self.storage.transaction():
            return self._sweep(on)

    def import_mandates(self, mandates: Iterable[Mandate], events: Iterable[PartyEvent] = (),
                        history: Mapping[str, Sequence[HistoryEntry]] | None = None) -> ImportResult:
        """Mirror records (e.g. from eMandate, R22) through the lifecycle rules, all or nothing.

        Mandates are replayed in start order so that R26 closes older ones; ids already present are
        skipped; a record that arrives already ended keeps its end and reason. The history the file
        carries is kept first, its actions prefixed ``imported:``, then the replay's own entries.
        """
        history = history or {}
        added, skipped = [], []
        items = sorted(mandates, key=lambda m: (m.start, m.created_at))
        event_list = sorted(events, key=lambda e: e.on)
        with self.storage.transaction():
            known = {_event_key(e) for e in self.events()}
            for mandate in items:
                if self.storage.query_one("SELECT 1 FROM mandate WHERE id = ?", (mandate.id,)):
                    skipped.append(mandate.id)
                    continue
                for event in [e for e in event_list if e.on <= mandate.start]:
                    if _event_key(event) not in known:
                        self.record_event(event.party, event.kind, event.on)
                        known.add(_event_key(event))
                for entry in history.get(mandate.id, ()):
                    self.storage.execute(
                        "INSERT INTO mandate_history(mandate_id, at, action, reason, rule, detail) VALUES (?,?,?,?,?,?)",
                        (mandate.id, entry.at, f"imported:{entry.action}", entry.reason, entry.rule, entry.detail))
                self.add(mandator_nihii=mandate.mandator_nihii, mandatary=mandate.mandatary, service=mandate.service,
                         start=mandate.start, end=mandate.end, mandator_ssin=mandate.mandator_ssin,
                         given_by=mandate.given_by, emandate_ref=mandate.emandate_ref, mandate_id=mandate.id)
                if mandate.ended_on is not None and mandate.end_reason is not None:
                    current = self.get(mandate.id)
                    end = current.effective_end
                    if end is None or mandate.ended_on < end:
                        done = self._end(current, mandate.ended_on, mandate.end_reason)
                        self._history(done, _action_for(mandate.end_reason), mandate.end_reason.value, None,
                                      "as recorded in the imported register")
                added.append(mandate.id)
            for event in event_list:
                if _event_key(event) not in known:
                    self.record_event(event.party, event.kind, event.on)
                    known.add(_event_key(event))
        return ImportResult(tuple(added), tuple(skipped), len(event_list))

    # -- internals ----------------------------------------------------------------------------------
    def _check_events(self, mandate: Mandate) -> None:
        """R27: after a party's death/bankruptcy/liquidation only a liquidator or curator gives a new mandate."""
        for party in (mandate.mandator, mandate.mandatary) + ((PartyId(PartyKind.SSIN, mandate.mandator_ssin),)
                                                             if mandate.mandator_ssin else ()):
            for event in self.events(party):
                # UNSURE: "a new mandate may be given by or with the liquidator or curator" — we require
                # --given-by for any mandate of the party that reaches the event day (also after a death).
                reaches = mandate.end is None or mandate.end >= event.on
                if reaches and not mandate.given_by:
                    raise MandateRefusal(
                        "R27", f"{party} is recorded with {event.kind.value} on {event.on}: every mandate of that "
                        "party ended; a new one can only be given by or with the liquidator or curator",
                        hint="add --given-by 'NAME (curator)' when the liquidator or curator gives it")

    def _close_overlapping(self, new: Mandate) -> list[Mandate]:
        """R26: the previous mandates of this mandator and service end the day before the new one starts."""
        closed = []
        for old in self.mandates(mandator=new.mandator, service=new.service):
            old_end = old.effective_end
            if old.is_void() or (old_end is not None and old_end <= new.start):
                continue  # ends before the new one starts
            if new.end is not None and old.start > new.end:
                continue  # starts after the new one ends: no overlap
            # UNSURE: a mandate registered earlier but starting on/after the new start is voided
            # entirely (the newest registration wins), as "a new mandate closes the previous one".
            cut = max(new.start, old.start)
            done = self._end(old, cut, EndReason.SUPERSEDED)
            self._history(done, "closed", EndReason.SUPERSEDED.value, "R26",
                          f"closed by mandate {new.id} starting {new.start}: ends {cut - dt.timedelta(days=1)}")
            closed.append(done)
        return closed

    def _end(self, mandate: Mandate, ended_on: dt.date, reason: EndReason) -> Mandate:
        self.storage.execute("UPDATE mandate SET ended_on = ?, end_reason = ? WHERE id = ?",
                             (ended_on.isoformat(), reason.value, mandate.id))
        return attrs.evolve(mandate, ended_on=ended_on, end_reason=reason)

    def _sweep(self, on: dt.date | None = None) -> list[Mandate]:
        day = on or self.today()
        rows = self.storage.query("SELECT * FROM mandate WHERE expiry_recorded = 0 AND end_on IS NOT NULL "
                                  "AND end_on < ?", (day.isoformat(),))
        expired = []
        for mandate in (_row_mandate(r) for r in rows):
            if self._expire_one(mandate, day):
                expired.append(mandate)
        return expired

    def _expire_one(self, mandate: Mandate, day: dt.date | None = None) -> bool:
        day = day or self.today()
        if mandate.reason_on(day) is not EndReason.EXPIRED:
            return False
        self.storage.execute("UPDATE mandate SET expiry_recorded = 1 WHERE id = ?", (mandate.id,))
        self._history(mandate, "expired", EndReason.EXPIRED.value, None, f"fixed term ended on {mandate.end}")
        return True

    def _history(self, mandate: Mandate, action: str, reason: str | None, rule: str | None, detail: str) -> None:
        at = utc_ms()
        self.storage.execute("INSERT INTO mandate_history(mandate_id, at, action, reason, rule, detail) "
                             "VALUES (?,?,?,?,?,?)", (mandate.id, at, action, reason, rule, detail))
        if self.audit is not None:
            self.audit.append("mandate", service=mandate.service.value, operation=action,
                              responsible=f"dentist:{mandate.mandator_nihii}",
                              executor=self.actor or f"mandatary:{mandate.mandatary.value}",
                              outcome=reason or action, code=rule, message=f"{ARTICLE}: mandate {mandate.id} {action}",
                              detail={"mandate": mandate.id, "mandatary": str(mandate.mandatary)})


def _event_key(event: PartyEvent) -> tuple[str, str, str, dt.date]:
    return (event.party.kind.value, event.party.key, event.kind.value, event.on)


def _action_for(reason: EndReason) -> str:
    if reason in (EndReason.STOPPED_BY_MANDATOR, EndReason.STOPPED_BY_MANDATARY):
        return "stopped"
    if reason is EndReason.SUPERSEDED:
        return "closed"
    if reason is EndReason.EXPIRED:
        return "expired"
    return "terminated"


def register_for(context: Context) -> MandateRegister:
    """The register kept in a context's storage, dated in Belgian time (a light view: made per call)."""
    # UNSURE: eMandate periods are days without a time zone; Europe/Brussels is the natural reading.
    return MandateRegister(context.storage, today=lambda: belgian_date(context.now()), audit=context.audit,
                           actor=context.executor().label() if _has_identity(context) else "")


def _has_identity(context: Context) -> bool:
    try:
        context.executor()
    except Exception:
        return False
    return True


