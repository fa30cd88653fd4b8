"""The kernel's routes: contacts, audit (list, verify, export), rules, plugins and the token's status.

Framework-neutral like a plugin's: :class:`~mycarenet_dental.registrations.RouteSpec` records whose
handlers take a :class:`~mycarenet_dental.registrations.RouteCall`.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from ..audit import AuditEntry, VerifyResult
from ..contacts import Contact
from ..context import Context
from ..errors import UsageError
from ..registrations import RouteCall, RouteSpec


@attrs.frozen
class ContactOpen:
    """Open a contact with a patient being treated (R29): consultations happen inside it.
    ``patient``: an SSIN, or ``MUT:REGNR`` for a patient without one."""

    patient: str


@attrs.frozen
class AuditExport:
    format: str
    content: str


@attrs.frozen
class RuleInfo:
    id: str
    article: str
    title: str
    services: tuple[str, ...]
    builtin: bool
    active: bool


@attrs.frozen
class PluginRow:
    name: str
    distribution: str | None
    version: str | None
    builtin: bool
    service: str | None
    hooks: tuple[str, ...]


@attrs.frozen
class TokenStatus:
    """Who the token is: its user is the executor of every exchange made with it (R7)."""

    token_id: str
    user: str
    role: str
    executor: str
    created_at: str
    expires_at: str | None


def _open(call: RouteCall) -> Contact:
    return call.context.open_contact(call.body.patient)


def _get(call: RouteCall) -> Contact:
    return call.context.contact(call.params["contact_id"])


def _close(call: RouteCall) -> Contact:
    return call.context.contacts.close(call.params["contact_id"], at=call.context.now())


def _list(call: RouteCall) -> list[Contact]:
    flag = call.query.get("open")
    if flag not in (None, "true", "false"):
        raise UsageError("open: true or false", location="open")
    return call.context.contacts.list(open_only=flag == "true", patient=call.query.get("patient"))


def _bounds(call: RouteCall) -> tuple[str | None, str | None]:
    from ..cli.main import _bound

    out = []
    for name, end in (("from", False), ("to", True)):
        try:
            out.append(_bound(call.query.get(name), end))
        except UsageError as exc:
            raise UsageError(exc.messages.en.replace(f"--{name}", name), location=name) from None
    return out[0], out[1]


def _audit_list(call: RouteCall) -> list[AuditEntry]:
    since, until = _bounds(call)
    return list(call.context.audit.entries(since=since, until=until, exchange_id=call.query.get("exchange")))


def verify_trail(ctx: Context) -> VerifyResult:
    """Check the trail against its checkpoints and the practice's key; the gateway never signs a new
    checkpoint (``audit verify`` on the CLI does)."""
    from ..audit_checkpoint import CheckpointFile, Signer, check_trail, path_from_config

    signer = Signer.from_keystore(ctx.security.keystore) if ctx.config.keystore_path is not None else None
    return check_trail(ctx.config.storage_path, CheckpointFile(path_from_config(ctx.config)), signer, sign=False)


def _audit_verify(call: RouteCall) -> VerifyResult:
    return verify_trail(call.context)


def _audit_export(call: RouteCall) -> AuditExport:
    fmt = call.query.get("format") or "json"
    if fmt not in ("json", "csv"):
        raise UsageError("format: json or csv", location="format")
    since, until = _bounds(call)
    return AuditExport(format=fmt, content=call.context.audit.export(fmt, since=since, until=until))


def _rules(call: RouteCall) -> list[RuleInfo]:
    ctx = call.context
    disabled = set(ctx.config.rules_disabled)
    return [RuleInfo(id=r.id, article=r.article, title=r.title, services=tuple(sorted(r.services)) or ("*",),
                     builtin=r.builtin, active=r.id not in disabled) for r in ctx.all_rules]


def _plugins(call: RouteCall) -> list[PluginRow]:
    pm = call.context.pm
    services = {plugin: name for name, (_, plugin) in pm.services().items()}
    return [PluginRow(name=i.name, distribution=i.distribution, version=i.version, builtin=i.builtin,
                      service=services.get(i.name), hooks=i.hooks) for i in pm.info()]


def kernel_routes(token_status: RouteSpec) -> Iterator[RouteSpec]:
    """Every kernel route; ``token_status`` comes from the app, which knows the caller's token."""
    yield token_status
    tags = ("contacts",)
    yield RouteSpec(method="POST", path="/contacts", handler=_open, request=ContactOpen, response=Contact,
                    status_code=201, summary="Open a contact with a patient (R29)", tags=tags)
    yield RouteSpec(method="GET", path="/contacts", handler=_list, response=list[Contact], query=("open", "patient"),
                    summary="List contacts", tags=tags)
    yield RouteSpec(method="GET", path="/contacts/{contact_id}", handler=_get, response=Contact,
                    summary="One contact", tags=tags)
    yield RouteSpec(method="POST", path="/contacts/{contact_id}/close", handler=_close, response=Contact,
                    summary="Close a contact (results kept only for it are erased)", tags=tags)
    tags = ("audit",)
    yield RouteSpec(method="GET", path="/audit", handler=_audit_list, response=list[AuditEntry],
                    query=("from", "to", "exchange"), summary="Audit entries (UTC bounds, inclusive)", tags=tags)
    yield RouteSpec(method="GET", path="/audit/verify", handler=_audit_verify, response=VerifyResult,
                    summary="Check the audit chain against its signed checkpoints", tags=tags)
    yield RouteSpec(method="GET", path="/audit/export", handler=_audit_export, response=AuditExport,
                    query=("format", "from", "to"), summary="Export audit entries (json lines or csv)", tags=tags)
    yield RouteSpec(method="GET", path="/rules", handler=_rules, response=list[RuleInfo],
                    summary="The convention rules with their article", tags=("rules",))
    yield RouteSpec(method="GET", path="/plugins", handler=_plugins, response=list[PluginRow],
                    summary="The loaded plugins", tags=("plugins",))
