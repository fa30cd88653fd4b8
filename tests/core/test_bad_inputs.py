"""Bad local input through the real command line: a clear typed error, the right exit code, no traceback.

One table per category (configuration, CLI arguments, invoice JSON, files). Each case runs the real
``mycarenet-dental`` entry point in-process (``main(argv)``: the same error mapping as the console
script) and asserts the exit code, that no Python traceback or "internal error" reached the user,
and, where a secret is involved, that it appears neither on stdout/stderr nor in the database.
``test_figures`` prints the tried / handled / failed count per category (``-s`` to see it).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from mycarenet_dental.cli.main import main

from tests.conftest import DENTIST_NIHII, DENTIST_SSIN, PATIENT

SECRET = "S3cret&<pw>\"x"  # a licence/keystore password pasted where a variable name belongs

BASE_CONFIG = f"""profile = "simulator"
[dentist]
nihii = "{DENTIST_NIHII}"
ssin = "{DENTIST_SSIN}"
name = "Anne Simulaar"
[storage]
path = "data/store.sqlite"
"""

GOOD_INVOICE: dict[str, Any] = {
    "number": 1,
    "patient_id": PATIENT, "sex": "male", "mutuality": "319", "ct1": "110", "ct2": "110",
    "lines": [{"code": "301011", "date": "2026-10-03", "reimbursement": 2500, "patient_share": 500, "tooth": 36}],
}


@attrs.frozen
class Case:
    """One bad input: how to set it up, the command, the exit code it must give."""

    id: str
    args: tuple[str, ...]
    code: int
    config: str = ""  # TOML appended to the base configuration
    top: str = ""  # TOML put before it (top-level keys)
    storage: str = "data/store.sqlite"  # [storage] path of the base configuration
    setup: Callable[[Path], None] | None = None  # prepares files in the work folder
    secret: str | None = None  # must appear nowhere (output, database)
    expect: str = ""  # a word the message must contain


def _write(name: str, data: bytes | str) -> Callable[[Path], None]:
    def setup(work: Path) -> None:
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))

    return setup


def _mkdir(name: str) -> Callable[[Path], None]:
    return lambda work: (work / name).mkdir(parents=True, exist_ok=True)


def _both(*steps: Callable[[Path], None]) -> Callable[[Path], None]:
    def setup(work: Path) -> None:
        for step in steps:
            step(work)

    return setup


def _invoices(*invoices: dict[str, Any], raw: str | bytes | None = None) -> Callable[[Path], None]:
    return _write("invoices.json", raw if raw is not None else json.dumps({"invoices": list(invoices)}))


def _inv(**changes: Any) -> dict[str, Any]:
    """GOOD_INVOICE with ``lines.x`` / top-level keys changed."""
    inv = json.loads(json.dumps(GOOD_INVOICE))
    for key, value in changes.items():
        head, _, tail = key.partition("__")
        if head == "line":
            inv["lines"][0][tail] = value
        else:
            inv[head] = value
    return inv


LIST = ("contact", "list", "--json")  # loads the configuration and opens the storage

CONFIG_CASES = [
    # 15.3 — no plain HTTP anywhere
    Case("http-services", LIST, 2, '[endpoints]\nservices = "http://127.0.0.1:8443"\n', expect="https"),
    Case("http-async", LIST, 2, '[endpoints]\nasync = "http://127.0.0.1:8443/async"\n', expect="https"),
    Case("http-sts", LIST, 2, '[endpoints]\nsts = "http://127.0.0.1/IAM"\n', expect="https"),
    Case("http-etk-depot", LIST, 2, '[endpoints]\netk_depot = "http://127.0.0.1/EtkDepot/v1"\n', expect="https"),
    Case("http-tariff-url", LIST, 2, '[tariff]\ntarification_url = "http://127.0.0.1:8443/t"\n', expect="https"),
    Case("http-memberdata-url", LIST, 2, '[assurability]\nmemberdata_url = "http://x/md"\n', expect="https"),
    Case("http-hcpfac-url", LIST, 2, '[billing]\nhcpfac_url = "HTTP://127.0.0.1/hcpfac"\n', expect="https"),
    Case("http-dmg-url", LIST, 2, '[dmg]\ngmf_url = "http://127.0.0.1/gmf"\n', expect="https"),
    Case("ftp-url", LIST, 2, '[endpoints]\nservices = "ftp://127.0.0.1"\n', expect="https"),
    Case("url-port-99999", LIST, 2, '[endpoints]\nservices = "https://127.0.0.1:99999"\n', expect="port"),
    Case("url-port-letters", LIST, 2, '[endpoints]\nservices = "https://127.0.0.1:abc"\n'),
    Case("url-no-host", LIST, 2, '[endpoints]\nservices = "https://:443/x"\n', expect="host"),
    Case("url-bad-ipv6", LIST, 2, '[endpoints]\nservices = "https://[::1/x"\n'),
    Case("url-not-string", LIST, 2, "[endpoints]\nservices = 8443\n"),
    Case("url-credentials", LIST, 2, '[endpoints]\nservices = "https://u:p@127.0.0.1"\n'),
    Case("url-plugin-not-string", LIST, 2, "[tariff]\ntarification_url = 3\n"),
    # files the configuration names
    Case("ca-file-missing", LIST, 2, '[endpoints]\nca_file = "nope.pem"\n', expect="ca_file"),
    Case("ca-file-directory", LIST, 2, '[endpoints]\nca_file = "cadir"\n', setup=_mkdir("cadir"), expect="ca_file"),
    Case("ca-file-not-pem", LIST, 2, '[endpoints]\nca_file = "ca.pem"\n', setup=_write("ca.pem", b"\x30\x82garbage"),
         expect="PEM"),
    Case("ca-file-bad-pem-body", LIST, 2, '[endpoints]\nca_file = "ca.pem"\n',
         setup=_write("ca.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")),
    Case("trust-anchor-not-pem", LIST, 2, '[security]\ntrust_anchor = "sts.pem"\n',
         setup=_write("sts.pem", "not a certificate"), expect="trust_anchor"),
    Case("trust-anchor-missing", LIST, 2, '[security]\ntrust_anchor = "none.pem"\n'),
    Case("ehealth-ca-not-pem", LIST, 2, '[security]\nehealth_ca = "ca.pem"\n',
         setup=_write("ca.pem", "not a certificate"), expect="ehealth_ca"),
    Case("etk-trust-anchor-not-pem", LIST, 2, '[security]\netk_trust_anchor = "etk.pem"\n',
         setup=_write("etk.pem", "not a certificate"), expect="etk_trust_anchor"),
    Case("token-cache-directory", LIST, 2, '[security]\ntoken_cache = "tok"\n', setup=_mkdir("tok"),
         expect="token_cache"),
    # timeouts: finite and positive
    Case("timeout-inf", LIST, 2, "[timeouts]\nread = inf\n", expect="finite"),
    Case("timeout-nan", LIST, 2, "[timeouts]\nread = nan\n", expect="finite"),
    Case("timeout-minus-1", LIST, 2, "[timeouts]\nread = -1\n"),
    Case("timeout-zero", LIST, 2, "[timeouts]\nconnect = 0\n"),
    Case("timeout-string", LIST, 2, '[timeouts]\nconnect = "10"\n'),
    Case("timeout-huge", LIST, 2, "[timeouts]\nconnect = 1e308\n"),
    Case("timeout-bool", LIST, 2, "[timeouts]\nconnect = true\n"),
    # lists, counts
    Case("rules-disabled-int", LIST, 2, "[rules]\ndisabled = [1]\n"),
    Case("rules-disabled-string", LIST, 2, '[rules]\ndisabled = "R2"\n'),
    Case("rules-disabled-unknown", LIST, 2, '[rules]\ndisabled = ["R999"]\n'),
    Case("plugins-allow-int", LIST, 2, "[plugins]\nallow = [1, 2]\n"),
    Case("max-per-minute-lots", LIST, 2, '[tariff]\nmax_per_minute = "lots"\n', expect="max_per_minute"),
    Case("max-per-minute-negative", LIST, 2, "[tariff]\nmax_per_minute = -5\n"),
    Case("max-per-minute-zero", LIST, 2, "[dmg]\nmax_per_minute = 0\n"),
    Case("max-per-minute-float", LIST, 2, "[dmg]\nmax_per_minute = 1.5\n"),
    Case("poll-max-negative", LIST, 2, "[billing]\npoll_max = -1\n"),
    Case("repost-minutes-nan", LIST, 2, "[billing]\nrepost_after_minutes = nan\n"),
    Case("simulator-port-99999", LIST, 2, "[simulator]\nport = 99999\n"),
    # identities
    Case("executor-ssin-123", LIST, 2, '[executor]\nkind = "mandatary"\nssin = "123"\n', expect="executor.ssin"),
    Case("executor-nihii-letters", LIST, 2, '[executor]\nkind = "mandatary"\nnihii = "abc"\n'),
    Case("executor-cbe-short", LIST, 2, '[executor]\nkind = "mandatary"\ncbe = "1"\n'),
    Case("executor-kind", LIST, 2, '[executor]\nkind = "robot"\n'),
    Case("profile-unknown", LIST, 2, top='profile = "bogus"\n', expect="profile"),
    Case("profile-not-string", LIST, 2, top="profile = 3\n", expect="profile"),
    # secrets where a variable name belongs: refused without echo (15.9)
    Case("keystore-password-in-env-key", LIST, 2, f'[keystore]\npassword_env = "{SECRET.replace(chr(34), "")}"\n',
         secret=SECRET.replace('"', ""), expect="password_env"),
    Case("licence-password-in-env-key", LIST, 2, '[licence]\npassword_env = "Tr0ub4dor&3 horse"\n',
         secret="Tr0ub4dor&3 horse", expect="password_env"),
    Case("plugin-env-key", LIST, 2, '[billing]\ntoken_env = "hunter2!"\n', secret="hunter2!"),
    Case("keystore-password-written", LIST, 2, '[keystore]\npassword = "Zz9-written"\n', secret="Zz9-written"),
    # the file itself and the storage it names
    Case("config-not-utf8", LIST, 2, "name = \"\xff\xfe\"\n", expect="UTF-8"),
    Case("config-invalid-toml", LIST, 2, "[dentist\n", expect="TOML"),
    Case("config-table-not-table", LIST, 2, top='executor = "x"\n', expect="table"),
    Case("storage-not-sqlite", LIST, 2, storage="notdb.sqlite",
         setup=_write("notdb.sqlite", b"this is not a database" * 100), expect="storage"),
    Case("storage-is-directory", LIST, 2, storage="dbdir", setup=_mkdir("dbdir"), expect="storage"),
    Case("storage-under-a-file", LIST, 2, storage="afile/store.sqlite", setup=_write("afile", "x"), expect="storage"),
    Case("config-duplicate-table", LIST, 2, "[dentist]\nname = 'x'\n", expect="TOML"),
]

CLI_CASES = [
    Case("audit-from-garbage", ("audit", "list", "--from", "garbage"), 2, expect="--from"),
    Case("audit-to-garbage", ("audit", "list", "--to", "garbage"), 2, expect="--to"),
    Case("audit-from-bad-date", ("audit", "list", "--from", "2026-13-45"), 2),
    Case("audit-export-to-garbage", ("audit", "export", "--to", "yesterday"), 2),
    Case("audit-export-out-missing-dir", ("audit", "export", "--out", "/nonexistent/x"), 2, expect="--out"),
    Case("audit-export-out-directory", ("audit", "export", "--out", "."), 2),
    Case("mandates-check-mandator-abc", ("mandates", "check", "--mandator", "abc", "--mandatary", "cbe:0412345614",
                                         "--service", "assurability"), 2, expect="--mandator"),
    Case("mandates-check-mandatary-bad", ("mandates", "check", "--mandator", DENTIST_NIHII, "--mandatary", "zz",
                                          "--service", "assurability"), 2),
    Case("mandates-list-on-garbage", ("mandates", "list", "--on", "someday"), 2),
    Case("billing-unattested-days-huge", ("billing", "unattested", "--days", "1000000000000"), 2),
    Case("billing-unattested-days-negative", ("billing", "unattested", "--days", "-1"), 2),
    Case("billing-unattested-days-zero", ("billing", "unattested", "--days", "0"), 2),
    Case("billing-poll-max-polls-negative", ("billing", "poll", "--max-polls", "-1"), 2),
    Case("billing-poll-interval-nan", ("billing", "poll", "--interval", "nan"), 2),
    Case("billing-poll-interval-inf", ("billing", "poll", "--interval", "inf"), 2),
    Case("contact-open-empty-patient", ("contact", "open", "--patient", ""), 2),
    Case("contact-close-unknown", ("contact", "close", "no-such-contact"), 2),
    Case("security-verify-at-garbage", ("security", "verify", "msg.xml", "--at", "noon"), 2,
         setup=_write("msg.xml", "<a/>")),
    Case("simulator-pki-port-99999", ("simulator", "pki", "--out", "pki", "--port", "99999"), 2),
    Case("tariff-non-dental-code", ("tariff", "--patient", PATIENT, "--service", "101010"), 2, expect="dental"),
    Case("tariff-superscript-tooth", ("tariff", "--patient", PATIENT, "--service", "302153:3⁶"), 2),
    Case("tariff-date-garbage", ("tariff", "--patient", PATIENT, "--service", "301011", "--date", "x"), 2),
    Case("insurability-bad-patient", ("insurability", "--patient", "12"), 2),
    Case("insurability-bad-date", ("insurability", "--patient", PATIENT, "--date", "2026-02-30"), 2),
    Case("insurability-bad-backend", ("insurability", "--patient", PATIENT, "--backend", "x"), 2),
    Case("dmg-bad-patient", ("dmg", "--patient", "８５０７３００３３２８"), 2),
    Case("dmg-bad-route", ("dmg", "--patient", PATIENT, "--route", "pigeon"), 2),
    Case("assurability-backend-config", ("insurability", "--patient", PATIENT), 2,
         '[assurability]\nbackend = "carrier-pigeon"\n', expect="backend"),
    Case("unknown-command", ("frobnicate",), 2),
    Case("unknown-option", ("audit", "list", "--frobnicate"), 2),
]

INVOICE = ("billing", "build", "invoices.json")
INVOICE_CASES = [
    Case("superscript-number", INVOICE, 2, setup=_invoices(_inv(number="²")), expect="number"),
    Case("superscript-tooth", INVOICE, 2, setup=_invoices(_inv(line__tooth="3⁶"))),
    Case("superscript-amount", INVOICE, 2, setup=_invoices(_inv(line__reimbursement="²⁵⁰⁰"))),
    Case("arabic-indic-digits", INVOICE, 2, setup=_invoices(_inv(number="١٢٣"))),
    Case("sex-list", INVOICE, 2, setup=_invoices(_inv(sex=[])), expect="sex"),
    Case("sex-object", INVOICE, 2, setup=_invoices(_inv(sex={}))),
    Case("sex-bool", INVOICE, 2, setup=_invoices(_inv(sex=True))),
    Case("non-utf8", INVOICE, 2, setup=_invoices(raw=b'{"invoices": ["\xff\xfe"]}'), expect="UTF-8"),
    Case("deep-nesting", INVOICE, 2, setup=_invoices(raw="[" * 200_000 + "]" * 200_000)),
    Case("5000-digit-number", INVOICE, 2, setup=_invoices(raw='{"invoices": [{"number": ' + "9" * 5000 + "}]}")),
    Case("huge-number", INVOICE, 2, setup=_invoices(_inv(number=10**30))),
    Case("nan-amount", INVOICE, 2, setup=_invoices(raw=json.dumps({"invoices": [_inv()]}).replace("2500", "NaN"))),
    Case("duplicate-numbers", INVOICE, 2, setup=_invoices(_inv(), _inv()), expect="twice"),
    Case("units-zero", INVOICE, 2, setup=_invoices(_inv(line__units=0)), expect="units"),
    Case("ct1-999", INVOICE, 2, setup=_invoices(_inv(ct1="999")), expect="ct1"),
    Case("ct2-abc", INVOICE, 2, setup=_invoices(_inv(ct2="abc"))),
    Case("non-dental-code", INVOICE, 2, setup=_invoices(_inv(line__code="102771")), expect="dental"),
    Case("non-dental-code-7", INVOICE, 2, setup=_invoices(_inv(line__code="0475075"))),
    Case("code-letters", INVOICE, 2, setup=_invoices(_inv(line__code="30101A"))),
    Case("bad-date", INVOICE, 2, setup=_invoices(_inv(line__date="2026-02-30"))),
    Case("date-number", INVOICE, 2, setup=_invoices(_inv(line__date=20261003))),
    Case("bad-ssin", INVOICE, 2, setup=_invoices(_inv(patient_id="85073003329"))),
    Case("top-level-list", INVOICE, 2, setup=_invoices(raw="[]")),
    Case("empty-file", INVOICE, 2, setup=_invoices(raw=b"")),
    Case("invoices-object", INVOICE, 2, setup=_invoices(raw='{"invoices": {}}')),
    Case("lines-empty", INVOICE, 2, setup=_invoices(_inv(lines=[]))),
    Case("line-not-object", INVOICE, 2, setup=_invoices(_inv(lines=[1]))),
    Case("unknown-key", INVOICE, 2, setup=_invoices(_inv(colour="red"))),
    Case("amount-float", INVOICE, 2, setup=_invoices(_inv(line__reimbursement=25.5))),
    Case("utf16-file", INVOICE, 2, setup=_invoices(raw=json.dumps({"invoices": [_inv()]}).encode("utf-16"))),
]

FILE_CASES = [
    Case("mandates-import-p12", ("mandates", "import", "dentist.p12"), 2,
         setup=_write("dentist.p12", bytes(range(256)) * 8), expect="register"),
    Case("mandates-import-deep-json", ("mandates", "import", "m.json"), 2,
         setup=_write("m.json", "[" * 100_000 + "]" * 100_000)),
    Case("mandates-import-bignum", ("mandates", "import", "m.json"), 2,
         setup=_write("m.json", '{"mandates": [{"id": ' + "7" * 5000 + "}]}")),
    Case("mandates-import-csv-garbage", ("mandates", "import", "m.csv"), 2, setup=_write("m.csv", "a,b\n1,2\n")),
    Case("mandates-import-bad-nihii", ("mandates", "import", "m.json"), 2,
         setup=_write("m.json", json.dumps({"mandates": [{"id": "M1", "mandator": {"nihii": "1"},
                                                          "mandatary": "cbe:0412345614", "service": "tariff",
                                                          "start": "2026-01-01"}]}))),
    Case("billing-validate-binary", ("billing", "validate", "f.bin"), 1, setup=_write("f.bin", bytes(range(256)))),
    Case("billing-validate-empty", ("billing", "validate", "f.txt"), 1, setup=_write("f.txt", b"")),
    Case("billing-parse-binary", ("billing", "parse", "f.bin"), 2, setup=_write("f.bin", bytes(range(256)) * 4)),
    Case("billing-parse-empty", ("billing", "parse", "f.txt"), 2, setup=_write("f.txt", b"")),
    Case("billing-build-directory", ("billing", "build", "d"), 2, setup=_mkdir("d")),
    Case("billing-build-missing", ("billing", "build", "none.json"), 2),
    Case("security-verify-not-xml", ("security", "verify", "m.xml"), 1, setup=_write("m.xml", b"\x00\x01garbage")),
    Case("security-verify-trust-garbage", ("security", "verify", "m.xml", "--trust", "t.pem"), 2,
         setup=_both(_write("m.xml", "<a/>"),
                     _write("t.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))),
    Case("security-verify-trust-key", ("security", "verify", "m.xml", "--trust", "t.pem"), 2,
         setup=_both(_write("m.xml", "<a/>"), _write("t.pem", b"\x30\x03\x02\x01\x00"))),
    Case("config-is-directory", ("--config", "cfgdir", "contact", "list"), 2, setup=_mkdir("cfgdir")),
]


CATEGORIES = {"config": CONFIG_CASES, "CLI args": CLI_CASES, "invoice JSON": INVOICE_CASES, "files": FILE_CASES}
_RESULTS: dict[str, list[bool]] = {}


def run_case(case: Case, work: Path, monkeypatch: pytest.MonkeyPatch,
             capsys: pytest.CaptureFixture[str]) -> tuple[int, str, list[str]]:
    """Run one case; return (exit code, everything printed, the problems found)."""
    work.mkdir(parents=True, exist_ok=True)
    config = work / "config.toml"
    text = case.top + BASE_CONFIG.replace("data/store.sqlite", case.storage) + case.config
    if case.id != "config-duplicate-table":  # a case must not fail for clashing with the base tables
        assert "[dentist]" not in case.config and "[storage]" not in case.config
    config.write_bytes(text.encode("latin-1") if case.id == "config-not-utf8" else text.encode("utf-8"))
    if case.setup:
        case.setup(work)
    monkeypatch.chdir(work)
    monkeypatch.delenv("MYCARENET_DENTAL_KEYSTORE_PASSWORD", raising=False)
    argv = list(case.args) if case.args[:1] == ("--config",) else ["--config", str(config), *case.args]
    problems: list[str] = []
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except BaseException as exc:  # noqa: BLE001 — the point: anything else is a defect
        code = -1
        problems.append(f"uncaught {type(exc).__name__}: {exc!s:.200}")
    out = capsys.readouterr()
    printed = out.out + out.err
    if code != case.code:
        problems.append(f"exit {code}, expected {case.code}")
    if "Traceback" in printed or "internal error" in printed:
        problems.append("traceback/internal error shown")
    if case.expect and case.expect.lower() not in printed.lower():
        problems.append(f"message does not mention {case.expect!r}: {printed[-300:]!r}")
    if case.secret:
        if case.secret in printed:
            problems.append("secret echoed")
        for db in work.rglob("*.sqlite*"):
            if case.secret.encode() in db.read_bytes():
                problems.append(f"secret written into {db.name}")
    return code, printed, problems


def _all_cases() -> list[Any]:
    return [pytest.param(category, case, id=f"{category.replace(' ', '-')}:{case.id}")
            for category, cases in CATEGORIES.items() for case in cases]


@pytest.mark.parametrize(("category", "case"), _all_cases())
def test_bad_input(category: str, case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                   capsys: pytest.CaptureFixture[str]) -> None:
    _code, printed, problems = run_case(case, tmp_path / "work", monkeypatch, capsys)
    _RESULTS.setdefault(category, []).append(not problems)
    assert not problems, f"{case.id}: {problems}\n{printed[-1500:]}"


def test_figures() -> None:
    """tried / handled / failed per category (meaningful after the table ran in the same session)."""
    lines = []
    for category, cases in CATEGORIES.items():
        results = _RESULTS.get(category, [])
        lines.append(f"{category}: tried {len(cases)} / handled {sum(results)} / failed {len(results) - sum(results)}")
    sys.stderr.write("\n".join(lines) + "\n")
    assert all(cases for cases in CATEGORIES.values())


def test_password_env_value_not_in_audit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """A password pasted as password_env: refused before any storage is touched, never written."""
    case = Case("x", LIST, 2, f'[licence]\npassword_env = "{SECRET.replace(chr(34), "")}"\n',
                secret=SECRET.replace('"', ""))
    _code, printed, problems = run_case(case, tmp_path / "work", monkeypatch, capsys)
    assert not problems, problems
    assert not list((tmp_path / "work").rglob("*.sqlite"))  # nothing was opened, so nothing audited


def test_storage_modes(tmp_path: Path) -> None:
    """Data folder 0700, database and WAL/SHM 0600 — also a database left 0644 by an older version."""
    import sqlite3
    import stat

    from mycarenet_dental.storage import Storage

    folder = tmp_path / "data"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    db = folder / "store.sqlite"
    sqlite3.connect(db).close()
    os.chmod(db, 0o644)
    storage = Storage(db)
    storage.execute("CREATE TABLE t (x)")
    storage.execute("INSERT INTO t VALUES (1)")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    names = {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}
    assert {"store.sqlite", "store.sqlite-wal", "store.sqlite-shm"} <= set(names)
    assert all(mode == 0o600 for mode in names.values()), names
    storage.close()
    fresh = Storage(tmp_path / "new" / "deeper" / "s.sqlite")
    fresh.execute("CREATE TABLE t (x)")
    assert stat.S_IMODE((tmp_path / "new" / "deeper").stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in (tmp_path / "new" / "deeper").iterdir())
    fresh.close()


def test_audit_export_file_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    import stat

    out = tmp_path / "work" / "export.jsonl"
    out.parent.mkdir(parents=True)
    out.write_text("old")
    os.chmod(out, 0o644)
    case = Case("export", ("audit", "export", "--out", str(out)), 0)
    _code, _printed, problems = run_case(case, tmp_path / "work", monkeypatch, capsys)
    assert not problems, problems
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_audit_bounds_filter(tmp_path: Path, make_context: Any, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    """--from/--to are compared as instants: a row of today is inside today and outside yesterday."""
    from datetime import date, timedelta

    ctx = make_context()
    ctx.audit.append("exchange", exchange_id="e1", service="x")
    config = tmp_path / "config.toml"
    config.write_text(BASE_CONFIG.replace("data/store.sqlite", str(ctx.config.storage_path)), "utf-8")
    today = date.today()
    yesterday = (today - timedelta(days=1)).isoformat()
    for bounds, expected in ((("--from", today.isoformat()), 1), (("--to", yesterday), 0),
                             (("--from", f"{today.isoformat()}T00:00:00+14:00"), 1)):
        main(["--config", str(config), "audit", "list", "--json", *bounds])
        rows = [r for r in json.loads(capsys.readouterr().out) if r["kind"] == "exchange"]
        assert len(rows) == expected, bounds


def test_exchange_stopped_by_configuration_error_is_not_audited_as_sent(make_context: Any) -> None:
    """No keystore configured: the exchange stops before anything leaves; the audit must not say "sent"."""
    from mycarenet_dental.errors import ConfigError

    ctx = make_context()
    contact = ctx.open_contact(PATIENT)
    exchange = ctx.new_exchange("tariff", "consult", patient=PATIENT, contact_id=contact.id)
    with pytest.raises(ConfigError), ctx.exchange(exchange):
        ctx.security  # noqa: B018 — the lazy session needs the keystore
    rows = [e for e in ctx.audit.entries() if e.exchange_id == exchange.id]
    assert [r.kind for r in rows] == ["exchange", "outcome"]
    assert "sent" not in {r.outcome for r in rows}
    assert rows[0].outcome == "started"
    assert rows[-1].outcome == "refused" and rows[-1].code == "CONFIG"


def test_unexpected_exception_shows_no_traceback_nor_its_message(monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The last-resort handler: a defect exits 4 with the type only (its text may hold personal data)."""
    import mycarenet_dental.plugins as plugins_mod

    def broken(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("85073003328 secret detail")

    monkeypatch.setattr(plugins_mod, "make_plugin_manager", broken)
    monkeypatch.delenv("MYCARENET_DENTAL_DEBUG", raising=False)
    with pytest.raises(SystemExit) as info:
        main(["plugins"])
    printed = capsys.readouterr()
    assert info.value.code == 4
    assert "RuntimeError" in printed.err and "85073003328" not in printed.err + printed.out
    assert "Traceback" not in printed.err
    where = Path(printed.err.split("are in ", 1)[1].split(" (private file)", 1)[0])
    assert "85073003328 secret detail" in where.read_text() and (where.stat().st_mode & 0o777) == 0o600
    where.unlink()


def test_mandates_export_file_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    import stat

    out = tmp_path / "work" / "register.json"
    out.parent.mkdir(parents=True)
    out.write_text("old")
    os.chmod(out, 0o644)
    case = Case("export", ("mandates", "export", str(out)), 0)
    _code, _printed, problems = run_case(case, tmp_path / "work", monkeypatch, capsys)
    assert not problems, problems
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
