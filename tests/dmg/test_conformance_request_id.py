"""Issue 12.2: on the GMF route the KMEHR ``request/id`` suffix is ``CommonInput/InputReference``.

The reference connectors build ``<NIHII11>.<InputReference>`` (their DMG references use one value for
both); MyCareNet answers 155 otherwise, and so does the simulator.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from mycarenet_dental.sim.population import base_population
from mycarenet_dental_dmg import DmgRefusedError, consult_dmg, gmf_route

PATIENT = base_population()[0].ssin


def _contact(ctx: Any) -> str:
    return ctx.open_contact(PATIENT).id


def test_gmf_request_id_suffix_is_the_input_reference(dmg_context: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = dmg_context(route="gmf")
    seen: list[tuple[Any, Any]] = []
    original = gmf_route.consult_request

    def spy(**kw: Any) -> Any:
        seen.append((kw["common_input"], kw["request"]))
        return original(**kw)

    monkeypatch.setattr(gmf_route, "consult_request", spy)
    result = consult_dmg(ctx, ctx.contact(_contact(ctx)))
    assert result.holder is not None
    common_input, request = seen[0]
    nihii = ctx.config.require_dentist().nihii
    assert request.header.id == f"{nihii.zfill(11)}.{common_input.input_reference}"


def test_simulator_answers_155_when_the_suffix_differs(dmg_context: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = dmg_context(route="gmf")
    original = gmf_route.kmehr_request

    def own_suffix(**kw: Any) -> Any:  # what the old client sent: a suffix of its own
        request = original(**kw)
        header = attrs.evolve(request.header, id=request.header.id.split(".")[0] + ".20261201120000abcdef")
        return attrs.evolve(request, header=header)

    monkeypatch.setattr(gmf_route, "kmehr_request", own_suffix)
    with pytest.raises(DmgRefusedError) as err:
        consult_dmg(ctx, ctx.contact(_contact(ctx)))
    assert err.value.code == "155"
    assert err.value.location == "/RetrieveTransactionRequest/request/id"
