"""The context a vendor (and every plugin) works through: configuration, plugins, storage, audit,
contacts, the exchange log, the rules and — lazily — the eHealth security session and SOAP client.

Typical use from a vendor's code (every service plugin has the same shape: a module-level
``verb_noun(ctx, contact_or_subject, ...)`` returning a frozen result)::

    from mycarenet_dental import Context
    from mycarenet_dental_tariff import consult_tariff

    with Context.from_config("config.toml") as ctx:
        contact = ctx.open_contact("85073003328")
        result = consult_tariff(ctx, contact, ["301011"])
"""

from __future__ import annotations

import contextvars
import functools
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from . import audit as audit_mod
from . import contacts as contacts_mod
from . import reservations
from .audit import AuditLog
from .config import Config, Identity, https_url, load_config
from .contacts import Contact, Contacts
from .errors import (
    BusinessError,
    ConfigError,
    MyCareNetDentalError,
    RuleRefusal,
    UsageError,
)
from .exchange import Exchange, ExchangeRun, Outcome, Party, PartyKind, Trigger
from .exchange_log import ExchangeLog, RecordedResult
from .identifiers import parse_patient
from .plugins import PluginManager, make_plugin_manager
from .registrations import RuleSpec, ServiceSpec, TableSpec
from .rules import applies
from .storage import Storage, open_storage
from .timeutil import utc_ms

if TYPE_CHECKING:  # pragma: no cover
    from .ehealth.session import SecuritySession
    from .ehealth.transport import SoapClient

#: What a context reads the time from (tests give a fixed or stepping clock).
Clock = Callable[[], datetime]

RULE_SWITCH_TABLE = TableSpec(
    name="core.rules",
    migrations=["CREATE TABLE rule_switch (rule_id TEXT PRIMARY KEY, disabled INTEGER NOT NULL, changed_at TEXT NOT NULL)"],
)


#: the executor of the calls running in this thread/task, set by ``Context.acting_as`` (the gateway)
_ACTING: contextvars.ContextVar[tuple[int, Party] | None] = contextvars.ContextVar("mycarenet_dental_acting",
                                                                                  default=None)


def _status_of(exc: BaseException) -> str:
    if isinstance(exc, RuleRefusal):
        return "refused"
    if isinstance(exc, BusinessError):
        return "business_error"
    if isinstance(exc, UsageError):
        return "refused"
    return "failed"


class Context:
    """Everything one process needs to run exchanges. Cheap to create; heavy parts are lazy.

    A context manager: ``with Context.from_config(path) as ctx: ...`` closes the store on the way out.
    """

    def __init__(self, config: Config, *, pm: PluginManager | None = None, storage: Storage | None = None,
                 clock: Clock | None = None) -> None:
        self.config = config
        self.pm = pm or make_plugin_manager(allow=config.plugins_allow, block=config.plugins_block)
        self._storage = storage
        self._clock = clock
        self._security: SecuritySession | None = None
        self._soap: SoapClient | None = None
        # Per thread: one Context serves several threads at once (the gateway's workers, a worker's
        # turns); each thread's :meth:`preparing` transaction has its own reads and pending refusal.
        self._phase = threading.local()
        self._started: set[str] = set()  # exchanges whose first phase ran in a :meth:`preparing` block
        self._rule_cache: tuple[Config, list[RuleSpec], dict[str, list[RuleSpec]]] | None = None
        self._party_cache: tuple[Any, Party] | None = None  # (the configured dentist, the responsible Party)
        self._checkpoint_quiet: tuple[Config, str, tuple[int, int, int], datetime] | None = None

    @property
    def _reads(self) -> dict[Any, Any] | None:
        """The reads of this thread's open :meth:`preparing` transaction (None outside one)."""
        return getattr(self._phase, "reads", None)

    @_reads.setter
    def _reads(self, value: dict[Any, Any] | None) -> None:
        self._phase.reads = value

    @property
    def _pending_refusal(self) -> tuple[Exchange, RuleRefusal] | None:
        return getattr(self._phase, "pending_refusal", None)

    @_pending_refusal.setter
    def _pending_refusal(self, value: tuple[Exchange, RuleRefusal] | None) -> None:
        self._phase.pending_refusal = value

    @classmethod
    def from_config(cls, path: Path | str | None = None, *, profile: str | None = None,
                    trace_dir: Path | None = None, check_credentials: bool = True, pm: PluginManager | None = None,
                    storage: Storage | None = None, clock: Clock | None = None) -> Context:
        """The context of one configuration file.

        Reads the TOML file ``path`` (default ``$MYCARENET_DENTAL_CONFIG``, see :func:`load_config`) for
        ``profile`` (default: the file's, else ``simulator``), and the keystore and licence passwords
        from the environment variables it names. With ``check_credentials`` (the default) the
        credentials are checked now, locally and without any network call: a keystore configured,
        readable, opened by its password; the licence password set when a licence user is.
        ``trace_dir`` writes the exact bytes of each exchange there (0600). ``pm``, ``storage``,
        ``clock`` replace the plugin manager, the store and the clock (tests, embedding).

        Raises :class:`~mycarenet_dental.errors.ConfigError` (exit 2) for a missing or invalid file, a
        missing keystore or password, a keystore the password does not open; never a traceback.
        """
        config = load_config(path, profile=profile).with_trace(trace_dir)
        if check_credentials:
            check_credentials_of(config)
        return cls(config, pm=pm, storage=storage, clock=clock)

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def for_dentist(self, dentist: Identity) -> Context:
        """This context acting for another responsible dentist, as a billing office's worker does for each
        dentist it holds a mandate from: same store, executor, certificate session and HTTP client (one
        keystore load and one token for all), only the responsible dentist differs. Not to be closed."""
        other = Context(attrs.evolve(self.config, dentist=dentist), pm=self.pm, storage=self.storage,
                        clock=self._clock)
        other._soap = self.soap
        other._security = self._security
        return other

    def mandators(self, service: str, on: date) -> list[Identity]:
        """The dentists whose mandate for ``service`` this context's executor holds on ``on`` (the
        mandates plugin answers ``mycarenet_dental_mandators``; none without it)."""
        found: dict[str, Identity] = {}
        for answer in self.pm.hook.mycarenet_dental_mandators(context=self, service=service, on=on):
            for dentist in answer or ():
                found.setdefault(dentist.nihii, dentist)
        return list(found.values())

    # -- time ----------------------------------------------------------------------------------
    def now(self) -> datetime:
        return self._clock() if self._clock else datetime.now(timezone.utc)

    # -- storage and the things kept in it ----------------------------------------------------
    @property
    def storage(self) -> Storage:
        if self._storage is None:
            self._storage = open_storage(self.config.storage_url or self.config.storage_path,
                                         self.config.section("storage"))
        if not getattr(self._storage, "_mcn_migrated", False):
            self._storage.migrate(self.table_specs())
            self._storage._mcn_migrated = True  # type: ignore[attr-defined]
            self._audit_rule_switches()
        return self._storage

    def table_specs(self) -> list[TableSpec]:
        """The kernel's tables and every loaded plugin's (``storage status``/``migrate`` list them)."""
        specs = [audit_mod.TABLES, contacts_mod.TABLES, RULE_SWITCH_TABLE, reservations.TABLES]
        return specs + [spec for _, spec in self.pm.collect("mycarenet_dental_tables")]

    @functools.cached_property
    def audit(self) -> AuditLog:
        return AuditLog(self.storage)

    @functools.cached_property
    def contacts(self) -> Contacts:
        return Contacts(self.storage)

    def open_contact(self, patient: str) -> Contact:
        """Open a contact with a patient being treated (R29) by the configured dentist and user.

        ``patient`` is an SSIN or ``MUT:REGNR``; a bad one is an ``InvalidIdentifierError`` (exit 2)."""
        key = str(parse_patient(patient))  # the SSIN, or MUT:REGNR
        return self.contacts.open(key, dentist=self.responsible().id, user_id=self.user_id, at=self.now())

    def resolve_contact(self, contact: Contact | str) -> Contact:
        """The open contact a consultation works in: ``contact`` itself (re-read, it must still be open),
        or for a patient identifier the patient's open contact of this user (``NoContactError``, R29)."""
        if isinstance(contact, Contact):
            return self.contacts.resolve(contact.patient, contact.id, user_id=self.user_id, get=self.contact)
        return self.contacts.resolve(str(parse_patient(contact)), None, user_id=self.user_id)

    def contact_for(self, patient: str, contact_id: str | None) -> Contact | str:
        """What ``--patient P [--contact ID]`` names for a consultation: contact ID, which must be P's and
        open; without an id, P itself (the consultation then takes P's open contact, after its own checks)."""
        if not contact_id:
            return patient
        return self.contacts.resolve(str(parse_patient(patient)), contact_id, user_id=self.user_id)

    @functools.cached_property
    def log(self) -> ExchangeLog:
        """Results other plugins read back; only kinds a loaded plugin declares can be recorded."""
        return ExchangeLog(self.storage, kinds=frozenset(self.pm.result_kinds()))

    # -- plugins ---------------------------------------------------------------------------------
    @functools.cached_property
    def services(self) -> Mapping[str, ServiceSpec]:
        return {name: spec for name, (spec, _) in self.pm.services().items()}

    def result_kinds_of(self, service: str) -> tuple[str, ...]:
        """The result kinds declared by the plugin that provides ``service`` (empty when none is loaded).

        How a plugin reads another's results without knowing its spelling, e.g. billing asks for
        ``result_kinds_of("assurability")`` to find the insurability consultations.
        """
        provider = self.pm.services().get(service)
        if provider is None:
            return ()
        return tuple(name for name, (_, plugin) in self.pm.result_kinds().items() if plugin == provider[1])

    @functools.cached_property
    def all_rules(self) -> list[RuleSpec]:
        rules = [spec for _, spec in self.pm.collect("mycarenet_dental_rules")]
        ids: dict[str, RuleSpec] = {}
        for rule in rules:
            if rule.id in ids and ids[rule.id] is not rule:
                raise ConfigError(f"two rules share the id {rule.id!r}", hint="rule ids must be unique")
            ids[rule.id] = rule
        return rules

    @property
    def active_rules(self) -> list[RuleSpec]:
        disabled = set(self.config.rules_disabled)
        return [r for r in self.all_rules if r.id not in disabled]

    def _audit_rule_switches(self) -> None:
        """Switching a built-in rule off (or on again) is written to the audit once, when it changes."""
        assert self._storage is not None
        disabled = set(self.config.rules_disabled)
        known = {r.id for r in self.all_rules}
        unknown = disabled - known
        if unknown:
            raise ConfigError(f"[rules] disabled names unknown rules: {', '.join(sorted(unknown))}",
                              location="rules.disabled", hint="see `mycarenet-dental rules`")
        rows = {r["rule_id"]: bool(r["disabled"]) for r in self._storage.query("SELECT * FROM rule_switch")}
        log = AuditLog(self._storage)
        for rule in self.all_rules:
            now_disabled = rule.id in disabled
            if rows.get(rule.id, False) != now_disabled:
                self._storage.execute(
                    "INSERT INTO rule_switch(rule_id, disabled, changed_at) VALUES (?,?,?) "
                    "ON CONFLICT(rule_id) DO UPDATE SET disabled = excluded.disabled, changed_at = excluded.changed_at",
                    (rule.id, int(now_disabled), utc_ms()),
                )
                log.append("rule_switch", code=rule.id, outcome="disabled" if now_disabled else "enabled",
                           message=f"rule {rule.id} ({rule.article}) {'switched off' if now_disabled else 'switched on'} "
                           f"by configuration", detail={"config": str(self.config.path or "")})

    # -- identities --------------------------------------------------------------------------
    @contextmanager
    def acting_as(self, executor: Party) -> Iterator[None]:
        """Run the calls made inside the block with ``executor`` as who executes them (R7): the gateway's
        token user, one request at a time; other threads and requests keep the configured executor."""
        token = _ACTING.set((id(self), executor))
        try:
            yield
        finally:
            _ACTING.reset(token)

    def _acting(self) -> Party | None:
        acting = _ACTING.get()
        return acting[1] if acting is not None and acting[0] == id(self) else None

    @property
    def user_id(self) -> str:
        acting = self._acting()
        if acting is not None:
            return acting.id
        return self.config.executor.id or (self.config.dentist.nihii if self.config.dentist else "")

    def responsible(self) -> Party:
        dentist = self.config.require_dentist()
        cached = self._party_cache
        if cached is not None and cached[0] is dentist:  # frozen: one Party per configured dentist
            return cached[1]
        party = Party(kind=PartyKind.DENTIST, id=dentist.nihii, name=dentist.name, ssin=dentist.ssin,
                      nihii=dentist.nihii)
        self._party_cache = (dentist, party)
        return party

    def executor(self) -> Party:
        acting = self._acting()
        if acting is not None:
            return acting
        ex = self.config.executor
        if ex.kind == "dentist":
            return self.responsible()
        return Party(kind=PartyKind(ex.kind), id=ex.id or ex.cbe or ex.nihii or ex.ssin or "", name=ex.name,
                     ssin=ex.ssin, nihii=ex.nihii, cbe=ex.cbe)

    def new_exchange(self, service: str, operation: str, *, patient: str | None = None,
                     contact_id: str | None = None, trigger: Trigger | str = Trigger.USER,
                     purpose: str | None = None, details: Mapping[str, Any] | None = None) -> Exchange:
        return Exchange(service=service, operation=operation, responsible=self.responsible(),
                        executor=self.executor(), patient=patient, contact_id=contact_id,
                        trigger=Trigger(trigger), purpose=purpose, details=dict(details or {}),
                        created_at=self.now())

    # -- the guard every exchange goes through --------------------------------------------------
    def check_rules(self, exchange: Exchange) -> None:
        """Run the active rules; the first refusal is audited and raised as RuleRefusal.

        The checks, the reservations they take and (through :meth:`exchange`) the exchange's first
        audit row are one write transaction, so two processes cannot both pass a "once per contact"
        or a burst check that only one of them should pass.
        """
        refusal = self._checked(exchange, start=False)
        if refusal is not None:
            self._refused(exchange, refusal)

    def _checked(self, exchange: Exchange, *, start: bool) -> RuleRefusal | None:
        with self.storage.transaction() as conn:
            for rule in self._rules_for(exchange):
                verdict = rule.check(exchange, self)  # type: ignore[misc]
                if verdict is not None:
                    reservations.release(conn, exchange.id)  # taken by an earlier rule of this check
                    self._audit_row("refusal", exchange, outcome="refused", code=rule.id,
                                    message=f"{rule.article}: {verdict.reason}")
                    return RuleRefusal(rule.id, rule.article, verdict.reason, hint=verdict.hint)
            if start:
                detail: dict[str, Any] = dict(exchange.details)  # non-clinical metadata by contract (R28)
                if exchange.purpose:
                    detail["purpose"] = exchange.purpose
                # "started", not "sent": a configuration error (no keystore, bad URL...) can still stop the
                # exchange before any byte leaves; the outcome row says what really happened.
                self._audit_row("exchange", exchange, outcome="started", detail=detail or None)
            else:
                reservations.release(conn, exchange.id)  # a check alone sends nothing: it holds nothing
        return None

    def _rules_for(self, exchange: Exchange) -> list[RuleSpec]:
        """The active rules with a check that apply to the exchange's service, worked out once per service
        (for this configuration and rule set: a context given another one works them out again)."""
        cache = self._rule_cache
        if cache is None or cache[0] is not self.config or cache[1] is not self.all_rules:
            cache = self._rule_cache = (self.config, self.all_rules, {})
        rules = cache[2].get(exchange.service)
        if rules is None:
            rules = cache[2][exchange.service] = [rule for rule in self.active_rules
                                                  if rule.check is not None and applies(rule, exchange)]
        return rules

    def _refused(self, exchange: Exchange, refusal: RuleRefusal) -> None:
        self._finished(exchange, Outcome(status="refused", finished_at=self.now(), code=refusal.rule_id,
                                         message=refusal.reason))
        raise refusal

    def reserve(self, rule_id: str, key: str, exchange: Exchange) -> reservations.Holder | None:
        """For a rule check: hold (rule_id, key) for this exchange until its outcome is recorded.

        Returns the other exchange holding it, if any (the rule then refuses). Called inside the
        check's write transaction, so the read and the reservation are one atomic step.
        """
        ttl = reservations.ttl_of(self.config.section("rules"))
        with self.storage.transaction() as conn:
            return reservations.take(conn, rule_id, key, exchange.id, now=self.now(), ttl=ttl)

    @contextmanager
    def preparing(self) -> Iterator[None]:
        """The first phase of an exchange as ONE write transaction: the caller's own reads (its contact,
        a result kept on it), then :meth:`start` (rules, reservations, the start row).

        Inside it, :meth:`contact` and :meth:`results` read each row set once: no other writer can change
        them before it commits, so a rule asking again what the caller just read is answered from memory.
        A refusal is raised after the commit (its audit row is kept). The network call comes after the
        block, in :meth:`exchange`: the write lock is never held across it.
        """
        if self._reads is not None:  # nested: part of the outer one
            yield
            return
        with self.storage.transaction():
            self._reads = {}
            try:
                yield
            finally:
                self._reads = None
                pending, self._pending_refusal = self._pending_refusal, None
        if pending is not None:
            self._refused(*pending)

    def start(self, exchange: Exchange) -> None:
        """Rules, reservations and the exchange's start row; inside :meth:`preparing`, a refusal waits for
        its commit. :meth:`exchange` calls it unless it already ran."""
        refusal = self._checked(exchange, start=True)
        if refusal is None:
            self._started.add(exchange.id)
        elif self._reads is not None:
            self._pending_refusal = (exchange, refusal)
        else:
            self._refused(exchange, refusal)

    def contact(self, contact_id: str) -> Contact:
        """The contact of that id (``UsageError`` UNKNOWN_CONTACT when there is none); read once per
        :meth:`preparing` transaction (R29 and the service ask the same)."""
        return self._read(("contact", contact_id), lambda: self.contacts.get(contact_id))

    def results(self, *, service: str, contact_id: str, status: str = "ok") -> list[RecordedResult]:
        """A contact's results of a service, read once per :meth:`preparing` transaction (R34/R35 and the
        reuse of a kept result ask the same)."""
        return self._read(("results", service, contact_id, status),
                          lambda: self.log.find(service=service, contact_id=contact_id, status=status))

    def _read(self, key: tuple[str, ...], load: Any) -> Any:
        if self._reads is None:
            return load()
        if key not in self._reads:
            self._reads[key] = load()
        return self._reads[key]

    @contextmanager
    def exchange(self, exchange: Exchange) -> Iterator[ExchangeRun]:
        """Rules, then audit of the start, every disturbance and the outcome, then the finished hook."""
        if exchange.id in self._started:
            self._started.discard(exchange.id)
        else:
            self.start(exchange)
        run = ExchangeRun(exchange, self.audit, kinds=self.log.kinds)
        try:
            self.pm.hook.mycarenet_dental_exchange_started(exchange=exchange, context=self)
            yield run
        except MyCareNetDentalError as exc:
            status = _status_of(exc)
            self._end(exchange, run, status, exc.code, exc.messages.en)
            raise
        except BaseException as exc:
            self._end(exchange, run, "failed", type(exc).__name__, str(exc)[:200])
            raise
        else:
            self._end(exchange, run, run.status or "ok", None, None)

    def _end(self, exchange: Exchange, run: ExchangeRun, status: str, code: str | None, message: str | None) -> None:
        outcome = Outcome(status=status, finished_at=self.now(), code=code, message=message,
                          references=dict(run.references), disturbances=tuple(run.disturbances))
        with self.storage.transaction() as conn:  # the kept results and the outcome row: both or neither
            self.log.record_all(conn, [(k.kind, k.status, k.data, k.retention) for k in run.kept],
                                exchange_id=exchange.id, service=exchange.service, patient=exchange.patient,
                                contact_id=exchange.contact_id)
            self._audit_row("outcome", exchange, outcome=status, code=code, message=message,
                            detail={"references": outcome.references} if outcome.references else None)
            reservations.release(conn, exchange.id)  # the results are on record: the rules now see them
        self._daily_checkpoint()
        self._finished(exchange, outcome)

    def _daily_checkpoint(self) -> None:
        """Sign the audit head at least once a day, while the keystore is open for the exchanges anyway."""
        if self._security is None or self._checkpoint_not_due():
            return
        from .audit_checkpoint import CheckpointFile, Signer, path_from_config, sign_head

        try:
            checkpoints = CheckpointFile(path_from_config(self.config))
            if checkpoints.due(self.now()):
                sign_head(self.storage, checkpoints, Signer.from_keystore(self._security.keystore), reason="daily",
                          now=self.now())
            self._remember_checkpoint(checkpoints)
        except (OSError, MyCareNetDentalError) as exc:  # never lose the exchange over it; say so in the trail
            self.audit.append("checkpoint_failed", message=f"daily audit checkpoint not written: {exc}"[:300])

    def _remember_checkpoint(self, checkpoints: Any) -> None:
        from .timeutil import parse_datetime

        latest = checkpoints.latest()
        path = str(checkpoints.path)
        try:
            seen = _file_state(path)
            due = parse_datetime(latest.at) + timedelta(hours=24) if latest is not None else None
        except (OSError, ValueError):
            due = None
        self._checkpoint_quiet = None if due is None else (self.config, path, seen, due)

    def _checkpoint_not_due(self) -> bool:
        """The configuration and the file are as this process last read them (one stat, ~2 µs: a replaced,
        truncated or deleted file is read again at once) and its latest checkpoint is under a day old:
        nothing to resolve or read again after every exchange."""
        quiet = self._checkpoint_quiet
        if quiet is None or quiet[0] is not self.config or self.now() >= quiet[3]:
            return False
        try:
            return _file_state(quiet[1]) == quiet[2]
        except OSError:
            return False

    def _finished(self, exchange: Exchange, outcome: Outcome) -> None:
        self.pm.hook.mycarenet_dental_exchange_finished(exchange=exchange, outcome=outcome, context=self)

    def _audit_row(self, kind: str, exchange: Exchange, *, outcome: str | None = None, code: str | None = None,
                   message: str | None = None, detail: Mapping[str, Any] | None = None) -> None:
        self.audit.append(kind, exchange_id=exchange.id, service=exchange.service, operation=exchange.operation,
                          responsible=exchange.responsible.label(), executor=exchange.executor.label(),
                          patient=exchange.patient, contact_id=exchange.contact_id,
                          trigger=exchange.trigger.value, outcome=outcome, code=code, message=message,
                          detail=detail)

    # -- remote side -----------------------------------------------------------------------------
    def service_url(self, service: str, endpoint: str) -> str:
        """The URL of one endpoint of a service: ``[<service>] <endpoint>_url`` or services host + default path."""
        override = self.config.section(service).get(f"{endpoint}_url")
        if override:
            where = f"[{service}] {endpoint}_url"
            return _checked_url(override, where) if isinstance(override, str) else https_url(override, where)
        spec = self.services.get(service)
        if spec is None or endpoint not in spec.endpoints:
            raise ConfigError(f"no endpoint {endpoint!r} for service {service!r}")
        return self.config.endpoints.services + spec.endpoints[endpoint]

    @property
    def soap(self) -> SoapClient:
        if self._soap is None:
            from .ehealth.transport import SoapClient

            mask = [p for p in (self.config.licence_password(),) if p]
            self._soap = SoapClient(ca_file=self.config.endpoints.ca_file, timeout=self.config.read_timeout,
                                    connect_timeout=self.config.connect_timeout,
                                    deadline=self.config.total_timeout, trace_dir=self.config.trace_dir,
                                    mask=mask)
        return self._soap

    @property
    def security(self) -> SecuritySession:
        """The eHealth security session (keystore, token cache, holder-of-key signing, ETKs)."""
        if self._security is None:
            from .ehealth.session import SecuritySession

            if self.config.keystore_path is None:
                raise ConfigError("no keystore configured", location="[keystore] path",
                                  hint="run `mycarenet-dental simulator pki --out DIR` for a test one")
            self._security = SecuritySession(
                keystore_path=self.config.keystore_path,
                password=self.config.keystore_password(prompt=True),
                sts_url=self.config.endpoints.sts,
                soap=self.soap,
                trust_anchor=self.config.trust_anchor,
                token_cache_path=self.config.token_cache,
                etk_depot_url=self.config.endpoints.etk_depot,
                etk_trust_anchor=self.config.etk_trust_anchor,
            )
        return self._security

    def close(self) -> None:
        """Close the store (the security session holds no open resource)."""
        if self._storage is not None:
            self._storage.close()


def _file_state(path: str) -> tuple[int, int, int]:
    """What tells a file rewritten, truncated or replaced: inode, size, modification time."""
    st = os.stat(path)
    return (st.st_ino, st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _checked_url(value: str, where: str) -> str:
    """:func:`https_url`, once per configured value (asked before every call)."""
    return https_url(value, where)


def check_credentials_of(config: Config) -> None:
    """The local part of logging in: the keystore is there, readable, and its password opens it; the
    licence password is set when a licence user is configured. No network call (cheap enough for every
    :meth:`Context.from_config`)."""
    path = config.keystore_path
    if path is None:
        raise ConfigError("no keystore configured", location="[keystore] path",
                          hint="run `mycarenet-dental simulator pki --out DIR` for a test one")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"the keystore cannot be read: {exc.strerror or type(exc).__name__}",
                          location="[keystore] path", hint=str(path)) from None
    from .ehealth.keystore import Keystore

    Keystore.from_bytes(data, config.keystore_password())  # KeystoreError (a ConfigError) on a wrong password
    if config.licence_username and not config.licence_password():
        raise ConfigError(f"the licence password is not set: put it in the environment variable "
                          f"{config.licence_password_env}", location="[licence] password_env")


@attrs.frozen
class Licence:
    """The software package licence sent in MyCareNet commons headers."""

    username: str
    password: str
    package_name: str

    def __repr__(self) -> str:  # never show the password
        return f"Licence(username={self.username!r}, package_name={self.package_name!r})"


def licence(context: Context) -> Licence:
    return Licence(context.config.licence_username, context.config.licence_password(), context.config.package_name)
