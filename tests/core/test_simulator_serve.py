"""`simulator pki` then `simulator serve` as a terminal user runs them: TLS on loopback, eHealth faults."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from mycarenet_dental.sim.cli import free_port

from tests.conftest import cli_env

EXE = [sys.executable, "-m", "mycarenet_dental"]


def test_pki_then_serve(tmp_path: Path) -> None:
    pki = tmp_path / "sim"
    made = subprocess.run(EXE + ["simulator", "pki", "--out", str(pki), "--json"], capture_output=True, text=True,
                          env=cli_env(), timeout=60)
    assert made.returncode == 0, made.stderr
    for name in ("ca.pem", "dentist.p12", "mandatary.p12", "tls.pem", "sts.pem", "mycarenet.etk", "config.toml",
                 "config-mandatary.toml", "keystore.env"):
        assert (pki / name).exists(), name
    assert (pki / "keystore.env").stat().st_mode & 0o077 == 0
    assert "password =" not in (pki / "config.toml").read_text()
    port = free_port()
    server = subprocess.Popen(EXE + ["simulator", "serve", "--pki", str(pki), "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env())
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        reply = requests.post(f"https://127.0.0.1:{port}/No/Such/Service", data=b"<x/>", timeout=10,
                              verify=str(pki / "ca.pem"), headers={"SOAPAction": "urn:x"})
        assert reply.status_code == 404 and b"SOA-02001" in reply.content
        with requests.Session() as session:  # keep-alive: one connection serves several calls
            for _ in range(3):
                again = session.post(f"https://127.0.0.1:{port}/No/Such/Service", data=b"<x/>", timeout=10,
                                     verify=str(pki / "ca.pem"))
                assert again.status_code == 404 and again.headers.get("Connection", "").lower() != "close"
    finally:
        server.terminate()
        server.wait(10)


def test_pki_port_0_writes_a_free_port_and_serve_names_a_busy_one(tmp_path: Path) -> None:
    """`pki --port 0` writes the port the system chose into config.toml; `serve` on a taken port says
    which one and how to choose another (exit 2), instead of cheroot's "No socket could be created"."""
    import json

    from mycarenet_dental.config import tomllib

    pki = tmp_path / "sim"
    made = subprocess.run(EXE + ["simulator", "pki", "--out", str(pki), "--port", "0", "--json"],
                          capture_output=True, text=True, env=cli_env(), timeout=60)
    assert made.returncode == 0, made.stderr
    port = json.loads(made.stdout)["port"]
    config = tomllib.loads((pki / "config.toml").read_text())
    assert port > 0 and config["simulator"]["port"] == port
    assert config["endpoints"]["services"] == f"https://127.0.0.1:{port}"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        busy = subprocess.run(EXE + ["simulator", "serve", "--pki", str(pki)], capture_output=True, text=True,
                              env=cli_env(), timeout=60)
    assert busy.returncode == 2
    assert f"port {port} is busy" in busy.stderr and "--port 0" in busy.stderr, busy.stderr
    assert "Traceback" not in busy.stderr
