"""``mycarenet-dental simulator pki|serve|population``: the offline twin of eHealth and MyCareNet."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..cli import emit, json_option, pass_context, print_table
from ..config import port_number, positive_number
from ..errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from ..context import Context

LICENCE_USER = "mycarenet-dental-simulator"
ENV_FILE = "keystore.env"


def write_simulator_config(pki: Any, out: Path, *, port: int, licence_password: str) -> tuple[Path, Path]:
    """Write ``config.toml`` (the dentist) and ``config-mandatary.toml`` (a billing office) into ``out``.

    Both point at the simulator and keep their store inside ``out``. Passwords are not written in
    them: they name environment variables, whose test values are in ``keystore.env`` (test PKI only).
    """
    services = f"https://127.0.0.1:{port}"
    common = f"""profile = "simulator"

[dentist]
nihii = "{pki.dentist_nihii}"
ssin = "{pki.dentist_ssin}"
name = "{pki.dentist_given_name} {pki.dentist_surname}"

[licence]
username = "{LICENCE_USER}"
password_env = "MYCARENET_DENTAL_LICENCE_PASSWORD"
package_name = "mycarenet-dental"

[endpoints]
services = "{services}"
async = "{services}/mycarenet-ws/async/generic"
ca_file = "ca.pem"

[simulator]
host = "127.0.0.1"
port = {port}
pki = "."
"""
    dentist = out / "config.toml"
    dentist.write_text(common + """
[keystore]
path = "dentist.p12"
password_env = "MYCARENET_DENTAL_KEYSTORE_PASSWORD"

[storage]
path = "store.sqlite"

[security]
trust_anchor = "sts.pem"
ehealth_ca = "ca.pem"
etk_trust_anchor = "ca.pem"
token_cache = "token-dentist.json"
""", encoding="utf-8")
    mandatary = out / "config-mandatary.toml"
    mandatary.write_text(common + f"""
[executor]
kind = "mandatary"
id = "{pki.mandatary_cbe}"
cbe = "{pki.mandatary_cbe}"
name = "{pki.mandatary_name}"

[keystore]
path = "mandatary.p12"
password_env = "MYCARENET_DENTAL_KEYSTORE_PASSWORD"

[storage]
path = "store-mandatary.sqlite"

[security]
trust_anchor = "sts.pem"
ehealth_ca = "ca.pem"
etk_trust_anchor = "ca.pem"
token_cache = "token-mandatary.json"
""", encoding="utf-8")
    env = out / ENV_FILE
    env.write_text(f"# test PKI only — never use for real keystores\n"
                   f"export MYCARENET_DENTAL_KEYSTORE_PASSWORD='{pki.keystore_password}'\n"
                   f"export MYCARENET_DENTAL_LICENCE_PASSWORD='{licence_password}'\n", encoding="utf-8")
    os.chmod(env, 0o600)
    return dentist, mandatary


def read_env_file(pki_dir: Path) -> dict[str, str]:
    """The test passwords of a simulator PKI folder (``keystore.env``)."""
    values: dict[str, str] = {}
    path = pki_dir / ENV_FILE
    if not path.exists():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("export ") and "=" in line:
            key, value = line[len("export "):].split("=", 1)
            values[key.strip()] = value.strip().strip("'")
    return values


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on now (the system's choice), for ``simulator pki --port 0``.

    Another program may take it before ``serve`` starts; ``serve`` then says the port is busy.
    """
    import socket

    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def generate(out: Path, *, key_type: str = "rsa", port: int = 8443) -> tuple[Any, Path]:
    import secrets

    from .pki import generate_pki

    pki = generate_pki(out, key_type=key_type)
    port = port or free_port()
    config, _ = write_simulator_config(pki, out, port=port, licence_password=secrets.token_urlsafe(9))
    return pki, config


def load_sim_settings(pki_dir: Path) -> dict[str, Any]:
    from ..config import tomllib

    config = pki_dir / "config.toml"
    if not config.exists():
        return {}
    with open(config, "rb") as fh:
        data = tomllib.load(fh)
    sim = data.get("simulator", {})
    return dict(sim) if isinstance(sim, dict) else {}


def make_simulator(pm: Any, pki_dir: Path, *, clock: Any = None) -> Any:
    """The simulator app for a PKI folder, with the licence of its ``keystore.env`` accepted."""
    from .app import build_app

    env = read_env_file(pki_dir)
    licences = {LICENCE_USER: env["MYCARENET_DENTAL_LICENCE_PASSWORD"]} if "MYCARENET_DENTAL_LICENCE_PASSWORD" in env else {}
    app = build_app(pm, pki_dir=pki_dir, licences=licences, clock=clock)
    settings = load_sim_settings(pki_dir)
    switches = settings.get("switches", {})
    if not isinstance(switches, dict):
        raise ConfigError("[simulator] switches must be a table", location="simulator.switches")
    app.state.switches.extra.update(switches)  # e.g. {"dmg.facet_unauthorized_qualities" = ["dentist"]}
    app.state.switches.latency_s = positive_number(settings.get("latency_s", 0.0), "[simulator] latency_s",
                                                   allow_zero=True)
    return app


@click.group("simulator", invoke_without_command=True)
@click.pass_context
def simulator_group(click_ctx: click.Context) -> None:
    """The offline twin of eHealth (STS, ETK depot) and MyCareNet (every installed service).

    Needs the ``simulator`` extra: pip install 'mycarenet-dental[simulator]'.
    """
    from . import require_extra

    require_extra()
    if click_ctx.invoked_subcommand is None:
        click.echo(click_ctx.get_help())


@simulator_group.command("pki")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Folder to write into.")
@click.option("--key-type", type=click.Choice(["rsa", "ec"]), default="rsa", help="Dentist key type.")
@click.option("--port", type=click.IntRange(0, 65535), default=8443, show_default=True,
              help="Port the simulator listens on, written into config.toml; 0 picks a free one.")
@json_option
def pki_command(out: Path, key_type: str, port: int, as_json: bool) -> None:
    """Generate a test CA, keystores, TLS/STS credentials, MyCareNet's keys and a config.toml."""
    pki, config = generate(out, key_type=key_type, port=port)
    port = int(load_sim_settings(out)["port"])
    data = {"out": str(out), "config": str(config), "port": port, "dentist_nihii": pki.dentist_nihii,
            "dentist_ssin": pki.dentist_ssin, "mandatary_cbe": pki.mandatary_cbe, "env_file": str(out / ENV_FILE)}
    emit(data, as_json, lambda: click.echo(
        f"test PKI written to {out}\n  config:   {config} (simulator port {port})\n  dentist:  NIHII "
        f"{pki.dentist_nihii}, SSIN {pki.dentist_ssin}\n  passwords: source {out / ENV_FILE}\n"
        f"next: mycarenet-dental simulator serve --pki {out}"))


@simulator_group.command("serve")
@click.option("--pki", "pki_dir", required=True, type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--host", default=None, help="Loopback address (default from the PKI's config, 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="Port (default from the PKI's config.toml; 0 picks a free one).")
@pass_context
def serve_command(ctx: Context, pki_dir: Path, host: str | None, port: int | None) -> None:
    """Run the simulator in the foreground until interrupted."""
    from .server import SimulatorServer

    settings = load_sim_settings(pki_dir)
    host = host or str(settings.get("host", "127.0.0.1"))
    port = port if port is not None else port_number(settings.get("port", 8443), "[simulator] port", allow_zero=True)
    app = make_simulator(ctx.pm, pki_dir)
    try:
        server = SimulatorServer(app, pki_dir=pki_dir, host=host, port=port)
    except ConfigError as exc:
        if "is busy" not in str(exc):
            raise
        raise ConfigError(exc.messages, code=exc.code, location="--port", hint=(
            f"stop what listens on {port}, or choose another port: `mycarenet-dental simulator pki --out NEWDIR "
            f"--port 0` writes a free one into NEWDIR/config.toml (read by `serve --pki NEWDIR` and the clients), "
            f"or `serve --port N` with [simulator] port and [endpoints] of {pki_dir / 'config.toml'} set to N"
        )) from None
    routes = sorted(app.routes)
    click.echo(f"simulator on {server.url} ({len(app.state.population)} patients); routes:")
    for path in routes:
        click.echo(f"  {path}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


@simulator_group.command("population")
@json_option
@pass_context
def population_command(ctx: Context, as_json: bool) -> None:
    """List the simulator's test patients and the situations each one shows."""
    from .plugins import make_sim_plugin_manager
    from .population import build_population

    sim_pm = make_sim_plugin_manager(ctx.pm)
    population = build_population(rec for _, rec in sim_pm.collect("mycarenet_dental_simulator_population"))
    patients = list(population)
    emit(patients, as_json, lambda: print_table(
        ["SSIN", "name", "born", "mutuality", "CT1/CT2", "situations"],
        [[p.ssin, f"{p.first_name} {p.last_name}", p.birth_date.isoformat(),
          ", ".join(sorted({x.mutuality for x in p.periods})) or "-",
          ", ".join(sorted({f"{x.ct1}/{x.ct2}" for x in p.periods})) or "-", "; ".join(p.situations)]
         for p in patients]))
