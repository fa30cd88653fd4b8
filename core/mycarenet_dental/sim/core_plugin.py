"""The core's own simulator side: the eHealth login step of the demo (STS, ETK depot and the
MemberData host are assembled by :func:`.app.build_app`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from .hookspec import hookimpl
from .registrations import DemoStep

if TYPE_CHECKING:  # pragma: no cover
    from ..context import Context
    from .demo import DemoInfo


def _login(context: Context, demo: DemoInfo) -> None:
    token = context.security.token()
    demo.echo(f"   eHealth STS token for {token.subject} valid until {token.not_on_or_after:%Y-%m-%d %H:%M} UTC")


@hookimpl
def mycarenet_dental_demo_steps() -> Iterator[DemoStep]:
    yield DemoStep(name="eHealth login (STS, holder-of-key token)", run=_login, order=10)
