"""Voice profiles of real speakers, and adaptation of Piper speech toward one of them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.io import wavfile

from facecraft.errors import InputError, SpeechError
from facecraft.speech.tts import PiperTTS
from facecraft.speech.voice import VoiceProfile, adapt_voice, f0_distance, profile_voice
from tests.utils import testdata_path as data_path  # alias: pytest would collect test*


def _wav(*parts: str, seconds: float | None = None) -> tuple[np.ndarray, int]:
    rate, data = wavfile.read(data_path(*parts))
    samples = data.astype(np.float32) / 32768.0
    if seconds is not None:
        samples = samples[: int(seconds * rate)]
    return samples, int(rate)


@pytest.fixture(scope="module")
def obama() -> VoiceProfile:
    return profile_voice(*_wav("video", "styletalk_Obama_clip2.wav", seconds=15.0))


@pytest.fixture(scope="module")
def librivox() -> VoiceProfile:
    return profile_voice(*_wav("speech", "pocketsphinx_librivox_0870.wav"))


@pytest.fixture(scope="module")
def piper_speech() -> tuple[np.ndarray, int]:
    # Noise off: Piper's prosody is otherwise random, and so would the test's margins be.
    tts = PiperTTS(noise_scale=0.0, noise_w_scale=0.0)
    samples, rate, _ = tts.synthesize("Ask not what your country can do for you. The quick brown fox jumps.")
    return samples, rate


@pytest.mark.parametrize("name", ["obama", "librivox"])
def test_male_speakers_have_plausible_profiles(name: str, request: pytest.FixtureRequest) -> None:
    profile: VoiceProfile = request.getfixturevalue(name)
    assert 80.0 <= profile.f0_median_hz <= 180.0
    assert profile.f0_q25_hz < profile.f0_median_hz < profile.f0_q75_hz
    assert 1.0 < profile.f0_iqr_st < 12.0
    assert 3.0 <= profile.speaking_rate_sps <= 7.0  # conversational/read English
    assert 0.3 <= profile.voiced_fraction <= 1.0
    assert 800.0 < profile.spectral_centroid_hz < 3000.0
    assert profile.spectral_tilt_db_oct < 0.0  # voices lose energy toward high frequencies
    assert len(profile.mel_envelope_db) == 24 and np.all(np.isfinite(profile.mel_envelope_db))


def test_librivox_speaking_rate_matches_its_transcript(librivox: VoiceProfile) -> None:
    # 31 syllables in the transcript over the measured speech time.
    assert librivox.speaking_rate_sps * librivox.speech_s == pytest.approx(31, abs=3)


def test_profile_json_round_trip(obama: VoiceProfile) -> None:
    data = json.loads(json.dumps(obama.to_dict()))
    again = VoiceProfile.from_dict(data)
    assert again.f0_median_hz == obama.f0_median_hz
    assert again.mel_envelope_db == pytest.approx(obama.mel_envelope_db, abs=1e-3)
    del data["f0_median_hz"]
    with pytest.raises(InputError, match="f0_median_hz"):
        VoiceProfile.from_dict(data)
    with pytest.raises(InputError):
        VoiceProfile.from_dict({**obama.to_dict(), "speech_s": "long"})
    with pytest.raises(InputError, match="24 bands"):
        VoiceProfile.from_dict({**obama.to_dict(), "mel_envelope_db": [0.0, 1.0]})


def test_f0_distance_is_in_semitones(obama: VoiceProfile, librivox: VoiceProfile) -> None:
    assert f0_distance(obama, obama) == 0.0
    expected = 12 * np.log2(obama.f0_median_hz / librivox.f0_median_hz)
    assert f0_distance(obama, librivox) == pytest.approx(expected) == pytest.approx(f0_distance(librivox, obama))


def test_adaptation_moves_f0_toward_the_target(piper_speech, obama: VoiceProfile) -> None:
    """Piper's voice (~105 Hz) toward Obama's (~125 Hz): about 3 semitones apart before."""
    samples, rate = piper_speech
    before = f0_distance(profile_voice(samples, rate), obama)
    for strength in (0.5, 1.0):
        adapted = adapt_voice(samples, rate, obama, strength=strength)
        assert adapted.shape == samples.shape and adapted.dtype == np.float32 and np.all(np.isfinite(adapted))
        assert np.max(np.abs(adapted)) == pytest.approx(np.max(np.abs(samples)), rel=1e-3)
        after = f0_distance(profile_voice(adapted, rate), obama)
        assert after < before, (strength, before, after)
        if strength == 1.0:
            assert after < 1.5, (before, after)


def test_strength_zero_and_out_of_range(piper_speech, librivox: VoiceProfile) -> None:
    samples, rate = piper_speech
    assert np.array_equal(adapt_voice(samples, rate, librivox, strength=0.0), samples)
    with pytest.raises(InputError):
        adapt_voice(samples, rate, librivox, strength=1.5)


def _short_voiced_blips(rate: int = 16000) -> np.ndarray:
    """Twenty 30 ms harmonic tones at 130 Hz, 40 ms apart: 0.6 s of pitch, none of it in a steady run."""
    t = np.arange(int(0.03 * rate)) / rate
    tone = sum(np.sin(2 * np.pi * 130.0 * k * t) / k for k in range(1, 12)) * np.hanning(t.size)
    blip = np.concatenate([tone, np.zeros(int(0.04 * rate))])
    return (0.3 * np.tile(blip, 20)).astype(np.float32)


def test_adaptation_needs_pitch_but_not_steady_runs(obama: VoiceProfile) -> None:
    """Short voiced stretches (as in a short sentence from Piper) can be re-pitched, though they are
    too unsteady to profile."""
    samples = _short_voiced_blips()
    with pytest.raises(SpeechError, match="no voiced speech"):
        profile_voice(samples, 16000)
    adapted = adapt_voice(samples, 16000, obama)
    assert adapted.shape == samples.shape and np.all(np.isfinite(adapted))
    assert np.max(np.abs(adapted)) == pytest.approx(np.max(np.abs(samples)), rel=1e-3)


@pytest.mark.parametrize(
    ("samples", "rate", "message"),
    [
        (np.zeros(0, dtype=np.float32), 16000, "empty"),
        (np.zeros(16000, dtype=np.float32), 16000, "silent"),
        (np.full(16000, np.nan, dtype=np.float32), 16000, "NaN"),
        (np.ones(16000, dtype=np.float32) * 0.1, 4000, "too low"),
        (np.ones(100, dtype=np.float32) * 0.1, 16000, "too short"),
        (np.random.default_rng(0).normal(0, 1e-5, 32000).astype(np.float32), 16000, "silent"),
    ],
)
def test_bad_audio_is_a_speech_error(samples: np.ndarray, rate: int, message: str, obama: VoiceProfile) -> None:
    for call in (lambda: profile_voice(samples, rate), lambda: adapt_voice(samples, rate, obama)):
        with pytest.raises(SpeechError, match=message) as err:
            call()
        assert err.value.error_id == "audio_processing"


def test_pitch_read_twice_as_fast_gives_harvests_frames_and_pitch() -> None:
    """The adaptation's cheaper pitch track (``_harvest`` at time scale 2): the same frames and times as
    harvest's, the same pitch on a steady voice gliding 110 -> 160 Hz."""
    from facecraft.speech.voice import _harvest

    rate = 22050
    t = np.arange(int(1.3 * rate)) / rate
    f0 = 110.0 + 50.0 * t / t[-1]
    phase = 2 * np.pi * np.cumsum(f0) / rate
    x = np.ascontiguousarray(sum(np.sin(k * phase) / k for k in range(1, 15)) * 0.2, dtype=np.float64)
    slow, t_slow = _harvest(x, rate, 1)
    fast, t_fast = _harvest(x, rate, 2)
    assert fast.shape == slow.shape and np.allclose(t_fast, t_slow)
    both = (slow > 0) & (fast > 0)
    assert both.sum() > 0.9 * (slow > 0).sum()
    assert np.median(np.abs(12 * np.log2(fast[both] / slow[both]))) < 0.2  # semitones


def test_with_a_mapping_a_short_sentence_is_moved_from_one_pitch_track(piper_speech, obama: VoiceProfile,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A live reply adapts with a mapping measured once, so a short piece needs only a little pitch: Piper's
    "Let me think." (35 loud pitched frames, under the 40 a profile needs) and its first half second (a live
    reply's first part) are re-synthesised toward the Face's voice after one pitch track at 2x time scale,
    where they used to keep the TTS voice after a second, full-cost track."""
    import facecraft.speech.voice as voice_module
    from facecraft.speech.voice import _harvest, hz_to_semitones, plan_voice

    mapping = plan_voice(*piper_speech, obama)
    samples, rate, _ = PiperTTS(noise_scale=0.0, noise_w_scale=0.0).synthesize("Let me think.")
    scales: list[int] = []

    def counted(x: np.ndarray, sample_rate: int, scale: int) -> tuple[np.ndarray, np.ndarray]:
        scales.append(scale)
        return _harvest(x, sample_rate, scale)

    monkeypatch.setattr(voice_module, "_harvest", counted)
    for piece in (samples, samples[: int(0.5 * rate)]):
        scales.clear()
        moved = adapt_voice(piece, rate, obama, mapping=mapping)
        assert scales == [2], "one pitch track, at the adaptation's time scale"
        assert moved.shape == piece.shape and np.all(np.isfinite(moved))
        before, after = (_harvest(np.ascontiguousarray(x, dtype=np.float64), rate, 1)[0] for x in (piece, moved))
        shift = float(np.median(hz_to_semitones(after[after > 0])) - np.median(hz_to_semitones(before[before > 0])))
        wanted = mapping.f0_new_median_st - mapping.f0_median_st
        assert abs(wanted) > 2.0 and shift * np.sign(wanted) > 1.0, (shift, wanted)  # moved the mapping's way
