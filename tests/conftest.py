"""Shared fixtures: where the real recordings are, and a scratch directory per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.fixtures import build_small_bundle
from tests.utils import TESTDATA


@pytest.fixture(scope="session")
def testdata() -> Path:
    if not TESTDATA.is_dir():
        pytest.skip(f"test data folder missing: {TESTDATA}")
    return TESTDATA


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real Face bundle (built once per test process) for the engine, perform and CLI tests."""
    return build_small_bundle(tmp_path_factory)


@pytest.fixture(scope="session")
def renderer(bundle_dir: Path):  # noqa: ANN201
    from facecraft.engine import Renderer
    from facecraft.faces.bundle import load_bundle

    return Renderer(load_bundle(bundle_dir))
