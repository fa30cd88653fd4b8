"""Run the code blocks of a README as a reader would, in order, in one fresh folder.

How each fenced block is treated (the language after the fence decides):

* ``sh``/``bash``/``shell``: run by ``bash -e -o pipefail`` in the README's folder. The environment
  a block leaves (``export``, ``source``) is the next block's, as in one terminal. A line that starts
  the simulator in the background (``simulator serve ... &``) is followed by a wait until its port
  (from ``--pki DIR``'s ``config.toml``) accepts connections: a person types the next command later.
* ``python``: executed by this interpreter in that folder, with that environment.
* ``toml``/``json``: written to the file that the marker before the block names (``file=PATH``,
  ``append`` to add to it); a TOML file is then loaded as a configuration, a JSON file parsed.

A block that cannot run (a ``pip install`` from an index, a synopsis with placeholders) carries a
marker right before it, ``<!-- readme-test: skip: REASON -->``; any other block without a marker
it can run is an error, so that a new example is never silently left out.

A block fails when it exits non-zero or prints a Python traceback.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import attrs

SHELL = {"sh", "bash", "shell"}
PYTHON = {"python", "py"}
FILES = {"toml", "json"}

_FENCE = re.compile(r"^```(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)^```[ \t]*$", re.M | re.S)
_MARKER = re.compile(r"<!--\s*readme-test:\s*(?P<text>.*?)\s*-->\s*$", re.S)
_SERVE_BG = re.compile(r"simulator\s+serve\b.*--pki[ =](?P<pki>\S+).*&\s*(#.*)?$")
TRACEBACK = "Traceback (most recent call last)"

PRELUDE = r"""
__readme_wait_serve() {  # the README's background simulator: wait until its port answers
  local port i
  port=$(sed -n 's/^port = \([0-9]*\)$/\1/p' "$1/config.toml" | head -n 1)
  for i in $(seq 1 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "readme-test: the simulator of $1 did not listen on port $port" >&2
  return 1
}
"""


@attrs.frozen
class Block:
    """One fenced block of a README: where it starts, its language, text and marker (if any)."""

    source: str  # the README's path from the repository root
    line: int
    lang: str
    body: str
    marker: str | None

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"

    @property
    def skip_reason(self) -> str | None:
        if self.marker and self.marker.startswith("skip"):
            return self.marker.partition(":")[2].strip() or None
        return None

    @property
    def target(self) -> tuple[str, bool] | None:
        """``(path, append)`` for a data block whose marker names a file."""
        if not self.marker:
            return None
        found = re.search(r"\bfile=(\S+)", self.marker)
        return (found.group(1), bool(re.search(r"\bappend\b", self.marker))) if found else None


def blocks(readme: Path, root: Path) -> list[Block]:
    """Every fenced block of ``readme`` with the marker comment that ends right before it."""
    text = readme.read_text(encoding="utf-8")
    source = readme.relative_to(root).as_posix()
    found = []
    for match in _FENCE.finditer(text):
        before = text[:match.start()].rstrip("\n")
        last = before.rsplit("\n\n", 1)[-1] if before else ""
        marker = _MARKER.search(last)
        found.append(Block(source, text.count("\n", 0, match.start()) + 1, match.group("lang").lower(),
                           match.group("body"), marker.group("text") if marker else None))
    return found


def problems_of(block: Block) -> str | None:
    """Why ``block`` can be neither run nor skipped (None when it can)."""
    if block.marker and block.marker.startswith("skip"):
        return None if block.skip_reason else "a skip marker needs a reason"
    if block.lang in SHELL | PYTHON:
        return None
    if block.lang in FILES:
        return None if block.target else f"a {block.lang} block needs <!-- readme-test: file=PATH --> or a skip"
    return f"a block in {block.lang or 'plain text'} cannot run: mark it <!-- readme-test: skip: REASON -->"


class Session:
    """One reader's terminal: a folder, an environment carried from block to block, background jobs."""

    def __init__(self, folder: Path, env: dict[str, str], *, timeout: float = 60.0) -> None:
        self.folder = folder
        self.env = dict(env)
        self.timeout = timeout
        self.groups: list[int] = []  # process groups of shell blocks (their background simulator)
        self.transcript: list[str] = []

    def run(self, block: Block) -> None:
        """Run one block; raise AssertionError with the block's output when it fails."""
        if block.lang in SHELL:
            self._shell(block)
        elif block.lang in PYTHON:
            self._check(block, subprocess.run([sys.executable, "-c", block.body], cwd=self.folder, env=self.env,
                                              capture_output=True, text=True, timeout=self.timeout))
        else:
            self._write(block)

    def _write(self, block: Block) -> None:
        assert block.target is not None
        name, append = block.target
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a" if append else "w", encoding="utf-8") as fh:
            fh.write(("\n" if append else "") + block.body)
        if block.lang == "toml":
            from mycarenet_dental.config import load_config

            load_config(path)  # a configuration file: as the CLI would read it (typed errors, checked values)
        else:
            json.loads(path.read_text(encoding="utf-8"))
        self.transcript.append(f"--- {block.where}: wrote {name}")

    def _shell(self, block: Block) -> None:
        lines = []
        for line in block.body.splitlines():
            lines.append(line)
            serve = _SERVE_BG.search(line)
            if serve:
                lines.append(f"__readme_wait_serve {serve.group('pki').rstrip('/')}")
        env_out = self.folder / ".readme-env"
        script = PRELUDE + f"trap 'env -0 > \"{env_out}\"' EXIT\n" + "\n".join(lines) + "\n"
        # Files, not pipes: a background job (the simulator) keeps its output open after the block ends.
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            proc = subprocess.Popen(["bash", "-e", "-o", "pipefail", "-c", script], cwd=self.folder, env=self.env,
                                    stdout=out, stderr=err, text=True, start_new_session=True)
            self.groups.append(proc.pid)
            try:
                proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                self.close()
                raise AssertionError(f"{block.where}: the block did not finish in {self.timeout} s") from None
            out.seek(0)
            err.seek(0)
            self._check(block, subprocess.CompletedProcess(proc.args, proc.returncode, out.read(), err.read()))
        if env_out.exists():
            pairs = (item.partition("=") for item in env_out.read_text(encoding="utf-8").split("\0") if item)
            self.env = {k: v for k, _, v in pairs if k not in ("SHLVL", "_", "PWD", "OLDPWD")}
            env_out.unlink()

    def _check(self, block: Block, done: subprocess.CompletedProcess[str]) -> None:
        self.transcript.append(f"--- {block.where} ({block.lang}) exit {done.returncode}\n{done.stdout}{done.stderr}")
        if done.returncode != 0 or TRACEBACK in done.stdout + done.stderr:
            why = f"exited {done.returncode}" if done.returncode else "printed a traceback"
            raise AssertionError(f"{block.where}: the {block.lang} block {why}:\n{block.body}\n"
                                 f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}")

    def close(self) -> None:
        """Stop what the blocks left running (a background simulator), group by group."""
        for group in self.groups:
            try:
                os.killpg(group, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                continue
        deadline = time.monotonic() + 5
        for group in self.groups:
            while time.monotonic() < deadline:
                try:
                    os.killpg(group, 0)
                except (ProcessLookupError, PermissionError):
                    break
                time.sleep(0.05)
        self.groups.clear()


