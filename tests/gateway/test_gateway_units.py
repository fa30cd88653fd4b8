"""The gateway without a simulator: tokens, safe bind, error mapping, idempotency under concurrent
retries, routes from plugins (and gone with the plugin), limits, headers, CORS, no extra installed."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import attrs
import pytest
from mycarenet_dental import errors
from mycarenet_dental.config import config_from_mapping
from mycarenet_dental.context import Context
from mycarenet_dental.hookspec import hookimpl
from mycarenet_dental.plugins import PluginManager
from mycarenet_dental.registrations import RouteCall, RouteSpec

from tests.conftest import base_config, cli_env

pytest.importorskip("litestar", reason="the gateway extra is not installed")

from litestar.testing import TestClient  # noqa: E402
from mycarenet_dental.gateway.app import build_app  # noqa: E402
from mycarenet_dental.gateway.idempotency import IdempotencyStore  # noqa: E402
from mycarenet_dental.gateway.service import RateLimiter  # noqa: E402
from mycarenet_dental.gateway.settings import GatewaySettings, settings_from  # noqa: E402
from mycarenet_dental.gateway.tokens import TokenStore  # noqa: E402


@attrs.frozen
class Echo:
    text: str


class Faults:
    """A third-party plugin adding routes the same way the services do; each raises one kind of error."""

    RAISE = {"rule": errors.RuleRefusal("R35", "Annex 3", "already consulted in this contact"),
             "business": errors.BusinessError("insurer says no", code="160"),
             "remote": errors.TransportError("connection reset"),
             "timeout": errors.RemoteTimeoutError("no answer within 30 s"),
             "config": errors.ConfigError("no keystore configured"),
             "defect": KeyError("secret-looking-key 85073003328")}

    @hookimpl
    def mycarenet_dental_routes(self) -> Any:
        def fail(call: RouteCall) -> Echo:
            raise self.RAISE[call.params["kind"]]

        yield RouteSpec(method="GET", path="/faults/{kind}", handler=fail, response=Echo)
        yield RouteSpec(method="POST", path="/echo", handler=lambda call: Echo(call.body.text.upper()), request=Echo,
                        response=Echo, summary="a third-party route")


def _context(tmp_path: Path, pm: PluginManager, **tables: Any) -> Context:
    return Context(config_from_mapping(base_config(tmp_path, **tables), path=tmp_path / "config.toml"), pm=pm)


@pytest.fixture
def client(tmp_path: Path, pm: PluginManager) -> Any:
    from mycarenet_dental.plugins import make_plugin_manager

    ctx = _context(tmp_path, make_plugin_manager(extra=[("faults", Faults())]))
    tokens = {role: TokenStore(ctx.storage).add(f"{role}-user", role).secret for role in ("reception", "dentist")}
    with TestClient(build_app(ctx, GatewaySettings(max_body_bytes=4096, rate_per_minute=60))) as c:
        c.ctx, c.tokens = ctx, tokens  # type: ignore[attr-defined]
        yield c
    ctx.close()


def _auth(client: Any, role: str = "reception") -> dict[str, str]:
    return {"Authorization": f"Bearer {client.tokens[role]}"}


def test_a_token_is_shown_once_and_stored_hashed(tmp_path: Path, pm: PluginManager) -> None:
    ctx = _context(tmp_path, pm)
    store = TokenStore(ctx.storage)
    new = store.add("desk-1", "reception", days=30)
    ctx.close()
    assert new.secret.startswith(f"mcdg_{new.token.id}_") and new.secret not in repr(new)
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("store.sqlite*"))
    assert new.secret.split("_", 2)[2].encode() not in raw  # only the hash is kept
    ctx = _context(tmp_path, pm)
    store = TokenStore(ctx.storage)
    now = ctx.now()
    assert store.check(new.secret, now=now) == new.token
    assert store.check(new.secret[:-1] + ("A" if new.secret[-1] != "A" else "B"), now=now) is None
    assert store.check("mcdg_nope_x", now=now) is None
    store.revoke(new.token.id)
    assert store.check(new.secret, now=now) is None
    with pytest.raises(errors.UsageError, match="--role"):
        store.add("x", "admin")
    ctx.close()


def test_any_other_bind_than_loopback_needs_tls(tmp_path: Path) -> None:
    settings_from({}, tmp_path).check_bind()  # 127.0.0.1 by default
    with pytest.raises(errors.ConfigError, match="without TLS"):
        settings_from({"host": "0.0.0.0"}, tmp_path).check_bind()
    with pytest.raises(errors.ConfigError, match="tls_cert"):
        settings_from({"host": "0.0.0.0", "tls_cert": "c.pem", "tls_key": "k.pem"}, tmp_path).check_bind()
    (tmp_path / "c.pem").write_text("x")
    (tmp_path / "k.pem").write_text("x")
    settings_from({"host": "0.0.0.0", "tls_cert": "c.pem", "tls_key": "k.pem"}, tmp_path).check_bind()
    with pytest.raises(errors.ConfigError, match="cors_origins"):
        settings_from({"cors_origins": ["*"]}, tmp_path)


def test_serve_refuses_a_clear_text_network_bind(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'profile = "simulator"\n[dentist]\nnihii = "31234592001"\nssin = "85073003328"\n'
                      f'[storage]\npath = "{tmp_path / "s.sqlite"}"\n[gateway]\nhost = "0.0.0.0"\n', encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "mycarenet_dental", "--config", str(config), "gateway", "serve",
                           "--port", "0"], capture_output=True, text=True, env=cli_env(), timeout=60)
    assert done.returncode == 2, done.stderr
    assert "without TLS" in done.stderr and "tls_cert" in done.stderr


@pytest.mark.parametrize(("kind", "status", "code"), [
    ("rule", 409, "R35"), ("business", 422, "160"), ("remote", 502, "TRANSPORT"), ("timeout", 504, "TIMEOUT"),
    ("config", 500, "CONFIG"), ("defect", 500, "INTERNAL")])
def test_errors_are_mapped_once_with_the_cli_json_body(client: Any, kind: str, status: int, code: str,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    answer = client.get(f"/faults/{kind}", headers=_auth(client))
    assert answer.status_code == status
    body = answer.json()
    assert body["code"] == code and body["message"]["en"]
    assert set(body) >= {"error", "code", "message", "exit_code", "location", "hint", "rule", "article"}
    assert "Traceback" not in answer.text and "85073003328" not in answer.text
    if kind == "rule":
        assert (body["rule"], body["article"], body["exit_code"]) == ("R35", "Annex 3", 1)
    if status == 500:
        assert body["reference"] and body["reference"] in caplog.text  # the log has the details


def test_bad_input_is_400_naming_the_field(client: Any) -> None:
    answer = client.post("/echo", json={"text": 3}, headers=_auth(client))
    assert answer.status_code == 400 and answer.json()["location"] == "text"
    answer = client.post("/contacts", json={"patient": "1234"}, headers=_auth(client))
    assert answer.status_code == 400 and answer.json()["code"] == "INVALID_IDENTIFIER"
    assert client.get("/contacts/unknown", headers=_auth(client)).status_code == 404


def test_a_third_party_plugin_adds_routes_and_blocking_a_plugin_removes_them(client: Any, tmp_path: Path) -> None:
    from mycarenet_dental.plugins import make_plugin_manager

    assert client.post("/echo", json={"text": "hi"}, headers=_auth(client)).json() == {"text": "HI"}
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/echo", "/billing/sendings", "/tariff", "/mandates"} <= set(paths)
    ctx = _context(tmp_path / "b", make_plugin_manager(block=["billing", "mycarenet-dental-billing"]))
    token = TokenStore(ctx.storage).add("u", "billing").secret
    with TestClient(build_app(ctx)) as other:
        assert not [p for p in other.get("/openapi.json").json()["paths"] if p.startswith("/billing")]
        assert other.get("/billing/sendings", headers={"Authorization": f"Bearer {token}"}).status_code == 404
        assert "/tariff" in other.get("/openapi.json").json()["paths"]
    ctx.close()


def test_no_token_wrong_token_or_role_is_401_403_and_audited(client: Any) -> None:
    before = {e.seq for e in client.ctx.audit.entries()}
    assert client.get("/contacts").status_code == 401
    assert client.get("/contacts", headers={"Authorization": "Bearer mcdg_00000000_guess"}).status_code == 401
    answer = client.post("/billing/sendings", json={"invoices": []}, headers=_auth(client) | {"Idempotency-Key": "k"})
    assert answer.status_code == 403 and answer.json()["code"] == "FORBIDDEN"
    new = [e for e in client.ctx.audit.entries() if e.seq not in before]
    assert [(e.kind, e.code) for e in new] == [("gateway_denied", "UNAUTHORIZED")] * 2 + [("gateway_denied", "FORBIDDEN")]
    assert new[-1].executor.startswith("user:reception-user")
    assert client.tokens["reception"] not in json.dumps([attrs.asdict(e) for e in new])


def test_limits_headers_and_cors(client: Any, tmp_path: Path, pm: PluginManager) -> None:
    big = client.post("/echo", content=b'{"text": "' + b"x" * 8000 + b'"}', headers=_auth(client))
    assert big.status_code == 413
    answer = client.get("/rules", headers=_auth(client))
    for name, value in (("x-content-type-options", "nosniff"), ("x-frame-options", "DENY"),
                        ("referrer-policy", "no-referrer"), ("cache-control", "no-store")):
        assert answer.headers[name] == value
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    preflight = {"Origin": "https://pms.example", "Access-Control-Request-Method": "GET"}
    assert "access-control-allow-origin" not in client.options("/rules", headers=preflight).headers
    ctx = _context(tmp_path / "c", pm)
    with TestClient(build_app(ctx, GatewaySettings(cors_origins=("https://pms.example",)))) as cors:
        assert cors.options("/rules", headers=preflight).headers["access-control-allow-origin"] == "https://pms.example"
    ctx.close()


def test_the_rate_limit_is_per_token(client: Any) -> None:
    limiter = RateLimiter(3)
    assert [limiter.take("a") for _ in range(3)] == [0, 0, 0] and limiter.take("a") > 0 and limiter.take("b") == 0
    codes = [client.get("/rules", headers=_auth(client, "dentist")).status_code for _ in range(62)]
    assert codes.count(429) >= 1 and codes[:50] == [200] * 50
    assert client.get("/rules", headers=_auth(client)).status_code == 200  # another token is not slowed down


def test_concurrent_retries_of_one_key_run_once(tmp_path: Path, pm: PluginManager) -> None:
    ctx = _context(tmp_path, pm)
    store = IdempotencyStore(ctx.storage, wait_s=10)
    owners, replays = [], []
    gate = threading.Barrier(8)

    def retry() -> None:
        gate.wait()
        got = store.claim("tok", "key-1", "POST /x", b"{}")
        if got is None:
            owners.append(1)
            store.finish("tok", "key-1", 201, b'{"sent": 1}')
        else:
            replays.append(got)

    threads = [threading.Thread(target=retry) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(owners) == 1 and len(replays) == 7 and {(r.status, r.body) for r in replays} == {(201, b'{"sent": 1}')}
    with pytest.raises(errors.UsageError, match="another request"):
        store.claim("tok", "key-1", "POST /x", b'{"other": 1}')
    assert store.claim("other-token", "key-1", "POST /x", b"{}") is None  # keys belong to one token
    ctx.close()


CHILD = r"""
import importlib.abc, sys
class NoGatewayExtra(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("litestar", "uvicorn", "jinja2"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, NoGatewayExtra())
from mycarenet_dental.cli.main import main
sys.argv = ["mycarenet-dental", *sys.argv[1:]]
main()
"""


def test_without_the_extra_tokens_work_and_serve_says_how_to_install(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'profile = "simulator"\n[dentist]\nnihii = "31234592001"\nssin = "85073003328"\n'
                      f'[storage]\npath = "{tmp_path / "s.sqlite"}"\n', encoding="utf-8")
    base = [sys.executable, "-c", CHILD, "--config", str(config), "gateway"]
    added = subprocess.run(base + ["token", "add", "--user", "desk", "--role", "reception", "--json"],
                           capture_output=True, text=True, env=cli_env(), timeout=60)
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["token"].startswith("mcdg_")
    served = subprocess.run(base + ["serve"], capture_output=True, text=True, env=cli_env(), timeout=60)
    assert served.returncode == 2 and "mycarenet-dental[gateway]" in served.stderr


def test_the_contract_written_for_the_docs_is_the_served_one(client: Any, tmp_path: Path) -> None:
    from click.testing import CliRunner
    from mycarenet_dental.cli.main import build_cli

    out = tmp_path / "openapi.json"
    done = CliRunner().invoke(build_cli(), ["gateway", "openapi", "--out", str(out)])
    assert done.exit_code == 0, done.output
    written = json.loads(out.read_text(encoding="utf-8"))
    served = client.get("/openapi.json").json()
    served_schemas = {k: v for k, v in served["components"]["schemas"].items() if k != "Echo"}
    assert written["openapi"] == "3.1.0" and written["components"]["schemas"] == served_schemas
    assert set(served["paths"]) - set(written["paths"]) == {"/echo", "/faults/{kind}"}  # the test's own plugin
    tariff = written["paths"]["/tariff"]["post"]
    assert tariff["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/TariffAsk")
    assert tariff["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/TariffResult")
    assert tariff["responses"]["409"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert "Idempotency-Key" in json.dumps(written["paths"]["/billing/sendings"]["post"]["parameters"])
