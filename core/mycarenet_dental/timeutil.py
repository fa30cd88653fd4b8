"""Belgian time: the insurers' calendar days and the wall-clock times they write.

MyCareNet insurers write zone-less ``xs:dateTime`` values in Belgian local time (all 21 recorded
MemberData answers in ``shared/conformance/memberdata`` do), and their "today" is a Belgian date. A
zone-less value written in UTC reads one or two hours in the past there, so every zone-less time we
write goes through :func:`xs_local_datetime`, and every zone-less time we read is taken as Belgian.
"""

from __future__ import annotations

import datetime as dt
import functools

from .errors import ConfigError


@functools.lru_cache(maxsize=1)
def _brussels() -> dt.tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Europe/Brussels")
    except Exception:  # pragma: no cover - no system zoneinfo and the tzdata package missing
        raise ConfigError("no time-zone database for Europe/Brussels",
                          hint="install the 'tzdata' package (a dependency of mycarenet-dental)") from None


def belgian_date(moment: dt.datetime) -> dt.date:
    """The calendar day in Belgium at ``moment`` (a naive moment is taken as already Belgian)."""
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(_brussels()).date()


def belgian_wall_clock(moment: dt.datetime) -> dt.datetime:
    """``moment`` as a naive Belgian wall-clock time (a naive moment is taken as already Belgian)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(_brussels()).replace(tzinfo=None)


def xs_local_datetime(moment: dt.datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS`` in Belgian local time, no zone, seconds: how the insurers write it."""
    return belgian_wall_clock(moment).replace(microsecond=0).isoformat()


def from_belgian(value: dt.datetime) -> dt.datetime:
    """An aware moment: a zone-less value is Belgian local time, a zoned one keeps its zone."""
    if value.tzinfo is not None:
        return value
    return value.replace(tzinfo=_brussels())
