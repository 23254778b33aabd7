"""Landmark warps: similarity fits and the canonical face frame.

The engine moves lower-face patches between frames of different head positions. Everything is done
through one canonical frame: origin at the middle of the outer eye corners, x along the eye line,
unit = inter-ocular distance. A frame's similarity to that frame is fitted on landmarks that do not
move with speech (``vision.landmarks.STABLE``), so the mouth is free to move inside it.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from facecraft.vision import landmarks as lm

__all__ = [
    "fit_similarity",
    "apply_affine",
    "invert_affine",
    "compose_affine",
    "eye_frame",
    "normalise_shape",
    "drop_jaw",
    "jaw_weight",
    "jaw_field",
    "moved_jaw_points",
]


def fit_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (Umeyama) mapping ``src`` (n, 2) points onto ``dst``; returns a 2x3 matrix."""
    src = np.asarray(src, dtype=np.float64)[:, :2]
    dst = np.asarray(dst, dtype=np.float64)[:, :2]
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s_c, d_c = src - mu_s, dst - mu_d
    var_s = (s_c**2).sum() / len(src)
    cov = d_c.T @ s_c / len(src)
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1
    rot = u @ np.diag(d) @ vt
    scale = float((sig * d).sum() / var_s) if var_s > 0 else 1.0
    mat = np.zeros((2, 3))
    mat[:, :2] = scale * rot
    mat[:, 2] = mu_d - scale * rot @ mu_s
    return mat


def apply_affine(mat: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a 2x3 matrix to (..., 2+) points (extra columns are dropped)."""
    pts = np.asarray(pts, dtype=np.float64)[..., :2]
    return pts @ mat[:, :2].T + mat[:, 2]


def invert_affine(mat: np.ndarray) -> np.ndarray:
    """Inverse of a 2x3 affine matrix (closed form: LAPACK's call costs more than the arithmetic)."""
    (p, q, tx), (r, s, ty) = np.asarray(mat, dtype=np.float64)
    det = p * s - q * r
    if det == 0.0:
        raise np.linalg.LinAlgError("singular affine matrix")
    a = np.array([[s, -q], [-r, p]]) / det
    out = np.zeros((2, 3))
    out[:, :2] = a
    out[:, 2] = -a @ np.array([tx, ty])
    return out


def compose_affine(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """Matrix of ``outer(inner(x))``."""
    out = np.zeros((2, 3))
    out[:, :2] = outer[:, :2] @ inner[:, :2]
    out[:, 2] = outer[:, :2] @ inner[:, 2] + outer[:, 2]
    return out


def eye_frame(landmarks: np.ndarray) -> np.ndarray:
    """Similarity taking image pixels to the eye frame (eye-corner midpoint at 0, eye line along x, iod = 1)."""
    left = np.asarray(landmarks[lm.EYE_OUTER_CORNERS[0], :2], dtype=np.float64)
    right = np.asarray(landmarks[lm.EYE_OUTER_CORNERS[1], :2], dtype=np.float64)
    mid = (left + right) / 2
    vec = right - left
    iod = float(np.hypot(*vec)) or 1.0
    c, s = vec / iod
    rot = np.array([[c, s], [-s, c]]) / iod
    mat = np.zeros((2, 3))
    mat[:, :2] = rot
    mat[:, 2] = -rot @ mid
    return mat


def normalise_shape(landmarks: np.ndarray) -> np.ndarray:
    """All landmarks of one face in its own eye frame (n, 2)."""
    return apply_affine(eye_frame(landmarks), landmarks)


_JAW_REACH = 2.2  # half mouth-widths from the mouth's centre where a jaw drop has faded out sideways
_MAX_STRETCH = 1.5  # a ramp is at least this many pixels per pixel of drop: content never folds over


def _jaw_weights(
    points: np.ndarray, shift_px: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Knots of the vertical profile (y, weight) and of the horizontal one (|x - centre|, weight)."""
    upper = float(np.mean([points[a, 1] for a, _ in lm.INNER_LIP_PAIRS]))
    lower = float(np.mean([points[b, 1] for _, b in lm.INNER_LIP_PAIRS]))
    chin = max(float(points[lm.CHIN, 1]), lower + 1.0)
    ramp = _MAX_STRETCH * abs(shift_px)
    top = min(upper, lower - max(ramp, 1.0))  # a thin gap borrows room from the upper lip
    end = chin + max(chin - lower, ramp, 1.0)
    left, right = points[lm.MOUTH_CORNERS[0]], points[lm.MOUTH_CORNERS[1]]
    half = max(abs(float(right[0] - left[0])) / 2.0, 1.0)
    reach = max(_JAW_REACH * half, half + ramp)
    return (np.array([top, lower, chin, end]), np.array([0.0, 1.0, 1.0, 0.0]),
            np.array([0.0, half, reach]), np.array([1.0, 1.0, 0.0]))


def jaw_weight(points: np.ndarray, shift_px: float) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The share (0..1) of a jaw move of ``shift_px`` that each point (x, y) of the image of face
    ``points`` takes: 1 on the lower lip and chin, falling to 0 above the lips' gap, below the chin
    and toward the cheeks (``drop_jaw`` moves pixels by ``shift_px`` times this)."""
    pts = np.asarray(points, dtype=np.float64)
    ys_k, yw_k, xs_k, xw_k = _jaw_weights(pts, shift_px)
    centre = float(pts[list(lm.MOUTH_CORNERS), 0].mean())

    def weight(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        wy = np.interp(y, ys_k, yw_k, left=0.0, right=0.0)
        wx = np.interp(np.abs(x - centre), xs_k, xw_k, right=0.0)
        return wy * wx * wx * (3.0 - 2.0 * wx)  # smooth fall-off sideways

    return weight


def jaw_field(points: np.ndarray, shift_px: float, shape: tuple[int, int]) -> np.ndarray:
    """(h, w) float32 vertical move (pixels) of a jaw move of ``shift_px`` at every pixel of an image of
    ``shape`` (h, w) showing face ``points``: ``shift_px`` times ``jaw_weight``. The weight is one
    profile down times one sideways, so the field is their outer product (no per-pixel interpolation);
    sampling it bilinearly elsewhere is exact between the profiles' knots."""
    pts = np.asarray(points, dtype=np.float64)
    ys_k, yw_k, xs_k, xw_k = _jaw_weights(pts, shift_px)
    centre = float(pts[list(lm.MOUTH_CORNERS), 0].mean())
    h, w = shape
    wy = np.interp(np.arange(h, dtype=np.float64), ys_k, yw_k, left=0.0, right=0.0)
    wx = np.interp(np.abs(np.arange(w, dtype=np.float64) - centre), xs_k, xw_k, right=0.0)
    wx = wx * wx * (3.0 - 2.0 * wx)
    return np.outer(shift_px * wy, wx).astype(np.float32)


def drop_jaw(image: np.ndarray, points: np.ndarray, shift_px: float) -> tuple[np.ndarray, np.ndarray]:
    """``image`` with the lower lip and chin moved down by ``shift_px`` (up when negative), and its
    landmarks ``points`` (n, 2+) moved with them.

    Opens or closes a mouth patch a little more than the footage did, the way a jaw moves: the upper
    lip stays, the gap between the lips stretches, lower lip and chin move as one, and the move fades
    out below the chin and toward the cheeks, so nothing changes where the patch meets the frame.
    """
    h, w = image.shape[:2]
    pts = np.asarray(points, dtype=np.float64)
    if shift_px == 0.0:
        return image, pts.copy()
    weight = jaw_weight(pts, shift_px)
    xs = np.arange(w, dtype=np.float64)[None, :]
    ys = np.arange(h, dtype=np.float64)[:, None]
    map_x = np.broadcast_to(xs, (h, w)).astype(np.float32)
    map_y = (ys - shift_px * weight(xs, ys)).astype(np.float32)  # each output pixel reads from above/below
    out = cv2.remap(image, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    return out, moved_jaw_points(pts, shift_px, weight)


def moved_jaw_points(
    points: np.ndarray, shift_px: float, weight: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
) -> np.ndarray:
    """Landmarks ``points`` (n, 2+) after a jaw move of ``shift_px`` (``drop_jaw`` without the image)."""
    pts = np.asarray(points, dtype=np.float64)
    moved = pts.copy()
    if shift_px != 0.0:
        weight = weight or jaw_weight(pts, shift_px)
        moved[:, 1] += shift_px * weight(pts[:, 0], pts[:, 1])
    return moved
