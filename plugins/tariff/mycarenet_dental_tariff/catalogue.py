"""The texts shipped as data: insurer error codes 100–175, dental refusal reasons, justifications (FR/NL/EN)."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from mycarenet_dental.errors import Messages


@lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    text = resources.files("mycarenet_dental_tariff").joinpath("data/tariff_errors.json").read_text("utf-8")
    return dict(json.loads(text))


def _messages(table: str, code: str, fallback: str) -> Messages:
    entry = _data()[table].get(code)
    if not isinstance(entry, dict):
        return Messages(en=fallback or f"code {code}")
    return Messages(en=entry["en"], fr=entry.get("fr", ""), nl=entry.get("nl", ""))


def error_messages(code: str, remote_text: str = "") -> Messages:
    """FR/NL/EN text of an insurer error code; an unknown code keeps the insurer's own description."""
    return _messages("codes", code, remote_text)


def error_field(code: str) -> str | None:
    """The kind of field a code is about (``service``, ``patient``, ``date``, ``author``, ``request``)."""
    entry = _data()["codes"].get(code)
    return entry.get("field") if isinstance(entry, dict) else None


def refusal_messages(reason: str) -> Messages:
    return _messages("refusals", reason, f"refusal {reason}")

