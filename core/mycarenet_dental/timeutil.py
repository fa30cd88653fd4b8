"""Belgian calendar days: the insurers' "today", "future" and "two years back" are Belgian dates."""

from __future__ import annotations

import datetime as dt
import functools


@functools.lru_cache(maxsize=1)
def _brussels() -> dt.tzinfo | None:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Europe/Brussels")
    except Exception:  # pragma: no cover - no time-zone database on this machine
        return None


def belgian_date(moment: dt.datetime) -> dt.date:
    """The calendar day in Belgium at ``moment`` (a naive moment is taken as already local)."""
    zone = _brussels()
    if zone is None or moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(zone).date()
