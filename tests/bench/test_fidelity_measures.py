"""The lip-sync measures of bench/fidelity.py: bilabial closure timing and the A/V lead."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from facecraft.speech.types import Phone

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import fidelity  # noqa: E402

FPS = 25.0


def _phones(start_frame: int) -> list[Phone]:
    """'ah m ah' with the m starting at ``start_frame``."""
    t = start_frame / FPS
    return [Phone("SIL", 0.0, 0.2), Phone("AH", 0.2, t), Phone("M", t, t + 0.12), Phone("AH", t + 0.12, 2.0)]


def _closing(close_at: int, n: int = 50, hold: int = 3) -> np.ndarray:
    """Lips open at 0.10, falling over two frames to 0.01 at ``close_at``, held ``hold`` frames, reopening."""
    ap = np.full(n, 0.10)
    ap[close_at - 2], ap[close_at - 1] = 0.07, 0.04
    ap[close_at: close_at + hold] = 0.01
    ap[close_at + hold] = 0.05
    return ap


@pytest.mark.parametrize("early", [0, 1, 2, 3])
def test_closure_is_timed_from_the_first_sealed_frame(early: int) -> None:
    errors = fidelity.bilabial_closures(_closing(20 - early), _phones(20), FPS, span=0.1)
    assert errors == [-early]


def test_lips_already_closed_have_no_closure_to_time() -> None:
    """'...d m' on nearly closed lips: no fall to time (the first measure read -6 here, the window's edge)."""
    ap = np.full(50, 0.02)
    ap[19:23] = 0.012
    assert fidelity.bilabial_closures(ap, _phones(20), FPS, span=0.1) == [None]
    assert fidelity.bilabial_errors_v1(ap, _phones(20), FPS, span=0.1) == [-6]


def test_bilabial_after_a_pause_is_not_timed() -> None:
    phones = [Phone("SIL", 0.0, 0.8), Phone("M", 0.8, 0.9), Phone("AH", 0.9, 2.0)]
    assert fidelity.bilabial_closures(_closing(20), phones, FPS, span=0.1) == []


def test_lead_by_correlation_finds_a_shift() -> None:
    rng = np.random.default_rng(1)
    env = np.convolve(rng.random(300), np.ones(4) / 4, mode="same")
    lips = np.roll(env, -3)  # the lips move 3 frames before the loudness
    assert fidelity.lead_pearson(lips, env) == 3
    assert fidelity.lead_pearson(env, env) == 0


@pytest.mark.slow
def test_footage_closures_on_a_real_clip(testdata: Path) -> None:
    """A corpus clip with a clear transcript: the real lips seal within a frame of the aligned p/b/m."""
    from facecraft import media
    from facecraft.speech.align import align_audio

    video = testdata / "corpus" / "deepavsr_00004.mp4"
    fps = media.probe(video).video.fps
    frames = [f.image for f in media.iter_frames(video)]
    tracks = fidelity.track(frames, fps)
    samples = media.read_audio(video, sample_rate=16000).samples
    alignment = align_audio(samples, 16000)
    assert alignment.source == "align"
    ap = tracks.aperture
    lo, hi = np.nanpercentile(ap, [5, 95])
    errors = fidelity.bilabial_closures(ap, alignment.phones, fps, hi - lo)
    timed = [e for e in errors if e is not None]
    assert len(timed) >= 4
    assert np.mean(np.abs(timed) <= 1) >= 0.8


def test_the_silence_closure_splits_short_pauses_inside_speech_from_the_edges_and_long_pauses() -> None:
    """``pause_split``: a pause inside speech shorter than ``inner_s`` is inner; the silence before the first
    word and after the last, and a longer pause, are outer (where the engine closes the lips)."""
    sil = np.zeros(100, bool)
    sil[:8] = True  # before the first word
    sil[20:27] = True  # 0.28 s inside speech
    sil[40:60] = True  # 0.8 s inside speech
    sil[90:] = True  # after the last word
    inner, outer = fidelity.pause_split(sil, FPS, 0.4)
    assert np.flatnonzero(inner).tolist() == list(range(20, 27))
    assert np.array_equal(outer, sil & ~inner) and outer[:8].all() and outer[40:60].all() and outer[90:].all()
    assert not fidelity.pause_split(sil, FPS, 0.0)[0].any()
