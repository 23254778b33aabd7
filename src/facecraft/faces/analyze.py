"""Split training footage into speaking and listening, one state per frame.

Voice activity alone is not enough: a voice off camera (an interviewer) or a noisy room would mark
listening footage as speaking. Mouth motion alone is not enough either: chewing, smiling or a
nod moves the lips. A frame is speaking when the audio has speech AND the lips move (the rolling
spread of the inner-lip aperture, against a threshold scaled to the speaker), or when there is speech
and no face to judge by. Short gaps inside speech (breaths, pauses between words) are bridged so that a
phrase stays one segment.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from facecraft.faces.types import Analysis
from facecraft.speech.types import Segment
from facecraft.vision.smoothing import drop_short_runs, runs
from facecraft.vision.types import Tracks

__all__ = ["AnalysisParams", "analyze", "fill_nan", "segments"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnalysisParams:
    """Knobs of the speaking/listening split (times in seconds, motion in IOD units)."""

    motion_window_s: float = 0.4  # window of the rolling aperture spread
    # The lips count as moving above a share of the speaker's typical spread while voiced, kept
    # within absolute bounds: people open their mouths very differently (a news anchor barely does).
    motion_share: float = 0.4
    motion_min: float = 0.003
    motion_max: float = 0.012
    bridge_gap_s: float = 0.6  # listening gaps shorter than this inside speech become speaking
    min_speaking_s: float = 0.3  # speaking runs shorter than this become listening
    vad_aggressiveness: int = 2


def fill_nan(values: np.ndarray) -> np.ndarray:
    """Linear interpolation over NaNs (frames without a face); all-NaN gives zeros."""
    out = np.asarray(values, dtype=np.float64).copy()
    ok = np.isfinite(out)
    if not ok.any():
        return np.zeros_like(out)
    idx = np.arange(out.size)
    out[~ok] = np.interp(idx[~ok], idx[ok], out[ok])
    return out


def _rolling_std(values: np.ndarray, window: int) -> np.ndarray:
    """Centred rolling standard deviation (window in frames, at least 1)."""
    window = max(int(window), 1)
    kernel = np.ones(window) / window
    pad = window // 2
    padded = np.pad(values, (pad, window - 1 - pad), mode="edge")
    mean = np.convolve(padded, kernel, mode="valid")
    mean_sq = np.convolve(padded**2, kernel, mode="valid")
    return np.sqrt(np.maximum(mean_sq - mean**2, 0.0))


def _close_gaps(flags: np.ndarray, max_gap: int) -> np.ndarray:
    """Turn False runs of at most ``max_gap`` frames that lie between True runs into True."""
    out = flags.copy()
    for a, b in runs(~flags):
        if a > 0 and b < flags.size and b - a <= max_gap:
            out[a:b] = True
    return out


def segments(flags: np.ndarray, fps: float) -> list[Segment]:
    """The True runs of per-frame ``flags`` as time segments (seconds, ms precision)."""
    return [Segment(round(a / fps, 3), round(b / fps, 3)) for a, b in runs(flags)]


def voice_mask(samples: np.ndarray | None, sample_rate: int, n_frames: int, fps: float,
               *, aggressiveness: int = 2) -> tuple[np.ndarray, list[Segment]]:
    """Per-frame speech flags and the VAD segments; no audio gives all False."""
    from facecraft.speech.vad import detect_speech

    mask = np.zeros(n_frames, dtype=bool)
    if samples is None or len(samples) == 0 or n_frames == 0:
        return mask, []
    found = detect_speech(samples, sample_rate, aggressiveness=aggressiveness)
    times = np.arange(n_frames) / fps + 0.5 / fps
    for seg in found:
        mask |= (times >= seg.start) & (times < seg.end)
    return mask, found


def analyze(tracks: Tracks, samples: np.ndarray | None, sample_rate: int,
            *, params: AnalysisParams | None = None) -> Analysis:
    """Speaking/listening segments and a per-frame state (0 listening, 1 speaking).

    ``samples`` is the clip's mono audio aligned with the first frame (None: no audio, every frame
    listens).
    """
    p = params or AnalysisParams()
    n = len(tracks)
    fps = float(tracks.fps) or 25.0
    voiced, speech = voice_mask(samples, sample_rate, n, fps, aggressiveness=p.vad_aggressiveness)
    aperture = fill_nan(tracks.aperture) if n else np.zeros(0)
    motion = _rolling_std(aperture, round(p.motion_window_s * fps)) if n else np.zeros(0)
    present = np.asarray(tracks.present, dtype=bool)
    typical = motion[voiced & present]
    threshold = p.motion_max if typical.size == 0 else float(
        np.clip(p.motion_share * np.median(typical), p.motion_min, p.motion_max))
    moving = motion >= threshold
    speaking = voiced & (moving | ~present)
    speaking = _close_gaps(speaking, round(p.bridge_gap_s * fps))
    speaking = drop_short_runs(speaking, round(p.min_speaking_s * fps))
    state = speaking.astype(np.uint8)
    log.debug("analysis: %d frames, %.1f s speaking", n, speaking.sum() / fps)
    return Analysis(
        fps=fps,
        state=state,
        speaking=segments(speaking, fps),
        listening=segments(~speaking, fps),
        speech=speech,
        mouth_motion=motion.astype(np.float32),
    )
