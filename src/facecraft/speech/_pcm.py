"""Checks and conversion of caller audio into the 16 kHz int16 PCM that webrtcvad and PocketSphinx read.

Both engines only accept 16-bit PCM at fixed rates, so every public entry point of the VAD, the aligner
and the recogniser goes through :func:`to_pcm16k`, which also turns unusable input (empty, NaN, wrong
shape, too low a sample rate) into a :class:`~facecraft.errors.SpeechError` with a clear sentence.
"""

from __future__ import annotations

import numpy as np

from facecraft.audio import RATE, resample
from facecraft.errors import SpeechError

__all__ = ["PCM_RATE", "MIN_SAMPLE_RATE", "check_audio", "to_pcm16k", "to_float16k"]

PCM_RATE = RATE  # webrtcvad and PocketSphinx read 16 kHz
MIN_SAMPLE_RATE = 8000


def check_audio(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Return ``samples`` as a 1-D float32 array, or raise SpeechError saying what is wrong with it."""
    try:
        rate = int(sample_rate)
    except (TypeError, ValueError) as exc:
        raise SpeechError(f"sample rate {sample_rate!r} is not a number") from exc
    if rate < MIN_SAMPLE_RATE:
        raise SpeechError(f"sample rate {rate} Hz is too low: speech needs at least {MIN_SAMPLE_RATE} Hz")
    arr = np.asarray(samples)
    if arr.dtype.kind not in "fiu":
        raise SpeechError(f"audio samples must be numbers, got dtype {arr.dtype}")
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise SpeechError(f"audio must be mono (1-D samples), got shape {arr.shape}")
    if arr.size == 0:
        raise SpeechError("the audio is empty")
    if arr.dtype.kind in "iu":
        scale = float(np.iinfo(arr.dtype).max) + 1.0
        arr = arr.astype(np.float32) / scale
    arr = arr.astype(np.float32, copy=False)
    if not np.all(np.isfinite(arr)):
        raise SpeechError("the audio contains NaN or infinite samples (not valid audio)")
    return arr


def to_float16k(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Checked float32 mono samples resampled to 16 kHz (polyphase, so no aliasing)."""
    arr = check_audio(samples, sample_rate)
    rate = int(sample_rate)
    return resample(arr, rate, PCM_RATE) if rate != PCM_RATE else arr


def to_pcm16k(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Checked samples as 16 kHz int16 PCM (clipped to the int16 range)."""
    arr = to_float16k(samples, sample_rate)
    return (np.clip(arr, -1.0, 1.0) * 32767.0).astype(np.int16)
