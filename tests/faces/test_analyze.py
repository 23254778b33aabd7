"""Speaking/listening analysis on a real talking-head clip with pauses."""

from __future__ import annotations

import numpy as np
import pytest

from facecraft.faces.analyze import analyze
from facecraft.faces.types import Analysis
from facecraft.vision.smoothing import runs
from tests.utils import testdata_path

CLIP = ("video", "styletalk_Obama_clip2_muxed.mp4")  # 30 s, speech with about 4.4 s of pauses


@pytest.fixture(scope="module")
def clip():
    from facecraft import media, vision

    path = testdata_path(*CLIP)
    tracks = vision.track_video(path)
    audio = media.read_audio(path, sample_rate=16000)
    return tracks, audio.samples


@pytest.fixture(scope="module")
def analysis(clip) -> Analysis:
    tracks, samples = clip
    return analyze(tracks, samples, 16000)


def test_state_covers_every_frame(clip, analysis):
    tracks, _ = clip
    assert analysis.state.shape == (len(tracks),)
    assert set(np.unique(analysis.state)) <= {0, 1}
    assert analysis.fps == pytest.approx(tracks.fps)
    total = analysis.speaking_s + analysis.listening_s
    assert total == pytest.approx(len(tracks) / tracks.fps, abs=0.05)
    # Segments are the runs of the state, in order, without overlap.
    edges = sorted([(s.start, s.end) for s in analysis.speaking + analysis.listening])
    for (_, end), (start, _) in zip(edges, edges[1:]):
        assert start == pytest.approx(end, abs=1e-3)


def test_speaking_follows_the_voice_and_the_pauses_listen(analysis):
    assert 18.0 < analysis.speaking_s < 29.0
    assert analysis.listening, "the pauses give listening segments"
    speech = analysis.speech
    assert sum(s.duration for s in speech) > 20.0
    for seg in analysis.speaking:
        assert any(s.start < seg.end and seg.start < s.end for s in speech), seg
    for a, b in runs(analysis.state == 1):
        assert (b - a) / analysis.fps >= 0.3  # short blips are dropped


def test_lips_move_more_while_speaking(analysis):
    motion = analysis.mouth_motion
    speaking, listening = motion[analysis.state == 1], motion[analysis.state == 0]
    assert np.median(speaking) > np.median(listening)


def test_no_audio_or_silence_means_listening(clip):
    tracks, samples = clip
    for audio in (None, np.zeros_like(samples)):
        result = analyze(tracks, audio, 16000)
        assert result.state.sum() == 0 and not result.speaking and not result.speech
        assert result.listening_s == pytest.approx(len(tracks) / tracks.fps, abs=0.05)


def test_round_trip_through_json(analysis):
    again = Analysis.from_dict(analysis.to_dict())
    assert np.array_equal(again.state, analysis.state)
    assert again.speaking == analysis.speaking and again.listening == analysis.listening
