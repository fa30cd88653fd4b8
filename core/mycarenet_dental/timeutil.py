"""Every time and date format of the framework, written and read in one place.

Three conventions, each with its reason:

* **UTC, milliseconds, ``Z``** (:func:`utc_ms`): the audit chain's "complete time information" (R8),
  the eHealth security layer (SAML, WS-Security timestamps, XAdES signing time) and the MyCareNet
  commons ``IssueInstant``. A naive moment is taken as UTC.
* **Belgian local time, no zone, seconds** (:func:`xs_local`): MyCareNet insurers write zone-less
  ``xs:dateTime`` values in Belgian local time (all 21 recorded MemberData answers in
  ``shared/conformance/memberdata`` do), and their "today" is a Belgian date. A zone-less value written in
  UTC reads one or two hours in the past there, so every zone-less time we write goes through
  :func:`xs_local`, and every zone-less time we read is taken as Belgian (:func:`from_belgian`).
* **ISO dates** ``YYYY-MM-DD`` (``date.isoformat()``; read with :func:`iso_date`, or :func:`xs_date` for
  the date part of an ``xs:date``/``xs:dateTime``).

The eFact flat-file dates (``YYYYMMDD`` zones) belong to the billing plugin's record layouts, not here.
"""

from __future__ import annotations

import datetime as dt
import functools
import time as _time

from .errors import ConfigError

UTC = dt.timezone.utc


@functools.lru_cache(maxsize=1)
def _brussels() -> dt.tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Europe/Brussels")
    except Exception:  # pragma: no cover - no system zoneinfo and the tzdata package missing
        raise ConfigError("no time-zone database for Europe/Brussels",
                          hint="install the 'tzdata' package (a dependency of mycarenet-dental)") from None


# --- UTC ------------------------------------------------------------------------------------------


def utc_now() -> dt.datetime:
    """The present, aware, in UTC."""
    return dt.datetime.now(UTC)


def as_utc(moment: dt.datetime) -> dt.datetime:
    """``moment`` in UTC; a naive moment is taken as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def utc_ms(moment: dt.datetime | None = None) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ``: UTC with milliseconds (default: now; a naive moment is UTC).

    Formatted by hand rather than with ``strftime``/``isoformat``: it is written several times per
    message (timestamps, assertions, audit rows) and this is the cheapest exact form.
    """
    m = as_utc(moment) if moment is not None else utc_now()
    return (f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}."
            f"{m.microsecond // 1000:03d}Z")


def utc_ms_offset(moment: dt.datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmm+00:00``: the form the billing outbox has always stored (kept byte for
    byte so that existing databases compare and sort as before)."""
    return as_utc(moment).isoformat(timespec="milliseconds")


def file_stamp() -> str:
    """``YYYYMMDDTHHMMSS`` in the machine's local time, for names of files a person looks through."""
    return _time.strftime("%Y%m%dT%H%M%S")


def yymmdd(day: dt.date) -> str:
    """``YYMMDD`` (two-digit year), as in the billing outbox's default sending numbers."""
    return f"{day.year % 100:02d}{day.month:02d}{day.day:02d}"


# --- reading ---------------------------------------------------------------------------------------


def parse_datetime(text: str) -> dt.datetime:
    """An ``xs:dateTime``/ISO 8601 date-time (a trailing ``Z`` is UTC); a zone-less value stays naive.
    ``ValueError`` when it is not one."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    return dt.datetime.fromisoformat(value)


def parse_utc(text: str | None) -> dt.datetime:
    """An ``xs:dateTime`` of the security layer, in UTC (zone-less = UTC). ``ValueError`` when absent or bad."""
    if not text:
        raise ValueError("missing time")
    return as_utc(parse_datetime(text))


def iso_date(text: str) -> dt.date:
    """An ISO date ``YYYY-MM-DD`` and nothing else (``ValueError`` otherwise)."""
    return dt.date.fromisoformat(text)


def xs_date(text: str) -> dt.date:
    """The date of an ``xs:date``/``xs:dateTime`` (its first ten characters; a zone or time after them is
    ignored, as the insurers' day is what counts). ``ValueError`` when it is not one."""
    return dt.date.fromisoformat(text.strip()[:10])


def optional_xs_date(text: str | None) -> dt.date | None:
    """:func:`xs_date`, or ``None`` when ``text`` is empty or not a date (optional answer fields)."""
    if not text:
        return None
    try:
        return xs_date(text)
    except ValueError:
        return None


def xs_time(text: str) -> dt.time:
    """The ``hh:mm:ss`` of an ``xs:time`` (fractions and zone ignored). ``ValueError`` when it is not one."""
    return dt.time.fromisoformat(text.strip()[:8])


# --- Belgian time ------------------------------------------------------------------------------------


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


def xs_local(value: dt.datetime | dt.date) -> str:
    """A MyCareNet ``xs:dateTime`` (:func:`xs_local_datetime`) or, for a date, ``YYYY-MM-DD``."""
    if isinstance(value, dt.datetime):
        return xs_local_datetime(value)
    return value.isoformat()


def xs_clock(value: dt.time) -> str:
    """``hh:mm:ss`` of a KMEHR time (a wall-clock time: no zone, no fraction)."""
    return value.replace(microsecond=0, tzinfo=None).isoformat()


def parse_belgian_wall_clock(text: str | None) -> dt.datetime | None:
    """A MyCareNet ``xs:dateTime`` as a naive Belgian wall-clock time; ``None`` when absent or not one.

    A zoned value (freehealth writes one) is brought to Belgian time, so that "2026-03-02T00:00:00+01:00"
    stays 2 March and is not read as 1 March 23:00 UTC.
    """
    if not text:
        return None
    try:
        return belgian_wall_clock(parse_datetime(text))
    except ValueError:
        return None


def from_belgian(value: dt.datetime) -> dt.datetime:
    """An aware moment: a zone-less value is Belgian local time, a zoned one keeps its zone."""
    if value.tzinfo is not None:
        return value
    return value.replace(tzinfo=_brussels())
