"""The request-side caches of the tariff client (claims per service, the dentist's party) give what building
from scratch gives, and only for equal inputs."""

from __future__ import annotations

import datetime as dt

from mycarenet_dental.protocols import kmehr
from mycarenet_dental_tariff import client as tc

SERVICES = ["301011", "302153:36", "302153:46", "304072:46:301011", "304072::301011"]


def test_cached_claims_and_dentist_equal_fresh_ones() -> None:
    query = tc.make_query("85073003328", SERVICES + SERVICES[:2], service_date=dt.date(2026, 12, 3), justification="3")
    now = dt.datetime(2026, 12, 3, 15, 0, tzinfo=dt.timezone.utc)
    for _ in range(2):  # the second round comes from the caches
        author = tc._dentist_of("31234592001", "85073003328", "Anne Simulaar")
        assert author == tc.dentist_party("31234592001", "85073003328", "Anne Simulaar")
        request = tc.build_kmehr_request(query, author=author, now=now, request_id="31234592001.1")
        claims = [item for item in request.transaction.items if item.kind == "claim"]
        assert claims == [tc.claim_item(s) for s in query.services]
        assert kmehr.request_bytes(request) == kmehr.to_bytes(kmehr.build_request(request))
    assert len({c for c in claims}) == len(SERVICES)  # different services never share a claim
    assert tc._dentist_of("31234592001", None, "Anne Simulaar").ssin is None
