"""Test set-up of the billing plugin: make it importable from the source tree when not installed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from mycarenet_dental.shared_folder import shared_path

REPO = Path(__file__).resolve().parents[2]

try:  # pragma: no cover - depends on how the environment was prepared
    import mycarenet_dental_billing  # noqa: F401
except ImportError:  # pragma: no cover
    sys.path.insert(0, str(REPO / "plugins" / "billing"))

CONFORMANCE_EFACT = shared_path("conformance", "efact")


@pytest.fixture
def cin_files() -> list[Path]:
    """The CIN-generated 920000 files of the shared conformance set (skip when absent)."""
    files = sorted(CONFORMANCE_EFACT.glob("TFAC1SC*")) if CONFORMANCE_EFACT.is_dir() else []
    if not files:
        pytest.skip(f"conformance files not found in {CONFORMANCE_EFACT}")
    return files
