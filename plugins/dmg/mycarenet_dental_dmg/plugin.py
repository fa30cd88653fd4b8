"""Hook implementations of the DMG plugin (kept light: no lxml at import time)."""

from __future__ import annotations

from mycarenet_dental.hookspec import hookimpl  # noqa: F401
