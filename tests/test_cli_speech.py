"""``facecraft tts``: a WAV with its phone and word timings, and clear errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from facecraft.cli import main
from facecraft.speech.visemes import VISEMES
from facecraft.speech.voice import profile_voice
from tests.utils import testdata_path as data_path  # alias: pytest would collect test*


def test_tts_writes_audio_and_timings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, timings = tmp_path / "out" / "hello.wav", tmp_path / "hello.json"
    text = "Hello there. Dr. Smith paid 23 dollars!"
    assert main(["tts", text, "-o", str(out), "--timings", str(timings)]) == 0
    assert "2 sentence(s)" in capsys.readouterr().out
    rate, pcm = wavfile.read(out)
    assert rate == 22050 and pcm.ndim == 1 and np.abs(pcm).max() > 1000
    data = json.loads(timings.read_text(encoding="utf-8"))
    assert data["text"] == text and data["source"] == "tts" and data["sample_rate"] == rate
    assert data["duration_s"] == pytest.approx(pcm.size / rate, abs=1e-3)
    phones, words = data["phones"], data["words"]
    assert phones[0]["start"] == 0.0 and phones[-1]["end"] == pytest.approx(data["duration_s"], abs=1e-3)
    assert all(a["end"] == pytest.approx(b["start"], abs=1e-3) for a, b in zip(phones, phones[1:]))
    assert {p["viseme"] for p in phones} <= set(VISEMES)
    assert [w["text"] for w in words] == ["Hello", "there", "Doctor", "Smith", "paid", "23", "dollars"]
    assert all(w["start"] < w["end"] for w in words)


def test_tts_adapts_toward_a_voice_profile(tmp_path: Path) -> None:
    rate, pcm = wavfile.read(data_path("speech", "pocketsphinx_librivox_0870.wav"))
    target = profile_voice(pcm.astype(np.float32) / 32768.0, rate)
    voice_json = tmp_path / "voice.json"
    voice_json.write_text(json.dumps(target.to_dict()))
    out = tmp_path / "adapted.wav"
    text = "Ask not what your country can do for you."
    assert main(["tts", text, "-o", str(out), "--adapt-to", str(voice_json), "--strength", "0.8"]) == 0
    rate_out, adapted = wavfile.read(out)
    assert rate_out == 22050 and adapted.size > rate_out and np.abs(adapted).max() > 1000


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["tts", " ?! ", "-o", "{tmp}/x.wav"], "error [invalid_input]: text is empty"),
        (["tts", "Hi.", "-o", "{tmp}/x.wav", "--voice", "nobody"], "error [invalid_input]: unknown voice"),
        (["tts", "Hi.", "-o", "{tmp}/x.wav", "--adapt-to", "{tmp}/missing.json"], "error [invalid_input]: cannot read"),
        (["tts", "Hi.", "-o", "{tmp}/x.wav", "--url", "http://127.0.0.1:9"],
         "error [speech_unavailable]: the TTS endpoint"),
    ],
)
def test_tts_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], error: str) -> None:
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    assert error in capsys.readouterr().err
    assert not (tmp_path / "x.wav").exists()
