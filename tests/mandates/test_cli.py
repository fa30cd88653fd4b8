"""``mycarenet-dental mandates ...`` end to end through the real entry point (exit codes from the errors)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mycarenet_dental.cli.main import main

from .conftest import DENTIST_NIHII, OFFICE_CBE, write_config


@pytest.fixture
def run(tmp_path: Path, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    config = write_config(tmp_path / "office.toml", mandatary=True)

    def _run(*args: str) -> tuple[int, str, str]:
        try:
            main(["--config", str(config), "mandates", *args])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return code, out.out, out.err

    return _run


def test_add_list_stop_history(run) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run("add", "--mandator", DENTIST_NIHII, "--mandatary", OFFICE_CBE, "--service", "tariff",
                       "--start", "2026-01-01", "--json")
    assert code == 0
    added = json.loads(out)["mandate"]
    assert added["mandator_ssin"] == "85073003328"  # from [dentist]
    code, out, _ = run("add", "--mandator", DENTIST_NIHII, "--mandatary", "ssin:90010100123", "--service", "tariff",
                       "--start", "2026-02-01", "--json")
    assert json.loads(out)["closed"][0]["id"] == added["id"]
    code, out, _ = run("list", "--json", "--on", "2026-03-01")
    rows = json.loads(out)
    assert [(r["service"], r["state"], r["reason"]) for r in rows] == [("tariff", "ended", "superseded"),
                                                                        ("tariff", "active", None)]
    assert run("list")[0] == 0
    code, out, _ = run("stop", rows[1]["id"], "--by", "mandatary")
    assert code == 0 and "stopped" in out
    code, out, _ = run("history", rows[1]["id"], "--json")
    assert [h["action"] for h in json.loads(out)] == ["created", "stopped"]


@pytest.mark.parametrize(("args", "code", "text"), [
    (("--service", "dmg"), 1, "R21"),
    (("--service", "payment"), 1, "R25"),
    (("--service", "anything"), 1, "R24"),
    (("--service", "tariff", "--mandatary", "0412345615"), 2, "mandatary"),
    (("--service", "tariff", "--start", "2026-13-01"), 2, "--start"),
])
def test_refusals_name_the_rule_and_exit_with_its_code(run, args, code: int, text: str) -> None:  # type: ignore[no-untyped-def]
    base = {"--mandator": DENTIST_NIHII, "--mandatary": OFFICE_CBE, "--start": "2026-01-01"}
    given = dict(zip(args[::2], args[1::2], strict=True))
    argv = [x for k, v in {**base, **given}.items() for x in (k, v)]
    got, _, err = run("add", *argv)
    assert got == code and text in err


def test_event_then_curator(run) -> None:  # type: ignore[no-untyped-def]
    for service in ("assurability", "billing"):
        run("add", "--mandator", DENTIST_NIHII, "--mandatary", OFFICE_CBE, "--service", service,
            "--start", "2026-01-01")
    code, out, _ = run("event", "--party", OFFICE_CBE, "--kind", "bankruptcy", "--date", "2026-02-01", "--json")
    assert code == 0 and len(json.loads(out)["ended"]) == 2
    args = ("add", "--mandator", DENTIST_NIHII, "--mandatary", OFFICE_CBE, "--service", "billing",
            "--start", "2026-03-01")
    code, _, err = run(*args)
    assert code == 1 and "R27" in err
    assert run(*args, "--given-by", "Me Curator")[0] == 0


def test_import_export_and_check(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("add", "--mandator", DENTIST_NIHII, "--mandatary", OFFICE_CBE, "--service", "billing",
        "--start", "2020-01-01", "--id", "M-1")
    assert run("export", str(tmp_path / "out.json"))[0] == 0
    assert run("export", str(tmp_path / "out.csv"))[0] == 0
    code, out, _ = run("import", str(tmp_path / "out.json"), "--json")
    assert code == 0 and json.loads(out)["skipped"] == ["M-1"]
    code, out, _ = run("check", "--mandator", DENTIST_NIHII, "--mandatary", OFFICE_CBE, "--service", "efact")
    assert code == 0 and "M-1" in out
    code, _, err = run("check", "--mandator", DENTIST_NIHII, "--mandatary", OFFICE_CBE, "--service", "dmg")
    assert code == 1 and "R21" in err
    code, _, err = run("history", "M-404")
    assert code == 2
