"""Pixel limits are enforced from headers, before any frame is allocated: a 431 KB PNG of 20000x20000
pixels and an 8192x8192 video are refused with ``video_format`` and leave resident memory where it was.

Memory is measured in a fresh interpreter (modules imported and a small input refused first), so what
earlier tests left in a worker's heap, or what the codecs set up once, cannot move the figure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from bench.hostile import huge_video, png_bomb, tiny_video

from facecraft import media
from facecraft.errors import MediaError
from facecraft.faces.checks import check_image, check_video

# Decoding either input would take >= 400 MB; what the refusal may cost (the test's own allocations,
# allocator noise) stays far below.
MAX_GROWTH_MB = 60.0


_MEASURE = """
import os
import sys
from pathlib import Path
from facecraft import media
from facecraft.errors import MediaError
from facecraft.faces.checks import check_image, check_video
from facecraft.service.isolation import rss_mb

def refuse(path):
    if path.suffix == ".png":
        for source in (path.read_bytes(), path):
            try:
                media.read_image(source)
            except MediaError:
                pass
        check_image(path.read_bytes())
    else:
        for read in (media.probe, lambda p: next(media.iter_frames(p))):
            try:
                read(path)
            except MediaError:
                pass
        check_video(path)

# The same refusal of a small input first (a 16x16 PNG under a 100-pixel limit, a 1x1 video) loads
# the codecs and whatever else the libraries set up once: what is measured after it is the cost of
# refusing the big input itself, peak included, so a decode that was freed again still shows.
saved = media.pixel_limits()
media.set_pixel_limits(max_image_pixels=100)
refuse(Path(sys.argv[2]))
media.set_pixel_limits(**vars(saved))
rss0, peak0 = rss_mb(os.getpid())
refuse(Path(sys.argv[1]))
rss1, peak1 = rss_mb(os.getpid())
print(max(rss1 - rss0, peak1 - peak0))
"""


def _growth_mb(path: Path, small: Path) -> float:
    """Resident (or peak) memory a fresh interpreter gains refusing ``path`` every way the tests below
    do, after refusing the same-kind ``small`` input the same way."""
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(path), str(small)], capture_output=True,
                          text=True, timeout=300, check=True)
    return float(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def bomb() -> bytes:
    data = png_bomb(20000)
    assert len(data) < 1_000_000  # a small file ...
    return data


def test_png_bomb_refused_before_decoding(bomb: bytes, tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb)
    for source in (bomb, path):
        with pytest.raises(MediaError) as err:
            media.read_image(source)
        assert err.value.error_id == "video_format" and "20000x20000" in err.value.message
    report = check_image(bomb)
    assert not report.passed and report.checks[-1].id == "video_format"
    small = tmp_path / "small.png"
    small.write_bytes(png_bomb(16))
    assert (grown := _growth_mb(path, small)) < MAX_GROWTH_MB, f"RSS grew by {grown:.0f} MB"


def test_huge_video_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "huge.mp4"
    path.write_bytes(huge_video(tmp_path))
    for read in (media.probe, lambda p: next(media.iter_frames(p))):
        with pytest.raises(MediaError) as err:
            read(path)
        assert err.value.error_id == "video_format" and "8192x8192" in err.value.message
    report = check_video(path)
    assert [c.id for c in report.failures()] == ["video_format"]
    small = tmp_path / "tiny.mp4"
    small.write_bytes(tiny_video(tmp_path))
    assert (grown := _growth_mb(path, small)) < MAX_GROWTH_MB, f"RSS grew by {grown:.0f} MB"


def test_one_pixel_video_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "tiny.mp4"
    path.write_bytes(tiny_video(tmp_path))
    with pytest.raises(MediaError) as err:
        media.probe(path)
    assert err.value.error_id == "video_format" and "1x1" in err.value.message


def test_limits_are_configurable(tmp_path: Path) -> None:
    path = tmp_path / "tiny.mp4"
    path.write_bytes(tiny_video(tmp_path))
    saved = media.pixel_limits()
    try:
        media.set_pixel_limits(min_side=1)
        assert media.probe(path).video.width == 1
        media.set_pixel_limits(max_image_pixels=100)
        with pytest.raises(MediaError):
            media.read_image(png_bomb(16))
    finally:
        media.set_pixel_limits(**vars(saved))


def test_audio_reading_stops_past_its_cap(tmp_path: Path) -> None:
    import numpy as np

    path = tmp_path / "long.wav"
    media.write_wav(path, np.zeros(16000 * 60, np.float32), 16000)
    audio = media.read_audio(path, max_s=5.0)
    assert 5.0 < audio.duration_s < 7.5
