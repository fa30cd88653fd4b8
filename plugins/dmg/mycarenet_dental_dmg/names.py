"""The plugin's fixed names, in a module light enough for ``plugin.py`` (CLI start-up)."""

SERVICE = "dmg"
RESULT_KIND = "dmg.holder"
