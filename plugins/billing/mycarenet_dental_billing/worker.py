"""The billing worker: a long-running process that sends, polls with back-off, confirms and settles.

A billing office runs several (one per machine, or more), all on one shared store; each acts for the
dentists it holds a billing mandate from (the mandates plugin's register; a dentist's own configuration
acts for that dentist alone). One cycle: take up to ``concurrency`` dentists whose outbox has work and
whose back-off has passed (a lease each, :mod:`.lease`), give each a turn in a thread -- post what is
ready, poll the mailbox, store/apply/confirm the answers -- and hand the dentist back with its next
poll time. Log events and one health line per cycle are JSON lines on stdout (stderr keeps the CLI's
``error: [CODE] message``). SIGTERM/SIGINT: the turns under way finish (each is bounded by the HTTP
timeouts), every lease is released, exit 0.

Exit codes (as elsewhere): 0 stopped, or ``--until-idle`` and nothing left to do; 1 ``--until-idle`` and
some sendings need a person (given up after repeated failed posts); 2 configuration (no dentist, no
mandate); 3 the insurer stayed unreachable for ``[billing] worker_give_up_seconds``; 4 internal error.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import attrs
from mycarenet_dental.config import Identity
from mycarenet_dental.errors import (
    BusinessError,
    ConfigError,
    MyCareNetDentalError,
    RemoteError,
    RuleRefusal,
    SecurityError,
    TransportError,
    UsageError,
)
from mycarenet_dental.timeutil import utc_ms

from .lease import Lease, claim, due
from .outbox_state import MAX_POST_ATTEMPTS, OPEN_STATES, SERVICE, SendingState

if TYPE_CHECKING:  # pragma: no cover
    from mycarenet_dental.context import Context

Log = Callable[..., None]
MANDATES_EVERY_S = 60.0
BLOCKED = -1  # billing_lease.idle_polls of a dentist whose last turn was refused (a rule, the platform)
_SENDABLE = (SendingState.BUILT, SendingState.VALIDATED, SendingState.FAILED, SendingState.POSTING)


def _seconds(section: Mapping[str, Any], key: str, default: float) -> float:
    value = section.get(key, default)
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if number < 0 or number != number:
        raise ConfigError(f"[billing] {key} must be a number of seconds >= 0, not {value!r}",
                          location=f"[billing] {key}")
    return number


@attrs.frozen
class WorkerSettings:
    """``[billing] worker_*`` settings; the defaults suit a real insurer (answers take minutes to days)."""

    concurrency: int = 1
    lease_seconds: float = 120.0  # a turn must end well within it (HTTP timeouts are far shorter)
    poll_seconds: float = 30.0  # first wait after a poll that brought nothing new, doubling ...
    poll_max_seconds: float = 3600.0  # ... up to this
    idle_seconds: float = 5.0  # sleep between cycles when no dentist is due
    give_up_seconds: float = 0.0  # --until-idle: insurer unreachable this long -> exit 3 (0: never)

    @classmethod
    def from_context(cls, ctx: Context, *, concurrency: int) -> WorkerSettings:
        section = ctx.config.section(SERVICE)
        d = cls()
        return cls(concurrency=concurrency,
                   lease_seconds=max(1.0, _seconds(section, "worker_lease_seconds", d.lease_seconds)),
                   poll_seconds=_seconds(section, "worker_poll_seconds", d.poll_seconds),
                   poll_max_seconds=_seconds(section, "worker_poll_max_seconds", d.poll_max_seconds),
                   idle_seconds=_seconds(section, "worker_idle_seconds", d.idle_seconds),
                   give_up_seconds=_seconds(section, "worker_give_up_seconds", d.give_up_seconds))


@attrs.frozen
class Turn:
    """What one dentist's turn did."""

    dentist: str
    posted: int = 0
    new_answers: int = 0
    settled: int = 0
    open: int = 0
    stuck: int = 0
    error: str | None = None
    unreachable: bool = False  # remote: the insurer unreachable, faulting, or its answer not passing its checks
    refused: bool = False  # a rule or a local check said no: a person must act


def mandators(office: Context, *, on: dt.date) -> dict[str, Identity]:
    """The dentists this configuration bills for: its own dentist, or for a mandatary (billing office)
    every dentist from whom it holds a billing mandate in force on ``on``."""
    if office.config.executor.kind != "mandatary":
        dentist = office.config.require_dentist()
        return {dentist.nihii: dentist}
    # the mandates plugin answers through the kernel (plugins never import each other)
    found = {dentist.nihii: dentist for dentist in office.mandators(SERVICE, on)}
    if not found:
        raise ConfigError("this billing office holds no billing mandate in force: no dentist to work for",
                          hint="register the dentists' mandates: mycarenet-dental mandates add --service billing")
    return found


def _answers(result: Any) -> int:
    return int(result.new_messages + result.new_tacks)


class BillingWorker:
    """One worker process (see the module docstring); ``run`` until stopped, or until idle."""

    def __init__(self, office: Context, settings: WorkerSettings, *, log: Log, health: Log,
                 holder: str | None = None, stop: threading.Event | None = None,
                 stopped_by: list[str] | None = None) -> None:
        self.office = office
        self.settings = settings
        self.log = log
        self.health = health
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.stop = stop or threading.Event()
        self.stopped_by = stopped_by if stopped_by is not None else []  # the signal(s) that set ``stop``
        self._contexts: dict[str, Context] = {}
        self._dentists: dict[str, Identity] = {}
        self._dentists_read: float | None = None
        self.need_a_person = 0  # sendings a rule refused or that failed every post, seen when idle
        self._doubtful = threading.Event()  # the insurer was unreachable lately: look (get) before posting

    def _now(self) -> dt.datetime:
        return self.office.now()

    def _dentist_contexts(self) -> dict[str, Identity]:
        """The mandators, re-read every minute (a mandate may be registered, start or end)."""
        now = time.monotonic()
        if self._dentists_read is None or now - self._dentists_read > MANDATES_EVERY_S:
            self._dentists = mandators(self.office, on=self._now().date())
            self._dentists_read = now
        return self._dentists

    def _context(self, dentist: Identity) -> Context:
        ctx = self._contexts.get(dentist.nihii)
        if ctx is None:
            ctx = self._contexts[dentist.nihii] = self.office.for_dentist(dentist)
        return ctx

    # -- one dentist ---------------------------------------------------------------------------------

    def turn(self, dentist: Identity, lease: Lease) -> Turn:
        """Post what is ready, poll the mailbox when something is on its way, then hand the dentist back."""
        from .outbox import Outbox

        outbox = Outbox(self._context(dentist), lease=lease)
        posted = new = 0
        error: str | None = None
        unreachable = refused = False
        try:
            if self._doubtful.is_set():
                # a post to an insurer that is down would spend one of the sending's few attempts
                # (the answer is lost either way); a get that passes says it is back
                new += _answers(outbox.poll())
            for status in outbox.list(states=_SENDABLE):
                if status.state is SendingState.FAILED and status.post_attempts >= MAX_POST_ATTEMPTS:
                    continue
                after = outbox.send(status.id)
                posted += after.state is not status.state and after.post_attempts > status.post_attempts
            if outbox.list(states=OPEN_STATES):
                new += _answers(outbox.poll())
            self._doubtful.clear()
        except MyCareNetDentalError as exc:  # typed: a fault, a bad or unauthenticated answer, a refusal
            error = f"{exc.code}: {exc.message}"
            # the insurer unreachable, faulting, or its answer failing its checks: remote trouble (exit 3 class)
            unreachable = isinstance(exc, (RemoteError, SecurityError))
            refused = isinstance(exc, (RuleRefusal, UsageError, BusinessError))
            if unreachable:
                self._doubtful.set()
        statuses = outbox.list()
        turn = Turn(dentist=dentist.nihii, posted=posted, new_answers=new,
                    settled=sum(s.state is SendingState.SETTLED for s in statuses),
                    open=sum(s.state in OPEN_STATES or s.state in _SENDABLE for s in statuses),
                    stuck=sum(s.state is SendingState.FAILED and s.post_attempts >= MAX_POST_ATTEMPTS
                              for s in statuses), error=error, unreachable=unreachable, refused=refused)
        lease.release(**self._next_look(lease, turn, statuses))
        return turn

    def _next_look(self, lease: Lease, turn: Turn, statuses: list[Any]) -> dict[str, Any]:
        """Back-off: at once while something waits to be posted; after an answer, ``poll_seconds``; each
        poll that brought nothing doubles the wait up to ``poll_max_seconds``."""
        now = self._now()
        s = self.settings
        if turn.unreachable:
            return {"next_at": now + dt.timedelta(seconds=max(s.poll_seconds, 0.5)), "idle_polls": 0}
        if turn.refused:  # a rule or a local check refused: a person must act; look again after the longest wait
            return {"next_at": now + dt.timedelta(seconds=s.poll_max_seconds), "idle_polls": BLOCKED}
        if turn.error:  # the platform faulted or its answer did not pass: the next turn retries, later
            return {"next_at": now + dt.timedelta(seconds=max(s.poll_seconds, 0.5)), "idle_polls": 0}
        ready = [x for x in statuses if x.state in _SENDABLE and not (
            x.state is SendingState.FAILED and x.post_attempts >= MAX_POST_ATTEMPTS)
            and x.state is not SendingState.POSTING]
        if ready:
            return {"next_at": now, "idle_polls": 0}
        idle = 0 if turn.new_answers or turn.posted else lease.idle_polls() + 1
        wait = min(s.poll_max_seconds, s.poll_seconds * (2 ** max(0, idle - 1)))
        return {"next_at": now + dt.timedelta(seconds=wait), "idle_polls": idle}

    # -- cycles --------------------------------------------------------------------------------------

    def cycle(self, pool: ThreadPoolExecutor, number: int) -> list[Turn]:
        dentists = self._dentist_contexts()
        leases: list[tuple[Identity, Lease]] = []
        for nihii in due(self.office.storage, now=self._now(), among=dentists, limit=self.settings.concurrency):
            if len(leases) >= self.settings.concurrency or self.stop.is_set():
                break
            lease = claim(self.office.storage, nihii, holder=self.holder, clock=self._now,
                          seconds=self.settings.lease_seconds)
            if lease is not None:
                leases.append((dentists[nihii], lease))
        futures = [pool.submit(self._safe_turn, d, lease) for d, lease in leases]
        turns = [f.result() for f in futures]
        for t in turns:
            if t.error or t.posted or t.new_answers:
                self.log("turn", level="warning" if t.error else "info", **attrs.asdict(t))
        self.health("health", cycle=number, holder=self.holder, dentists=len(dentists), held=len(leases),
                    posted=sum(t.posted for t in turns), answers=sum(t.new_answers for t in turns),
                    errors=sum(t.error is not None for t in turns),
                    unreachable=any(t.unreachable for t in turns))
        return turns

    def _safe_turn(self, dentist: Identity, lease: Lease) -> Turn:
        """A turn that fails unexpectedly still gives its dentist back before the error goes up."""
        try:
            return self.turn(dentist, lease)
        except BaseException:
            lease.release(next_at=self._now())
            raise

    def run(self, *, until_idle: bool = False, max_cycles: int | None = None) -> int:
        """Cycle until stopped (or, with ``until_idle``, until no dentist has work left); the exit code."""
        if self.office.config.keystore_path is not None:
            _ = self.office.security  # open the keystore once, shared by every dentist's context
        self.log("started", holder=self.holder, concurrency=self.settings.concurrency)
        since: float | None = None  # the insurer unreachable since (monotonic), None: it answers
        pause = 0.0
        number = 0
        give_up = self.settings.give_up_seconds if until_idle else 0.0
        with ThreadPoolExecutor(max_workers=self.settings.concurrency, thread_name_prefix="billing-turn") as pool:
            while not self.stop.is_set() and (max_cycles is None or number < max_cycles):
                number += 1
                turns = self.cycle(pool, number)
                if turns and all(t.unreachable for t in turns):
                    since = since or time.monotonic()  # down for every dentist: the worker backs off as a whole
                    pause = min(max(pause * 2, 0.25), max(self.settings.poll_max_seconds, 0.25))
                elif turns:
                    since, pause = None, 0.0
                if give_up and since is not None and time.monotonic() - since > give_up:
                    self.log("stopped", level="error", reason="insurer unreachable",
                             seconds=round(time.monotonic() - since, 1))
                    return 3
                if not turns and until_idle and not self._work_left():
                    return self._idle_exit()
                if pause or not turns:
                    self.stop.wait(pause or self.settings.idle_seconds)
        if self.stop.is_set():
            self.log("stopped", reason="signal", signal=",".join(self.stopped_by) or None, cycles=number)
        else:
            self.log("stopped", reason="max cycles", cycles=number)
        return 0

    def _left(self) -> tuple[int, int]:
        """(sendings still to post or follow, sendings that need a person) of this worker's dentists."""
        dentists = self._dentist_contexts()
        states = [s.value for s in OPEN_STATES] + [s.value for s in _SENDABLE]
        marks = ",".join("?" * len(states))
        rows = self.office.storage.query(
            "SELECT s.third_party, s.state, s.post_attempts, l.idle_polls FROM billing_sending s LEFT JOIN "
            f"billing_lease l ON l.third_party = s.third_party WHERE s.state IN ({marks})", states)
        work = stuck = 0
        for r in rows:
            if r["third_party"] not in dentists:
                continue
            gave_up = r["state"] == SendingState.FAILED.value and r["post_attempts"] >= MAX_POST_ATTEMPTS
            if gave_up or r["idle_polls"] == BLOCKED:
                stuck += 1
            else:
                work += 1
        return work, stuck

    def _work_left(self) -> bool:
        return self._left()[0] > 0

    def _idle_exit(self) -> int:
        self.need_a_person = stuck = self._left()[1]
        self.log("idle", level="warning" if stuck else "info", need_a_person=stuck)
        return 1 if stuck else 0


# -- the command -------------------------------------------------------------------------------------


def json_lines(stream: Any) -> Log:
    """A structured log: one JSON object per line (time, level, event, fields); thread-safe."""
    import json

    lock = threading.RLock()

    def write(event: str, *, level: str = "info", **fields: Any) -> None:
        line = json.dumps({"ts": utc_ms(),
                           "level": level, "event": event, **fields}, ensure_ascii=False, default=str)
        with lock:
            stream.write(line + "\n")
            stream.flush()

    return write


def run_worker(ctx: Context, *, concurrency: int, until_idle: bool, max_cycles: int | None,
               give_up_after: float | None = None) -> int:
    """``billing worker``: SIGTERM/SIGINT stop it gracefully (a second one stops at once)."""
    import signal
    import sys

    stop = threading.Event()
    # one structured stream: log lines and health lines (event "health") as JSON on stdout; stderr keeps
    # the CLI's contract (a final "error: [CODE] message" when the worker ends with a failure)
    log = json_lines(sys.stdout)

    received: list[str] = []

    def on_signal(signum: int, _frame: Any) -> None:
        """Only flags: the handler runs between two bytecodes of the main thread (maybe inside a log write)."""
        if stop.is_set():
            raise KeyboardInterrupt
        received.append(signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        settings = WorkerSettings.from_context(ctx, concurrency=concurrency)
        if give_up_after is not None:
            settings = attrs.evolve(settings, give_up_seconds=give_up_after)
        worker = BillingWorker(ctx, settings, log=log, health=log, stop=stop, stopped_by=received)
        code = worker.run(until_idle=until_idle, max_cycles=max_cycles)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if code == 3:
        raise TransportError(f"the insurer stayed unreachable for more than {settings.give_up_seconds:g} s; "
                             "the sendings stay where they are", code="INSURER_UNREACHABLE",
                             hint="run the worker again later (nothing is lost or sent twice)")
    if code == 1:
        raise BusinessError(f"{worker.need_a_person} sending(s) need a person: a rule refused their post, or "
                            f"they were posted {MAX_POST_ATTEMPTS} times without success", code="NEED_A_PERSON",
                            hint="see `mycarenet-dental billing status`")
    return code
