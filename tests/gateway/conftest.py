"""Fixtures of the gateway tests: a live gateway (uvicorn in a thread) over a context on the module's
simulator, and tokens of each role."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import attrs
import pytest

pytest.importorskip("litestar", reason="the gateway extra is not installed")


@attrs.frozen
class LiveGateway:
    url: str
    ctx: Any
    app: Any
    tokens: dict[str, str]

    def headers(self, role: str = "dentist", **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}", **extra}


def start_server(app: Any) -> tuple[Any, threading.Thread, str]:
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="error", access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def live(sim: Any) -> Iterator[LiveGateway]:
    from mycarenet_dental.gateway.app import build_app
    from mycarenet_dental.gateway.tokens import TokenStore

    ctx = sim.context(tables={"tariff": {"max_per_minute": 10_000}, "dmg": {"max_per_minute": 10_000},
                              "billing": {"max_files_per_union_per_day": 50}})
    store = TokenStore(ctx.storage)
    tokens = {role: store.add(f"{role}-user", role, now=ctx.now()).secret for role in ("reception", "dentist", "billing")}
    app = build_app(ctx)
    server, thread, url = start_server(app)
    try:
        yield LiveGateway(url=url, ctx=ctx, app=app, tokens=tokens)
    finally:
        server.should_exit = True
        thread.join(10)
        ctx.close()
