# ruff: noqa: F811  (pytest fixtures imported from flow_fixtures)
"""A month of a synthetic practice through the simulator to settlement, and the CLI over it.

Several patients, three unions, dozens of lines, one faulty invoice (a patient of union 300 billed
to union 100) that comes back refused with its insurer code, clearly shown; every other line paid.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner
from mycarenet_dental.cli.main import build_cli
from mycarenet_dental_billing import build_sendings, sending_file, sending_lines, settle_sendings
from mycarenet_dental_billing.outbox import SendingState, read_answer
from mycarenet_dental_billing.rules import unattested

from tests.billing.flow_fixtures import (  # noqa: F401  (fixtures)
    JEANNE,
    KARIM,
    LUCAS,
    MARIE,
    NOAH,
    consulted_invoice,
    env,
    new_context,
    receipts,
    record_tariff,
    today,
)

CODES = ("301011", "301033", "371254", "305594", "304035")
TEETH = (36, 37, 46, 26, 16, 11, 21, 47)


def _visits(ctx, number: int, person, n_visits: int, lines_per_visit: int, start: int) -> list:
    invoices = []
    for v in range(n_visits):
        day = today() - dt.timedelta(days=start + 3 * v)
        lines = [(CODES[(v + k) % len(CODES)], day, TEETH[(v * lines_per_visit + k) % len(TEETH)], 1500 + 100 * k)
                 for k in range(lines_per_visit)]
        invoices.append(consulted_invoice(ctx, number + v, person, lines))
    return invoices


@pytest.mark.parametrize("mtom", [False, True], ids=["inline", "mtom"])
def test_month_of_practice(env, tmp_path, mtom):
    """Once with the insurer's answers inline, once as MTOM/XOP attachments (issue 12.8)."""
    env.state.switches.extra["billing.mtom"] = mtom
    ctx = new_context(env, tmp_path)
    invoices = (
        _visits(ctx, 100, LUCAS, 5, 4, 2)  # union 100: 20 lines
        + _visits(ctx, 200, MARIE, 3, 3, 1) + _visits(ctx, 300, KARIM, 2, 3, 4)  # union 300: 15 lines
        + _visits(ctx, 400, NOAH, 3, 2, 2) + _visits(ctx, 500, JEANNE, 2, 2, 5)  # union 500: 10 lines
    )
    # the faulty one: Marie (insured at 306, union 300) billed as a member of 116 → sent to union 100
    faulty = consulted_invoice(ctx, 999, MARIE, [("301011", today() - dt.timedelta(days=6), 36, 2500)],
                               mutuality="116")
    built = build_sendings(ctx, invoices + [faulty])
    assert not built.refused_lines
    assert sorted((s.oa, s.lines) for s in built.sendings) == [("100", 21), ("300", 15), ("500", 10)]
    statuses = settle_sendings(ctx, max_polls=6)
    assert (env.state.counters.get("billing.gets_mtom", 0) > 0) == mtom  # the answers really came that way
    by_oa = {s.oa: s for s in statuses}
    assert {s.state for s in statuses} == {SendingState.SETTLED}
    assert all(s.received for s in statuses)
    lines = {oa: sending_lines(ctx, s) for oa, s in by_oa.items()}
    refused = [ln for ls in lines.values() for ln in ls if ln.state == "refused"]
    assert [(ln.invoice_number, ln.patient) for ln in refused] == [(999, MARIE.ssin)]
    (error,) = refused[0].errors
    assert (error.letter, error.code) == ("F", "200742")
    assert error.messages.fr and error.messages.nl  # shown in the dentist's language
    assert by_oa["100"].refused_amount == 2500
    assert by_oa["100"].accepted_amount == sum(ln.reimbursement for ln in lines["100"]) - 2500
    assert all(ln.state == "paid" and ln.paid == ln.reimbursement for oa in ("300", "500") for ln in lines[oa])
    assert len(receipts(env)) == len(invoices) + 1 and set(receipts(env).values()) == {1}
    # the 920098 of union 100 lists the faulty invoice's records
    row = ctx.storage.query_one("SELECT content FROM billing_message WHERE sending_id = ? AND message_type = "
                                "'920098'", (by_oa["100"].id,))
    answer = read_answer(bytes(row["content"]))
    assert {(e.letter, e.code) for e in answer.errors} == {("F", "200742")}
    # R31: every consultation was followed by an invoice line
    assert unattested(ctx) == []
    record_tariff(ctx, NOAH.ssin, [("301011", today())])
    (left,) = unattested(ctx)
    assert left.patient == NOAH.ssin and left.codes == ("301011",)
    ctx.log.record(exchange_id="ins-1", kind="assurability.consultation", service="assurability", status="ok",
                   patient=JEANNE.ssin, data={"day": today().isoformat()})
    kinds = sorted((u.kind, u.patient) for u in unattested(ctx))
    assert kinds == sorted([("tariff.consultation", NOAH.ssin), ("assurability.consultation", JEANNE.ssin)])


def test_cli_build_send_poll_status(env, tmp_path):
    runner = CliRunner()
    cli = build_cli(env.pm)
    config = ["--config", str(env.config_path)]
    ctx = env.context()
    nihii = ctx.config.require_dentist().nihii
    day = today() - dt.timedelta(days=1)
    record_tariff(ctx, LUCAS.ssin, [("301011", day)])
    ctx.close()
    doc = {"invoices": [
        {"number": 7001, "patient_id": LUCAS.ssin, "sex": "male", "mutuality": "116", "ct1": "110", "ct2": "110",
         "lines": [{"code": "301011", "date": day.isoformat(), "reimbursement": 2500, "patient_share": 500,
                    "tooth": 36}]},
        {"number": 7002, "patient_id": MARIE.ssin, "sex": "female", "mutuality": "306", "ct1": "131", "ct2": "131",
         "lines": [{"code": "301011", "date": day.isoformat(), "reimbursement": 2500, "tooth": 16}]},
    ]}
    path = tmp_path / "invoices.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    result = runner.invoke(cli, [*config, "billing", "build", str(path), "--send", "--json"])
    assert result.exit_code == 1, result.output  # one line refused: exit 1 though Lucas's invoice was sent
    out = json.loads(result.output)
    assert [r["rule"] for r in out["refused_lines"]] == ["R36"]  # Marie had no tariff consultation
    assert out["outcome"] == "partial" and out["exit_code"] == 1
    assert [s["state"] for s in out["sendings"]] == ["posted"]
    result = runner.invoke(cli, [*config, "billing", "poll", "--until-settled", "--interval", "0", "--json"])
    assert result.exit_code == 0, result.output
    assert [s["state"] for s in json.loads(result.output)] == ["settled"]
    result = runner.invoke(cli, [*config, "billing", "status"])
    assert result.exit_code == 0 and "settled" in result.output, result.output
    sending = out["sendings"][0]["id"]
    result = runner.invoke(cli, [*config, "billing", "status", sending, "--json"])
    assert json.loads(result.output)["lines"][0]["state"] == "paid"
    # the file as sent passes the local checks; parse shows its totals
    ctx = env.context()
    data = sending_file(ctx, sending)
    ctx.close()
    file = tmp_path / "sending.920000"
    file.write_bytes(data)
    result = runner.invoke(cli, [*config, "billing", "validate", str(file)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, [*config, "billing", "parse", str(file), "--json"])
    assert json.loads(result.output)["total_a"] == 2500
    result = runner.invoke(cli, [*config, "billing", "unattested", "--json"])
    assert result.exit_code == 0 and json.loads(result.output) == []
    del nihii
