"""The simulator host: routing by path and SOAPAction, eHealth-style faults, population."""

from __future__ import annotations

import json
import subprocess
import sys

from mycarenet_dental.identifiers import Ssin
from mycarenet_dental.sim.app import SimResponse, SimState, SimulatorApp
from mycarenet_dental.sim.population import build_population
from mycarenet_dental.sim.registrations import SimulatorRoute
from werkzeug.test import Client

from tests.conftest import cli_env


def _app() -> SimulatorApp:
    def echo(request):
        return SimResponse(b"<ok>" + request.soap_action.encode() + b"</ok>")

    routes = [SimulatorRoute(path="/Svc/v1", handler=echo, soap_actions=["urn:act"])]
    return SimulatorApp(routes, SimState(pki_dir=None, population=build_population([])))


def test_routes_by_path_and_action() -> None:
    resp = Client(_app()).post("/Svc/v1", data=b"<x/>", headers={"SOAPAction": '"urn:act"'})
    assert resp.status_code == 200 and resp.data == b"<ok>urn:act</ok>"


def test_unknown_path_is_a_soap_fault() -> None:
    resp = Client(_app()).post("/Nope/v1", data=b"<x/>", headers={"SOAPAction": "urn:act"})
    assert resp.status_code == 404 and b"Fault" in resp.data and b"SOA-02001" in resp.data


def test_unknown_action_is_a_soap_fault() -> None:
    resp = Client(_app()).post("/Svc/v1", data=b"<x/>", headers={"SOAPAction": "urn:other"})
    assert resp.status_code == 500 and b"SOA-03005" in resp.data


def test_service_down_switch() -> None:
    app = _app()
    app.state.switches.down.add("/Svc/v1")
    resp = Client(app).post("/Svc/v1", data=b"<x/>", headers={"SOAPAction": "urn:act"})
    assert resp.status_code == 503 and b"SOA-02001" in resp.data


def test_population_has_valid_numbers_and_situations() -> None:
    population = build_population([])
    assert len(population) >= 10
    for patient in population:
        Ssin.parse(patient.ssin)
        assert patient.situations
    assert any("unknown to insurers" in s for p in population for s in p.situations)
    assert any(p.is_bim_on(p.periods[0].start) for p in population if p.periods)


def test_population_cli_json() -> None:
    proc = subprocess.run([sys.executable, "-m", "mycarenet_dental", "simulator", "population", "--json"],
                          capture_output=True, text=True, env=cli_env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    patients = json.loads(proc.stdout)
    assert all(len(p["ssin"]) == 11 for p in patients)
