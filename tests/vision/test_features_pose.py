"""Feature definitions and head pose on controlled inputs."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facecraft.media import read_image
from facecraft.vision import FaceTracker, head_pose
from facecraft.vision.features import geometric_features, pixel_features
from facecraft.vision.landmarks import LIPS_INNER
from facecraft.vision.pose import MODEL_POINTS, POSE_INDICES, _camera
from tests.utils import testdata_path as recording  # aliased: pytest would collect test*


@pytest.fixture(scope="module")
def macron() -> tuple[np.ndarray, np.ndarray]:
    image = read_image(recording("photo", "real3dportrait_Macron.png"))
    with FaceTracker(static_image_mode=True) as tracker:
        return image, tracker.process(image)[0].landmarks


def test_geometric_features_are_scale_free(macron: tuple[np.ndarray, np.ndarray]) -> None:
    _, lm = macron
    a = geometric_features(lm[None])
    b = geometric_features((lm * 2.5 + 40)[None])
    for name in ("aperture", "mouth_width", "eye_open", "brow"):
        assert getattr(a, name)[0] == pytest.approx(getattr(b, name)[0], rel=1e-4), name
    assert 0.3 < a.mouth_width[0] < 0.8
    assert 0.1 < a.brow[0] < 0.4
    assert 0.15 < a.eye_open[0] < 0.5


def test_aperture_grows_when_the_lower_lip_drops(macron: tuple[np.ndarray, np.ndarray]) -> None:
    _, lm = macron
    opened = lm.copy()
    iod = np.linalg.norm(lm[33, :2] - lm[263, :2])
    opened[[87, 14, 317], 1] += 0.1 * iod
    assert geometric_features(opened[None]).aperture[0] == pytest.approx(
        geometric_features(lm[None]).aperture[0] + 0.1, abs=1e-3)


def test_teeth_are_bright_grey_pixels_inside_the_lips(macron: tuple[np.ndarray, np.ndarray]) -> None:
    image, lm = macron
    lips = np.round(lm[list(LIPS_INNER), :2]).astype(np.int32)
    white, dark, red = image.copy(), image.copy(), image.copy()
    cv2.fillPoly(white, [lips], (235, 235, 230))
    cv2.fillPoly(dark, [lips], (30, 20, 20))
    cv2.fillPoly(red, [lips], (220, 60, 60))
    assert pixel_features(white, lm).teeth > 0.8
    assert pixel_features(dark, lm).teeth < 0.05
    assert pixel_features(red, lm).teeth < 0.05


def test_sharpness_drops_with_blur_and_luminance_follows_light(macron: tuple[np.ndarray, np.ndarray]) -> None:
    image, lm = macron
    sharp = pixel_features(image, lm)
    blurred = pixel_features(cv2.GaussianBlur(image, (0, 0), 3), lm)
    darker = pixel_features((image * 0.5).astype(np.uint8), lm)
    assert blurred.sharpness < 0.3 * sharp.sharpness
    assert darker.luminance == pytest.approx(sharp.luminance * 0.5, rel=0.05)


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    y, p, r = np.radians([yaw, pitch, roll])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ ry @ rx


@pytest.mark.parametrize("angles", [(0, 0, 0), (25, 0, 0), (0, 15, 0), (0, 0, -10), (-20, -10, 5)])
def test_head_pose_recovers_known_rotations(angles: tuple[float, float, float]) -> None:
    """Project the model with a known rotation.

    Conventions: yaw > 0 toward the image right, pitch > 0 up, roll > 0 clockwise.
    """
    yaw, pitch, roll = angles
    rvec, _ = cv2.Rodrigues(_rotation(-yaw, -pitch, roll))
    tvec = np.array([0.0, 0.0, 60.0])
    points, _ = cv2.projectPoints(MODEL_POINTS, rvec, tvec, _camera(640, 480), np.zeros(4))
    landmarks = np.zeros((478, 3), np.float32)
    landmarks[list(POSE_INDICES), :2] = points[:, 0]
    estimate, _ = head_pose(landmarks, 640, 480)
    assert np.allclose(estimate, angles, atol=0.5)
    nose_x = points[POSE_INDICES.index(1), 0, 0]
    if yaw:
        assert (nose_x - 320) * yaw > 0  # the nose moves toward the side the face turns to
