"""Griffe extension: the reStructuredText of the docstrings read as Markdown by mkdocstrings.

The code's docstrings use ``:class:`X``` roles, double backticks and ``Example::`` literal blocks
(what a reader of the source and ``help()`` sees); the site shows them as code spans and fenced code.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import griffe

_spec = importlib.util.spec_from_file_location("mcn_docs_generate", Path(__file__).with_name("generate.py"))
assert _spec is not None and _spec.loader is not None
_generate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_generate)
rst_to_markdown = _generate.rst_to_markdown


class RstDocstrings(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rst_to_markdown(obj.docstring.value)
