from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.fixtures import build_small_bundle


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_small_bundle(tmp_path_factory)


@pytest.fixture(scope="session")
def renderer(bundle_dir: Path):  # noqa: ANN201
    from facecraft.engine import Renderer
    from facecraft.faces.bundle import load_bundle

    return Renderer(load_bundle(bundle_dir))
