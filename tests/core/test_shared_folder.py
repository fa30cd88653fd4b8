"""Issue 13 property 7: the ``shared`` reference folder is located in one place
(:mod:`mycarenet_dental.shared_folder`), and the tests that need it skip cleanly when it is absent."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mycarenet_dental import shared_folder
from mycarenet_dental.sim import schemas

ROOT = Path(__file__).resolve().parents[2]
#: building a path to the shared folder by hand: ``/ "shared"``, ``"../shared"``, ``".." / "shared"``
HAND_MADE = re.compile(r"""/\s*["']shared["']|["']\.\./shared["']|["']\.\.["']\s*/\s*["']shared""")


def test_shared_folder_is_located_in_one_place() -> None:
    home = ROOT / "core" / "mycarenet_dental" / "shared_folder.py"
    found = []
    for base in ("core", "plugins", "tests", "bench"):
        for path in sorted((ROOT / base).rglob("*.py")):
            if path in (home, Path(__file__).resolve()) or ".egg-info" in str(path):
                continue
            text = path.read_text("utf-8")
            found += [f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 1}"
                      for m in HAND_MADE.finditer(text)]
    assert not found, "the shared folder located by hand (use mycarenet_dental.shared_folder):\n" + "\n".join(found)


def test_the_variable_overrides_the_search(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "xsd").mkdir()
    monkeypatch.setenv(shared_folder.ENV_SHARED, str(tmp_path))
    assert shared_folder.shared_dir() == tmp_path
    assert shared_folder.shared_path("conformance", "efact") == tmp_path / "conformance" / "efact"
    missing = tmp_path / "absent"
    monkeypatch.setenv(shared_folder.ENV_SHARED, str(missing))
    assert shared_folder.shared_dir() is None
    assert not shared_folder.shared_path("conformance").exists()
    monkeypatch.delenv(schemas.ENV_XSD, raising=False)
    assert schemas.xsd_dir() is None  # the schema loader looks where everyone looks


def test_tests_needing_the_shared_folder_skip_cleanly_without_it(tmp_path: Path) -> None:
    """The suites that read ../shared (recorded messages, official schemas), run with the folder absent:
    nothing fails or errors, what needs the folder is skipped."""
    files = ["tests/security/test_sec_verify_cmd.py", "tests/billing/test_efact_conformance.py",
             "tests/dmg/test_dmg_messages.py", "tests/assurability/test_memberdata.py", "tests/tariff/test_kmehr.py"]
    env = {k: v for k, v in os.environ.items() if k != schemas.ENV_XSD}
    env[shared_folder.ENV_SHARED] = str(tmp_path / "no-shared-here")
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", *files],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]  # nothing failed, no error
    for name in ("test_sec_verify_cmd", "test_efact_conformance", "test_dmg_messages", "test_memberdata"):
        assert re.search(rf"SKIPPED \[\d+\] tests/\w+/{name}\.py", run.stdout), name
