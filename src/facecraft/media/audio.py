"""WAV writing for float32 PCM arrays (resampling is ``facecraft.audio.resample``, re-exported here)."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from facecraft.audio import resample

__all__ = ["resample", "write_wav", "to_int16"]


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
