"""Shared fixtures: where the real recordings are, and a scratch directory per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.utils import TESTDATA


@pytest.fixture(scope="session")
def testdata() -> Path:
    if not TESTDATA.is_dir():
        pytest.skip(f"test data folder missing: {TESTDATA}")
    return TESTDATA
