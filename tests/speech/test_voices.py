"""The stock voices (speech.voices): each speaks in its gender's pitch range with the synthesiser's own
phone and word timings, stays intelligible to the project's recogniser, and an unknown voice is a
clear error that lists the voices. Flite is a real dependency: missing, these tests fail on CI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facecraft.errors import InputError
from facecraft.speech.asr import PocketSphinxASR, word_error_rate
from facecraft.speech.flite import FliteTTS, flite_path, parse_segments
from facecraft.speech.tts import PiperTTS
from facecraft.speech.visemes import phone_to_viseme
from facecraft.speech.voice import hz_to_semitones, profile_voice, shift_voice
from facecraft.speech.voices import (
    DEFAULT_VOICE_ID,
    VOICES,
    ShiftedTTS,
    face_speaker,
    get_voice,
    tts_for,
    voice_available,
)
from tests.utils import REPO, missing_dependency

SENTENCES = REPO / "bench" / "data" / "voice_sentences.txt"  # bench/voices.py reads the same ones

F0_RANGE = {"female": (145.0, 260.0), "male": (75.0, 150.0)}
N_SENTENCES = 6
# bench/voices.py holds every voice within 5 WER points of joe-us over all 30 sentences; on these 6
# (~50 words) one word is 2 points, so the test's bound is looser.
WER_MARGIN = 0.10


@pytest.fixture(scope="module", autouse=True)
def _flite_installed() -> None:
    if flite_path() is None:
        missing_dependency("Debian's flite is not installed (scripts/system_deps.sh installs it)")


def read_sentences(path: Path = SENTENCES) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]


@pytest.fixture(scope="module")
def sentences() -> list[str]:
    return read_sentences()[:N_SENTENCES]


@pytest.fixture(scope="module")
def spoken(sentences: list[str]) -> dict[str, list[tuple[np.ndarray, int, object]]]:
    """Every voice's deterministic speech of the sentences: (samples, rate, alignment) per sentence."""
    out = {}
    for voice in VOICES:
        tts = tts_for(voice, deterministic=True)
        out[voice.voice_id] = [tts.synthesize(s) for s in sentences]
    return out


def test_the_catalogue_has_female_and_male_voices_and_resolves_aliases() -> None:
    ids = [v.voice_id for v in VOICES]
    assert len(ids) == len(set(ids)) and DEFAULT_VOICE_ID in ids
    others = [v for v in VOICES if v.voice_id != DEFAULT_VOICE_ID]
    assert {"female", "male"} <= {v.gender for v in others}
    assert get_voice(None).voice_id == DEFAULT_VOICE_ID
    assert get_voice("joe").voice_id == get_voice("en_US-joe-medium").voice_id == "joe-us"
    assert get_voice(" ADA-US ").voice_id == "ada-us"
    assert all(voice_available(v) for v in VOICES)


@pytest.mark.parametrize("name", ["nobody", "", "joe-uk"])
def test_an_unknown_voice_is_a_clear_error_listing_the_choices(name: str) -> None:
    if not name:
        assert get_voice(name).voice_id == DEFAULT_VOICE_ID  # empty means the default
        return
    with pytest.raises(InputError) as err:
        get_voice(name)
    assert err.value.error_id == "invalid_input"
    assert f"unknown voice {name!r}" in err.value.message
    assert all(v.voice_id in err.value.message for v in VOICES)


@pytest.mark.parametrize("voice", VOICES, ids=lambda v: v.voice_id)
def test_each_voice_speaks_in_its_range_with_timings(voice, spoken, sentences) -> None:  # noqa: ANN001
    runs = spoken[voice.voice_id]
    samples = np.concatenate([s for s, _, _ in runs])
    rate = runs[0][1]
    low, high = F0_RANGE[voice.gender]
    f0 = profile_voice(samples, rate).f0_median_hz
    assert low <= f0 <= high, f"{voice.voice_id}: F0 median {f0:.0f} Hz outside {low:.0f}-{high:.0f}"
    for (audio, sr, alignment), sentence in zip(runs, sentences):
        duration = audio.size / sr
        phones = alignment.phones
        assert alignment.source == "tts" and len(phones) >= len(sentence.split())
        starts = [p.start for p in phones]
        assert starts == sorted(starts) and all(p.end >= p.start for p in phones)
        assert abs(phones[-1].end - duration) < 0.05 and phones[0].start == 0.0
        visemes = {phone_to_viseme(p.symbol, strict=True) for p in phones}
        assert len(visemes - {"sil"}) >= 5, visemes
        words = [w.text for w in alignment.words]
        assert words == [w.strip(".,?!") for w in sentence.split()], words


def test_every_voice_is_about_as_intelligible_as_the_packaged_one(spoken, sentences) -> None:  # noqa: ANN001
    asr = PocketSphinxASR()
    reference = " ".join(sentences)

    def wer(voice_id: str) -> float:
        return word_error_rate(reference, " ".join(asr.transcribe(s, r).text for s, r, _ in spoken[voice_id]))

    base = wer(DEFAULT_VOICE_ID)
    worse = {v.voice_id: round(wer(v.voice_id), 3) for v in VOICES}
    assert all(w <= base + WER_MARGIN for w in worse.values()), (base, worse)


def test_shift_voice_moves_pitch_and_keeps_length() -> None:
    samples, rate, _ = PiperTTS(noise_scale=0.0, noise_w_scale=0.0).synthesize(
        "Thank you for calling, how can I help you today?")
    shifted = shift_voice(samples, rate, semitones=9.0, formants=1.18)
    assert shifted.shape == samples.shape and shifted.dtype == np.float32
    before, after = profile_voice(samples, rate), profile_voice(shifted, rate)
    moved = float(hz_to_semitones(after.f0_median_hz) - hz_to_semitones(before.f0_median_hz))
    assert 7.0 <= moved <= 10.5, moved
    assert after.spectral_centroid_hz > before.spectral_centroid_hz
    assert np.array_equal(shift_voice(samples, rate), samples)
    silence = np.zeros(rate, np.float32)
    assert np.array_equal(shift_voice(silence, rate, semitones=3.0), silence)
    for bad in ({"semitones": 13.0}, {"formants": 1.6}, {"intonation": 0.1}):
        with pytest.raises(InputError):
            shift_voice(samples, rate, **bad)


def test_a_short_word_is_shifted_too() -> None:
    tts = tts_for("ada-us", deterministic=True)
    samples, rate, alignment = tts.synthesize("Hi.")
    plain, _, _ = tts_for("joe-us", deterministic=True).synthesize("Hi.")
    assert samples.size == plain.size and alignment.phones
    assert not np.allclose(samples, plain, atol=1e-3)


def test_flite_segments_are_parsed_into_continuous_arpabet_phones() -> None:
    text = "pau:0.164 hh:0.255 ax:0.304 l:0.412 ow:0.523 pau:0.700\npau:0.100 axr:0.300 pau:0.400\n"
    phones = parse_segments(text)
    assert [p.symbol for p in phones] == ["SIL", "HH", "AH", "L", "OW", "SIL", "SIL", "ER", "SIL"]
    assert phones[0].start == 0.0 and phones[4].end == pytest.approx(0.523)
    assert phones[6].start == pytest.approx(0.7) and phones[-1].end == pytest.approx(1.1)
    assert parse_segments("no timings here") == []


def test_flite_refuses_an_unknown_voice_and_speaks_a_known_one() -> None:
    with pytest.raises(InputError, match="unknown flite voice"):
        FliteTTS("nobody")
    samples, rate, alignment = FliteTTS("slt").synthesize("It's 12 degrees. Dr. Smith is here.")
    assert rate == 16000 and samples.size > rate
    assert [w.text for w in alignment.words] == ["It's", "12", "degrees", "Doctor", "Smith", "is", "here"]


def test_a_photo_face_speaks_its_stock_voice_and_a_video_face_adapts() -> None:
    tts, adapt = face_speaker({"source": {"kind": "stock", "voice_name": "slt-us"}})
    assert isinstance(tts, FliteTTS) and not adapt
    tts, adapt = face_speaker({"source": {"kind": "stock", "voice_name": "ada-us"}})
    assert isinstance(tts, ShiftedTTS) and not adapt
    tts, adapt = face_speaker({"seconds": 20.0})  # built from video: the default voice, adapted
    assert isinstance(tts, PiperTTS) and adapt
    # A voice this version lacks: the default voice, adapted toward the profile the bundle recorded.
    tts, adapt = face_speaker({"source": {"kind": "stock", "voice_name": "from-a-later-version"}})
    assert isinstance(tts, PiperTTS) and adapt


def test_bench_sentences_are_kept_in_the_repo() -> None:
    assert len(read_sentences()) >= 30
