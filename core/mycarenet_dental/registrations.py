"""Small typed records that plugins yield from the registration hooks.

Hooks return iterables of these records rather than taking many arguments, so that new optional
fields can be added later without breaking any plugin (the pattern of conda's plugin hooks).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
