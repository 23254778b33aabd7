"""Zero-lag temporal smoothing of landmark tracks.

A causal One-Euro filter removes jitter but delays fast motion (the lips). Offline we see the whole
sequence, so we run the filter forwards and backwards and average the two passes: their delays have
opposite signs and cancel, while the One-Euro speed term keeps fast openings sharp. Fast-moving points
(lips, jaw, eyes, brows) get a higher cut-off than the rigid ones (nose bridge, forehead).
Coordinates are divided by the median inter-ocular distance first so the parameters are scale-free.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from facecraft.vision.landmarks import EYE_OUTER_CORNERS, MOBILE

__all__ = ["OneEuroParams", "one_euro", "zero_lag_smooth", "smooth_landmarks", "runs", "drop_short_runs"]


@dataclass(frozen=True)
class OneEuroParams:
    """Cut-off frequency at rest (Hz), its growth with speed (per unit/s), derivative cut-off (Hz)."""

    min_cutoff: float = 1.0
    beta: float = 0.5
    d_cutoff: float = 1.0


RIGID = OneEuroParams(min_cutoff=1.0, beta=0.7)
MOBILE_PARAMS = OneEuroParams(min_cutoff=2.0, beta=20.0, d_cutoff=2.0)


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


def one_euro(x: np.ndarray, fps: float, params: OneEuroParams) -> np.ndarray:
    """Causal One-Euro filter along axis 0 of ``x`` (T, ...) sampled at ``fps``."""
    x = np.asarray(x, dtype=np.float64)
    if x.shape[0] < 2:
        return x.copy()
    dt = 1.0 / fps
    out = np.empty_like(x)
    out[0] = x[0]
    dx_prev = np.zeros_like(x[0])
    a_d = _alpha(params.d_cutoff, dt)
    for t in range(1, x.shape[0]):
        dx = (x[t] - out[t - 1]) / dt
        dx_prev = a_d * dx + (1.0 - a_d) * dx_prev
        a = _alpha(params.min_cutoff + params.beta * np.abs(dx_prev), dt)
        out[t] = a * x[t] + (1.0 - a) * out[t - 1]
    return out


def zero_lag_smooth(x: np.ndarray, fps: float, params: OneEuroParams) -> np.ndarray:
    """Average of the forward and the time-reversed One-Euro passes: smoothing without delay."""
    forward = one_euro(x, fps, params)
    backward = one_euro(np.asarray(x)[::-1], fps, params)[::-1]
    return 0.5 * (forward + backward)


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) ranges where ``mask`` is True."""
    padded = np.concatenate([[False], np.asarray(mask, bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def smooth_landmarks(landmarks: np.ndarray, present: np.ndarray, fps: float) -> np.ndarray:
    """Smooth (N, 478, 3) pixel landmarks over each run of present frames; absent frames stay NaN."""
    out = np.array(landmarks, dtype=np.float32, copy=True)
    mobile = np.zeros(landmarks.shape[1], bool)
    mobile[list(MOBILE)] = True
    for start, stop in runs(present):
        if stop - start < 3:
            continue
        seg = landmarks[start:stop].astype(np.float64)
        iod = np.linalg.norm(seg[:, EYE_OUTER_CORNERS[0], :2] - seg[:, EYE_OUTER_CORNERS[1], :2], axis=1)
        scale = float(np.median(iod)) or 1.0
        seg = seg / scale
        result = np.empty_like(seg)
        result[:, mobile] = zero_lag_smooth(seg[:, mobile], fps, MOBILE_PARAMS)
        result[:, ~mobile] = zero_lag_smooth(seg[:, ~mobile], fps, RIGID)
        out[start:stop] = (result * scale).astype(np.float32)
    return out


def drop_short_runs(flags: np.ndarray, min_len: int) -> np.ndarray:
    """``flags`` with runs of True shorter than ``min_len`` cleared."""
    out = flags.copy()
    for a, b in runs(flags):
        if b - a < min_len:
            out[a:b] = False
    return out
