"""Small typed records that plugins yield from the registration hooks.

Hooks return iterables of these records rather than taking many arguments, so that new optional
fields can be added later without breaking any plugin (the pattern of conda's plugin hooks).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:  # pragma: no cover
    import click

    from .context import Context
    from .exchange import Exchange


def _tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value)


@attrs.frozen
class ServiceSpec:
    """A MyCareNet service a plugin provides. Two plugins may not claim the same ``name``.

    ``annex`` is the annex of the 2016 protocol that governs it (R1, R2); ``mandatable`` says whether
    a mandatary may use it (Annex 1 §4: only insurability, tariff and billing); ``endpoints`` maps
    an endpoint key to its default path on the services host; ``consultation`` marks services
    that need an open patient contact (R29: insurability, tariff, DMG). ``answer_xades`` says whether
    the real service signs its commons answers with XAdES: ``"required"`` (always signed: a missing
    signature is refused) or ``"when-present"`` (normally unsigned, so TLS pinned to the configured CA
    authenticates it; a signature that comes is verified). ``[security] answer_xades`` overrides it.
    """

    name: str
    title: str
    annex: str
    mandatable: bool = False
    endpoints: Mapping[str, str] = attrs.field(factory=dict)
    description: str = ""
    consultation: bool = False
    answer_xades: str = attrs.field(default="when-present",
                                    validator=attrs.validators.in_(("required", "when-present")))


@attrs.frozen
class CommandSpec:
    """A click command (or group) added to the ``mycarenet-dental`` CLI."""

    name: str
    command: click.Command


@attrs.frozen
class RuleCheck:
    """What a rule decides about one exchange: ``None`` from ``check`` means "allowed"."""

    reason: str
    hint: str | None = None


@attrs.frozen
class RuleSpec:
    """A convention rule. ``check`` is called before an exchange is sent and returns ``None`` to
    allow it or a :class:`RuleCheck` to refuse it; the refusal names ``id`` and ``article``.

    ``services`` limits the rule to some services (empty = every service). ``builtin`` rules can
    only be switched off by an explicit ``[rules] disabled = [...]`` entry, which is audited.
    """

    id: str
    article: str
    title: str
    check: Callable[[Exchange, Context], RuleCheck | None] | None = None
    services: frozenset[str] = attrs.field(factory=frozenset, converter=frozenset)
    builtin: bool = False


@attrs.frozen
class TableSpec:
    """Tables a plugin keeps in the core storage.

    ``migrations[i]`` is the SQL script that brings the plugin's schema from version ``i`` to
    ``i + 1``; the current version is ``len(migrations)``. Scripts run once, in a transaction.
    """

    name: str
    migrations: tuple[str, ...] = attrs.field(converter=_tuple)

    @property
    def version(self) -> int:
        return len(self.migrations)


@attrs.frozen
class ResultKind:
    """A kind of result a plugin records on the exchange log so that other plugins can read it
    through the core (e.g. billing asks whether a tariff consultation was recorded)."""

    name: str
    description: str = ""


#: The gateway's roles (issue 17): reception consults; a dentist or the billing office may also send
#: invoices and mandates. A route names the roles allowed to call it.
ROLES: tuple[str, ...] = ("reception", "dentist", "billing")
SENDING_ROLES: frozenset[str] = frozenset({"dentist", "billing"})


@attrs.frozen
class RouteCall:
    """What a route handler receives: the context acting as the caller, the typed body and the
    parameters of the path and of the query string (framework-neutral: no web framework type)."""

    context: Context
    body: Any = None
    params: Mapping[str, str] = attrs.field(factory=dict)
    query: Mapping[str, str | None] = attrs.field(factory=dict)
    user: str = ""
    role: str = ""
    token_id: str = ""


@attrs.frozen
class RouteSpec:
    """An HTTP route of the local gateway (``mycarenet-dental gateway serve``), framework-neutral.

    ``path`` uses ``{name}`` for path parameters; ``handler(call: RouteCall)`` returns an instance of
    ``response`` (an attrs class, a list of one, or a builtin), from which the OpenAPI contract is
    generated, as it is from ``request`` (the attrs class of the JSON body, ``None`` for none).
    ``query`` names optional string query parameters. ``roles`` may call it; ``sends=True`` marks a
    POST that sends something to an insurer or a register: it requires an ``Idempotency-Key``.
    Uninstalling the plugin removes the route.
    """

    method: str = attrs.field(validator=attrs.validators.in_(("GET", "POST", "PUT", "DELETE")))
    path: str = attrs.field(validator=attrs.validators.matches_re(r"^/[a-z0-9_/{}\-]*$"))
    handler: Callable[[RouteCall], Any]
    response: Any
    request: Any = None
    roles: frozenset[str] = attrs.field(factory=lambda: frozenset(ROLES), converter=frozenset)
    sends: bool = False
    summary: str = ""
    query: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    status_code: int = 200
    tags: tuple[str, ...] = attrs.field(default=(), converter=_tuple)


@attrs.frozen
class StatusPanel:
    """A section of the gateway's status page: plain data, rendered as an HTML table by the gateway."""

    title: str
    columns: tuple[str, ...] = attrs.field(converter=_tuple)
    rows: tuple[tuple[str, ...], ...] = attrs.field(converter=lambda rows: tuple(tuple(r) for r in rows))
    notes: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    #: row index -> css class ("bad", "ok", "warn") to colour a row
    marks: Mapping[int, str] = attrs.field(factory=dict)


@attrs.frozen
class StatusPanelSpec:
    """A plugin's panel on the status page: ``render(context)`` is called at each page view."""

    name: str
    render: Callable[[Context], Iterable[StatusPanel]]
