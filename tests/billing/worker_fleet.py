"""A billing office on the simulator, for the worker tests and ``bench/bench_workers.py``.

The simulated insurer runs in its own process with a durable journal (``billing.journal``), so it can be
killed with ``kill -9`` and restarted on the same port; the office's dentists have given it billing
mandates (in the simulator's register and in the office's store); their invoices are filed as one
sending per dentist; ``billing worker`` processes are started on the office's configuration.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import attrs
from mycarenet_dental.sim.cli import free_port

PYTHON = [sys.executable, "-m", "mycarenet_dental"]


def dentist_nihii(i: int) -> str:
    from mycarenet_dental.identifiers import Nihii

    first6 = f"3{10000 + i:05d}"
    return first6 + Nihii.check_digits(first6) + "001"


@attrs.define
class Office:
    root: Path
    port: int
    config: Path
    journal: Path
    env: dict[str, str]
    dentists: list[str]
    store: str  # the office's store: a SQLite file or a postgresql:// URL
    sim: Any = None
    workers: list[Any] = attrs.field(factory=list)

    # -- processes --------------------------------------------------------------------------------

    def start_sim(self, timeout: float = 30.0) -> None:
        log = (self.root / "sim.log").open("ab")
        self.sim = subprocess.Popen([*PYTHON, "simulator", "serve", "--pki", str(self.root), "--port",
                                     str(self.port)], stdout=log, stderr=log, env=self.env)
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if self.sim.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the simulator did not start: " + (self.root / "sim.log").read_text()[-2000:]) from None
                time.sleep(0.05)

    def kill_sim(self) -> None:
        self.sim.send_signal(signal.SIGKILL)
        self.sim.wait()

    def start_worker(self, *, concurrency: int = 1, until_idle: bool = True) -> Any:
        n = len(self.workers)
        args = [*PYTHON, "--config", str(self.config), "billing", "worker", "--concurrency", str(concurrency)]
        proc = subprocess.Popen(args + (["--until-idle"] if until_idle else []), env=self.env,
                                stdout=self.worker_log(n).open("wb"), stderr=self.worker_log(n, "err").open("wb"))
        self.workers.append(proc)
        return proc

    def worker_log(self, n: int, kind: str = "out") -> Path:
        """Worker ``n``'s JSON lines: log events and health (``out``), or its stderr (``err``)."""
        stem = Path(self.store).stem if "://" not in self.store else "office"
        return self.root / f"{stem}-worker-{n}.{kind}"

    def stop(self) -> None:
        for proc in [*self.workers, self.sim]:
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()

    # -- what happened ------------------------------------------------------------------------------

    def with_store(self, name: str) -> Office:
        """The same office and insurer with another store (a new configuration file beside the first)."""
        text = self.config.read_text("utf-8").replace(json.dumps(self.store), json.dumps(str(self.root / name)))
        config = self.root / f"office-{Path(name).stem}.toml"
        config.write_text(text, "utf-8")
        return attrs.evolve(self, config=config, store=str(self.root / name), workers=[])

    def file_invoices(self, nihiis: list[str], per_dentist: int, *, at_once: bool = False) -> None:
        """Mirror the mandates into the office's store and file one sending per dentist (``at_once``: all
        in one transaction, so that workers already running see them appear together)."""
        _file_invoices(self, nihiis, per_dentist, at_once=at_once)

    def settled(self) -> int:
        return self.states().get("settled", 0)

    def states(self) -> collections.Counter[str]:
        from mycarenet_dental.storage import open_storage

        db = open_storage(self.store)
        try:
            return collections.Counter(r["state"] for r in db.query("SELECT state FROM billing_sending"))
        finally:
            db.close()

    def insurer(self) -> tuple[collections.Counter[tuple[str, str]], int, collections.Counter[str]]:
        """From the insurer's journal: posts per (dentist, InputReference), re-posts seen, invoices taken in."""
        from mycarenet_dental_billing.simulator_journal import events

        posts: collections.Counter[tuple[str, str]] = collections.Counter()
        again = 0
        invoices: collections.Counter[str] = collections.Counter()
        for event in events(self.journal):
            if event["op"] == "post":
                posts[(event["nihii"], event["ref"])] += 1
                invoices.update(c.split(":", 1)[1] for c in event["counts"] if c.startswith("billing.invoice_receipts:"))
            elif event["op"] == "again":
                again += 1
        return posts, again, invoices


def prepare(root: Path, *, dentists: int, invoices: int, latency_s: float = 0.0,
            worker: dict[str, float] | None = None, store: str | None = None) -> Office:
    """PKI, simulator settings (journal, latency), mandates on both sides, the office's store with one
    sending of ``invoices`` invoices per dentist (built, not yet validated; none when ``invoices`` is 0)."""
    from mycarenet_dental.sim.cli import ENV_FILE, generate, read_env_file

    port = free_port()
    pki, _ = generate(root, port=port)
    journal = root / "insurer-journal.jsonl"
    sim_config = root / "config.toml"
    text = sim_config.read_text("utf-8")
    text = text.replace("[simulator]\n", f"[simulator]\nlatency_s = {latency_s}\n", 1)
    text += f'\n[simulator.switches]\n"billing.journal" = {json.dumps(str(journal))}\n'
    sim_config.write_text(text, "utf-8")
    nihiis = [dentist_nihii(i) for i in range(dentists)]
    _mandates(root, nihiis, pki.mandatary_cbe)
    office_text = (root / "config-mandatary.toml").read_text("utf-8")
    store = store or str(root / "office.sqlite")
    key = "url" if "://" in store else "path"
    office_text = re.sub(r'(?m)^path = "store-mandatary\.sqlite"$', f"{key} = {json.dumps(store)}", office_text)
    assert json.dumps(store) in office_text
    settings = {"worker_lease_seconds": 30.0, "worker_poll_seconds": 0.2, "worker_poll_max_seconds": 1.0,
                "worker_idle_seconds": 0.2, **(worker or {})}
    office_text += "\n[billing]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items())
    office_config = root / "office.toml"
    office_config.write_text(office_text, "utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MYCARENET_DENTAL_")}
    env.update(read_env_file(root))
    assert (root / ENV_FILE).exists()
    office = Office(root=root, port=port, config=office_config, journal=journal, env=env, dentists=nihiis,
                    store=store)
    if invoices:
        _file_invoices(office, nihiis, invoices)
    return office


def _mandates(root: Path, nihiis: list[str], cbe: str) -> None:
    """The billing mandates the dentists gave the office: in MyCareNet's register (the simulator's
    ``mandates.json``) and mirrored in the office's store by the worker test's set-up."""
    from mycarenet_dental_mandates import Mandate, PartyId, RegisterDocument, dumps_json

    start = dt.date.today() - dt.timedelta(days=30)
    mandates = [Mandate(id=f"m{n}", mandator_nihii=nihii, mandatary=PartyId.parse(cbe, kind="cbe"),
                        service="billing", start=start) for n, nihii in enumerate(nihiis)]
    (root / "mandates.json").write_text(dumps_json(RegisterDocument(tuple(mandates))), "utf-8")


def _file_invoices(office: Office, nihiis: list[str], per_dentist: int, *, at_once: bool = False) -> None:
    from mycarenet_dental.context import Context
    from mycarenet_dental_mandates import read_file, register_for

    os.environ.update(office.env)
    ctx = Context.from_config(office.config)
    try:
        register_for(ctx).import_mandates(read_file(office.root / "mandates.json").mandates)
        with ctx.storage.transaction() if at_once else contextlib.nullcontext():
            for i, nihii in enumerate(nihiis):
                _build(ctx, i, nihii, per_dentist)
    finally:
        ctx.close()


def _build(ctx: Any, i: int, nihii: str, per_dentist: int) -> None:
    """One sending of ``per_dentist`` one-line invoices for dentist ``nihii`` (its patient's union)."""
    from mycarenet_dental.config import Identity
    from mycarenet_dental_billing.outbox import Outbox

    from tests.billing.flow_fixtures import ARNE, LUCAS, MARIE, NOAH, make_invoice, record_tariff

    day = dt.date.today() - dt.timedelta(days=1)
    teeth = [11, 12, 13, 14, 15, 16, 17, 21, 22, 23]
    person = (LUCAS, MARIE, NOAH, ARNE)[i % 4]
    invoices = [make_invoice(1000 + j, person, [("301011", day, teeth[j % len(teeth)], 2500)], provider=nihii)
                for j in range(per_dentist)]
    dentist = ctx.for_dentist(Identity(nihii=nihii, ssin=""))
    record_tariff(dentist, person.ssin, [("301011", day)])  # R36: the tariff was consulted
    built = Outbox(dentist).build(invoices)
    assert len(built.sendings) == 1 and not built.refused_lines, built.refused_lines
