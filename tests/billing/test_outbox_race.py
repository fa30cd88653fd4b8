# ruff: noqa: F811  (pytest fixtures imported from flow_fixtures)
"""Never bill twice, even when processes race (issue 15.13).

Several processes run ``billing build FILE --send`` on the same practice database at the same moment,
over the same file or overlapping files. The invoice's identity is claimed under a unique key in
the transaction that files the sending: the loser is told "already billed in sending N" (exit 1
when nothing is left to send) and posts nothing. Counted where it matters: at the simulated insurer.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mycarenet_dental.storage import Storage

from tests.billing.flow_fixtures import (  # noqa: F401  (fixtures)
    JEANNE,
    KARIM,
    LUCAS,
    MARIE,
    NOAH,
    env,
    receipts,
    record_tariff,
    today,
)
from tests.racing import race

PEOPLE = [LUCAS, MARIE, NOAH, KARIM, JEANNE]


def _config(env: Any, db: Path) -> Path:
    """The simulator's dentist configuration on this test's database, several files a day allowed
    (the one-file-a-day limit would otherwise hide the duplicate check)."""
    text = env.config_path.read_text("utf-8")
    text = re.sub(r'(?m)^path = "store\.sqlite"$', f"path = {json.dumps(str(db))}", text)
    assert str(db) in text
    text += "\n[billing]\nmax_files_per_union_per_day = 50\n"
    path = env.config_path.parent / f"config-race-{db.parent.name}.toml"
    path.write_text(text, "utf-8")
    return path


def _invoice(number: int, day: dt.date) -> dict[str, Any]:
    person = PEOPLE[number % len(PEOPLE)]
    period = person.periods[-1]
    return {"number": number,
            "patient_id": person.ssin, "sex": "male" if person.sex == "M" else "female",
            "mutuality": period.mutuality, "ct1": period.ct1, "ct2": period.ct2,
            "lines": [{"code": "301011", "date": day.isoformat(), "reimbursement": 2500, "patient_share": 300,
                       "tooth": 11 + number % 7}]}


def _practice(env: Any, tmp_path: Path, files: dict[str, range]) -> tuple[Path, dict[str, Path], str]:
    db = tmp_path / "practice.sqlite"
    ctx = env.context(storage=Storage(db))
    nihii = ctx.config.require_dentist().nihii
    day = today() - dt.timedelta(days=1)
    for person in PEOPLE:  # R36: the tariff was consulted for every billed line
        record_tariff(ctx, person.ssin, [("301011", day)])
    ctx.close()
    paths = {}
    for name, numbers in files.items():
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps({"invoices": [_invoice(n, day) for n in numbers]}), "utf-8")
    return _config(env, db), paths, nihii


_SETUP = """
from mycarenet_dental.cli.main import main
import mycarenet_dental_billing.cli, mycarenet_dental_billing.outbox, mycarenet_dental_billing.genasync
"""


def _body(config: Path, file: Path) -> str:
    return f"""
try:
    main(["--config", {str(config)!r}, "billing", "build", {str(file)!r}, "--send", "--json"])
    result = 0
except SystemExit as exc:
    result = exc.code
"""


def _run(env: Any, tmp_path: Path, config: Path, files: list[Path]) -> list[tuple[int, Any, str]]:
    setup = _SETUP
    body = "\n".join(f"if {{k}} == {k}:\n" + "\n".join("    " + ln for ln in _body(config, f).splitlines())
                     for k, f in enumerate(files))
    return race(tmp_path / "race", len(files), setup, body, env=env.env)


@pytest.mark.parametrize("n", [2, 5])
def test_same_file_raced_is_billed_once(env: Any, tmp_path: Path, n: int) -> None:
    config, files, nihii = _practice(env, tmp_path, {"day": range(7001, 7026)})
    outcomes = _run(env, tmp_path, config, [files["day"]] * n)
    assert receipts(env) == {f"{nihii}:{number}": 1 for number in range(7001, 7026)}
    codes = sorted(result for _, result, _ in outcomes)
    # The file holds several unions, so it is filed as several sendings, each claimed in its own
    # transaction: under load several processes may each win a different union's sending. What must
    # hold is above (every invoice exactly once at the insurer). Each process exits 0 (it billed the
    # whole file) or 1 (docs/exit-codes.md: any line refused, here as already billed elsewhere — a
    # process that won only some unions is "partial" and exits 1 too, so all may exit 1).
    assert set(codes) <= {0, 1}, [err for _, _, err in outcomes]


def test_losers_are_told_where_the_invoice_was_billed(env: Any, tmp_path: Path) -> None:
    config, files, nihii = _practice(env, tmp_path, {"day": range(7101, 7104)})
    cmd = [sys.executable, "-m", "mycarenet_dental", "--config", str(config), "billing", "build",
           str(files["day"]), "--send", "--json"]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env={**os.environ, **env.env})
    assert first.returncode == 0, first.stderr
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env={**os.environ, **env.env})
    assert second.returncode == 1
    refused = json.loads(second.stdout)["refused_lines"]
    assert {r["rule"] for r in refused} == {"DUPLICATE"}
    assert all(re.search(r"already billed in sending \d{3} \(union \d{3}", r["reason"]) for r in refused)
    assert receipts(env) == {f"{nihii}:{n}": 1 for n in range(7101, 7104)}


def test_overlapping_files_raced_bill_every_invoice_exactly_once(env: Any, tmp_path: Path) -> None:
    ranges = {"a": range(7201, 7226), "b": range(7215, 7240), "c": range(7230, 7250), "d": range(7201, 7250, 2)}
    config, files, nihii = _practice(env, tmp_path, ranges)
    order = [files["a"], files["b"], files["c"], files["d"]]
    outcomes = _run(env, tmp_path, config, order)
    assert all(code in (0, 1) for code, _, _ in outcomes), [err for _, _, err in outcomes]
    assert receipts(env) == {f"{nihii}:{number}": 1 for number in range(7201, 7250)}
    ctx = env.context(storage=Storage(tmp_path / "practice.sqlite"))
    claimed = ctx.storage.query("SELECT invoice_number FROM billing_invoice ORDER BY invoice_number")
    assert [r["invoice_number"] for r in claimed] == list(range(7201, 7250))
    ctx.close()


def test_existing_database_upgrades_with_its_invoices_claimed(env: Any, tmp_path: Path) -> None:
    """A database of the previous schema: its billed invoices are claimed by the migration."""
    from mycarenet_dental_billing.outbox import TABLES, Outbox

    db = tmp_path / "old.sqlite"
    ctx = env.context(storage=Storage(db))
    day = today() - dt.timedelta(days=1)
    record_tariff(ctx, LUCAS.ssin, [("301011", day)])
    from mycarenet_dental_billing.invoices_json import load_invoices

    invoices = load_invoices({"invoices": [_invoice(7300, day), _invoice(7305, day)]},
                             default_provider=ctx.config.require_dentist().nihii)
    Outbox(ctx).build(invoices)
    ctx.storage.execute("DROP TABLE billing_invoice")
    ctx.storage.execute("UPDATE schema_version SET version = 1 WHERE name = ?", (TABLES.name,))
    ctx.close()
    ctx = env.context(storage=Storage(db))  # migrates to version 2
    rows = ctx.storage.query("SELECT invoice_number FROM billing_invoice ORDER BY invoice_number")
    assert [r["invoice_number"] for r in rows] == [7300, 7305]
    again = Outbox(ctx).build(invoices)
    assert not again.sendings and {r.rule for r in again.refused_lines} == {"DUPLICATE"}
    ctx.close()
