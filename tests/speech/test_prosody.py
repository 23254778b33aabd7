"""Emotional prosody on real synthesised speech: the pitch, its range, the rate and the energy move the way
each emotion asks, lengths and phone timings stay exact, and bad names or intensities get clear error ids."""

from __future__ import annotations

import numpy as np
import pytest

from facecraft.errors import InputError
from facecraft.speech.prosody import PROSODY, apply_energy, apply_prosody, prosody_for

SENTENCE = "I have some news about your order today. Thank you for calling, we will be in touch."


def test_every_api_emotion_has_a_prosody_and_intensity_scales_it() -> None:
    from facecraft.engine.cues import EMOTIONS

    assert set(PROSODY) == set(EMOTIONS) and PROSODY["neutral"].neutral
    assert prosody_for("sad", 0.0).neutral and prosody_for("Sad ", 1.0) == PROSODY["sad"]
    half = prosody_for("excited", 0.5)
    assert half.pitch_st == pytest.approx(PROSODY["excited"].pitch_st / 2)
    assert half.rate == pytest.approx(PROSODY["excited"].rate ** 0.5)
    # high arousal: higher, wider, faster, louder; low: the other way
    for name in ("angry", "excited", "elated", "scared", "surprised"):
        p = PROSODY[name]
        assert p.pitch_st > 0 and p.range > 1 and p.rate >= 1 and p.energy_db >= 0, name
    for name in ("sad", "dejected"):
        p = PROSODY[name]
        assert p.pitch_st < 0 and p.range < 1 and p.rate < 1 and p.energy_db < 0, name


@pytest.mark.parametrize(("name", "intensity", "error_id"), [
    ("happy", 1.0, "unknown_emotion"), ("", 1.0, "unknown_emotion"), ("sad", 1.5, "invalid_emotion_intensity"),
    ("sad", -0.1, "invalid_emotion_intensity"), ("sad", "lots", "invalid_emotion_intensity"),
    ("sad", float("nan"), "invalid_emotion_intensity"),
])
def test_bad_emotions_get_clear_error_ids(name, intensity, error_id) -> None:  # noqa: ANN001
    with pytest.raises(InputError) as err:
        prosody_for(name, intensity)
    assert err.value.error_id == error_id


def test_energy_is_louder_without_clipping_and_softer_by_its_gain() -> None:
    t = np.arange(16000) / 16000
    x = (0.9 * np.sin(2 * np.pi * 150 * t) * np.linspace(0.05, 1, t.size)).astype(np.float32)
    rms = lambda y: 20 * np.log10(np.sqrt(np.mean(y.astype(np.float64) ** 2)))  # noqa: E731
    loud, soft = apply_energy(x, 4.0), apply_energy(x, -6.0)
    assert np.abs(loud).max() <= np.abs(x).max() + 1e-6  # the peak level is kept
    assert rms(loud) - rms(x) > 1.5 and rms(soft) - rms(x) == pytest.approx(-6.0, abs=0.01)
    assert loud.size == soft.size == x.size


@pytest.fixture(scope="module")
def speech():  # noqa: ANN201
    from facecraft.speech.voices import tts_for

    tts = tts_for(None, deterministic=True)
    samples, rate, _ = tts.synthesize(SENTENCE)
    return tts, samples, rate


def test_pitch_and_range_follow_the_emotion(speech) -> None:  # noqa: ANN001
    from facecraft.speech.voice import profile_voice, shift_voice

    _, x, rate = speech
    # the reference is re-synthesised too (WORLD's own small change), so only the emotion differs
    base = profile_voice(shift_voice(x, rate, semitones=0.01), rate)
    out = {name: profile_voice(apply_prosody(x, rate, prosody_for(name)), rate) for name in ("excited", "sad")}
    assert out["excited"].f0_median_st - base.f0_median_st > 1.5
    assert out["sad"].f0_median_st < base.f0_median_st
    assert out["excited"].f0_iqr_st > base.f0_iqr_st > out["sad"].f0_iqr_st
    assert apply_prosody(x, rate, prosody_for("sad")).size == x.size


def test_the_rate_changes_at_synthesis_and_the_phones_follow(speech) -> None:  # noqa: ANN001
    from facecraft.engine.cues import Emotion
    from facecraft.perform.speech import text_pieces

    tts, _, _ = speech

    def said(emotion: Emotion | None) -> tuple[float, float]:
        pieces = list(text_pieces(SENTENCE, tts, emotion=emotion))
        seconds = sum(p.samples.size / p.sample_rate for p in pieces)
        return seconds, pieces[-1].phones[-1].end

    neutral, sad, excited = said(None), said(Emotion("sad", 1.0)), said(Emotion("excited", 1.0))
    assert sad[0] > neutral[0] * 1.05 and excited[0] < neutral[0] * 0.97  # (pauses stretch less than words)
    for seconds, last_phone in (neutral, sad, excited):
        assert last_phone == pytest.approx(seconds, abs=0.02)  # timings stay those of the audio


def test_a_script_speaks_each_segment_with_its_emotion(speech) -> None:  # noqa: ANN001
    from facecraft.engine.cues import Emotion
    from facecraft.perform.speech import text_pieces

    tts, _, _ = speech
    pieces = list(text_pieces('<emotion value="dejected"/>I am so sorry. <emotion value="excited"/>Great news!',
                              tts, emotion=Emotion("content", 0.5)))
    assert [p.emotion for p in pieces] == [Emotion("dejected"), Emotion("excited")]
    loud = [20 * np.log10(np.sqrt(np.mean(p.samples.astype(np.float64) ** 2))) for p in pieces]
    assert loud[1] - loud[0] > 4.0  # dejected is soft, excited loud
    # the per-request default holds until the first tag, and is a cue of its own
    first = next(iter(text_pieces("Hello there. <emotion value=\"sad\"/>Bye.", tts, emotion=Emotion("content", 0.5))))
    assert first.emotion == Emotion("content", 0.5)
