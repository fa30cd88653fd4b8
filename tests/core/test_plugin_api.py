"""The plugin API version: a plugin built for another API is refused when it loads, naming itself.

Each fake plugin here is a real installed distribution (a ``.dist-info`` folder and a module on
``sys.path``), found through the entry-point group like any third-party plugin.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mycarenet_dental import hookspec
from mycarenet_dental.errors import ConfigError
from mycarenet_dental.plugins import PluginApiError, PluginManager, supported_api_range


def _install_fake(site: Path, *, module: str, version: str, api: str | None) -> None:
    """A distribution ``fake-<module>`` with one entry point in ``mycarenet_dental``."""
    package = site / module
    package.mkdir(parents=True)
    declared = "" if api is None else f"MYCARENET_DENTAL_API = {api!r}\n"
    (package / "__init__.py").write_text(
        "from mycarenet_dental.hookspec import hookimpl\n"
        "from mycarenet_dental.registrations import RuleSpec\n" + declared +
        "@hookimpl\n"
        "def mycarenet_dental_rules():\n"
        f"    yield RuleSpec(id='X-{module}', article='test', title='fake')\n")
    info = site / f"fake_{module}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: fake-{module}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[mycarenet_dental]\n{module} = {module}\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


def test_the_core_publishes_its_api_version_and_range() -> None:
    major, minor = hookspec.API_VERSION.split(".")
    assert major.isdigit() and minor.isdigit()
    assert supported_api_range() == f">={major}.0,<={major}.{minor}"


def test_every_shipped_plugin_declares_the_current_api() -> None:
    pm = PluginManager().load()
    third_party = [i for i in pm.info() if not i.builtin and i.distribution]
    assert {i.distribution for i in third_party} >= {"mycarenet-dental-tariff", "mycarenet-dental-billing"}
    for info in third_party:
        assert getattr(pm.get_plugin(info.name), hookspec.API_ATTRIBUTE) == hookspec.API_VERSION, info.name


def test_a_compatible_plugin_loads(site: Path) -> None:
    _install_fake(site, module="apiok", version="1.2.3", api=hookspec.API_VERSION)
    pm = PluginManager().load()
    assert pm.has_plugin("apiok")
    assert any(rule.id == "X-apiok" for _, rule in pm.collect("mycarenet_dental_rules"))


@pytest.mark.parametrize(("api", "said"), [
    ("2.0", "is built for plugin API 2.0"),
    (f"{hookspec.API_VERSION.split('.')[0]}.{int(hookspec.API_VERSION.split('.')[1]) + 1}", "is built for plugin API"),
    ("0.9", "is built for plugin API 0.9"),
    (None, "declares no usable plugin API version"),
    ("one", "declares no usable plugin API version"),
])
def test_an_incompatible_plugin_is_refused_at_load_naming_it(site: Path, api: str | None, said: str) -> None:
    module = "apibad_" + "".join(c if c.isalnum() else "_" for c in str(api))  # one module name per case
    _install_fake(site, module=module, version="7.1.0", api=api)
    with pytest.raises(PluginApiError) as info:
        PluginManager().load()
    message = str(info.value)
    assert isinstance(info.value, ConfigError) and info.value.exit_code == 2
    assert f"plugin {module!r} (fake-{module} 7.1.0)" in message
    assert said in message
    assert f"supports plugin API {supported_api_range()}" in message
    assert f"MYCARENET_DENTAL_PLUGINS=-{module}" in (info.value.hint or "")


def test_the_cli_reports_it_as_a_configuration_error_and_a_block_gets_past_it(
        site: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from mycarenet_dental.cli.main import main

    _install_fake(site, module="apicli", version="3.0.0", api="9.0")
    monkeypatch.delenv("MYCARENET_DENTAL_PLUGINS", raising=False)
    with pytest.raises(SystemExit) as info:
        main(["plugins", "--json"])
    assert info.value.code == 2
    out = capsys.readouterr().out
    assert "PLUGIN_API" in out and "apicli" in out and "3.0.0" in out
    monkeypatch.setenv("MYCARENET_DENTAL_PLUGINS", "-apicli")
    with pytest.raises(SystemExit) as info:
        main(["plugins", "--json"])
        raise SystemExit(0)
    assert info.value.code == 0
