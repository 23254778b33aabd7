"""Shared fixtures: where the real recordings are, and a scratch directory per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.fixtures import build_small_bundle
from tests.utils import GRID, TESTDATA, testdata_path


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


@pytest.fixture(scope="session")
def grid_audio():  # noqa: ANN201
    """The GRID sentence ``tests.utils.GRID_TEXT`` at 16 kHz (``media.Audio``)."""
    from facecraft import media

    return media.read_audio(testdata_path(*GRID), sample_rate=16000)
