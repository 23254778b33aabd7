"""Whisper tiny.en encoder features on real speech: shape, timing, windowing, the model's hash check."""

from __future__ import annotations

import numpy as np
import pytest

from facecraft.errors import SpeechError
from facecraft.media import read_audio
from facecraft.speech import encoder as enc
from tests.utils import testdata_path


@pytest.fixture(scope="module")
def jfk() -> np.ndarray:
    return read_audio(testdata_path("speech", "whisper_jfk.flac"), sample_rate=16000).samples


def test_states_cover_the_audio_at_50_hz(jfk: np.ndarray) -> None:
    states = enc.encoder().timeline(jfk)
    assert states.shape == (int(np.ceil(jfk.size / 16000 * 50)), enc.DIM)
    assert np.isfinite(states).all()
    # an 11 s clip spans two windows: the seam must not leave zero rows behind
    assert (np.abs(states).sum(1) > 0).all()


def test_speech_and_silence_read_differently(jfk: np.ndarray) -> None:
    silence = np.zeros(16000 * 2, np.float32)
    quiet = enc.encoder().timeline(silence)
    loud = enc.encoder().timeline(jfk[16000 * 3: 16000 * 5])
    assert np.linalg.norm(quiet.mean(0) - loud.mean(0)) > 0.1 * np.linalg.norm(loud.mean(0))


def test_frame_features_follow_the_frame_rate(jfk: np.ndarray) -> None:
    feats = enc.encoder().frame_features(jfk[: 16000 * 4], 25.0, 100)
    assert feats.shape == (100, enc.DIM)
    states = enc.encoder().timeline(jfk[: 16000 * 4])
    # frame 10 is centred at 0.42 s: between states 20 and 21
    assert np.allclose(feats[10], 0.5 * (states[20] + states[21]), atol=1e-4)


def test_a_window_depends_only_on_its_own_audio(jfk: np.ndarray) -> None:
    """Audio appended after the first window's end does not change that window's states (streaming)."""
    first = int((enc.HOP_S + (enc.WINDOW_S - enc.HOP_S) / 2) * enc.STATE_RATE)
    short = enc.encoder().timeline(jfk[: int(enc.WINDOW_S * 16000)])
    long = enc.encoder().timeline(jfk)
    assert np.allclose(short[:first], long[:first], atol=1e-5)


def test_windows_already_encoded_are_reused(jfk: np.ndarray) -> None:
    """A streaming renderer re-reads its growing utterance: complete windows are not encoded again."""
    window = jfk[: int(enc.WINDOW_S * 16000)]
    first = enc.encoder().states(window)
    assert enc.encoder().states(window.copy()) is first
    assert not first.flags.writeable


def test_a_model_file_with_another_hash_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(enc, "MODEL_SHA256", "0" * 64)
    enc.whisper_model.cache_clear()
    try:
        with pytest.raises(SpeechError, match="sha256"):
            enc.whisper_model()
    finally:
        monkeypatch.undo()
        enc.whisper_model.cache_clear()
        enc.encoder.cache_clear()
