"""bench/stream_lipsync.py's ways of voicing a Face: each gives every frame, and its comparison with the
batch render reads what it should (the batch against itself: identical)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import stream_lipsync  # noqa: E402


def test_every_way_of_voicing_gives_every_frame_near_the_batch_mouths(renderer, grid_audio) -> None:  # noqa: ANN001
    from facecraft.engine import Renderer

    small = Renderer(renderer.bundle, size=(64, 48))
    x = grid_audio.samples
    n = int(round(x.size / 16000 * small.fps))
    batch = stream_lipsync.voice_batch(small, x, n)
    footage = np.array([a for a, _ in batch]) + np.random.default_rng(0).normal(0, 0.01, n)
    same = stream_lipsync.compare(small, batch, batch, footage)
    assert same["r_vs_batch"] > 0.9999 and same["max_abs_diff_share"] == 0 and same["same_patch"] == 1
    got = {"pieces": stream_lipsync.voice_pieces(small, x, n),
           **{mode: stream_lipsync.voice_live(small, x, n, *spec)
              for mode, spec in stream_lipsync.MODES.items() if spec is not None}}
    for mode, frames in got.items():
        assert len(frames) == n, mode
        figures = stream_lipsync.compare(small, frames, batch, footage)
        assert figures["r_vs_batch"] > 0.99 and figures["max_abs_diff_share"] < 0.1, (mode, figures)
