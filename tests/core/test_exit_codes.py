"""The exit-code contract (docs/exit-codes.md) over every command of every plugin, through ``main()``.

The commands are discovered from the CLI tree: a new command without a row in ``ROWS`` fails
``test_every_command_has_a_row``. Each row gives, per outcome class the command can produce, a case
(the arguments, built on a fresh store against the module's simulator); a remote case runs twice:
against a closed port, and against the simulator with its services switched down (SOAP fault
SOA-02001). Every case runs plain and,
when the command has ``--json``, with ``--json`` (then the error body carries ``exit_code``). The
internal error (4) is every command's success case with its callback raising.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import click
import pytest
from mycarenet_dental.cli.main import build_cli, main
from mycarenet_dental.plugins import make_plugin_manager
from mycarenet_dental.sim.cli import free_port
from mycarenet_dental.sim.population import base_population

OK, REFUSED, USAGE, REMOTE, INTERNAL = 0, 1, 2, 3, 4
PEOPLE = {p.last_name: p for p in base_population()}
PATIENT = PEOPLE["Janssens"].ssin  # insured, mutuality 116
DENTIST_NIHII = "31234592001"
OFFICE_CBE = "0412345614"


def _commands() -> dict[str, click.Command]:
    cli = build_cli(make_plugin_manager())
    found: dict[str, click.Command] = {}

    def walk(cmd: click.Command, path: list[str], ctx: click.Context) -> None:
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                assert sub is not None, name
                walk(sub, [*path, name], click.Context(sub, parent=ctx, info_name=name))
        else:
            found[" ".join(path)] = cmd

    walk(cli, [], click.Context(cli, info_name="mycarenet-dental"))
    return found


COMMANDS = _commands()


@attrs.define
class World:
    """A fresh store on the module's simulator; ``dead`` is the same store with every endpoint on a closed port."""

    sim: Any
    tmp: Path
    capsys: Any
    cfg: Path
    dead: Path
    fresh: Path  # the same as cfg without the shared token cache: the STS is asked
    request: Any = None

    def postgres(self) -> str:
        """A new, empty PostgreSQL database (the test skips where PostgreSQL cannot be started)."""
        return str(self.request.getfixturevalue("postgres_url"))

    def run(self, *args: str, config: Path | None = None) -> tuple[int, str, str]:
        try:
            main(["--config", str(config or self.cfg), *args])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out = self.capsys.readouterr()
        return code, out.out, out.err

    def ok(self, *args: str) -> str:
        code, out, err = self.run(*args, "--json")
        assert code == 0, err + out
        return out

    def contact(self, patient: str = PATIENT) -> str:
        return str(json.loads(self.ok("contact", "open", "--patient", patient))["id"])

    def file(self, name: str, text: str) -> str:
        path = self.tmp / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    def mandate(self) -> str:
        out = self.ok("mandates", "add", "--mandator", DENTIST_NIHII, "--mandatary", OFFICE_CBE,
                      "--service", "tariff", "--start", "2026-01-01")
        return str(json.loads(out)["mandate"]["id"])

    def invoices(self, *, consulted: bool) -> str:
        """An invoice file for one line of yesterday, after a real tariff consultation when ``consulted``."""
        day = (dt.date.today() - dt.timedelta(days=1)).isoformat()
        if consulted:
            self.contact()
            self.ok("tariff", "--patient", PATIENT, "--service", "301011", "--date", day)
        doc = {"invoices": [{"number": 7001, "patient_id": PATIENT, "sex": "male", "mutuality": "116",
                             "ct1": "110", "ct2": "110",
                             "lines": [{"code": "301011", "date": day, "reimbursement": 2500, "patient_share": 500,
                                        "tooth": 36}]}]}
        return self.file("invoices.json", json.dumps(doc))

    def built(self) -> str:
        """A sending built and validated in the outbox (its id)."""
        out = self.ok("billing", "build", self.invoices(consulted=True))
        return str(json.loads(out)["sendings"][0]["id"])

    def sending_file(self) -> str:
        from mycarenet_dental.context import Context
        from mycarenet_dental_billing.outbox import Outbox

        sending = self.built()
        ctx = Context.from_config(self.cfg)
        try:
            data = Outbox(ctx).file(sending)
        finally:
            ctx.close()
        path = self.tmp / "sending.920000"
        path.write_bytes(data)
        return str(path)

    def signed(self, *, tamper: bool = False) -> str:
        from mycarenet_dental.sim.sts import SimTrust

        from tests.security.sec_helpers import signed_envelope

        data, _, _ = signed_envelope(self.sim.pki, SimTrust.load(self.sim.pki_dir))
        if tamper:
            data = data.replace(b"</soap:Body>", b"<x/></soap:Body>", 1) if b"</soap:Body>" in data else data[:-40]
        path = self.tmp / "signed.xml"
        path.write_bytes(data)
        return str(path)


Args = Callable[[World], list[str]]


@attrs.frozen
class Row:
    """The cases of one command: ``None`` where the command cannot produce that outcome."""

    ok: Args
    usage: Args
    refused: Args | None = None
    remote: Args | None = None
    patch: Callable[[World, pytest.MonkeyPatch], None] | None = None  # for the success case only


def _serve_returns(w: World, mp: pytest.MonkeyPatch) -> None:
    from mycarenet_dental.sim.server import SimulatorServer

    def interrupted(self: Any) -> None:
        raise KeyboardInterrupt  # Ctrl-C: the documented way to stop it

    mp.setattr(SimulatorServer, "serve_forever", interrupted)


def _gateway_returns(w: World, mp: pytest.MonkeyPatch) -> None:
    import uvicorn

    mp.setattr(uvicorn.Server, "run", lambda self, sockets=None: None)  # served, then stopped


def _token(w: World) -> list[str]:
    return [json.loads(w.ok("gateway", "token", "add", "--user", "desk", "--role", "reception"))["id"]]


ROWS: dict[str, Row] = {
    "gateway openapi": Row(ok=lambda w: ["--out", str(w.tmp / "openapi.json")], usage=lambda w: ["--bogus"]),
    "gateway serve": Row(ok=lambda w: ["--port", "0"], usage=lambda w: ["--host", "0.0.0.0"], patch=_gateway_returns),
    "gateway token add": Row(ok=lambda w: ["--user", "desk", "--role", "billing"],
                             usage=lambda w: ["--user", "desk", "--role", "admin"]),
    "gateway token list": Row(ok=lambda w: [], usage=lambda w: ["--bogus"]),
    "gateway token revoke": Row(ok=_token, usage=lambda w: ["no-such-token"]),
    "gateway token link": Row(ok=_token, usage=lambda w: ["no-such-token"]),
    "plugins": Row(ok=lambda w: [], usage=lambda w: ["--bogus"]),
    "plugin new": Row(ok=lambda w: ["eattest", "--dir", str(w.tmp / "new")],
                      usage=lambda w: ["Not-A-Name", "--dir", str(w.tmp / "bad")]),
    "rules": Row(ok=lambda w: [], usage=lambda w: ["--bogus"]),
    "contact open": Row(ok=lambda w: ["--patient", PATIENT], usage=lambda w: ["--patient", "123"]),
    "contact close": Row(ok=lambda w: [w.contact()], usage=lambda w: ["no-such-contact"]),
    "contact list": Row(ok=lambda w: ["--open"], usage=lambda w: ["--bogus"]),
    "audit list": Row(ok=lambda w: [], usage=lambda w: ["--from", "garbage"]),
    "audit verify": Row(ok=lambda w: [w.ok("insurability", "--patient", PATIENT) for _ in [w.contact()]] and [],
                        refused=lambda w: [w.contact()] and ["--checkpoints", w.file("cp.txt", "not a checkpoint")],
                        usage=lambda w: ["--checkpoints", str(w.tmp)]),
    "storage status": Row(ok=lambda w: [w.contact()] and [], refused=lambda w: [],  # a new store: pending
                          usage=lambda w: ["--bogus"]),
    "storage migrate": Row(ok=lambda w: [], usage=lambda w: ["--bogus"]),
    "storage copy": Row(ok=lambda w: [w.contact()] and ["--to", w.postgres()], usage=lambda w: ["--to", "mysql://h/db"]),
    "audit export": Row(ok=lambda w: ["--csv"], usage=lambda w: ["--to", "garbage"]),
    "login": Row(ok=lambda w: [], usage=lambda w: ["--bogus"], remote=lambda w: []),
    "security verify": Row(ok=lambda w: [w.signed()], refused=lambda w: [w.signed(tamper=True)],
                           usage=lambda w: [str(w.tmp / "missing.xml")]),
    "simulator pki": Row(ok=lambda w: ["--out", str(w.tmp / "pki")],
                         usage=lambda w: ["--out", str(w.tmp / "pki"), "--key-type", "dsa"]),
    "simulator population": Row(ok=lambda w: [], usage=lambda w: ["--bogus"]),
    "simulator serve": Row(ok=lambda w: ["--pki", str(w.sim.pki_dir), "--port", "0"],
                           usage=lambda w: ["--pki", str(w.tmp / "missing")], patch=_serve_returns),
    "demo": Row(ok=lambda w: ["--step", "no-such-step"], usage=lambda w: ["--bogus"]),
    "mandates add": Row(ok=lambda w: ["--mandator", DENTIST_NIHII, "--mandatary", OFFICE_CBE, "--service", "tariff",
                                      "--start", "2026-01-01"],
                        refused=lambda w: ["--mandator", DENTIST_NIHII, "--mandatary", OFFICE_CBE, "--service", "dmg",
                                           "--start", "2026-01-01"],
                        usage=lambda w: ["--mandator", DENTIST_NIHII, "--mandatary", OFFICE_CBE, "--service", "tariff",
                                         "--start", "2026-13-01"]),
    "mandates list": Row(ok=lambda w: [], usage=lambda w: ["--on", "garbage"]),
    "mandates stop": Row(ok=lambda w: [w.mandate()], usage=lambda w: ["no-such-mandate"]),
    "mandates event": Row(ok=lambda w: ["--party", OFFICE_CBE, "--kind", "death", "--date", "2026-02-01"],
                          usage=lambda w: ["--party", OFFICE_CBE, "--kind", "flood", "--date", "2026-02-01"]),
    "mandates history": Row(ok=lambda w: [w.mandate()], usage=lambda w: ["no-such-mandate"]),
    "mandates import": Row(ok=lambda w: [w.file("register.json", '{"mandates": []}')],
                           usage=lambda w: [w.file("register.json", "not json")]),
    "mandates export": Row(ok=lambda w: [str(w.tmp / "register.json")],
                           usage=lambda w: [str(w.tmp / "register.json"), "--format", "xml"]),
    "mandates check": Row(ok=lambda w: [w.mandate()] and ["--mandator", DENTIST_NIHII, "--mandatary", OFFICE_CBE,
                                                          "--service", "tariff", "--on", "2026-03-01"],
                          refused=lambda w: ["--mandator", DENTIST_NIHII, "--mandatary", OFFICE_CBE,
                                             "--service", "tariff"],
                          usage=lambda w: ["--mandator", "123", "--mandatary", OFFICE_CBE, "--service", "tariff"]),
    "insurability": Row(ok=lambda w: [w.contact()] and ["--patient", PATIENT],
                        refused=lambda w: ["--patient", PATIENT],  # no open contact: R29
                        usage=lambda w: ["--patient", "12345678901"],
                        remote=lambda w: [w.contact()] and ["--patient", PATIENT]),
    "tariff": Row(ok=lambda w: [w.contact()] and ["--patient", PATIENT, "--service", "301011"],
                  refused=lambda w: ["--patient", PATIENT, "--service", "301011"],
                  usage=lambda w: ["--patient", PATIENT, "--service", "301011:99"],
                  remote=lambda w: [w.contact()] and ["--patient", PATIENT, "--service", "301011"]),
    "dmg": Row(ok=lambda w: [w.contact()] and ["--patient", PATIENT],
               refused=lambda w: ["--patient", PATIENT],
               usage=lambda w: ["--patient", PATIENT, "--date", "yesterday"],
               remote=lambda w: [w.contact()] and ["--patient", PATIENT]),
    "billing build": Row(ok=lambda w: [w.invoices(consulted=True)],
                         refused=lambda w: [w.invoices(consulted=False)],  # R36: no tariff consultation
                         usage=lambda w: [w.file("invoices.json", '{"invoices": 3}')],
                         remote=lambda w: [w.invoices(consulted=True), "--send"]),
    "billing validate": Row(ok=lambda w: [w.sending_file()], refused=lambda w: [w.file("bad.920000", "920000x\n")],
                            usage=lambda w: [str(w.tmp / "missing")]),
    "billing send": Row(ok=lambda w: [w.built()], usage=lambda w: ["no-such-sending"],
                        remote=lambda w: [w.built()]),
    "billing poll": Row(ok=lambda w: [], usage=lambda w: ["--max-polls", "0"], remote=lambda w: []),
    "billing status": Row(ok=lambda w: [], usage=lambda w: ["no-such-sending"]),
    "billing parse": Row(ok=lambda w: [w.sending_file()], usage=lambda w: [w.file("x.txt", "hello")]),
    "billing unattested": Row(ok=lambda w: [], usage=lambda w: ["--days", "0"]),
    # refused (1, sendings that need a person) is tests/billing/test_worker.py::test_exit_codes
    "billing worker": Row(ok=lambda w: ["--until-idle"], usage=lambda w: ["--concurrency", "0"],
                          remote=lambda w: [w.built()] and ["--until-idle", "--give-up-after", "0.2"]),
    "billing schema": Row(ok=lambda w: [], usage=lambda w: ["--bogus"]),
}

_CLASSES = {"ok": OK, "refused": REFUSED, "usage": USAGE, "remote": REMOTE}


def _has_json(path: str) -> bool:
    return any(p.name == "as_json" for p in COMMANDS[path].params)


def _cases() -> Iterator[Any]:
    for path in sorted(ROWS):
        row = ROWS[path]
        for kind in ("ok", "refused", "usage", "remote", "fault", "internal"):
            if getattr(row, "remote" if kind == "fault" else kind, True) is None:
                continue
            both = path in COMMANDS and _has_json(path) and kind != "fault"  # fault: the remote case's twin
            for as_json in (False, True) if both else (False,):
                yield pytest.param(path, kind, as_json, id=f"{path.replace(' ', '-')}-{kind}" + ("-json" * as_json))


def test_every_command_has_a_row() -> None:
    """A command added by a plugin (or the core) must state its exit codes here."""
    assert sorted(COMMANDS) == sorted(ROWS)


@pytest.fixture(scope="module")
def fast_keystores() -> Iterator[None]:
    """Keystores are immutable files: one load per file for the module (PBKDF2 makes each load ~1 s)."""
    import functools

    from mycarenet_dental.ehealth.keystore import Keystore

    original = Keystore.__dict__["load"]
    cached = functools.lru_cache(maxsize=8)(lambda cls, path, password: original.__func__(cls, path, password))

    def load(cls: Any, path: Path, password: str, *, now: Any = None) -> Any:
        return cached(cls, Path(path), password) if now is None else original.__func__(cls, path, password, now=now)

    Keystore.load = classmethod(load)  # type: ignore[method-assign,assignment]
    yield
    Keystore.load = original  # type: ignore[method-assign]


@pytest.fixture
def world(sim: Any, tmp_path: Path, capsys: Any, fast_keystores: None, monkeypatch: pytest.MonkeyPatch,
          request: pytest.FixtureRequest) -> World:
    for name, value in sim.env.items():  # the passwords (``demo`` sets its own PKI's in the environment)
        monkeypatch.setenv(name, value)
    text = sim.config_path.read_text(encoding="utf-8")
    store = tmp_path / "store.sqlite"
    cfg = sim.config_path.with_name(f"exit-{tmp_path.name}.toml")
    cfg.write_text(text.replace('path = "store.sqlite"', f'path = "{store}"')
                   + "\n[tariff]\nmax_per_minute = 100000\n", encoding="utf-8")
    port = str(sim.server.port)
    dead = sim.config_path.with_name(f"exit-dead-{tmp_path.name}.toml")
    dead.write_text(cfg.read_text(encoding="utf-8").replace(f":{port}", f":{free_port()}")
                    .replace('token_cache = "token-dentist.json"', f'token_cache = "{tmp_path / "token.json"}"'),
                    encoding="utf-8")
    fresh = sim.config_path.with_name(f"exit-fresh-{tmp_path.name}.toml")
    fresh.write_text(cfg.read_text(encoding="utf-8").replace(
        'token_cache = "token-dentist.json"', f'token_cache = "{tmp_path / "token.json"}"'), encoding="utf-8")
    return World(sim=sim, tmp=tmp_path, capsys=capsys, cfg=cfg, dead=dead, fresh=fresh, request=request)


@pytest.mark.parametrize(("path", "kind", "as_json"), list(_cases()))
def test_exit_code(world: World, monkeypatch: pytest.MonkeyPatch, path: str, kind: str, as_json: bool) -> None:
    row = ROWS[path]
    args = {"internal": row.ok, "fault": row.remote}.get(kind, getattr(row, kind, None))(world)
    config = {"remote": world.dead, "fault": world.fresh}.get(kind, world.cfg)
    if kind == "fault":  # every service of the simulator answers SOA-02001 "service not available"
        monkeypatch.setattr(world.sim.app.state.switches, "down", set(world.sim.app.routes))
    if kind == "ok" and row.patch is not None:
        row.patch(world, monkeypatch)
    if kind == "internal":
        def boom(*_a: Any, **_k: Any) -> None:
            raise RuntimeError(f"defect while handling {PATIENT}")

        monkeypatch.setattr(COMMANDS[path], "callback", boom)
    code, out, err = world.run(*path.split(), *args, *(["--json"] if as_json else []), config=config)
    expected = {"internal": INTERNAL, "fault": REMOTE}.get(kind) or _CLASSES[kind]
    assert code == expected, f"{path} {kind}: exit {code}\n{out}\n{err}"
    assert "Traceback" not in out + err
    if as_json:
        body = json.loads(out)
        if code:  # every failure, typed or not, says its code in the body
            assert body["exit_code"] == code, body
            assert body.get("code") or kind == "refused", body  # a refused outcome's body is the result
            for lang in ("fr", "nl"):
                assert body.get("message", {}).get(lang, "x"), "an empty translation is omitted, not printed"
    elif code and kind != "refused":
        assert err.startswith("error:") or "Usage:" in err, err
    if kind == "internal":
        assert PATIENT not in out + err  # the message of an unexpected exception may quote input
        where = (json.loads(out)["traceback_file"] if as_json
                 else err.split("are in ", 1)[1].split(" (private file)", 1)[0])
        assert (Path(where).stat().st_mode & 0o777) == 0o600 and "RuntimeError" in Path(where).read_text()
        Path(where).unlink()


def test_kept_r34_answer_is_a_success_and_says_so(world: World) -> None:
    """A second consultation in the same contact shows the kept answer (exit 0): its notice must not
    read as a refusal (it said "refused by rule R34" with exit 0)."""
    world.contact()
    world.ok("insurability", "--patient", PATIENT)
    code, out, err = world.run("insurability", "--patient", PATIENT)
    assert code == 0, err
    notice = next(line for line in out.splitlines() if line.startswith("notice R34"))
    assert "refused" not in notice and "kept" in notice
