"""The simulated insurer's journal (switch ``billing.journal``): one JSON line per durable event.

A line is written with one ``write`` on a file opened for appending, before the answer leaves: a
``kill -9`` of the simulator after it keeps the event (the kernel has it), one before it loses the
whole event, as a database transaction would. A torn last line (killed inside the write) is ignored
when replaying. Events: ``post`` (a file taken in: the mailbox items it queued, the files and counters
it recorded), ``again`` (the same file posted again under the same InputReference, recognised),
``confirm`` (mailbox items removed).
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

_lock = threading.Lock()


def _item(item: Any) -> dict[str, Any]:
    return {"kind": item.kind, "input_reference": item.input_reference, "reference": item.reference,
            "message_name": item.message_name, "content": base64.b64encode(item.content).decode("ascii"),
            "hash_value": item.hash_value, "tack_value": item.tack_value, "tack_major": item.tack_major,
            "nip_reference": item.nip_reference}


def append(path: str, event: dict[str, Any]) -> None:
    """Append one event; mailbox items and file keys are written as plain JSON."""
    event = dict(event)
    if "items" in event:
        event["items"] = [_item(i) for i in event["items"]]
    if "files" in event:
        event["files"] = [[tp, year, number, event["digest"]] for tp, year, number in event["files"]]
    data = (json.dumps(event, separators=(",", ":")) + "\n").encode("utf-8")
    with _lock:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)


def events(path: str | Path) -> Iterator[dict[str, Any]]:
    """The journal's complete events, in order (a torn last line is left out)."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        return
    for line in raw.split(b"\n"):
        if not line:
            continue
        try:
            yield json.loads(line)
        except ValueError:  # the line a kill cut short: the event never happened
            return


def replay(state: Any, path: str | Path, count: Callable[..., None]) -> None:
    """Rebuild the insurer's state from its journal; queued items are visible at the next ``get``."""
    from .simulator import MailItem

    for event in events(path):
        nihii, op = event["nihii"], event["op"]
        box = state.mailbox(nihii)
        if op == "post":
            state.posts[(nihii, event["ref"])] = (event["digest"], "")
            for tp, year, number, digest in event["files"]:
                state.files[(tp, int(year), int(number))] = digest
            for i in event["items"]:
                box.items.append(MailItem(visible_from=0, **{**i, "content": base64.b64decode(i["content"])}))
            for name in event["counts"]:
                count(name)
            state.counter = max(state.counter, int(event["counter"]))
        elif op == "again":
            count("billing.duplicate_posts")
        elif op == "confirm":
            gone = set(event["refs"])
            box.items = [i for i in box.items if i.reference not in gone]
