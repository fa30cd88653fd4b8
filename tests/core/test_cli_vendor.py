"""Issue 14 item 8 and the broken-configuration help: what a vendor sees of the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from mycarenet_dental.cli import print_table
from mycarenet_dental.cli.main import main
from mycarenet_dental.errors import Messages, MyCareNetDentalError, UsageError


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_local_error_omits_empty_translations() -> None:
    assert UsageError("bad").to_dict()["message"] == {"en": "bad"}
    remote = MyCareNetDentalError(Messages(en="e", fr="f", nl="n")).to_dict()
    assert remote["message"] == {"en": "e", "fr": "f", "nl": "n"}


def test_help_summaries_are_whole_sentences(capsys: pytest.CaptureFixture[str]) -> None:
    """Click's default summary stopped at the first period: "... for the art." and "(protocol Art."."""
    code, out, _ = _run(["--help"], capsys)
    assert code == 0
    assert "art. 74 report" in " ".join(out.split())
    code, out, _ = _run(["audit", "--help"], capsys)
    assert code == 0 and "exit 1 naming what is wrong" in " ".join(out.split())
    assert "(protocol Art. 3)" in " ".join(_run(["--help"], capsys)[1].split())


def test_tables_are_not_cut_into_a_pipe(capsys: pytest.CaptureFixture[str]) -> None:
    long = "x" * 300
    print_table(["a", "b"], [[long, "y" * 50]])
    out = capsys.readouterr().out
    assert long in out and "…" not in out


def test_help_with_a_broken_configuration_lists_core_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "broken.toml"
    bad.write_text("[plugins\n", encoding="utf-8")
    monkeypatch.setenv("MYCARENET_DENTAL_CONFIG", str(bad))
    code, out, err = _run(["--help"], capsys)
    assert code == 0 and "contact" in out and "audit" in out
    assert err.startswith("warning:") and "only the core commands" in err
    code, _, err = _run(["rules"], capsys)  # a command still refuses the broken file
    assert code == 2 and "error:" in err


def test_a_returned_number_is_not_an_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    """Click (not standalone) returns a command's value and a command's Exit(n) alike; only Exit counts."""
    from mycarenet_dental.cli.exitcodes import run
    from mycarenet_dental.cli.main import LazyGroup

    @click.group(cls=LazyGroup)
    def root() -> None:
        pass

    @root.command("returns")
    def returns() -> int:
        return 3

    @root.command("exits")
    def exits() -> None:
        raise click.exceptions.Exit(1)

    @root.command("undocumented")
    def undocumented() -> None:
        raise click.exceptions.Exit(7)

    assert run(root, ["returns"], as_json=False) == 0
    assert run(root, ["exits"], as_json=False) == 1
    assert run(root, ["undocumented"], as_json=True) == 4
    assert json.loads(capsys.readouterr().out)["exit_code"] == 4
