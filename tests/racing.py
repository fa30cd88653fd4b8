"""Race N real processes through one step at the same moment (a file barrier), bounded in time.

Each process runs ``setup`` (imports, context: the slow part), reports ready, waits for the go
signal, runs ``body`` and prints one JSON line ``{"result": ...}`` with what ``body`` left in the
variable ``result``. The parent lets all go at once only when every one of them is ready, so the
step under test really overlaps.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

_WRAPPER = """
import json, os, sys, time
sys.path.insert(0, {repo!r})
{setup}
open({ready!r}, "w").close()
_deadline = time.monotonic() + {timeout!r}
while not os.path.exists({go!r}):
    if time.monotonic() > _deadline:
        sys.exit(99)
    time.sleep(0.002)
result = None
{body}
print("RESULT " + json.dumps(result, default=str))
"""


def race(tmp: Path, n: int, setup: str, body: str, *, env: dict[str, str] | None = None,
         timeout: float = 60.0) -> list[tuple[int, Any, str]]:
    """Run ``n`` processes; returns (exit code, result or None, stderr tail) for each, in order.

    ``setup`` and ``body`` are Python source; ``{k}`` in them is the process index (0..n-1).
    """
    tmp.mkdir(parents=True, exist_ok=True)
    go = tmp / "race.go"
    procs = []
    for k in range(n):
        ready = tmp / f"race.ready.{k}"
        script = _WRAPPER.format(repo=str(REPO), setup=textwrap.dedent(setup).replace("{k}", str(k)),
                                 body=textwrap.dedent(body).replace("{k}", str(k)), ready=str(ready),
                                 go=str(go), timeout=timeout)
        procs.append(subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, env={**os.environ, **(env or {})}, text=True))
    deadline = time.monotonic() + timeout
    while not all((tmp / f"race.ready.{k}").exists() for k in range(n)):
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            break
        time.sleep(0.005)
    go.touch()
    out = []
    for proc in procs:
        try:
            stdout, stderr = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
        result = None
        for line in stdout.splitlines():
            if line.startswith("RESULT "):
                result = json.loads(line[len("RESULT "):])
        out.append((proc.returncode, result, stderr[-3000:]))
    go.unlink(missing_ok=True)
    for k in range(n):
        (tmp / f"race.ready.{k}").unlink(missing_ok=True)
    return out
