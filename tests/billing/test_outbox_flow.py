# ruff: noqa: F811  (pytest fixtures imported from flow_fixtures)
"""The outbox against the simulator: build → validate → post → 931000 → 920098 → 920900, numbering,
one file per union per day, R36 before sending, answers delivered twice or late, R39."""

from __future__ import annotations

import datetime as dt

import pytest
from mycarenet_dental.errors import RuleRefusal, UsageError
from mycarenet_dental_billing import (
    build_sendings,
    list_sendings,
    poll_sendings,
    send_sending,
    send_sendings,
    sending_file,
    sending_lines,
    sending_status,
    validate_sending,
)
from mycarenet_dental_billing.outbox import Outbox, SendingState

from tests.billing.flow_fixtures import (  # noqa: F401  (fixtures)
    LUCAS,
    MARIE,
    NOAH,
    consulted_invoice,
    env,
    make_invoice,
    new_context,
    receipts,
    today,
)


def _day(n: int) -> dt.date:
    return today() - dt.timedelta(days=n)


def test_happy_path_to_settlement(env, tmp_path):
    """Through the vendor's functions (``mycarenet_dental_billing.build_sendings`` ...), not the outbox class."""
    ctx = new_context(env, tmp_path)
    inv = consulted_invoice(ctx, 1001, LUCAS, [("301011", _day(2), 36, 2500), ("301033", _day(2), 37, 1500)])
    built = build_sendings(ctx, [inv])
    assert not built.refused_lines
    (sending,) = built.sendings
    assert sending.state is SendingState.BUILT and sending.oa == "100" and sending.sending_number == 1
    assert len(sending.input_reference) == 14
    assert validate_sending(ctx, sending).state is SendingState.VALIDATED
    assert sending_file(ctx, sending).startswith(b"920000")
    posted = send_sending(ctx, sending.id)
    assert posted.state is SendingState.POSTED
    assert not posted.received  # R39: the TAck is not a receipt
    poll_sendings(ctx)
    final = sending_status(ctx, sending)
    assert list_sendings(ctx, states=[SendingState.SETTLED]) == [final]
    assert final.state is SendingState.SETTLED
    assert final.received and final.received_at
    assert final.accepted_amount == 4000 and final.refused_amount == 0
    assert final.payment_references and final.payment_references[0].startswith("+++")
    assert [ln.state for ln in sending_lines(ctx, sending)] == ["paid", "paid"]
    assert [ln.paid for ln in sending_lines(ctx, sending)] == [2500, 1500]
    assert receipts(env) == {f"{ctx.config.require_dentist().nihii}:1001": 1}
    # everything confirmed: the mailbox is empty; nothing left to send
    assert poll_sendings(ctx).new_messages == 0
    assert send_sendings(ctx) == []


def test_r36_line_refused_before_sending(env, tmp_path):
    ctx = new_context(env, tmp_path)
    outbox = Outbox(ctx)
    good = consulted_invoice(ctx, 2001, MARIE, [("301011", _day(1), 16, 2500)])
    unconsulted = make_invoice(2002, MARIE, [("301011", _day(1), 16, 2500), ("371254", _day(3), None, 900)],
                               provider=ctx.config.require_dentist().nihii)
    result = outbox.build([good, unconsulted])
    refused = [(r.rule, r.invoice_number, r.code) for r in result.refused_lines]
    # the first line of 2002 is covered by 2001's consultation (same patient, code, date)
    assert refused == [("R36", 2002, "371254")]
    assert "R36" in result.refused_lines[0].reason and "R37" in result.refused_lines[0].hint
    assert result.sendings[0].lines == 2
    assert not ctx.log.find(kind="tariff.consultation", patient=MARIE.ssin, status="failed")


def test_r36_guard_refuses_post(env, tmp_path):
    ctx = new_context(env, tmp_path)
    outbox = Outbox(ctx)
    inv = make_invoice(3001, LUCAS, [("301011", _day(1), 36, 2500)], provider=ctx.config.require_dentist().nihii)
    (sending,) = outbox.build([inv], check_r36=False).sendings
    with pytest.raises(RuleRefusal) as info:
        outbox.send(sending.id)
    assert info.value.rule_id == "R36"
    assert outbox.get(sending.id).state is SendingState.VALIDATED
    assert env.state.counters.get("billing.gets", 0) == 0


def test_numbers_unique_and_one_file_per_union_per_day(env, tmp_path):
    ctx = new_context(env, tmp_path)
    outbox = Outbox(ctx)
    a = consulted_invoice(ctx, 4001, LUCAS, [("301011", _day(1), 36, 2500)])
    b = consulted_invoice(ctx, 4002, MARIE, [("301011", _day(1), 16, 2500)])
    c = consulted_invoice(ctx, 4003, NOAH, [("301011", _day(1), 75, 2500)])
    built = outbox.build([a, b, c])
    assert sorted(s.oa for s in built.sendings) == ["100", "300", "500"]
    assert sorted(s.sending_number for s in built.sendings) == [1, 2, 3]
    d = consulted_invoice(ctx, 4004, LUCAS, [("301033", _day(1), 36, 2500)])
    with pytest.raises(UsageError) as info:
        outbox.build([d])
    assert info.value.code == "EFACT_ONE_PER_DAY"
    # the same invoice number twice is refused (never billed twice)
    again = outbox.build([a])
    assert [r.rule for r in again.refused_lines] == ["DUPLICATE"]


def test_answers_twice_and_late(env, tmp_path):
    env.state.switches.extra["billing.answer_twice"] = True
    env.state.switches.extra["billing.delay_polls"] = 2
    ctx = new_context(env, tmp_path)
    outbox = Outbox(ctx)
    inv = consulted_invoice(ctx, 5001, LUCAS, [("301011", _day(1), 36, 2500)])
    (sending,) = outbox.build([inv]).sendings
    outbox.send(sending.id)
    states = []
    for _ in range(8):
        result = outbox.poll()
        states.append(outbox.get(sending.id).state.value)
        if states[-1] == "settled":
            break
    assert states[0] == "posted" and "received" in states and states[-1] == "settled"
    assert outbox.get(sending.id).accepted_amount == 2500
    assert result.open_sendings == 0
    assert receipts(env) == {f"{ctx.config.require_dentist().nihii}:5001": 1}
    dup = ctx.storage.query_one("SELECT COUNT(*) AS n FROM billing_message WHERE kind = 'message'")["n"]
    assert dup == 3  # 931000, 920098, 920900 stored once each although delivered twice


def test_foreign_messages_are_left_for_their_owner(env, tmp_path):
    from mycarenet_dental_billing.genasync import sha256_b64
    from mycarenet_dental_billing.simulator import BillingSimState, MailItem

    ctx = new_context(env, tmp_path)
    outbox = Outbox(ctx)
    inv = consulted_invoice(ctx, 6001, LUCAS, [("301011", _day(1), 36, 2500)])
    (sending,) = outbox.build([inv]).sendings
    outbox.send(sending.id)
    state = env.state.state_for("billing", BillingSimState)
    foreign = b"931000" + b"0" * 221
    state.mailbox(ctx.config.require_dentist().nihii).items.insert(0, MailItem(
        kind="message", input_reference="OTHERPACKAGE01", reference="f1", visible_from=0, message_name="HCPFAC",
        content=foreign, hash_value=sha256_b64(foreign)))
    outbox.poll()
    assert outbox.get(sending.id).state is SendingState.SETTLED
    left = state.mailbox(ctx.config.require_dentist().nihii).items
    assert [i.input_reference for i in left] == ["OTHERPACKAGE01"]  # not confirmed by us
    assert outbox.poll().duplicates == 1  # seen again, recognised, still not confirmed


def test_two_processes_never_post_the_same_sending_twice(env, tmp_path):
    from mycarenet_dental.storage import Storage

    first = env.context(storage=Storage(tmp_path / "shared.sqlite"))
    second = env.context(storage=Storage(tmp_path / "shared.sqlite"))
    inv = consulted_invoice(first, 8001, LUCAS, [("301011", _day(1), 36, 2500)])
    (sending,) = Outbox(first).build([inv]).sendings
    stale = Outbox(first).validate(sending.id)  # both processes read "validated"
    assert Outbox(second).send(sending.id).state is SendingState.POSTED
    assert Outbox(first)._post(stale).state is SendingState.POSTED  # lost the claim: no second post
    assert Outbox(first).get(sending.id).post_attempts == 1
    assert env.state.counters.get("billing.duplicate_posts", 0) == 0
