"""The gateway served by uvicorn over the module's simulator, driven from outside Python: a Node
client runs the whole flow, headless Chromium shows the status page with a rejected invoice's reason,
schemathesis checks the live answers against the OpenAPI contract; concurrent retries of a sending
POST send once; exchanges run as the token's user (R7)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from mycarenet_dental.sim.population import base_population

from tests.conftest import cli_env

HERE = Path(__file__).resolve().parent
PEOPLE = {p.last_name: p for p in base_population()}
LUCAS, MARIE, NOAH = PEOPLE["Janssens"], PEOPLE["Dubois"], PEOPLE["Maes"]


def _post(live: Any, path: str, body: Any, role: str = "dentist", **headers: str) -> requests.Response:
    return requests.post(live.url + path, json=body, headers=live.headers(role, **headers), timeout=60)


def _consulted(live: Any, person: Any) -> dict[str, Any]:
    """Contact, then tariff of 301011 today through the gateway (the R36 proof billing needs)."""
    contact = _post(live, "/contacts", {"patient": person.ssin}).json()
    tariff = _post(live, "/tariff", {"patient": person.ssin, "services": ["301011"], "contact_id": contact["id"]})
    assert tariff.status_code == 200, tariff.text
    return tariff.json()


def _invoice(person: Any, number: int, tariff: dict[str, Any], *, mutuality: str | None = None) -> dict[str, Any]:
    insured = tariff["insured"]
    return {"number": number, "patient_id": person.ssin, "sex": insured["sex"],
            "mutuality": mutuality or insured["mutuality"], "ct1": insured["ct1"], "ct2": insured["ct2"],
            "lines": [{"code": "301011", "date": dt.date.today().isoformat(),
                       "reimbursement": tariff["lines"][0]["reimbursement_cents"] or 2000, "patient_share": 300}]}


def _settle(live: Any, sending_id: str) -> dict[str, Any]:
    for _ in range(20):
        status = requests.get(f"{live.url}/billing/sendings/{sending_id}", headers=live.headers(), timeout=30).json()
        if status["state"] in ("settled", "refused"):
            return status
        assert _post(live, "/billing/poll", None).status_code == 200
    raise AssertionError(f"sending {sending_id} not final: {status}")


def test_a_node_client_runs_the_whole_flow_as_the_tokens_user(live: Any) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (the Makefile's system-deps installs it)")
    done = subprocess.run([node, str(HERE / "clients" / "e2e.mjs"), LUCAS.ssin, "7001"], capture_output=True, text=True,
                          timeout=90, env=cli_env(GATEWAY_URL=live.url, GATEWAY_TOKEN=live.tokens["dentist"]))
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert (seen["priced"], seen["refused_lines"], seen["replayed_same"]) == ("priced", 0, True)
    assert seen["state"] == "settled" and seen["line_states"] == ["paid"] and seen["audit_ok"] is True
    exchanges = [e for e in live.ctx.audit.entries() if e.kind == "exchange" and e.contact_id == seen["contact"]]
    assert {e.service for e in exchanges} == {"assurability", "tariff"}
    assert {e.executor for e in exchanges} == {"user:dentist-user (gateway dentist)"}  # R7: the token's user


def test_concurrent_retries_of_a_sending_post_send_once(live: Any) -> None:
    invoice = _invoice(NOAH, 7002, _consulted(live, NOAH))
    before = {s["id"] for s in requests.get(live.url + "/billing/sendings", headers=live.headers(), timeout=30).json()}
    answers: list[requests.Response] = []
    gate = threading.Barrier(4)

    def retry() -> None:
        gate.wait()
        answers.append(_post(live, "/billing/sendings", {"invoices": [invoice], "send": True}, "billing",
                             **{"Idempotency-Key": "noah-7002"}))

    threads = [threading.Thread(target=retry) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [a.status_code for a in answers] == [201] * 4 and len({a.text for a in answers}) == 1
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 3
    after = requests.get(live.url + "/billing/sendings", headers=live.headers(), timeout=30).json()
    new = [s for s in after if s["id"] not in before]
    assert len(new) == 1 and new[0]["post_attempts"] == 1  # filed once, posted once
    assert _post(live, "/billing/sendings", {"invoices": [invoice]}, "billing").status_code == 400  # key required


def _chromium(url: str, *flags: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.skip("chromium is not installed (the Makefile's system-deps installs it)")
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                               "--disable-background-networking", "--disable-component-update", "--disable-sync",
                               f"--user-data-dir={profile}", *flags, url], capture_output=True, text=True, timeout=60)


def test_the_status_page_shows_a_rejected_invoices_reason_in_chromium(live: Any, tmp_path: Path) -> None:
    # Marie is insured at 306 (union 300); billed as a member of 116 the union 100 refuses the line
    faulty = _invoice(MARIE, 7003, _consulted(live, MARIE), mutuality="116")
    built = _post(live, "/billing/sendings", {"invoices": [faulty], "send": True}, **{"Idempotency-Key": "marie-7003"})
    assert built.status_code == 201, built.text
    _settle(live, built.json()["sendings"][0]["id"])
    links = [_post(live, "/status/link", None, "reception").json()["url"] for _ in range(2)]
    dom = _chromium(live.url + links[0], "--dump-dom")
    assert "eFact outbox" in dom.stdout, dom.stderr[-2000:]
    assert "200742" in dom.stdout and "Totals per insurer and month" in dom.stdout
    assert "Audit trail" in dom.stdout and "intact" in dom.stdout and "reception-user" in dom.stdout
    png = tmp_path / "status.png"
    shot = _chromium(live.url + links[1], f"--screenshot={png}", "--window-size=412,1400")  # a phone's width
    assert png.is_file() and png.stat().st_size > 10_000, shot.stderr[-2000:]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = _chromium(live.url + links[0], "--dump-dom")  # a link works once
    assert "200742" not in again.stdout and "Sign-in needed" not in again.stdout
    assert requests.get(live.url + "/status", timeout=30).status_code == 401


def test_the_live_gateway_keeps_its_openapi_contract(live: Any, tmp_path: Path) -> None:
    """schemathesis generates requests from /openapi.json: no 500, no answer outside the schema."""
    cli = Path(os.environ.get("VIRTUAL_ENV", "")) / "bin" / "schemathesis"
    binary = str(cli) if cli.is_file() else shutil.which("schemathesis") or shutil.which("st")
    if binary is None:
        import sys

        candidate = Path(sys.executable).parent / "schemathesis"
        binary = str(candidate) if candidate.is_file() else None
    if binary is None:
        pytest.skip("schemathesis is not installed")
    started = time.monotonic()
    done = subprocess.run([binary, "run", f"{live.url}/openapi.json", "-H", f"Authorization: Bearer {live.tokens['dentist']}",
                           "--checks", "not_a_server_error,response_schema_conformance,status_code_conformance,"
                           "content_type_conformance", "--max-examples", "6", "--seed", "17",
                           "--generation-deterministic", "--request-timeout", "20", "--phases", "examples,fuzzing",
                           "--report-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=120, env=cli_env(), cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-6000:]
    assert time.monotonic() - started < 60
