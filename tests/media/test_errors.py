"""Bad inputs raise MediaError with the error id of API.md, never an av/OS exception."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from facecraft.errors import MediaError
from facecraft.media import iter_frames, probe, read_audio
from tests.utils import testdata_path as recording  # aliased: pytest would collect test*


def _decode_all(path: Path) -> None:
    for _ in iter_frames(path):
        pass


def _expect(fn: Callable[[Path], object], path: Path, error_id: str) -> None:
    with pytest.raises(MediaError) as err:
        fn(path)
    assert err.value.error_id == error_id, err.value.message
    assert err.value.message


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "noise.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 200_000, dtype=np.uint8).tobytes())
    for fn in (probe, _decode_all, read_audio):
        _expect(fn, path, "video_format")


def test_missing_and_empty_files(tmp_path: Path) -> None:
    _expect(probe, tmp_path / "nope.mp4", "video_format")
    _expect(_decode_all, tmp_path / "nope.mp4", "video_format")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    _expect(probe, empty, "video_format")
    _expect(_decode_all, tmp_path, "video_format")  # a directory


def test_wav_renamed_mp4(tmp_path: Path) -> None:
    path = tmp_path / "speech.mp4"
    shutil.copy(recording("speech", "pocketsphinx_librivox_0870.wav"), path)
    info = probe(path)  # an audio-only file is described, not rejected: the caller decides
    assert info.video is None and info.audio is not None
    _expect(_decode_all, path, "video_format")
    assert read_audio(path).duration_s == pytest.approx(7.1, abs=0.05)


@pytest.mark.parametrize("photo", ["real3dportrait_Macron.png", "face_recognition_biden2.jpg"])
def test_still_image_is_not_a_video(tmp_path: Path, photo: str) -> None:
    path = tmp_path / ("photo.mp4" if photo.endswith("png") else photo)
    shutil.copy(recording("photo", photo), path)
    _expect(probe, path, "video_format")
    _expect(_decode_all, path, "video_format")


def test_truncated_mp4_index_at_end(tmp_path: Path) -> None:
    """Index (moov) after the data: cutting the file loses the index."""
    data = recording("video", "mimictalk_German_20s.mp4").read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) // 2])
    _expect(probe, path, "video_processing")
    _expect(_decode_all, path, "video_processing")


def test_truncated_mp4_index_first(tmp_path: Path) -> None:
    """Fast-start file (moov first): it opens, but the frames stop early."""
    data = recording("video", "styletalk_Obama_clip2_muxed.mp4").read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) // 2])
    assert probe(path).video is not None
    _expect(_decode_all, path, "video_processing")


def test_corrupted_middle_still_decodes_or_fails_cleanly(tmp_path: Path) -> None:
    data = bytearray(recording("video", "mimictalk_German_20s.mp4").read_bytes())
    rng = np.random.default_rng(1)
    start = len(data) // 3
    data[start:start + 50_000] = rng.integers(0, 256, 50_000, dtype=np.uint8).tobytes()
    path = tmp_path / "damaged.mp4"
    path.write_bytes(bytes(data))
    try:
        frames = sum(1 for _ in iter_frames(path, max_side=128))
    except MediaError as err:
        assert err.error_id == "video_processing"
    else:
        assert frames > 0  # FFmpeg conceals damaged macroblocks: still a video
