"""The lower-face mask: the region the engine replaces (lips, teeth, chin, jaw).

The polygon runs along the face oval from one cheek at nose height, round the chin, to the other
cheek, and back under the nose. It is drawn for both the pasted mouth and the base frame (their chins
differ when the jaw opens), grown a little beyond the jaw line so the chin silhouette comes from one
source, and feathered so the blend edge falls on skin and neck rather than on the lips.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["LOWER_FACE", "lower_face_polygon", "feathered_mask", "feather", "mask_edge", "border_ramp"]

# MediaPipe face-mesh indices: face oval from image-right cheek round the chin to image-left cheek,
# then under the nose (cheek, nostril, subnasale, nostril, cheek).
LOWER_FACE: tuple[int, ...] = (
    323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93,
    205, 98, 2, 327, 425,
)


UNDER_NOSE = (98, 2, 327)  # nostril wings and subnasale: the polygon's top edge
UPPER_LIP_TOP = 0
SUBNASALE = UNDER_NOSE[1]
_UNDER_NOSE_AT = [LOWER_FACE.index(i) for i in UNDER_NOSE]  # their places in the polygon


def lower_face_polygon(points: np.ndarray, *, grow: float = 0.0, nose_clear: float = 0.35) -> np.ndarray:
    """The lower-face polygon of one face's landmarks (478, 2+), pushed ``grow`` (share) away from its centre.

    Its top edge under the nose is then moved ``nose_clear`` of the way from the subnasale to the
    top of the upper lip, so the nostrils always come from one frame (pasted nostrils from another
    head pose showed twice).
    """
    pts = np.asarray(points, dtype=np.float64)
    poly = pts[list(LOWER_FACE), :2]
    if grow:
        centre = poly.mean(0)
        poly = centre + (poly - centre) * (1.0 + grow)
    if nose_clear:
        down = nose_clear * (pts[UPPER_LIP_TOP, :2] - pts[SUBNASALE, :2])
        poly[_UNDER_NOSE_AT] = pts[list(UNDER_NOSE), :2] + down
    return poly


def feathered_mask(
    shape: tuple[int, int], polygons: list[np.ndarray], *, feather_px: float
) -> np.ndarray:
    """Float32 mask in [0, 1] of size ``shape`` (h, w): union of the polygons, edge blurred by ``feather_px``."""
    h, w = shape
    mask = np.zeros((h, w), dtype=np.uint8)
    for poly in polygons:
        cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 255)
    return feather(mask.astype(np.float32) / 255.0, feather_px)


def feather(mask: np.ndarray, feather_px: float) -> np.ndarray:
    """A float32 [0, 1] ``mask`` with its edge blurred by ``feather_px`` (unchanged for 0)."""
    if feather_px <= 0:
        return mask
    k = int(2 * round(2 * feather_px) + 1)
    return cv2.GaussianBlur(mask, (k, k), feather_px)


def border_ramp(h: int, w: int, width: float) -> np.ndarray:
    """(h, w) float32 weight rising from 0 at the border to 1 at ``width`` pixels inside (pastes a box of
    one resampling into another with no visible edge)."""
    ys = np.minimum(np.arange(h), np.arange(h)[::-1]) + 0.5
    xs = np.minimum(np.arange(w), np.arange(w)[::-1]) + 0.5
    return np.clip(np.minimum(ys[:, None], xs[None, :]) / width, 0.0, 1.0).astype(np.float32)


def mask_edge(mask: np.ndarray, *, low: float = 0.2, high: float = 0.8) -> np.ndarray:
    """Boolean band where the feathered mask is between ``low`` and ``high`` (the blend boundary)."""
    return (mask > low) & (mask < high)
