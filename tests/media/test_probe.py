"""probe() on the real recordings and on rotated files made with PyAV."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from facecraft.media import iter_frames, probe
from tests.utils import testdata_path as recording  # aliased: pytest would collect test*

# name: (codec, width, height, fps, has_audio, duration)
VIDEOS = {
    "video/styletalk_Obama_clip2.mp4": ("h264", 256, 256, 30.0, False, 30.07),
    "video/styletalk_Obama_clip2_muxed.mp4": ("h264", 256, 256, 30.0, True, 30.07),
    "video/mimictalk_German_20s.mp4": ("h264", 512, 512, 25.0, True, 20.02),
    "video/sadtalker_WDA_KatieHill_000.mp4": ("mpeg4", 512, 512, 25.0, True, 8.06),
    "video/videoretalking_face_2.mp4": ("h264", 844, 844, 25.0, True, 5.04),
    "video/edtalk_uncrop_Obama.mp4": ("h264", 450, 450, 25.0, True, 20.02),
    "video/latentsync_demo3_vertical_hevc.mp4": ("hevc", 1080, 1920, 30.0, True, 20.02),
    "speech/grid_id2_vcd_swwp2s.mpg": ("mpeg1video", 360, 288, 25.0, True, 3.0),
}


@pytest.mark.parametrize("name", sorted(VIDEOS))
def test_probe_real_videos(name: str) -> None:
    codec, width, height, fps, has_audio, duration = VIDEOS[name]
    info = probe(recording(*name.split("/")))
    assert info.video is not None
    assert info.video.codec == codec
    assert (info.video.width, info.video.height) == (width, height)
    assert info.video.fps == pytest.approx(fps, abs=0.01)
    assert info.video.rotation == 0
    assert info.video.frame_count == pytest.approx(duration * fps, rel=0.03)
    assert info.duration_s == pytest.approx(duration, abs=0.1)
    assert (info.audio is not None) == has_audio
    assert info.size_bytes == Path(info.path).stat().st_size


def test_probe_audio_only_file() -> None:
    info = probe(recording("speech", "whisper_jfk.flac"))
    assert info.video is None
    assert info.audio is not None and info.audio.codec == "flac"
    assert info.audio.sample_rate == 44100 and info.audio.channels == 2
    assert info.duration_s == pytest.approx(11.0, abs=0.1)


def _rotated_clip(path: Path, ccw_degrees: int) -> np.ndarray:
    """A 64x32 clip whose display matrix says "rotate ``ccw_degrees``"; returns its stored first frame."""
    image = np.zeros((32, 64, 3), np.uint8)
    image[:, :16] = (255, 0, 0)  # red band on the stored left edge
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 32, "yuv420p"
        stream.set_display_rotation(ccw_degrees)
        for _ in range(3):
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return image


@pytest.mark.parametrize(("ccw", "clockwise"), [(90, 270), (-90, 90), (180, 180)])
def test_rotation_is_reported_and_frames_are_upright(tmp_path: Path, ccw: int, clockwise: int) -> None:
    path = tmp_path / "rotated.mp4"
    _rotated_clip(path, ccw)
    info = probe(path)
    assert info.video is not None and info.video.rotation == clockwise
    expected = (32, 64) if clockwise == 180 else (64, 32)
    assert (info.video.width, info.video.height) == expected[::-1]
    frames = list(iter_frames(path))
    assert len(frames) == 3
    image = frames[0].image
    assert image.shape[:2] == expected
    # Where the red band (stored left edge) ends up tells the direction of the rotation.
    red = image[..., 0].astype(int) - image[..., 2].astype(int) > 100
    band_at = {"top": red[0].mean(), "bottom": red[-1].mean(),
               "left": red[:, 0].mean(), "right": red[:, -1].mean()}
    expected_side = {90: "top", 270: "bottom", 180: "right"}[clockwise]
    assert max(band_at, key=band_at.get) == expected_side
