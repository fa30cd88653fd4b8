"""``ServiceRequest.parse`` answers a text from its cache exactly as a fresh parse does, refusals included."""

from __future__ import annotations

import pytest
from mycarenet_dental.errors import MyCareNetDentalError
from mycarenet_dental_tariff import model
from mycarenet_dental_tariff.model import ServiceRequest

TEXTS = ["301011", " 302153:36 ", "302153::301011", "304415:46:301011", "30.10.11", "101010", "301011:19",
         "301011:36:999", "1:2:3:4", "", "abc", "301011:3"]


@pytest.mark.parametrize("dental", [True, False])
def test_cached_parse_is_a_fresh_parse(dental: bool) -> None:
    for text in TEXTS:
        for attempt in range(2):  # the second attempt is answered from the cache when the first succeeded
            try:
                fresh = ServiceRequest(*model._parts(text, "--service", dental))
            except MyCareNetDentalError as exc:
                with pytest.raises(type(exc)) as cached_error:
                    ServiceRequest.parse(text, dental=dental)
                assert str(cached_error.value) == str(exc), (text, attempt)
                continue
            cached = ServiceRequest.parse(text, dental=dental)
            assert cached == fresh and str(cached) == str(fresh), (text, attempt)
    assert ServiceRequest.parse("301011", field="--x") == ServiceRequest.parse(301011, field="--x")  # type: ignore[arg-type]
