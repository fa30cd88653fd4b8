"""The exchange log: results of exchanges, kept in the store, that rules and other plugins read back
through the core (R34-R36) without importing the plugin that recorded them. Rows marked
``retention="contact"`` are erased when their contact closes (:mod:`.contacts`)."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import attrs

from .storage import Storage
from .timeutil import utc_ms


@attrs.frozen
class RecordedResult:
    """A result kept in the exchange log."""

    id: int
    exchange_id: str
    kind: str
    service: str
    patient: str | None
    contact_id: str | None
    status: str
    recorded_at: str
    retention: str
    data: Mapping[str, Any]


_INSERT = ("INSERT INTO exchange_result(exchange_id, kind, service, patient, contact_id, status, recorded_at, "
           "retention, data) VALUES ")
_ROW = "(?,?,?,?,?,?,?,?,?)"
#: the data column's JSON: sorted keys (stable rows), UTF-8 text as is; built once (json.dumps with
#: options builds a new encoder per call)
_DATA_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=str).encode


def _values(exchange_id: str, kind: str, service: str, patient: str | None, contact_id: str | None,
            status: str, ts: str, retention: str, data: Mapping[str, Any]) -> tuple[Any, ...]:
    return (exchange_id, kind, service, patient, contact_id, status, ts, retention, _DATA_JSON(dict(data)))


def _result(row: Any) -> RecordedResult:
    return RecordedResult(
        id=row["id"], exchange_id=row["exchange_id"], kind=row["kind"], service=row["service"],
        patient=row["patient"], contact_id=row["contact_id"], status=row["status"],
        recorded_at=row["recorded_at"], retention=row["retention"], data=json.loads(row["data"]),
    )


class ExchangeLog:
    """Results of exchanges that rules and other plugins read back through the core."""

    def __init__(self, storage: Storage, *, kinds: Collection[str] | None = None) -> None:
        self.storage = storage
        self.kinds = kinds  # the kinds plugins declare (``mycarenet_dental_result_kinds``); None: not checked

    def record(self, *, exchange_id: str, kind: str, service: str, status: str, data: Mapping[str, Any],
               patient: str | None = None, contact_id: str | None = None, retention: str = "keep",
               at: datetime | None = None) -> int:
        """Record one result; returns its row id. Code performing an exchange uses
        :meth:`ExchangeRun.keep <mycarenet_dental.exchange.ExchangeRun.keep>` instead."""
        self._check(kind, retention)
        cur = self.storage.execute(_INSERT + _ROW + " RETURNING id",
                                   _values(exchange_id, kind, service, patient, contact_id, status, utc_ms(at),
                                           retention, data))
        return int(cur.fetchone()[0])

    def record_all(self, conn: Any, results: Sequence[tuple[str, str, Mapping[str, Any], str]], *,
                   exchange_id: str, service: str, patient: str | None, contact_id: str | None) -> None:
        """Record an exchange's ``(kind, status, data, retention)`` results in ``conn``'s transaction, as one
        multi-row INSERT (one statement, one round trip on PostgreSQL, whatever the number of lines)."""
        if not results:
            return
        ts = utc_ms()
        params: list[Any] = []
        for kind, status, data, retention in results:
            self._check(kind, retention)
            params += _values(exchange_id, kind, service, patient, contact_id, status, ts, retention, data)
        conn.execute(_INSERT + ",".join([_ROW] * len(results)), params)

    def _check(self, kind: str, retention: str) -> None:
        if retention not in ("keep", "contact"):
            raise ValueError("retention must be 'keep' or 'contact'")
        if self.kinds is not None and kind not in self.kinds:
            from .plugins import UndeclaredResultKindError

            raise UndeclaredResultKindError(f"result kind {kind!r} is not declared by any loaded plugin",
                                            hint="declare it with the mycarenet_dental_result_kinds hook")

    def find(self, *, kind: str | None = None, service: str | None = None, patient: str | None = None,
             contact_id: str | None = None, status: str | None = None,
             since: datetime | None = None) -> list[RecordedResult]:
        where, params = [], []
        for column, value in (("kind", kind), ("service", service), ("patient", patient),
                              ("contact_id", contact_id), ("status", status)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            where.append("recorded_at >= ?")
            params.append(utc_ms(since.astimezone(timezone.utc)))
        sql = "SELECT * FROM exchange_result" + (" WHERE " + " AND ".join(where) if where else "")
        return [_result(r) for r in self.storage.query(sql + " ORDER BY id", params)]
