# ruff: noqa: F811  (pytest fixtures imported from flow_fixtures)
"""The insurer side of GenericAsync eFact in the simulator, called over TLS with the real client:
TAck, hash check, schema-valid messages, confirm, XAdES and WS-Security refusals, duplicate
sending numbers (920999) and blocking errors (920099)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac

import pytest
from mycarenet_dental.errors import SoapFaultError
from mycarenet_dental.sim import schemas
from mycarenet_dental_billing.genasync import (
    ACTION_GET,
    ACTION_POST,
    GenAsyncClient,
    addressing_headers,
    build_get,
    build_post,
    deflate_raw,
    destination,
    hcpfac_url,
    parse_get_response,
    parse_post_response,
    sha256_b64,
)
from mycarenet_dental_billing.outbox import Outbox, SendingState, read_answer

from tests.billing.flow_fixtures import (  # noqa: F401  (fixtures)
    LUCAS,
    consulted_invoice,
    env,
    make_invoice,
    new_context,
    receipts,
    today,
)


def _built(ctx, number: int = 1):
    """A valid 920000 built by the outbox (not sent)."""
    outbox = Outbox(ctx)
    inv = consulted_invoice(ctx, number, LUCAS, [("301011", today() - dt.timedelta(days=1), 36, 2500)])
    (sending,) = outbox.build([inv]).sendings
    return outbox, sending, outbox.file(sending.id)


def _raw_post(ctx, reference: str, content: bytes, *, oa: str = "100", xades: bytes | None = None):
    origin = GenAsyncClient(ctx).origin()
    body = build_post(origin, reference, content, is_test=True, xades=xades)
    assert schemas.validate("genasync", body) == []
    reply = ctx.soap.call(hcpfac_url(ctx), ACTION_POST, body, security=ctx.security.hok(timestamp_only=True),
                          headers_extra=addressing_headers(ACTION_POST, to=destination(oa)))
    assert schemas.validate("genasync", reply.body_child) == []  # the simulator's postResponse too
    return parse_post_response(reply.body_child)


def _raw_get(ctx):
    body = build_get(GenAsyncClient(ctx).origin())
    assert schemas.validate("genasync", body) == []
    reply = ctx.soap.call(hcpfac_url(ctx), ACTION_GET, body, security=ctx.security.hok(timestamp_only=True),
                          headers_extra=addressing_headers(ACTION_GET))
    return reply


def test_post_get_confirm_protocol(env, tmp_path):
    ctx = new_context(env, tmp_path)
    _, sending, content = _built(ctx)
    client = GenAsyncClient(ctx)
    tack = client.post(sending.input_reference, content, oa="100")
    assert tack.success and tack.input_reference == sending.input_reference
    expected = hmac.new(tack.result_major.encode(), content, hashlib.sha256).digest()
    assert base64.b64decode(tack.value) == expected
    reply = _raw_get(ctx)
    errors = schemas.validate("genasync", reply.body_child)
    assert errors == []
    result = parse_get_response(reply.body_child)
    assert [m.message_type for m in result.messages] == ["931000", "920098", "920900"]
    assert all(m.hash_value == sha256_b64(m.content) for m in result.messages)
    assert all(m.input_reference == sending.input_reference for m in result.messages)
    assert [t.success for t in result.tacks] == [True]  # the asynchronous delivery TAck
    assert result.msg_count == 3 and result.tack_count == 1
    # unconfirmed items come back; confirmed ones do not; unknown values are ignored
    again = client.get()
    assert len(again.messages) == 3
    client.confirm(messages=again.messages[:2], tacks=again.tacks)
    client.confirm(messages=again.messages[:2])  # idempotent
    left = client.get()
    assert [m.message_type for m in left.messages] == ["920900"] and not left.tacks


def test_tampered_content_fails_hash_check(env, tmp_path):
    from mycarenet_dental.errors import SecurityError
    from mycarenet_dental_billing.genasync import ga, parse_message

    ctx = new_context(env, tmp_path)
    _, sending, content = _built(ctx)
    GenAsyncClient(ctx).post(sending.input_reference, content, oa="100")
    reply = _raw_get(ctx)
    msg = reply.body_child.find(ga("return")).find(ga("MsgResponse"))
    detail = msg.find(ga("Detail"))
    detail.text = base64.b64encode(deflate_raw(b"931000" + b"0" * 221)).decode()
    with pytest.raises(SecurityError) as info:
        parse_message(msg)
    assert info.value.code == "GENASYNC_HASH"


def test_xades_must_cover_the_blob(env, tmp_path):
    xades = pytest.importorskip("mycarenet_dental.ehealth.xades")
    ctx = new_context(env, tmp_path)
    _, sending, content = _built(ctx)
    key = ctx.security.keystore.authentication
    wrong = xades.sign_blob(deflate_raw(content + b" "), key=key)
    tack = _raw_post(ctx, sending.input_reference, content, xades=wrong)
    assert not tack.success and "Xades" in (tack.result_message or "")
    missing = _raw_post(ctx, sending.input_reference, content, xades=None)
    assert not missing.success
    good = _raw_post(ctx, sending.input_reference, content, xades=xades.sign_blob(deflate_raw(content), key=key))
    assert good.success
    assert receipts(env, "billing.receipts:") == {sending.input_reference: 1}


def test_wrong_destination_and_no_security(env, tmp_path):
    xades = pytest.importorskip("mycarenet_dental.ehealth.xades")
    ctx = new_context(env, tmp_path)
    _, sending, content = _built(ctx)
    signature = xades.sign_blob(deflate_raw(content), key=ctx.security.keystore.authentication)
    tack = _raw_post(ctx, sending.input_reference, content, oa="300", xades=signature)
    assert not tack.success and "union" in tack.result_message
    body = build_post(GenAsyncClient(ctx).origin(), sending.input_reference, content, is_test=True, xades=signature)
    with pytest.raises(SoapFaultError) as info:
        ctx.soap.call(hcpfac_url(ctx), ACTION_POST, body, security=None,
                      headers_extra=addressing_headers(ACTION_POST, to=destination("100")))
    assert info.value.code == "SOA-01001"
    assert not receipts(env, "billing.receipts:")


def test_duplicate_sending_number_is_refused_920999(env, tmp_path):
    first_ctx = new_context(env, tmp_path, name="a.sqlite")
    other_ctx = new_context(env, tmp_path, name="b.sqlite")  # a second installation reusing number 001
    one = Outbox(first_ctx)
    two = Outbox(other_ctx)
    day = today() - dt.timedelta(days=1)
    (s1,) = one.build([consulted_invoice(first_ctx, 11, LUCAS, [("301011", day, 36, 2500)])]).sendings
    (s2,) = two.build([consulted_invoice(other_ctx, 12, LUCAS, [("301033", day, 36, 1900)])]).sendings
    assert s1.sending_number == s2.sending_number == 1
    one.settle(max_polls=3)
    two.settle(max_polls=3)
    refused = two.get(s2.id)
    assert refused.state is SendingState.REFUSED and refused.answer_type == "920999"
    assert [e.code for e in refused.errors] == ["3011/40"]
    assert all(ln.state == "refused" for ln in two.lines(s2.id))
    assert one.get(s1.id).state is SendingState.SETTLED


def test_blocking_error_refuses_the_sending_920099(env, tmp_path):
    ctx = new_context(env, tmp_path)
    outbox, sending, content = _built(ctx)
    text = content.decode("ascii")
    r10 = 67 + 160
    bad = text[:r10 + 348] + ("00" if text[r10 + 348:r10 + 350] != "00" else "01") + text[r10 + 350:]
    client = GenAsyncClient(ctx)
    # posted by hand: the outbox would have refused it locally
    outbox._update(sending.id, state=SendingState.POSTING)
    client.post(sending.input_reference, bad.encode("ascii"), oa="100")
    outbox.poll()
    status = outbox.get(sending.id)
    assert status.state is SendingState.REFUSED and status.answer_type == "920099"
    assert status.refusal_type == "01" and status.received
    msg = ctx.storage.query_one("SELECT content FROM billing_message WHERE message_type = '920099'")
    answer = read_answer(bytes(msg["content"]))
    assert any(e.letter == "B" and e.code.endswith("9902") for e in answer.errors)


def test_zone_18_000_is_refused_920099_b101810(env, tmp_path):
    """Issue 12.1: what we used to write (ET10 Z18 = 000) is refused as the real insurers do."""
    from mycarenet_dental_billing.efact.controls import record_control_text

    ctx = new_context(env, tmp_path)
    outbox, sending, content = _built(ctx)
    text = content.decode("ascii")
    r10 = 67 + 160
    assert text[r10 + 84:r10 + 87] == "001"  # the configured dentist's code (NIHII ...001)
    record = text[r10:r10 + 84] + "000" + text[r10 + 87:r10 + 348]
    old = text[:r10] + record + record_control_text(record + "00") + text[r10 + 350:]
    outbox._update(sending.id, state=SendingState.POSTING)  # by hand: the outbox refuses it locally
    GenAsyncClient(ctx).post(sending.input_reference, old.encode("ascii"), oa="100")
    outbox.poll()
    status = outbox.get(sending.id)
    assert status.state is SendingState.REFUSED and status.answer_type == "920099"
    assert status.refusal_type == "01"
    msg = ctx.storage.query_one("SELECT content FROM billing_message WHERE message_type = '920099'")
    answer = read_answer(bytes(msg["content"]))
    assert [(e.letter, e.code) for e in answer.errors] == [("B", "101810")]


def test_record_51_without_the_related_service_is_refused(env, tmp_path):
    """Issue 12.3: the related service the consultation priced reaches record 51; zeros (what we used
    to write) are refused by the simulated insurer on that line (R511712)."""
    from mycarenet_dental_billing.efact.controls import record_control_text

    ctx = new_context(env, tmp_path)
    day = today() - dt.timedelta(days=1)
    ctx.log.record(exchange_id="related-1", kind="tariff.consultation", service="tariff", status="ok",
                   patient=LUCAS.ssin, data={"patient": LUCAS.ssin, "code": "301011", "service_date": day.isoformat(),
                                             "tooth": 36, "related": "301033", "status": "priced",
                                             "commitment": "COMMIT-1", "line": 1, "line_count": 1})
    outbox = Outbox(ctx)
    inv = make_invoice(1, LUCAS, [("301011", day, 36, 2500)], provider=ctx.config.require_dentist().nihii)
    (sending,) = outbox.build([inv]).sendings
    text = outbox.file(sending.id).decode("ascii")
    r50, r51 = 227 + 2 * 350, 227 + 3 * 350
    assert text[r51:r51 + 2] == "51" and text[r51 + 80:r51 + 87] == text[r50 + 80:r50 + 87] == "0301033"
    record = text[r51:r51 + 80] + "0000000" + text[r51 + 87:r51 + 348]
    old = text[:r51] + record + record_control_text(record + "00") + text[r51 + 350:]
    outbox._update(sending.id, state=SendingState.POSTING)  # by hand: the outbox refuses it locally
    GenAsyncClient(ctx).post(sending.input_reference, old.encode("ascii"), oa="100")
    outbox.poll()
    status = outbox.get(sending.id)
    assert status.state is SendingState.REFUSED and status.answer_type == "920099"
    assert status.refusal_type == "02"  # the only line refused: more than 5 % of the lines
    msg = ctx.storage.query_one("SELECT content FROM billing_message WHERE message_type = '920099'")
    assert [(e.letter, e.code) for e in read_answer(bytes(msg["content"])).errors] == [("R", "511712")]


def test_billing_office_sends_for_the_dentist(env, tmp_path):
    from click.testing import CliRunner
    from mycarenet_dental.cli.main import build_cli

    office = env.context(mandatary=True)  # the office's own store (config-mandatary.toml)
    cli = build_cli(env.pm)
    if "mandates" in cli.commands:  # the mandate the dentist gave in eMandate (R21, Annex 1 §4)
        result = CliRunner().invoke(cli, [
            "--config", str(env.mandatary_config_path), "mandates", "add",
            "--mandator", office.config.require_dentist().nihii, "--mandatary", office.config.executor.cbe,
            "--service", "billing", "--start", (today() - dt.timedelta(days=30)).isoformat()])
        assert result.exit_code == 0, result.output
        from mycarenet_dental_mandates import register_for

        env.state.switches.extra["mandates"] = register_for(office)  # MyCareNet's register knows it too
    outbox = Outbox(office)
    inv = consulted_invoice(office, 21, LUCAS, [("301011", today() - dt.timedelta(days=1), 36, 2500)])
    outbox.build([inv])
    (status,) = outbox.settle(max_polls=3)
    assert status.state is SendingState.SETTLED
    rows = office.audit.storage.query("SELECT executor FROM audit WHERE service = 'billing' AND kind = 'exchange'")
    assert rows and all(r["executor"].startswith("mandatary:") for r in rows)


def test_unparseable_file_gets_failure_tack(env, tmp_path):
    xades = pytest.importorskip("mycarenet_dental.ehealth.xades")
    ctx = new_context(env, tmp_path)
    blob = b"not an efact file"
    tack = _raw_post(ctx, "BOGUS1", blob,
                     xades=xades.sign_blob(deflate_raw(blob), key=ctx.security.keystore.authentication))
    assert tack.success  # MyCareNet took the Blob …
    result = GenAsyncClient(ctx).get()
    # … but the insurer cannot read it: an asynchronous failure TAck, no insurer message, no receipt
    assert [t.success for t in result.tacks] == [True, False] and not result.messages
    assert not receipts(env, "billing.receipts:")


def test_production_flag_on_a_test_file_is_refused_920999(env, tmp_path):
    xades = pytest.importorskip("mycarenet_dental.ehealth.xades")
    ctx = new_context(env, tmp_path)
    outbox, sending, content = _built(ctx)
    origin = GenAsyncClient(ctx).origin()
    blob = deflate_raw(content)
    body = build_post(origin, sending.input_reference, content, is_test=False,
                      xades=xades.sign_blob(blob, key=ctx.security.keystore.authentication))
    outbox._update(sending.id, state=SendingState.POSTING)
    ctx.soap.call(hcpfac_url(ctx), ACTION_POST, body, security=ctx.security.hok(timestamp_only=True),
                  headers_extra=addressing_headers(ACTION_POST, to=destination("100")))
    outbox.poll()
    status = outbox.get(sending.id)
    assert status.state is SendingState.REFUSED and status.answer_type == "920999"
    assert [e.code for e in status.errors] == ["2021/30"]


def test_throttled_get_is_waited_for(env, tmp_path):
    env.state.switches.extra["billing.throttle"] = 4  # more than the transport's own retries
    ctx = new_context(env, tmp_path)
    outbox = Outbox(ctx)
    outbox.throttle_wait = 0.0
    outbox.build([consulted_invoice(ctx, 31, LUCAS, [("301011", today() - dt.timedelta(days=1), 36, 2500)])])
    (status,) = outbox.settle(max_polls=5)
    assert status.state is SendingState.SETTLED
    assert env.state.switches.extra["billing.throttle"] == 0
