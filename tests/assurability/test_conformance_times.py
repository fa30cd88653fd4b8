"""Issue 12.5: MemberData ``IssueInstant`` in Belgian local time without zone, as the insurers write it.

A zone-less value written in UTC reads one or two hours in the past at the insurer; the simulator reads
the query's IssueInstant as Belgian time and refuses one too far from the present (INVALID_ISSUE_INSTANT).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from mycarenet_dental.protocols import memberdata as md
from mycarenet_dental.shared_folder import shared_path
from mycarenet_dental.sim import memberdata as md_sim
from mycarenet_dental.sim.population import base_population
from mycarenet_dental.timeutil import parse_belgian_wall_clock, xs_local_datetime
from mycarenet_dental_assurability.client import consult_insurability, insurability_facet
from mycarenet_dental_assurability.errors import InsurabilityRefused
from mycarenet_dental_assurability.model import ContactType, RequestType

CONFORMANCE = shared_path("conformance", "memberdata")
ZONELESS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")
PATIENT = base_population()[0].ssin


def _query(instant: datetime) -> md.AttributeQuery:
    return md.AttributeQuery(id="_R1", issuer="31234592001", subject=md.SubjectRef.ssin(PATIENT),
                             facets=(insurability_facet(RequestType.INFORMATION, ContactType.OTHER),),
                             start=date(2026, 7, 1), end=date(2026, 7, 1), issue_instant=instant)


@pytest.mark.parametrize(("utc", "local"), [
    (datetime(2026, 7, 1, 10, 0, 5, 123000, tzinfo=timezone.utc), "2026-07-01T12:00:05"),  # summer: UTC+2
    (datetime(2026, 1, 15, 23, 30, tzinfo=timezone.utc), "2026-01-16T00:30:00"),  # winter: UTC+1, next day
])
def test_query_issue_instant_is_belgian_local_time(utc: datetime, local: str) -> None:
    assert md.build_attribute_query(_query(utc)).get("IssueInstant") == local


def test_real_answers_write_zoneless_local_times() -> None:
    """The convention copied: every IssueInstant of the 21 recorded answers is zone-less, seconds."""
    files = sorted(CONFORMANCE.glob("*.xml")) if CONFORMANCE.is_dir() else []
    if not files:
        pytest.skip("shared/conformance absent")
    instants = [m for f in files for m in re.findall(r'IssueInstant="([^"]*)"', f.read_text("utf-8"))]
    assert len(files) == 21 and instants and all(ZONELESS.match(v) for v in instants)


def test_zoned_period_bounds_are_read_as_belgian_days() -> None:
    # freehealth writes zoned values: midnight Belgian time must stay that day, not 23:00 UTC the day before
    assert parse_belgian_wall_clock("2026-03-02T00:00:00+01:00") == datetime(2026, 3, 2, 0, 0)
    assert parse_belgian_wall_clock("2026-03-02T00:00:00") == datetime(2026, 3, 2, 0, 0)


def test_simulator_reads_issue_instant_as_belgian_time() -> None:
    now = datetime(2026, 7, 1, 10, 0, tzinfo=timezone.utc)
    skew = timedelta(minutes=30)
    md_sim.check_issue_instant("2026-07-01T12:00:00", now=now, max_skew=skew)  # Belgian local: the present
    md_sim.check_issue_instant("2026-07-01T10:00:00Z", now=now, max_skew=skew)  # zoned: taken as written
    with pytest.raises(md_sim.QueryRejected) as info:
        md_sim.check_issue_instant("2026-07-01T10:00:00", now=now, max_skew=skew)  # UTC without zone: 2 h ago
    assert info.value.code == "INVALID_ISSUE_INSTANT"


def test_simulated_answers_write_belgian_local_time() -> None:
    now = datetime(2026, 7, 1, 10, 0, tzinfo=timezone.utc)
    el = md_sim.build_saml_response(in_response_to="_R1", issuer=md.ISSUER_MYCARENET, now=now, status=md.STATUS_SUCCESS)
    assert el.get("IssueInstant") == "2026-07-01T12:00:00" == xs_local_datetime(now)


def test_simulator_refuses_a_utc_zoneless_query(ctx: Any, contact_for: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def old_form(value: Any) -> str:  # what the old client wrote: UTC wall clock, no zone
        if isinstance(value, datetime):
            return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        return value.isoformat()

    ok = consult_insurability(ctx, ctx.contact(contact_for(PATIENT)))  # the current form is taken
    assert ok is not None
    monkeypatch.setattr(md, "xs_local", old_form)
    with pytest.raises(InsurabilityRefused) as info:
        consult_insurability(ctx, ctx.contact(contact_for(PATIENT)))
    assert info.value.code == "INVALID_ISSUE_INSTANT"
