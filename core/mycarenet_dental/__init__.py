"""mycarenet-dental: the core every MyCareNet service plugin for Belgian dentists stands on.

The vendor's entry point is :class:`Context` (``with Context.from_config(path) as ctx: ...``); names
are imported on first use so that starting the CLI stays cheap.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["Contact", "Context", "Sex"]


def __getattr__(name: str) -> Any:
    if name == "Context":
        from .context import Context

        return Context
    if name == "Sex":
        from .coded import Sex

        return Sex
    if name == "Contact":
        from .contacts import Contact

        return Contact
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
