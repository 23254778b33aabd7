"""Delay between two signals, for the no-lag smoothing tests."""

from __future__ import annotations

import numpy as np


def integer_lag(reference: np.ndarray, signal: np.ndarray, max_lag: int = 6) -> int:
    """Shift (frames) of ``signal`` behind ``reference`` that maximises their cross-correlation."""
    a = reference - reference.mean()
    b = signal - signal.mean()
    n = len(a)
    scores = {lag: float(np.dot(a[: n - lag], b[lag:])) if lag >= 0 else float(np.dot(a[-lag:], b[: n + lag]))
              for lag in range(-max_lag, max_lag + 1)}
    return max(scores, key=scores.get)


def fractional_lag(reference: np.ndarray, signal: np.ndarray) -> float:
    """Sub-frame delay from a parabola through the cross-correlation peak and its neighbours."""
    a = reference - reference.mean()
    b = signal - signal.mean()
    n = len(a)
    score = {lag: float(np.dot(a[: n - lag], b[lag:])) if lag >= 0 else float(np.dot(a[-lag:], b[: n + lag]))
             for lag in range(-3, 4)}
    peak = max(score, key=score.get)
    left, mid, right = score[peak - 1], score[peak], score[peak + 1]
    return peak + 0.5 * (left - right) / (left - 2 * mid + right)
