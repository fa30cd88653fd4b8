"""The MyCareNet side of mandates in the simulator: its own register, checked on every request.

As in production, the check exists on both sides: the client's rule R21 refuses locally, and the
simulated MyCareNet refuses a request sent by a mandatary without a mandate in force (SOA-01002).
The simulator's register is loaded from the same JSON format as ``mandates export``, from (first
found) the switch ``state.switches.extra["mandates"]`` (a path, a :class:`RegisterDocument`, a
:class:`MandateRegister` or a list of mandates), the ``[simulator] mandates = "file.json"`` setting of
the PKI folder's ``config.toml``, or ``mandates.json`` in the PKI folder. A file is reloaded when it
changes, so ``mandates export`` into that file updates a running simulator.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from mycarenet_dental.errors import InvalidIdentifierError
from mycarenet_dental.sim.authz import MandateDecision, SenderId
from mycarenet_dental.sim.hookspec import hookimpl as sim_hookimpl
from mycarenet_dental.sim.registrations import DemoStep
from mycarenet_dental.timeutil import belgian_date

from .io import RegisterDocument, read_file
from .model import Mandate, PartyId
from .register import MandateRegister
from .rules import mandated_service

SWITCH = "mandates"
SLOT = "mandates"  # this plugin's slot in the simulator state (its entry-point name)
DEFAULT_FILE = "mandates.json"


class SimMandateAuthority:
    """The mandate check of one simulator (answers ``mycarenet_dental_simulator_mandate_check``)."""

    def __init__(self, state: Any) -> None:
        self.state = state
        self._lock = threading.Lock()
        self._signature: Any = None
        self._register: MandateRegister | None = None

    def _today(self) -> dt.date:
        return belgian_date(self.state.now())

    def _source(self) -> Any:
        switch = self.state.switches.extra.get(SWITCH)
        if switch is not None:
            return switch
        pki_dir = getattr(self.state, "pki_dir", None)
        if pki_dir is None:
            return None
        from mycarenet_dental.sim.cli import load_sim_settings

        configured = load_sim_settings(Path(pki_dir)).get("mandates")
        if configured:
            path = Path(str(configured))
            return path if path.is_absolute() else Path(pki_dir) / path
        default = Path(pki_dir) / DEFAULT_FILE
        return default if default.exists() else None

    def register(self) -> MandateRegister:
        """The current register, (re)loaded when its source changed."""
        source = self._source()
        if isinstance(source, MandateRegister):
            return source
        if isinstance(source, (str, Path)):
            path = Path(source)
            try:
                stat = path.stat()
                signature: Any = ("file", str(path), stat.st_mtime_ns, stat.st_size)
            except OSError:
                signature = ("missing", str(path))
        else:
            signature = ("object", id(source))
        with self._lock:
            if self._register is None or signature != self._signature:
                register = MandateRegister.in_memory(today=self._today)
                document = self._document(source, signature)
                register.import_mandates(document.mandates, document.events)
                self._register, self._signature = register, signature
            return self._register

    @staticmethod
    def _document(source: Any, signature: Any) -> RegisterDocument:
        if source is None or signature[0] == "missing":
            return RegisterDocument()
        if isinstance(source, RegisterDocument):
            return source
        if isinstance(source, (str, Path)):
            return read_file(Path(source))
        if isinstance(source, (list, tuple)) and all(isinstance(m, Mandate) for m in source):
            return RegisterDocument(tuple(source))
        raise TypeError(f"switch {SWITCH!r}: expected a path, a RegisterDocument, a MandateRegister or mandates")

    def __call__(self, *, sender: Sequence[SenderId], care_provider: str, service: str,
                 on: dt.date) -> MandateDecision:
        mandated = mandated_service(service)
        if mandated is None:
            return MandateDecision(False, f"{service} cannot be done under a mandate (Annex 1 §4: insurability, "
                                   "tariff consultation and billing only)")
        parties = []
        for kind, value in sender:
            try:
                parties.append(PartyId.parse(value, kind=kind))
            except (InvalidIdentifierError, ValueError):
                continue
        if not parties:
            return MandateDecision(False, "the sender has no SSIN, NIHII or company number")
        coverage = self.register().coverage(mandator_nihii=care_provider, mandatary=parties, service=mandated, on=on)
        return MandateDecision(coverage.allowed, coverage.reason)


def install(state: Any) -> SimMandateAuthority:
    """The mandate authority of a simulator, made on first use and kept in this plugin's slot of its state."""
    return state.state_for(SLOT, lambda: SimMandateAuthority(state))  # type: ignore[no-any-return]


# -- simulator hooks (entry-point group ``mycarenet_dental.simulator``) -----------------------------


@sim_hookimpl
def mycarenet_dental_simulator_setup(state: Any) -> None:
    """The MyCareNet-side mandate register of this simulator, made once when the simulator is built."""
    install(state)


@sim_hookimpl
def mycarenet_dental_simulator_mandate_check(state: Any, sender: tuple[tuple[str, str], ...], care_provider: str,
                                             service: str, on: dt.date) -> MandateDecision:
    """MyCareNet's check of a mandatary's request against this simulator's register (SOA-01002)."""
    return install(state)(sender=sender, care_provider=care_provider, service=service, on=on)


def _demo(context: Any, demo: Any) -> None:
    from .demo import run

    run(context, demo)


@sim_hookimpl
def mycarenet_dental_demo_steps() -> Iterator[DemoStep]:
    yield DemoStep(name="billing office working for the dentist under a mandate", order=60, run=_demo)
