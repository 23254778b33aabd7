"""Landmark warps: similarity fits and the canonical face frame.

The engine moves lower-face patches between frames of different head positions. Everything is done
through one canonical frame: origin at the middle of the outer eye corners, x along the eye line,
unit = inter-ocular distance. A frame's similarity to that frame is fitted on landmarks that do not
move with speech (``vision.landmarks.STABLE``), so the mouth is free to move inside it.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "fit_similarity",
    "apply_affine",
    "invert_affine",
    "compose_affine",
    "eye_frame",
    "normalise_shape",
]

EYE_OUTER = (33, 263)


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
    a = np.linalg.inv(mat[:, :2])
    out = np.zeros((2, 3))
    out[:, :2] = a
    out[:, 2] = -a @ mat[:, 2]
    return out


def compose_affine(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """Matrix of ``outer(inner(x))``."""
    out = np.zeros((2, 3))
    out[:, :2] = outer[:, :2] @ inner[:, :2]
    out[:, 2] = outer[:, :2] @ inner[:, 2] + outer[:, 2]
    return out


def eye_frame(landmarks: np.ndarray) -> np.ndarray:
    """Similarity taking image pixels to the eye frame (eye-corner midpoint at 0, eye line along x, iod = 1)."""
    left = np.asarray(landmarks[EYE_OUTER[0], :2], dtype=np.float64)
    right = np.asarray(landmarks[EYE_OUTER[1], :2], dtype=np.float64)
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
