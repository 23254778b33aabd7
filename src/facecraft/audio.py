"""Audio conventions every package shares: the speech-analysis rate, resampling, per-frame loudness.

Like ``facecraft.errors`` this module depends on no facecraft package, so the leaves (``media``,
``speech``) and the layers above them use the same resampler and the same loudness measure instead
of each writing its own.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import resample_poly

from facecraft.errors import InputError

__all__ = ["RATE", "resample", "frame_power", "frame_rms", "power_db"]

RATE = 16000  # Hz: what VAD, alignment, recognition, voice analysis and the engine's timeline read


def resample(samples: np.ndarray, sr_from: int, sr_to: int) -> np.ndarray:
    """Polyphase resampling along axis 0 (anti-aliased); returns float32."""
    if sr_from <= 0 or sr_to <= 0:
        raise InputError(f"sample rates must be positive, got {sr_from} -> {sr_to}")
    samples = np.asarray(samples, dtype=np.float32)
    if sr_from == sr_to or samples.shape[0] == 0:
        return samples.copy()
    g = math.gcd(int(sr_from), int(sr_to))
    out = resample_poly(samples, int(sr_to) // g, int(sr_from) // g, axis=0)
    return out.astype(np.float32, copy=False)


def frame_power(samples: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean square of ``samples[starts[i]:stops[i]]`` for each frame i (bounds clipped to the samples),
    and whether the frame holds any sample (its power is 0 where not).

    Every per-frame loudness (the timeline's, the audio model's envelope, the voice profile's, the
    photo builder's) is this with its own frame placement.
    """
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    sq = np.concatenate([[0.0], np.cumsum(x**2)])
    lo = np.clip(np.asarray(starts, dtype=np.int64), 0, x.size)
    hi = np.clip(np.asarray(stops, dtype=np.int64), 0, x.size)
    power = np.zeros(len(lo))
    ok = hi > lo
    power[ok] = (sq[hi[ok]] - sq[lo[ok]]) / (hi[ok] - lo[ok])
    return power, ok


def frame_rms(samples: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """RMS of each frame (see ``frame_power``; 0 where a frame is empty)."""
    return np.sqrt(np.maximum(frame_power(samples, starts, stops)[0], 0.0))


def power_db(power: np.ndarray, floor: float = 1e-10) -> np.ndarray:
    """Mean-square power to dBFS (``floor`` keeps silence finite)."""
    return 10 * np.log10(np.asarray(power, dtype=np.float64) + floor)
