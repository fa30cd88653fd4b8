"""Issue 13 property 7: every time and date format lives in ``mycarenet_dental.timeutil``, and the
one formatter per convention writes exactly what the helpers it replaced wrote."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from mycarenet_dental import timeutil as tu

ROOT = Path(__file__).resolve().parents[2]
UTC = dt.timezone.utc
#: ways of writing or reading times that belong in timeutil only
FORBIDDEN = re.compile(r"\.strftime\(|\.strptime\(|fromisoformat\(|timespec=|\bzoneinfo\b|\bZoneInfo\b")
#: helpers folded into timeutil (they must not come back under their old names)
OLD_HELPERS = re.compile(r"^\s*def (format_time|parse_time|xs_datetime|_xs_local|_parse_dt|_fmt_time|_utcnow|"
                         r"utc_now|belgian_today|belgian_date)\(", re.M)


def _sources() -> list[Path]:
    return sorted(p for base in ("core", "plugins") for p in (ROOT / base).rglob("*.py")
                  if ".egg-info" not in str(p) and "build" not in p.parts)


def test_time_formats_only_in_timeutil() -> None:
    home = ROOT / "core" / "mycarenet_dental" / "timeutil.py"
    found = []
    for path in _sources():
        if path == home:
            continue
        text = path.read_text("utf-8")
        found += [f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}"
                  for m in FORBIDDEN.finditer(text)]
        found += [f"{path.relative_to(ROOT)}: def {m.group(1)}" for m in OLD_HELPERS.finditer(text)
                  if not (m.group(1) == "belgian_today" and path.name == "authz.py")]  # reads the sim's clock
    assert not found, "time formatting/parsing outside timeutil.py:\n" + "\n".join(found)


MOMENTS = [
    dt.datetime(2026, 7, 1, 10, 0, 5, 123456, tzinfo=UTC),
    dt.datetime(2026, 1, 15, 23, 30, tzinfo=UTC),
    dt.datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    dt.datetime(1999, 12, 31, 23, 59, 59, 1000, tzinfo=dt.timezone(dt.timedelta(hours=2))),
]


@pytest.mark.parametrize("moment", MOMENTS)
def test_utc_ms_writes_what_the_three_old_formatters_wrote(moment: dt.datetime) -> None:
    u = moment.astimezone(UTC)
    audit_form = u.isoformat(timespec="milliseconds").replace("+00:00", "Z")  # audit.utc_ms
    commons_form = u.strftime("%Y-%m-%dT%H:%M:%S.") + f"{u.microsecond // 1000:03d}Z"  # commons.xs_datetime
    saml_form = (f"{u.year}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}."
                 f"{u.microsecond // 1000:03d}Z")  # saml.format_time
    assert tu.utc_ms(moment) == audit_form == commons_form == saml_form
    assert tu.utc_ms(moment.astimezone(UTC).replace(tzinfo=None)) == audit_form  # naive = UTC
    assert tu.utc_ms_offset(moment) == u.isoformat(timespec="milliseconds")  # the outbox's stored form
    assert tu.parse_utc(audit_form) == u.replace(microsecond=u.microsecond // 1000 * 1000)
    assert tu.yymmdd(moment) == moment.strftime("%y%m%d")


def test_readers() -> None:
    assert tu.parse_utc("2026-07-01T12:00:00+02:00") == dt.datetime(2026, 7, 1, 10, tzinfo=UTC)
    assert tu.parse_utc(" 2026-07-01T10:00:00 ") == dt.datetime(2026, 7, 1, 10, tzinfo=UTC)  # zone-less = UTC
    assert tu.parse_utc("2026-07-01") == dt.datetime(2026, 7, 1, tzinfo=UTC)
    assert tu.parse_datetime("2026-07-01T10:00:00Z").tzinfo is not None
    assert tu.parse_datetime("2026-07-01T10:00:00").tzinfo is None
    for bad in ("", None, "yesterday"):
        with pytest.raises(ValueError):
            tu.parse_utc(bad)
    assert tu.xs_date("2026-07-01+02:00") == tu.xs_date("2026-07-01T23:00:00Z") == dt.date(2026, 7, 1)
    assert tu.optional_xs_date("") is None and tu.optional_xs_date("31/12/2026") is None
    assert tu.xs_time("10:20:30.5+01:00") == dt.time(10, 20, 30)
    with pytest.raises(ValueError):
        tu.iso_date("2026-07-01T00:00:00")  # a date and nothing else


def test_belgian_conventions() -> None:
    summer, winter = MOMENTS[0], MOMENTS[1]
    assert tu.xs_local(summer) == "2026-07-01T12:00:05"  # UTC+2, seconds, no zone
    assert tu.xs_local(winter) == "2026-01-16T00:30:00"  # UTC+1: already the next day in Belgium
    assert tu.xs_local(dt.date(2026, 7, 1)) == "2026-07-01"
    assert tu.belgian_date(winter) == dt.date(2026, 1, 16)
    assert tu.xs_clock(dt.time(9, 5, 7, 999)) == "09:05:07"
    assert tu.parse_belgian_wall_clock("2026-03-02T00:00:00+01:00") == dt.datetime(2026, 3, 2)
    assert tu.parse_belgian_wall_clock("not a time") is None
    assert tu.from_belgian(dt.datetime(2026, 7, 1, 12)) == summer.replace(second=0, microsecond=0)
    assert re.fullmatch(r"\d{8}T\d{6}", tu.file_stamp())
