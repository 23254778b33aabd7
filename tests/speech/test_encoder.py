"""Whisper tiny.en encoder states on real speech: shape, the fixed window grid (a stretch of a stream reads
as the whole stream), reuse of encoded windows, the model's hash check."""

from __future__ import annotations

import numpy as np
import pytest

from facecraft import models
from facecraft.errors import ModelError
from facecraft.media import read_audio
from facecraft.models import MODELS, ModelFile
from facecraft.speech import encoder as enc
from tests.utils import testdata_path


@pytest.fixture(scope="module")
def jfk() -> np.ndarray:
    return read_audio(testdata_path("speech", "whisper_jfk.flac"), sample_rate=16000).samples


def test_states_cover_the_audio_at_50_hz(jfk: np.ndarray) -> None:
    states = enc.encoder().timeline(jfk)
    assert states.shape == (int(np.ceil(jfk.size / 16000 * 50)), enc.DIM)
    assert np.isfinite(states).all()
    assert (np.abs(states).sum(1) > 0).all()  # every segment filled


def test_speech_and_silence_read_differently(jfk: np.ndarray) -> None:
    silence = np.zeros(16000 * 2, np.float32)
    quiet = enc.encoder().timeline(silence)
    loud = enc.encoder().timeline(jfk[16000 * 3: 16000 * 5])
    assert np.linalg.norm(quiet.mean(0) - loud.mean(0)) > 0.1 * np.linalg.norm(loud.mean(0))


def test_a_stretch_of_a_stream_reads_as_the_whole_stream(jfk: np.ndarray) -> None:
    """States depend only on the audio from past_s() before to future_s() after them: a stretch given
    with that much audio around it (and none of the rest) equals the whole stream's states."""
    whole = enc.encoder().timeline(jfk)
    k0, n = 217, 73  # states 4.34 s .. 5.8 s: not on segment boundaries
    a = int((k0 / enc.STATE_RATE - enc.past_s()) * 16000)
    b = int(((k0 + n) / enc.STATE_RATE + enc.future_s()) * 16000) + 1
    part = enc.encoder().states(jfk[a:b], k0, n, offset=a)
    assert np.allclose(part, whole[k0: k0 + n], atol=1e-5)
    # audio appended after a state's future does not change it (a live utterance's states are final)
    early = enc.encoder().timeline(jfk[: 16000 * 3])
    final = int((3.0 - enc.future_s()) * enc.STATE_RATE)
    assert np.allclose(early[:final], whole[:final], atol=1e-5)
    assert not np.allclose(early[-3:], whole[len(early) - 3: len(early)], atol=1e-3)


def test_windows_already_encoded_are_reused(jfk: np.ndarray) -> None:
    """A streaming renderer asks for overlapping stretches: windows are encoded once."""
    e = enc.WhisperEncoder()  # its own cache (the shared one holds these windows from the tests above)
    first = e.states(jfk, 100, 40)
    before = e.encoded
    again = e.states(jfk.copy(), 110, 40)
    assert e.encoded - before == 1  # only the one new segment (states 140..149)
    assert np.array_equal(first[10:], again[:30])


def test_a_model_folder_with_another_hash_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    real = MODELS["whisper_tiny_en"]
    monkeypatch.setitem(MODELS, "whisper_tiny_en", ModelFile(real.name, real.path, "0" * 64, real.size,
                                                             distribution=real.distribution))
    monkeypatch.setattr(models, "_verified", {})
    enc.whisper_model.cache_clear()
    try:
        with pytest.raises(ModelError, match="whisper_tiny_en"):
            enc.whisper_model()
    finally:
        monkeypatch.undo()
        enc.whisper_model.cache_clear()
