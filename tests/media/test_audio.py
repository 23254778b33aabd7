"""Resampling and WAV writing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facecraft.media import read_audio, resample, write_wav
from tests.utils import testdata_path as recording  # aliased: pytest would collect test*


def _peak_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1.0 / rate)[int(np.argmax(spectrum))])


@pytest.mark.parametrize(("sr_from", "sr_to"), [(44100, 16000), (16000, 22050), (22050, 48000)])
def test_resample_keeps_pitch_and_length(sr_from: int, sr_to: int) -> None:
    t = np.arange(sr_from) / sr_from
    tone = (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    out = resample(tone, sr_from, sr_to)
    assert out.dtype == np.float32 and len(out) == sr_to
    assert _peak_hz(out, sr_to) == pytest.approx(440.0, abs=2.0)


def test_resample_removes_content_above_new_nyquist() -> None:
    t = np.arange(48000) / 48000
    tone = np.sin(2 * np.pi * 12000.0 * t).astype(np.float32)  # above 8 kHz
    assert np.abs(resample(tone, 48000, 16000)[1000:-1000]).max() < 0.05


def test_write_wav_round_trip(tmp_path: Path) -> None:
    speech = read_audio(recording("speech", "pocketsphinx_librivox_0870.wav"))
    path = write_wav(tmp_path / "copy.wav", speech.samples, speech.sample_rate)
    back = read_audio(path)
    assert back.sample_rate == 16000 and len(back.samples) == len(speech.samples)
    assert np.abs(back.samples - speech.samples).max() < 1e-3
    stereo = np.stack([speech.samples, -speech.samples], axis=1)
    back2 = read_audio(write_wav(tmp_path / "stereo.wav", stereo, 16000), mono=False)
    assert back2.samples.shape == stereo.shape
