"""Per-frame face features (definitions in ``vision/types.py``).

Two kinds: geometric features come from (smoothed) landmarks for the whole sequence at once
(vectorised); pixel features (teeth, sharpness, luminance) need the image and are computed once per
frame while it is decoded, from that frame's raw landmarks.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facecraft.vision.landmarks import (
    EYE_OUTER_CORNERS,
    INNER_LIP_PAIRS,
    LEFT_BROW,
    LEFT_EYE_CORNERS,
    LEFT_EYE_LIDS,
    LIPS_INNER,
    MOUTH_CORNERS,
    RIGHT_BROW,
    RIGHT_EYE_CORNERS,
    RIGHT_EYE_LIDS,
)

__all__ = [
    "PixelFeatures", "GeometricFeatures", "pixel_features", "geometric_features", "interocular",
    "TEETH_MAX_SATURATION", "TEETH_MIN_VALUE", "SHARPNESS_SIZE",
]

# Teeth: bright (HSV value) and grey (low saturation) pixels inside the inner-lip polygon.
TEETH_MAX_SATURATION = 90  # of 255
TEETH_MIN_VALUE = 0.8  # times the mean luma of the face: teeth are brighter than the face on average
TEETH_MIN_VALUE_ABS = 80  # of 255: a dark frame has no visible teeth
# Sharpness is measured on the face box resized to this many pixels square, so it compares across sizes.
SHARPNESS_SIZE = 128
_MIN_MOUTH_PIXELS = 12


@dataclass
class PixelFeatures:
    teeth: float
    sharpness: float
    luminance: float


@dataclass
class GeometricFeatures:
    aperture: np.ndarray
    mouth_width: np.ndarray
    eye_open: np.ndarray
    brow: np.ndarray


def _dist(lm: np.ndarray, a: int, b: int) -> np.ndarray:
    return np.linalg.norm(lm[..., a, :2] - lm[..., b, :2], axis=-1)


def interocular(landmarks: np.ndarray) -> np.ndarray:
    """Outer eye-corner distance in pixels, for (..., 478, 3) landmarks."""
    return _dist(landmarks, *EYE_OUTER_CORNERS)


def geometric_features(landmarks: np.ndarray) -> GeometricFeatures:
    """Aperture, mouth width, eye openness and brow height for (N, 478, 3) landmarks."""
    lm = np.asarray(landmarks, dtype=np.float64)
    iod = interocular(lm)
    iod = np.where(iod > 1e-6, iod, np.nan)
    aperture = np.mean([_dist(lm, a, b) for a, b in INNER_LIP_PAIRS], axis=0) / iod
    mouth_width = _dist(lm, *MOUTH_CORNERS) / iod
    right = np.mean([_dist(lm, a, b) for a, b in RIGHT_EYE_LIDS], axis=0) / _dist(lm, *RIGHT_EYE_CORNERS)
    left = np.mean([_dist(lm, a, b) for a, b in LEFT_EYE_LIDS], axis=0) / _dist(lm, *LEFT_EYE_CORNERS)
    eye_open = 0.5 * (left + right)
    # Brow height: distance from each brow's centre to the line through the outer eye corners.
    p0, p1 = lm[:, EYE_OUTER_CORNERS[0], :2], lm[:, EYE_OUTER_CORNERS[1], :2]
    direction = (p1 - p0) / np.linalg.norm(p1 - p0, axis=-1, keepdims=True)
    normal = np.stack([direction[:, 1], -direction[:, 0]], axis=-1)  # points up the face
    heights = [np.sum((lm[:, list(brow), :2].mean(axis=1) - p0) * normal, axis=-1) for brow in (LEFT_BROW,
                                                                                                  RIGHT_BROW)]
    brow = np.mean(heights, axis=0) / iod
    return GeometricFeatures(
        aperture=aperture.astype(np.float32),
        mouth_width=mouth_width.astype(np.float32),
        eye_open=eye_open.astype(np.float32),
        brow=brow.astype(np.float32),
    )


def _face_crop(image: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, int, int]:
    height, width = image.shape[:2]
    x0 = int(max(0, np.floor(landmarks[:, 0].min())))
    y0 = int(max(0, np.floor(landmarks[:, 1].min())))
    x1 = int(min(width, np.ceil(landmarks[:, 0].max()) + 1))
    y1 = int(min(height, np.ceil(landmarks[:, 1].max()) + 1))
    return image[y0:y1, x0:x1], x0, y0


def pixel_features(image: np.ndarray, landmarks: np.ndarray) -> PixelFeatures:
    """Teeth share, Laplacian sharpness and mean luma of the face in ``image`` (RGB uint8)."""
    crop, x0, y0 = _face_crop(image, landmarks)
    if crop.shape[0] < 4 or crop.shape[1] < 4:
        return PixelFeatures(teeth=float("nan"), sharpness=float("nan"), luminance=float("nan"))
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    luminance = float(grey.mean())
    small = cv2.resize(grey, (SHARPNESS_SIZE, SHARPNESS_SIZE), interpolation=cv2.INTER_AREA)
    sharpness = float(cv2.Laplacian(small, cv2.CV_64F).var())
    return PixelFeatures(teeth=_teeth(image, landmarks, luminance), sharpness=sharpness, luminance=luminance)


def _teeth(image: np.ndarray, landmarks: np.ndarray, face_luma: float) -> float:
    lips = landmarks[list(LIPS_INNER), :2]
    x0, y0 = np.floor(lips.min(axis=0)).astype(int)
    x1, y1 = np.ceil(lips.max(axis=0)).astype(int) + 1
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(image.shape[1], x1), min(image.shape[0], y1)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return 0.0
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [np.round(lips - (x0, y0)).astype(np.int32)], 1)
    inside = mask.astype(bool)
    count = int(inside.sum())
    if count < _MIN_MOUTH_PIXELS:
        return 0.0
    hsv = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_RGB2HSV)
    sat, val = hsv[..., 1][inside], hsv[..., 2][inside]
    bright = val >= max(TEETH_MIN_VALUE_ABS, TEETH_MIN_VALUE * face_luma)
    return float(np.count_nonzero(bright & (sat <= TEETH_MAX_SATURATION)) / count)
