"""Sample-rate conversion and WAV writing for float32 PCM arrays."""

from __future__ import annotations

import math
import wave
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from facecraft.errors import InputError

__all__ = ["resample", "write_wav", "to_int16"]


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


def to_int16(samples: np.ndarray) -> np.ndarray:
    """Float [-1, 1] to int16 PCM with clipping."""
    return (np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0) * 32767.0).round().astype(np.int16)


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int) -> Path:
    """Write 16-bit PCM WAV; ``samples`` is (n,) mono or (n, channels), float in [-1, 1] or int16."""
    path = Path(path)
    samples = np.asarray(samples)
    pcm = samples if samples.dtype == np.int16 else to_int16(samples)
    channels = 1 if pcm.ndim == 1 else int(pcm.shape[1])
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(int(sample_rate))
        wav.writeframes(np.ascontiguousarray(pcm).tobytes())
    return path
