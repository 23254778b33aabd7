"""Zero-lag smoothing: less jitter, no delay of fast lip motion."""

from __future__ import annotations

import numpy as np

from facecraft.vision.smoothing import MOBILE_PARAMS, one_euro, runs, smooth_landmarks, zero_lag_smooth
from tests.vision.lag import fractional_lag, integer_lag


def _synthetic_mouth(fps: float = 30.0, seconds: float = 20.0) -> tuple[np.ndarray, np.ndarray]:
    """Syllable-like openings (3–7 Hz) separated by closed pauses; also returns the pause mask."""
    t = np.arange(int(fps * seconds)) / fps
    rate = 3 + 4 * (0.5 + 0.5 * np.sin(2 * np.pi * 0.13 * t))
    phase = 2 * np.pi * np.cumsum(rate) / fps
    talking = np.sin(2 * np.pi * 0.25 * t) > -0.3
    return 0.1 * np.clip(np.sin(phase), 0, None) * talking, ~talking


def test_causal_one_euro_lags_but_zero_lag_does_not() -> None:
    clean, pause = _synthetic_mouth()
    noise = 0.01 * np.random.default_rng(1).standard_normal(clean.size)
    noisy = clean + noise
    causal = one_euro(noisy[:, None], 30.0, MOBILE_PARAMS)[:, 0]
    smooth = zero_lag_smooth(noisy[:, None], 30.0, MOBILE_PARAMS)[:, 0]
    assert fractional_lag(clean, causal) > 0.15  # the usual filter is late...
    assert abs(fractional_lag(clean, smooth)) < 0.05  # ...the forward-backward one is not
    assert integer_lag(clean, smooth) == 0
    assert np.std(smooth[pause] - clean[pause]) < 0.75 * np.std(noise[pause])  # jitter at rest drops
    assert np.percentile(smooth, 99) > 0.9 * np.percentile(clean, 99)  # wide openings survive


def test_runs_and_absent_frames_stay_nan() -> None:
    present = np.array([0, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1], bool)
    assert runs(present) == [(1, 5), (7, 12)]
    landmarks = np.random.default_rng(2).normal(100, 1, (12, 478, 3)).astype(np.float32)
    landmarks[~present] = np.nan
    out = smooth_landmarks(landmarks, present, 25.0)
    assert np.isnan(out[~present]).all() and np.isfinite(out[present]).all()
