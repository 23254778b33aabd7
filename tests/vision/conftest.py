"""Tracking of real clips, computed once per test session (MediaPipe runs are the slow part)."""

from __future__ import annotations

import pytest

from facecraft.vision import Tracks, track_video
from tests.utils import testdata_path as recording  # aliased: pytest would collect test*


@pytest.fixture(scope="session")
def grid_tracks() -> Tracks:
    """GRID s2 "set white with p two soon": 3 s, frontal, silence before and after the words."""
    return track_video(recording("speech", "grid_id2_vcd_swwp2s.mpg"))


@pytest.fixture(scope="session")
def obama_tracks() -> Tracks:
    """30 s of Obama speaking with pauses (256x256, 30 fps)."""
    return track_video(recording("video", "styletalk_Obama_clip2_muxed.mp4"), keep_raw=True)


@pytest.fixture(scope="session")
def german_tracks() -> Tracks:
    """First 6 s of the frontal news anchor at 512x512."""
    return track_video(recording("video", "mimictalk_German_20s.mp4"), end_s=6.0)


@pytest.fixture(scope="session")
def phone_tracks() -> Tracks:
    """First 2 s of the 1080x1920 HEVC phone clip (small face), decoded at 720 px."""
    return track_video(recording("video", "latentsync_demo3_vertical_hevc.mp4"), max_side=720, end_s=2.0)
