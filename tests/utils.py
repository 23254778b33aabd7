"""Test helpers shared across the suite (import as ``from tests.utils import ...``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TESTDATA = Path(os.environ.get("FACECRAFT_TESTDATA", REPO.parent / "shared" / "testdata"))


def testdata_path(*parts: str) -> Path:
    """Path of a real recording in ../shared/testdata; skips the test when it is missing."""
    path = TESTDATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"test recording missing: {path}")
    return path


testdata_path.__test__ = False  # its name starts with "test": keep pytest from collecting it
