"""File renders of a real Face bundle: durations, streams, lip shapes, dub mode, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facecraft import media
from facecraft.errors import InputError
from tests.utils import GRID_TEXT
from tests.utils import testdata_path as data_path

SILENT_TAIL = (2.35, 2.9)  # GRID .align: silence from 2.21 s
OPEN_WORDS = (0.75, 1.25)  # "white with": the open AY of "white"


@pytest.fixture(scope="module")
def spoken(renderer, grid_audio, tmp_path_factory) -> Path:  # noqa: ANN001
    from facecraft.perform import render_speech

    out = tmp_path_factory.mktemp("render") / "grid.mp4"
    return render_speech(renderer, grid_audio.samples, grid_audio.sample_rate, text=GRID_TEXT, out_path=out)


def test_speech_render_has_both_streams_and_the_audio_length(spoken: Path, grid_audio, renderer) -> None:  # noqa: ANN001
    info = media.probe(spoken)
    assert info.video is not None and info.audio is not None
    assert info.video.codec == "h264" and info.audio.codec == "aac"
    assert (info.video.width, info.video.height) == renderer.size
    assert info.video.fps == pytest.approx(renderer.fps, rel=1e-3)
    frames = sum(1 for _ in media.iter_frames(spoken))
    assert abs(frames / renderer.fps - grid_audio.duration_s) <= 1.0 / renderer.fps + 1e-6


def test_mouth_closes_in_silence_and_opens_on_vowels(spoken: Path, renderer) -> None:  # noqa: ANN001
    from facecraft.vision import track_video

    tracks = track_video(spoken)
    assert tracks.present.mean() > 0.95
    t = tracks.times
    ap = tracks.aperture
    silent = ap[(t >= SILENT_TAIL[0]) & (t <= SILENT_TAIL[1])]
    vowels = ap[(t >= OPEN_WORDS[0]) & (t <= OPEN_WORDS[1])]
    p = renderer.priors
    closed_limit = p.closed_limit
    assert np.mean(silent < closed_limit) >= 0.9, (silent, closed_limit)
    assert np.nanmax(vowels) > closed_limit + 0.2 * (p.open - p.closed)
    assert np.nanmax(vowels) > np.nanmedian(silent) + 0.03


def test_listening_render_length_and_size(renderer, tmp_path: Path) -> None:  # noqa: ANN001
    from facecraft.engine import Renderer
    from facecraft.perform import render_listening

    small = Renderer(renderer.bundle, size=(128, 96))
    out = render_listening(small, 2.0, out_path=tmp_path / "idle.mp4")
    info = media.probe(out)
    assert info.audio is not None and info.video is not None
    assert (info.video.width, info.video.height) == (128, 96)
    frames = sum(1 for _ in media.iter_frames(out))
    assert frames == int(round(2.0 * renderer.fps))


def test_dub_mode_keeps_the_length_of_the_range(renderer, tmp_path: Path) -> None:  # noqa: ANN001
    from facecraft.perform import render_dub

    video = data_path("video", "styletalk_Obama_clip2_muxed.mp4")
    out = render_dub(renderer, video, out_path=tmp_path / "dub.mp4", start_s=8.0, end_s=10.0)
    frames = sum(1 for _ in media.iter_frames(out))
    assert abs(frames - 2.0 * renderer.fps) <= 1


def test_empty_and_punctuation_only_input_are_refused(renderer, tmp_path: Path) -> None:  # noqa: ANN001
    from facecraft.perform import render_speech, render_text

    with pytest.raises(InputError, match="empty"):
        render_speech(renderer, np.zeros(0, np.float32), 16000, out_path=tmp_path / "a.mp4")
    with pytest.raises(InputError, match="nothing to say"):
        render_text(renderer, " ?!... ", out_path=tmp_path / "b.mp4")
    assert not (tmp_path / "a.mp4").exists() and not (tmp_path / "b.mp4").exists()


def test_a_script_with_tags_renders_its_words_only(renderer, tmp_path: Path) -> None:  # noqa: ANN001
    from facecraft.engine import Renderer
    from facecraft.perform import render_text

    small = Renderer(renderer.bundle, size=(128, 96))
    plain = render_text(small, "Good morning. I have news.", out_path=tmp_path / "plain.mp4", adapt_voice=False)
    tagged = render_text(small, 'Good morning. <emotion value="sad"/> I have news.',
                         out_path=tmp_path / "tagged.mp4", adapt_voice=False)
    a, b = media.probe(plain), media.probe(tagged)
    assert b.audio is not None and b.video is not None
    assert abs(a.duration_s - b.duration_s) < 0.3, "the tag was not read out"
    frames = sum(1 for _ in media.iter_frames(tagged))
    assert abs(frames / renderer.fps - b.audio.duration_s) < 0.2
    with pytest.raises(InputError) as err:
        render_text(small, 'Hi <emotion value="furious"/>', out_path=tmp_path / "bad.mp4")
    assert err.value.error_id == "unknown_emotion" and not (tmp_path / "bad.mp4").exists()
