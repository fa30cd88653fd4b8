"""``mycarenet-dental plugin new``: names, refusals and what it writes (the installed plugin passing
its own tests is proven in ``tests/core/test_packaging.py``, in the scratch venv built there)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mycarenet_dental.errors import UsageError
from mycarenet_dental.hookspec import API_VERSION
from mycarenet_dental.plugin_template import FILES, core_range, names_for, render


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from mycarenet_dental.cli.main import main

    with pytest.raises(SystemExit) as info:
        main(args)
        raise SystemExit(0)
    out = capsys.readouterr()
    return int(info.value.code or 0), out.out, out.err


def test_the_command_writes_every_file_of_the_template(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(["plugin", "new", "my_attest", "--dir", str(tmp_path), "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    target = tmp_path / "mycarenet-dental-my-attest"
    assert data["path"] == str(target) and len(data["files"]) == len(FILES)
    plugin = (target / "mycarenet_dental_my_attest" / "plugin.py").read_text(encoding="utf-8")
    assert f'MYCARENET_DENTAL_API = "{API_VERSION}"' in plugin
    assert "consult_my_attest" in (target / "mycarenet_dental_my_attest" / "client.py").read_text(encoding="utf-8")
    assert "$" not in "".join(p.read_text(encoding="utf-8") for p in target.rglob("*") if p.is_file())


@pytest.mark.parametrize("name", ["Attest", "my-attest", "1attest", "a", "x" * 31, "attest;rm"])
def test_an_unusable_name_is_a_usage_error(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(["plugin", "new", name, "--dir", str(tmp_path)], capsys)
    assert code == 2 and "lower-case identifier" in err
    assert not any(tmp_path.iterdir())


def test_an_installed_plugin_name_or_a_non_empty_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="already installed"):
        names_for("tariff")
    (tmp_path / "mycarenet-dental-attest").mkdir()
    (tmp_path / "mycarenet-dental-attest" / "keep.txt").write_text("mine")
    with pytest.raises(UsageError, match="not empty"):
        render("attest", tmp_path)
    assert (tmp_path / "mycarenet-dental-attest" / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize(("core", "expected"), [
    ("0.1.0", "mycarenet-dental>=0.1,<0.2"), ("0.4.2", "mycarenet-dental>=0.4,<0.5"),
    ("1.3.0", "mycarenet-dental>=1.3,<2"), ("2.0.0rc1", "mycarenet-dental>=2.0,<3"),
])
def test_the_core_range_of_a_new_plugin(core: str, expected: str) -> None:
    assert core_range(core) == expected


# -- docs/plugin-guide.md is checked against the code it describes -----------------------------------

GUIDE = (Path(__file__).resolve().parents[2] / "docs" / "plugin-guide.md").read_text(encoding="utf-8")


def test_every_import_the_guide_shows_exists() -> None:
    import importlib
    import re

    blocks = re.findall(r"```python\n(.*?)```", GUIDE, flags=re.S)
    imports = [m for block in blocks for m in re.findall(r"^from (mycarenet_dental(?:\.[\w.]+)?) import ([\w, ]+)", block, re.M)]
    assert len(imports) >= 5
    for module, names in imports:
        loaded = importlib.import_module(module)
        for name in (n.strip() for n in names.split(",")):
            assert hasattr(loaded, name), f"the guide imports {name} from {module}, which has none"


def test_the_guide_names_the_real_test_helpers_and_their_keywords() -> None:
    import inspect

    from mycarenet_dental.sim import pytest_plugin
    from mycarenet_dental.sim.testing import SimEnv

    for fixture in ("mycarenet_simulator", "mycarenet_simulator_module"):
        assert hasattr(pytest_plugin, fixture) and f"`{fixture}`" in GUIDE
    for method in (SimEnv.context, SimEnv.start):
        for keyword in inspect.signature(method).parameters:
            if keyword not in ("self", "cls", "overrides", "workdir"):
                assert f"{keyword}=" in GUIDE, f"SimEnv.{method.__name__}({keyword}=) is not in the guide"
    for documented in ("RuleCheck(reason, hint=None)", "exchange.details", "never clinical data", "json_option",
                       "emit(data, as_json, human)", "restart it", "MYCARENET_DENTAL_API"):
        assert documented in GUIDE
