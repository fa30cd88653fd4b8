"""Every code block of README.md and of each plugin's README runs as written (or says why not).

``README.md`` is run from an empty folder, as a new user would: it makes its own test PKI, starts
its own simulator and exports its configuration. A plugin README starts where the main README
leaves a reader: ``sim/`` (a fresh copy of a test PKI whose ``config.toml`` points at a simulator
this module started), ``MYCARENET_DENTAL_CONFIG=sim/config.toml`` and the test passwords exported,
the virtual environment activated. See ``readme_blocks.py`` for how each kind of block runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import cli_env
from tests.docs.readme_blocks import Session, blocks, problems_of

ROOT = Path(__file__).resolve().parents[2]
READMES = [ROOT / "README.md", *sorted(ROOT.glob("plugins/*/README.md"))]
VENV_BIN = Path(sys.executable).parent


def _reader_env(**extra: str) -> dict[str, str]:
    """A terminal with the project's virtual environment on PATH (what `source .venv/bin/activate` does)."""
    env = cli_env(**extra)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTHONPATH", None)
    env.setdefault("HOME", str(Path.home()))
    return env


def _folder(tmp: Path) -> Path:
    """An empty folder with ``.venv`` beside it as in a checkout (so `.venv/bin/...` works as written)."""
    folder = tmp / "reader"
    folder.mkdir()
    (folder / ".venv").symlink_to(VENV_BIN.parent, target_is_directory=True)
    return folder


@pytest.fixture(scope="module")
def running_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A test PKI on a free port and its simulator, as the main README makes them."""
    pki = tmp_path_factory.mktemp("readme-sim") / "sim"
    exe = [sys.executable, "-m", "mycarenet_dental", "simulator"]
    made = subprocess.run(exe + ["pki", "--out", str(pki), "--port", "0"], capture_output=True, text=True,
                          env=cli_env(), timeout=60)
    assert made.returncode == 0, made.stderr
    server = subprocess.Popen(exe + ["serve", "--pki", str(pki)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=cli_env())
    try:
        line = server.stdout.readline() if server.stdout else ""
        assert line.startswith("simulator on "), line + (server.stderr.read() if server.stderr else "")
        yield pki
    finally:
        server.terminate()
        server.wait(10)


def test_every_block_runs_or_says_why_not() -> None:
    """A block the runner cannot run is marked with a reason; the marked ones are listed here."""
    problems, skipped = [], []
    for readme in READMES:
        for block in blocks(readme, ROOT):
            problem = problems_of(block)
            if problem:
                problems.append(f"{block.where}: {problem}")
            elif block.skip_reason:
                skipped.append(f"{block.where} ({block.lang or 'text'}): {block.skip_reason}")
    print("\nREADME blocks not run, with their reason:\n  " + "\n  ".join(skipped))
    assert not problems, "\n".join(problems)
    assert sum(1 for r in READMES for b in blocks(r, ROOT) if not b.skip_reason) >= 10  # the runner has work


def test_main_readme_runs_as_written(tmp_path: Path) -> None:
    session = Session(_folder(tmp_path), _reader_env())
    try:
        for block in blocks(ROOT / "README.md", ROOT):
            if block.skip_reason is None:
                session.run(block)
    finally:
        session.close()


@pytest.mark.parametrize("readme", READMES[1:], ids=lambda p: p.parent.name)
def test_plugin_readme_runs_as_written(readme: Path, running_sim: Path, tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    shutil.copytree(running_sim, folder / "sim",
                    ignore=shutil.ignore_patterns("store*", "token-*", "*.checkpoints"))
    from mycarenet_dental.sim.cli import read_env_file

    env = _reader_env(MYCARENET_DENTAL_CONFIG="sim/config.toml", **read_env_file(running_sim))
    session = Session(folder, env)
    try:
        for block in blocks(readme, ROOT):
            if block.skip_reason is None:
                session.run(block)
    finally:
        session.close()


def test_the_runner_fails_a_block_that_fails(tmp_path: Path) -> None:
    """A command that exits non-zero, or one that prints a traceback and exits 0, fails the block; an
    exported variable reaches the next block; an unmarked plain-text block is reported."""
    readme = tmp_path / "README.md"
    readme.write_text("```sh\nexport GREETING=hello\n```\n\n```sh\ntest \"$GREETING\" = hello\n```\n\n"
                      "```sh\nfalse\necho never\n```\n\n"
                      "```python\nprint('Traceback (most recent call last):')\n```\n\n"
                      "```\nplain\n```\n\n<!-- readme-test: skip: shown only -->\n```\nplain\n```\n")
    found = blocks(readme, tmp_path)
    session = Session(_folder(tmp_path), _reader_env())
    try:
        session.run(found[0])
        session.run(found[1])
        with pytest.raises(AssertionError, match="exited 1"):
            session.run(found[2])
        with pytest.raises(AssertionError, match="printed a traceback"):
            session.run(found[3])
    finally:
        session.close()
    assert problems_of(found[4]) and not problems_of(found[5]) and found[5].skip_reason == "shown only"
