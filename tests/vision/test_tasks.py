"""The MediaPipe Tasks layer: quiet, square inputs, its own clock, blendshape names, clear errors."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import numpy as np
import pytest

from facecraft.errors import VisionError
from facecraft.media import iter_frames, read_image
from facecraft.media.types import Frame
from facecraft.vision import BLENDSHAPE_NAMES, FaceTracker, track_frames
from facecraft.vision.tasks import FRAME_SPACING_MS, Landmarker, native_log_captured
from tests.utils import testdata_path as recording  # aliased: pytest would collect test*


def test_blendshape_names_are_the_models_categories() -> None:
    """BLENDSHAPE_NAMES is the landmarker's own category order (index = output position)."""
    from mediapipe import Image, ImageFormat
    from mediapipe.tasks.python import BaseOptions, vision

    from facecraft.models import model_path

    image = read_image(recording("photo", "real3dportrait_Macron.png"))
    base = BaseOptions(model_asset_path=str(model_path("face_landmarker")))
    options = vision.FaceLandmarkerOptions(base_options=base, output_face_blendshapes=True)
    with native_log_captured(), vision.FaceLandmarker.create_from_options(options) as task:
        result = task.detect(Image(image_format=ImageFormat.SRGB, data=image))
    categories = result.face_blendshapes[0]
    assert tuple(c.category_name for c in categories) == BLENDSHAPE_NAMES
    assert [c.index for c in categories] == list(range(len(BLENDSHAPE_NAMES)))


def test_tracking_prints_nothing_on_stderr() -> None:
    """A fresh process that tracks a clip (small-face path included) writes nothing to stderr."""
    clip = recording("video", "latentsync_demo3_vertical_hevc.mp4")
    code = (
        "import sys\n"
        "from facecraft.vision import track_video\n"
        f"t = track_video({str(clip)!r}, max_side=640, end_s=1.0)\n"
        "assert t.present.all(), t.present\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GLOG", "TF_CPP", "ABSL"))}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                            env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr == "" and result.stdout == ""


def test_captured_native_lines_go_to_logging_and_other_lines_back_to_stderr(capfd, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="facecraft.vision.tasks")
    with native_log_captured():
        os.write(2, b"W0000 00:00:1.0 1 some_calculator.cc:12] a MediaPipe warning\n")
        os.write(2, b"E0000 00:00:1.0 1 other.cc:3] a MediaPipe error\n")
        os.write(2, b"someone else's line\n")
    assert capfd.readouterr().err == "someone else's line\n"
    levels = {r.getMessage(): r.levelno for r in caplog.records}
    assert levels["mediapipe: W0000 00:00:1.0 1 some_calculator.cc:12] a MediaPipe warning"] == logging.DEBUG
    assert levels["mediapipe: E0000 00:00:1.0 1 other.cc:3] a MediaPipe error"] == logging.WARNING


def test_portrait_frames_are_padded_not_stretched() -> None:
    """A 9:16 phone frame at 640 px: found by the landmarker itself (stretched, the face was missed)."""
    frames = [f.image for f in iter_frames(recording("video", "latentsync_demo3_vertical_hevc.mp4"),
                                           max_side=640, end_s=0.5)]
    assert frames[0].shape == (640, 360, 3)
    landmarker = Landmarker(video=False, num_faces=1)
    try:
        found = [landmarker.detect(image) for image in frames]
    finally:
        landmarker.close()
    assert all(len(faces) == 1 for faces in found)
    points = found[0][0].landmarks
    assert 100 < points[:, 0].mean() < 260 and 150 < points[:, 1].mean() < 300  # pixels of the 360x640 frame


def test_video_mode_takes_any_frame_times() -> None:
    """Repeated, decreasing and jittered frame times (variable frame rate, bad timestamps) track fine:
    the landmarker runs on its own clock."""
    frames = list(iter_frames(recording("video", "styletalk_Obama_clip2.mp4"), end_s=1.0))
    times = [0.0, 0.0, 0.033, 0.02, 0.5, 0.5001, 0.49] + [0.6 + 0.04 * i for i in range(len(frames) - 7)]
    odd = [Frame(index=i, time_s=t, image=f.image)
           for i, (t, f) in enumerate(zip(times, frames, strict=True))]
    tracks = track_frames(odd, fps=30.0, width=256, height=256)
    assert tracks.present.all()
    assert np.isfinite(tracks.blendshapes).all() and np.isfinite(tracks.transform).all()


def test_the_clock_spaces_frames_far_apart() -> None:
    """No lag from the landmarker's own smoothing: its clock advances FRAME_SPACING_MS per frame."""
    frames = [f.image for f in iter_frames(recording("video", "styletalk_Obama_clip2.mp4"), end_s=0.2)]
    landmarker = Landmarker(video=True, num_faces=1)
    try:
        for image in frames:
            landmarker.detect(image)
        assert landmarker._clock == FRAME_SPACING_MS * len(frames)
    finally:
        landmarker.close()
    assert FRAME_SPACING_MS >= 100_000


def test_a_closed_landmarker_refuses_work_clearly() -> None:
    landmarker = Landmarker(video=False, num_faces=1)
    landmarker.close()
    landmarker.close()  # twice is harmless
    with pytest.raises(VisionError, match="closed"):
        landmarker.detect(np.zeros((64, 64, 3), np.uint8))


def test_observations_carry_blendshapes_and_matrices() -> None:
    image = read_image(recording("photo", "real3dportrait_Macron.png"))
    with FaceTracker(static_image_mode=True) as tracker:
        face = tracker.process(image)[0]
    assert face.blendshapes.shape == (52,) and face.blendshapes.dtype == np.float32
    assert np.all((face.blendshapes >= 0) & (face.blendshapes <= 1))
    assert face.matrix.shape == (4, 4) and np.allclose(face.matrix[3], [0, 0, 0, 1], atol=1e-5)
    rotation = face.matrix[:3, :3].astype(np.float64)
    scale = np.cbrt(np.linalg.det(rotation))
    assert np.allclose(rotation @ rotation.T / scale**2, np.eye(3), atol=1e-3)  # a (scaled) rotation
    assert face.matrix[2, 3] < 0  # the face lies in front of the camera (-z)
