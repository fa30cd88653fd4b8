"""Records the simulator side of a plugin yields from the simulator hooks (:mod:`.hookspec`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:  # pragma: no cover
    from ..context import Context
    from .app import SimRequest, SimResponse
    from .demo import DemoInfo


def _tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value)


@attrs.frozen
class SimulatorRoute:
    """An insurer-side handler of the simulator, reached by ``path`` (and, when given, one of
    ``soap_actions``). The handler receives a :class:`SimRequest` and returns a :class:`SimResponse`.
    """

    path: str
    handler: Callable[[SimRequest], SimResponse]
    soap_actions: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    name: str = ""


@attrs.frozen
class DemoStep:
    """One step of ``mycarenet-dental demo`` (the day of a dental practice). Lower ``order`` runs first.

    ``run(context, demo)`` gets the demo's :class:`~mycarenet_dental.sim.demo.DemoInfo` (simulator URL,
    patients of the day, the open contact, ``echo``)."""

    name: str
    run: Callable[[Context, DemoInfo], None]
    order: int = 100
