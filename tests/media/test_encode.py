"""The mp4 writer: H.264 yuv420p + AAC, in sync, faithful, seekable with a short GOP."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from facecraft.errors import InputError
from facecraft.media import Audio, VideoWriter, encode_video, iter_frames, probe, read_audio
from tests.utils import testdata_path as recording  # aliased: pytest would collect test*


@pytest.fixture(scope="module")
def source_frames() -> list[np.ndarray]:
    path = recording("video", "mimictalk_German_20s.mp4")
    return [f.image for f in iter_frames(path, end_s=2.0, max_side=256)]


def test_writer_round_trip_with_audio(tmp_path: Path, source_frames: list[np.ndarray]) -> None:
    audio = read_audio(recording("video", "mimictalk_German_20s.mp4"), sample_rate=22050)
    audio = Audio(samples=audio.samples[: 2 * 22050], sample_rate=22050)
    path = tmp_path / "out.mp4"
    with VideoWriter(path, fps=25, width=256, height=256, audio=audio) as writer:
        for image in source_frames:
            writer.write(image)
    assert writer.frames_written == 50
    info = probe(path)
    assert info.video is not None and info.audio is not None
    assert (info.video.codec, info.video.pix_fmt, info.video.fps) == ("h264", "yuv420p", 25.0)
    assert (info.audio.codec, info.audio.sample_rate) == ("aac", 22050)
    decoded = [f.image for f in iter_frames(path)]
    assert len(decoded) == 50
    error = np.mean([np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(decoded, source_frames)])
    assert error < 4.0
    back = read_audio(path, sample_rate=22050)
    # Both last 2 s (AAC pads the end to whole 1024-sample frames; the start is trimmed exactly).
    assert 2.0 <= back.duration_s <= 2.0 + 2 * 1024 / 22050
    n = min(len(back.samples), len(audio.samples))
    assert np.corrcoef(back.samples[:n], audio.samples[:n])[0, 1] > 0.98  # no shift between them


def test_audio_onset_lands_on_the_same_time(tmp_path: Path) -> None:
    rate, fps = 16000, 25
    t = np.arange(rate * 2) / rate
    clicks = (0.5 * np.sin(2 * np.pi * 1000 * t) * ((t % 1.0) >= 0.6) * ((t % 1.0) < 0.7)).astype(np.float32)
    frames = [np.full((64, 64, 3), 255 if (i / fps) % 1.0 >= 0.6 and (i / fps) % 1.0 < 0.7 else 0, np.uint8)
              for i in range(2 * fps)]
    path = encode_video(frames, tmp_path / "sync.mp4", fps=fps, audio=Audio(clicks, rate))
    bright = [f.time_s for f in iter_frames(path) if f.image.mean() > 128]
    sound = read_audio(path).samples
    loud = np.flatnonzero(np.abs(sound) > 0.1) / rate
    assert bright[0] == pytest.approx(0.6, abs=1e-3)
    assert loud[0] == pytest.approx(bright[0], abs=0.005)


def test_audio_set_after_the_frames_is_muxed_at_close(tmp_path: Path) -> None:
    rate, fps = 22050, 25
    t = np.arange(rate * 2) / rate
    beep = (0.5 * np.sin(2 * np.pi * 800 * t) * (t >= 1.2)).astype(np.float32)
    path = tmp_path / "late.mp4"
    with VideoWriter(path, fps=fps, width=64, height=48) as writer:
        for i in range(2 * fps):
            writer.write(np.full((48, 64, 3), 255 if i >= 1.2 * fps else 0, np.uint8))
        writer.audio = Audio(beep, rate)
    info = probe(path)
    assert info.audio is not None and info.audio.codec == "aac"
    assert info.video is not None and info.video.frame_count == 50
    assert not list(tmp_path.glob("*.tmp"))
    bright = [f.time_s for f in iter_frames(path) if f.image.mean() > 128]
    sound = read_audio(path, sample_rate=rate).samples
    assert bright[0] == pytest.approx(1.2, abs=1e-3)
    assert np.flatnonzero(np.abs(sound) > 0.1)[0] / rate == pytest.approx(1.2, abs=0.005)


def test_audio_and_video_packets_are_interleaved(tmp_path: Path, source_frames: list[np.ndarray]) -> None:
    audio = Audio(samples=np.zeros(16000 * 2, np.float32), sample_rate=16000)
    path = encode_video(source_frames, tmp_path / "x.mp4", fps=25, audio=audio)
    with av.open(str(path)) as container:
        kinds = [p.stream.type for p in container.demux() if p.size]
    first_audio = kinds.index("audio")
    assert first_audio < len(kinds) // 3  # audio starts near the beginning, not after all video


def test_odd_size_is_cropped_to_even(tmp_path: Path) -> None:
    frames = [np.full((101, 75, 3), 128, np.uint8) for _ in range(5)]
    info = probe(encode_video(frames, tmp_path / "odd.mp4", fps=10))
    assert info.video is not None and (info.video.width, info.video.height) == (74, 100)


def test_short_gop_puts_keyframes_every_gop_frames(tmp_path: Path, source_frames: list[np.ndarray]) -> None:
    path = encode_video(source_frames, tmp_path / "gop.mp4", fps=25, gop=10)
    with av.open(str(path)) as container:
        keys = [i for i, p in enumerate(p for p in container.demux(video=0) if p.size) if p.is_keyframe]
    assert keys == [0, 10, 20, 30, 40]


def test_no_frames_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        encode_video([], tmp_path / "none.mp4", fps=25)


def test_unusual_sample_rate_is_resampled_for_aac(tmp_path: Path) -> None:
    rate = 20000
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)).astype(np.float32)
    frames = [np.zeros((32, 32, 3), np.uint8)] * 10
    info = probe(encode_video(frames, tmp_path / "rate.mp4", fps=10, audio=Audio(tone, rate)))
    assert info.audio is not None and info.audio.sample_rate == 22050
