"""Voice activity on real recordings: speech where the transcript says, none in silence."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.io import wavfile
from scipy.signal import resample_poly

from facecraft.errors import InputError, SpeechError
from facecraft.speech.vad import SpeechTracker, VadEvent, detect_speech, speech_frames, speech_mask
from tests.utils import testdata_path


def _wav(*parts: str) -> tuple[np.ndarray, int]:
    rate, data = wavfile.read(testdata_path(*parts))
    return data.astype(np.float32) / 32768.0, int(rate)


@pytest.fixture(scope="module")
def grid() -> tuple[np.ndarray, int]:
    return _wav("speech", "grid_id2_vcd_swwp2s_16k.wav")


@pytest.fixture(scope="module")
def grid_words() -> list[tuple[float, float]]:
    path = testdata_path("speech", "grid_id2_vcd_swwp2s.align")
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    return [(int(a) / 25000, int(b) / 25000) for a, b, w in rows if w != "sil"]


def test_grid_speech_covers_the_transcribed_words(grid, grid_words) -> None:
    samples, rate = grid
    segments = detect_speech(samples, rate)
    assert len(segments) == 1, segments
    seg = segments[0]
    first, last = grid_words[0][0], grid_words[-1][1]
    # Covers every word, with at most ~0.3 s of slack at either end.
    assert first - 0.3 <= seg.start <= first + 0.03
    assert last - 0.03 <= seg.end <= last + 0.3


@pytest.fixture(scope="module")
def obama() -> tuple[np.ndarray, int]:
    return _wav("video", "styletalk_Obama_clip2.wav")


def test_obama_pauses_split_the_speech(obama) -> None:
    samples, rate = obama
    segments = detect_speech(samples, rate)
    speech = sum(s.duration for s in segments)
    # SOURCES.md: 30 s with about 4.4 s of pauses.
    assert 3 <= len(segments) <= 10
    assert 22.0 <= speech <= 28.0
    assert all(b.start > a.end for a, b in zip(segments, segments[1:]))
    # Without hangover the short pauses inside phrases show up as extra segments.
    raw = detect_speech(samples, rate, hangover_ms=0, min_speech_ms=0)
    assert len(raw) > len(segments)


def test_no_speech_in_synthetic_silence() -> None:
    rate = 16000
    assert detect_speech(np.zeros(3 * rate, np.float32), rate) == []
    hiss = np.random.default_rng(0).normal(0.0, 3e-4, 3 * rate).astype(np.float32)
    assert detect_speech(hiss, rate) == []
    assert not speech_mask(hiss, rate, frame_s=1 / 25).any()


def test_other_sample_rates_give_the_same_segments(grid) -> None:
    samples, rate = grid
    ref = detect_speech(samples, rate)
    up = resample_poly(samples, 441, 160).astype(np.float32)  # 44.1 kHz
    down = resample_poly(samples, 1, 2).astype(np.float32)  # 8 kHz
    for other, other_rate in ((up, 44100), (down, 8000)):
        segs = detect_speech(other, other_rate)
        assert len(segs) == 1
        assert abs(segs[0].start - ref[0].start) <= 0.061
        assert abs(segs[0].end - ref[0].end) <= 0.061


def test_speech_mask_has_one_value_per_video_frame(grid, grid_words) -> None:
    samples, rate = grid
    fps = 25.0
    mask = speech_mask(samples, rate, frame_s=1 / fps)
    assert mask.dtype == bool
    assert len(mask) == int(np.ceil(len(samples) / rate * fps - 1e-9))
    mid_word = int(((grid_words[2][0] + grid_words[2][1]) / 2) * fps)
    assert mask[mid_word]
    assert not mask[:3].any() and not mask[-5:].any()
    # kwargs go through to detect_speech
    assert speech_mask(samples, rate, frame_s=1 / fps, min_speech_ms=5000).sum() == 0


def test_raw_frames_are_30ms(grid) -> None:
    samples, rate = grid
    flags = speech_frames(samples, rate)
    assert len(flags) == int(np.ceil(len(samples) / rate / 0.03))
    assert 0 < flags.sum() < len(flags)


@pytest.mark.parametrize(
    ("samples", "rate", "message"),
    [
        (np.zeros(0, np.float32), 16000, "empty"),
        (np.full(16000, np.nan, np.float32), 16000, "NaN"),
        (np.zeros(4000, np.float32), 4000, "too low"),
        (np.zeros((2, 16000), np.float32), 16000, "mono"),
        (np.array(["a", "b"]), 16000, "numbers"),
    ],
)
def test_bad_audio_is_a_speech_error(samples, rate, message) -> None:
    with pytest.raises(SpeechError, match=message) as info:
        detect_speech(samples, rate)
    assert info.value.error_id == "audio_processing"


def test_bad_options_are_input_errors(grid) -> None:
    samples, rate = grid
    with pytest.raises(InputError):
        detect_speech(samples, rate, aggressiveness=5)
    with pytest.raises(InputError):
        speech_mask(samples, rate, frame_s=0)


def _events(samples: np.ndarray, rate: int, sizes: list[int]) -> tuple[list[VadEvent], SpeechTracker]:
    tracker = SpeechTracker(rate)
    events, pos, k = [], 0, 0
    while pos < len(samples):
        size = sizes[k % len(sizes)]
        events += tracker.push(samples[pos : pos + size])
        pos, k = pos + size, k + 1
    return events, tracker


def test_live_tracker_finds_the_same_turns_as_the_offline_vad(obama) -> None:
    samples, rate = obama
    offline = detect_speech(samples, rate)
    events, tracker = _events(samples, rate, [320])  # 20 ms chunks, as from a WebRTC track
    starts = [e.time_s for e in events if e.kind == "start"]
    ends = [e.time_s for e in events if e.kind == "end"]
    assert [e.kind for e in events] == ["start", "end"] * len(ends) + ["start"] * (len(starts) - len(ends))
    assert starts == pytest.approx([s.start for s in offline], abs=0.001)
    assert ends == pytest.approx([s.end for s in offline if s.end < len(samples) / rate - 0.3], abs=0.001)
    assert tracker.in_speech  # the clip ends mid-sentence
    # odd chunk sizes and another sample rate give the same turns (within a frame or two)
    up = resample_poly(samples, 3, 1).astype(np.float32)
    other, _ = _events(up, 48000, [1000, 37, 4800, 999])
    assert [e.kind for e in other] == [e.kind for e in events]
    assert [e.time_s for e in other] == pytest.approx([e.time_s for e in events], abs=0.061)


def test_live_tracker_stays_quiet_in_silence() -> None:
    events, tracker = _events(np.zeros(48000, np.float32), 16000, [480])
    assert events == [] and not tracker.in_speech
    assert tracker.push(np.zeros(0, np.float32)) == []
    with pytest.raises(SpeechError):
        SpeechTracker(16000).push(np.full(480, np.nan, np.float32))
