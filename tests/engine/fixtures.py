"""A small real Face bundle for the engine and CLI tests (built once per test process)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.utils import testdata_path

SOURCE = ("video", "styletalk_Obama_clip2_muxed.mp4")
RANGE = (0.0, 8.0)  # a few seconds of real footage keep the build short


def build_small_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from facecraft.faces.build import build_face

    out = tmp_path_factory.mktemp("engine-bundle")
    return build_face(testdata_path(*SOURCE), name="Obama test", out_dir=out, source_range=RANGE)
