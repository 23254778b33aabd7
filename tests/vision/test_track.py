"""track_video on real recordings: presence, counts, pose, speech, blinks, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import binary_erosion, uniform_filter1d

from facecraft.errors import VisionError
from facecraft.media import iter_frames, read_audio
from facecraft.vision import Tracks, track_frames
from tests.utils import testdata_path as recording  # aliased: pytest would collect test*
from tests.vision.lag import fractional_lag, integer_lag


def _check_shapes(tracks: Tracks) -> None:
    n = len(tracks)
    assert tracks.landmarks.shape == (n, 478, 3) and tracks.landmarks.dtype == np.float32
    for name in ("present", "face_count", "aperture", "mouth_width", "eye_open", "brow", "teeth", "sharpness",
                 "luminance"):
        assert getattr(tracks, name).shape == (n,), name
    assert tracks.box.shape == (n, 4) and tracks.pose.shape == (n, 3)
    assert np.all(np.diff(tracks.times) > 0)


def test_frontal_clips_are_tracked_with_one_face(grid_tracks: Tracks, german_tracks: Tracks) -> None:
    for tracks, size in ((grid_tracks, (360, 288)), (german_tracks, (512, 512))):
        _check_shapes(tracks)
        assert (tracks.width, tracks.height) == size
        assert tracks.present.all()
        assert np.all(tracks.face_count == 1)
        x0, y0, x1, y1 = np.median(tracks.box, axis=0)
        assert 0 <= x0 < x1 <= size[0] and 0 <= y0 < y1 <= size[1]
        assert (y1 - y0) > 0.3 * size[1]
        assert np.all(tracks.landmarks[:, :, 0] > -5) and np.all(tracks.landmarks[:, :, 0] < size[0] + 5)


def test_pose_is_near_frontal_on_frontal_clips(grid_tracks: Tracks, german_tracks: Tracks) -> None:
    for tracks in (grid_tracks, german_tracks):
        yaw, pitch, roll = np.median(tracks.pose, axis=0)
        assert abs(yaw) < 10 and abs(pitch) < 12 and abs(roll) < 8, (yaw, pitch, roll)


def test_pose_follows_a_head_turn(obama_tracks: Tracks) -> None:
    # Obama turns toward the image right around 4.4 s (frame 132) and back left around 3 s (frame 90).
    assert obama_tracks.pose[132, 0] > 6
    assert obama_tracks.pose[90, 0] < -3
    # The nose tip moves the same way relative to the eye centre.
    lm = obama_tracks.landmarks
    offset = lm[:, 1, 0] - 0.5 * (lm[:, 33, 0] + lm[:, 263, 0])
    assert np.corrcoef(offset, obama_tracks.pose[:, 0])[0, 1] > 0.8


def test_small_face_on_the_phone_clip(phone_tracks: Tracks) -> None:
    _check_shapes(phone_tracks)
    assert (phone_tracks.width, phone_tracks.height) == (405, 720)
    assert phone_tracks.present.mean() > 0.95
    height = np.nanmedian(phone_tracks.box[:, 3] - phone_tracks.box[:, 1])
    assert 0.05 * 720 < height < 0.25 * 720  # the face is about a tenth of the frame height


def test_mouth_opens_for_words_and_closes_after(grid_tracks: Tracks) -> None:
    # GRID .align: words from 0.49 s to 2.21 s, silence (mouth closed) from 2.21 s.
    t = grid_tracks.times
    words = (t > 0.55) & (t < 2.15)
    after = t > 2.4
    assert np.median(grid_tracks.aperture[words]) > 0.04
    assert np.median(grid_tracks.aperture[after]) < 0.02


def test_aperture_and_mouth_motion_are_higher_while_speaking(obama_tracks: Tracks) -> None:
    audio = read_audio(recording("video", "styletalk_Obama_clip2_muxed.mp4"))
    hop = int(round(audio.sample_rate / obama_tracks.fps))
    n = min(len(obama_tracks), len(audio.samples) // hop)
    power = np.mean(audio.samples[: n * hop].reshape(n, hop) ** 2, axis=1)
    level = uniform_filter1d(10 * np.log10(power + 1e-10), 5)
    threshold = np.percentile(level, 95) - 30
    silent = binary_erosion(level < threshold, np.ones(int(0.3 * obama_tracks.fps), bool))  # pauses ≥ 0.3 s
    speaking = level > threshold + 10
    assert silent.sum() > 30 and speaking.sum() > 300
    aperture = obama_tracks.aperture[:n]
    motion = np.abs(np.diff(aperture, prepend=aperture[0]))
    assert aperture[speaking].mean() > aperture[silent].mean()
    assert motion[speaking].mean() > 2 * motion[silent].mean()


def _blinks(eye_open: np.ndarray, fps: float) -> int:
    """Number of separate dips of eye openness below 60% of its median."""
    closed = eye_open < 0.6 * np.nanmedian(eye_open)
    starts = np.flatnonzero(np.diff(closed.astype(int)) == 1)
    return int(len(starts) + closed[0])


def test_blinks_are_found(grid_tracks: Tracks, obama_tracks: Tracks) -> None:
    assert _blinks(grid_tracks.eye_open, grid_tracks.fps) >= 2  # 3 blinks in 3 s on this clip
    assert 5 <= _blinks(obama_tracks.eye_open, obama_tracks.fps) <= 30
    assert 0.25 < np.median(grid_tracks.eye_open) < 0.45


def test_pixel_features_are_plausible(german_tracks: Tracks, obama_tracks: Tracks) -> None:
    for tracks in (german_tracks, obama_tracks):
        assert np.all((tracks.teeth >= 0) & (tracks.teeth <= 1))
        assert 60 < np.median(tracks.luminance) < 200
        assert np.median(tracks.sharpness) > 20
        speaking = tracks.aperture > np.percentile(tracks.aperture, 75)
        closed = tracks.aperture < np.percentile(tracks.aperture, 10)
        assert tracks.teeth[speaking].mean() > tracks.teeth[closed].mean()


def test_side_by_side_video_has_two_faces() -> None:
    left = iter_frames(recording("video", "styletalk_Obama_clip2.mp4"), end_s=1.0)
    right = iter_frames(recording("video", "mimictalk_German_20s.mp4"), end_s=1.0, max_side=256)
    frames = []
    for a, b in zip(left, right):
        a.image = np.hstack([a.image, b.image])
        frames.append(a)
    tracks = track_frames(frames, fps=25.0, width=512, height=256)
    assert np.mean(tracks.face_count == 2) > 0.9
    assert tracks.present.all()


def test_tracks_save_and_load(tmp_path: Path, grid_tracks: Tracks) -> None:
    path = tmp_path / "tracks.npz"
    grid_tracks.save(path)
    back = Tracks.load(path)
    assert (back.fps, back.width, back.height) == (grid_tracks.fps, grid_tracks.width, grid_tracks.height)
    assert np.array_equal(back.landmarks, grid_tracks.landmarks)
    assert np.array_equal(back.aperture, grid_tracks.aperture, equal_nan=True)
    assert np.array_equal(back.blendshapes, grid_tracks.blendshapes)
    assert np.array_equal(back.transform, grid_tracks.transform)
    assert back.blendshapes.shape == (len(grid_tracks), 52) and np.isfinite(back.blendshapes).all()
    assert set(back.extra) == set(grid_tracks.extra)


def test_tracks_of_the_legacy_tracker_do_not_load(tmp_path: Path, grid_tracks: Tracks) -> None:
    """A version-1 tracks.npz (no version, no blendshapes) is refused with its own error id."""
    path = tmp_path / "tracks.npz"
    grid_tracks.save(path)
    with np.load(path) as data:
        old = {k: data[k] for k in data.files if k not in ("blendshapes", "transform")}
    old["meta"] = old["meta"][:3]
    np.savez_compressed(path, **old)
    with pytest.raises(VisionError) as info:
        Tracks.load(path)
    assert info.value.error_id == "tracks_version" and "version 1" in info.value.message


def test_tracks_built_without_blendshapes_fill_them_with_nan() -> None:
    n = 3
    tracks = Tracks(fps=25.0, width=8, height=8, times=np.arange(n) / 25, present=np.zeros(n, bool),
                    face_count=np.zeros(n, int), landmarks=np.full((n, 478, 3), np.nan, np.float32),
                    box=np.full((n, 4), np.nan), pose=np.full((n, 3), np.nan), aperture=np.full(n, np.nan),
                    mouth_width=np.full(n, np.nan), eye_open=np.full(n, np.nan), brow=np.full(n, np.nan),
                    teeth=np.full(n, np.nan), sharpness=np.full(n, np.nan), luminance=np.full(n, np.nan))
    assert tracks.blendshapes.shape == (n, 52) and np.isnan(tracks.blendshapes).all()
    assert tracks.transform.shape == (n, 4, 4) and np.isnan(tracks.transform).all()
    assert np.isnan(tracks.blendshape("jawOpen")).all()
    with pytest.raises(KeyError):
        tracks.blendshape("smile")


def test_frames_without_a_face_are_absent_and_nan() -> None:
    frames = list(iter_frames(recording("video", "styletalk_Obama_clip2.mp4"), end_s=25 / 30))
    for frame in frames[10:15]:
        frame.image = np.full_like(frame.image, 128)
    tracks = track_frames(frames, fps=30.0, width=256, height=256)
    expected = np.ones(25, bool)
    expected[10:15] = False
    assert np.array_equal(tracks.present, expected)
    assert np.array_equal(tracks.face_count, expected.astype(int))
    for name in ("aperture", "eye_open", "teeth", "sharpness", "luminance"):
        values = getattr(tracks, name)
        assert np.isnan(values[~expected]).all() and np.isfinite(values[expected]).all(), name
    assert np.isnan(tracks.landmarks[~expected]).all() and np.isnan(tracks.pose[~expected]).all()
    assert np.isnan(tracks.blendshapes[~expected]).all() and np.isfinite(tracks.blendshapes[expected]).all()
    assert np.isnan(tracks.transform[~expected]).all()


def test_no_frames_give_empty_tracks() -> None:
    tracks = track_frames([], fps=25.0, width=64, height=64)
    assert len(tracks) == 0 and tracks.landmarks.shape == (0, 478, 3)
    assert tracks.blendshapes.shape == (0, 52) and tracks.transform.shape == (0, 4, 4)


def test_real_aperture_is_not_delayed(obama_tracks: Tracks) -> None:
    raw = obama_tracks.extra["aperture_raw"]
    smooth = obama_tracks.aperture
    assert integer_lag(raw, smooth) == 0
    assert abs(fractional_lag(raw, smooth)) < 0.1
    assert np.corrcoef(raw, smooth)[0, 1] > 0.95
    # Frame-to-frame jitter of the rigid points (nose bridge) drops.
    raw_lm = obama_tracks.extra["landmarks_raw"]
    jitter_raw = np.abs(np.diff(np.diff(raw_lm[:, 168, :2], axis=0), axis=0)).mean()
    jitter = np.abs(np.diff(np.diff(obama_tracks.landmarks[:, 168, :2], axis=0), axis=0)).mean()
    assert jitter < 0.7 * jitter_raw
