"""Voice activity detection: webrtcvad on 30 ms frames, smoothed into speech segments.

webrtcvad's raw per-frame decisions flicker inside words and fire on clicks, so the raw frames are
smoothed: gaps shorter than ``hangover_ms`` are bridged (a speaker's short pauses stay one segment) and
segments shorter than ``min_speech_ms`` are dropped (blips). Frames far below speech loudness are never
speech, which keeps faint background hiss from counting. Used to split footage into speaking/listening
and, later, for turn-taking.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import webrtcvad

from facecraft.errors import InputError
from facecraft.speech._pcm import PCM_RATE, check_audio, to_pcm16k
from facecraft.speech.types import Segment

__all__ = [
    "FRAME_MS", "SpeechTracker", "StreamVad", "VadEvent", "detect_speech", "flag_segments", "frame_mask",
    "speech_frames", "speech_mask",
]

log = logging.getLogger(__name__)

FRAME_MS = 30
_FRAME_LEN = PCM_RATE * FRAME_MS // 1000
# A frame quieter than this (dBFS RMS) is silence whatever webrtcvad says: speech at any usable
# recording level is far louder, while dithering/hiss in "silent" stretches sits around -70 dBFS.
_SILENCE_DBFS = -55.0


def _vad(aggressiveness: int) -> webrtcvad.Vad:
    if aggressiveness not in (0, 1, 2, 3):
        raise InputError(f"VAD aggressiveness must be 0..3, got {aggressiveness}")
    return webrtcvad.Vad(aggressiveness)


def _classify(pcm: np.ndarray, vad: webrtcvad.Vad) -> np.ndarray:
    """Speech flag per 30 ms frame of 16 kHz int16 PCM (a trailing partial frame is padded).

    webrtcvad adapts to the noise floor as it goes, so one ``vad`` must see a stream's frames in order.
    """
    n = -(-pcm.size // _FRAME_LEN)
    padded = np.zeros(n * _FRAME_LEN, dtype=np.int16)
    padded[: pcm.size] = pcm
    frames = padded.reshape(n, _FRAME_LEN)
    rms = np.sqrt(np.mean((frames.astype(np.float64) / 32768.0) ** 2, axis=1))
    loud = 20.0 * np.log10(np.maximum(rms, 1e-10)) > _SILENCE_DBFS
    out = np.zeros(n, dtype=bool)
    for i in range(n):
        # quiet frames still go through webrtcvad: its noise model must see them
        out[i] = vad.is_speech(frames[i].tobytes(), PCM_RATE) and loud[i]
    return out


def speech_frames(samples: np.ndarray, sample_rate: int, *, aggressiveness: int = 2) -> np.ndarray:
    """Raw webrtcvad decision for each 30 ms frame at 16 kHz (a trailing partial frame is padded)."""
    vad = _vad(aggressiveness)
    return _classify(to_pcm16k(samples, sample_rate), vad)


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) frame index pairs, end exclusive, of the True runs in ``flags``."""
    padded = np.concatenate([[False], flags, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b)) for a, b in zip(edges[0::2], edges[1::2])]


def detect_speech(
    samples: np.ndarray,
    sample_rate: int,
    *,
    aggressiveness: int = 2,
    hangover_ms: int = 300,
    min_speech_ms: int = 150,
) -> list[Segment]:
    """Speech segments (seconds) of a mono recording; an empty list when nobody speaks."""
    if hangover_ms < 0 or min_speech_ms < 0:
        raise InputError("hangover_ms and min_speech_ms must not be negative")
    flags = speech_frames(samples, sample_rate, aggressiveness=aggressiveness)
    duration = len(np.asarray(samples).reshape(-1)) / float(sample_rate)
    return flag_segments(flags, duration_s=duration, hangover_ms=hangover_ms, min_speech_ms=min_speech_ms)


def flag_segments(
    flags: np.ndarray, *, first: int = 0, duration_s: float | None, hangover_ms: int, min_speech_ms: int
) -> list[Segment]:
    """Speech segments from raw per-frame decisions (``flags[i]`` is 30 ms frame ``first + i`` of the
    stream): gaps up to ``hangover_ms`` bridged, segments shorter than ``min_speech_ms`` dropped, ends
    clipped to ``duration_s`` (None: the stream goes on). A window of a longer stream gives the same
    segments as the whole stream, away from the window's edges by the smoothing's reach."""
    runs = _runs(flags)
    merged: list[list[int]] = []
    gap_frames = hangover_ms / FRAME_MS
    for start, end in runs:
        if merged and start - merged[-1][1] <= gap_frames:
            merged[-1][1] = end
        else:
            merged.append([start, end])
    frame_s = FRAME_MS / 1000.0
    end_s = np.inf if duration_s is None else duration_s
    segments = [
        Segment(start=round((first + a) * frame_s, 3), end=round(min((first + b) * frame_s, end_s), 3))
        for a, b in merged
        if (b - a) * FRAME_MS >= min_speech_ms
    ]
    log.debug("VAD: %d raw runs -> %d segments", len(runs), len(segments))
    return segments


def frame_mask(segments: list[Segment], frames: np.ndarray, frame_s: float) -> np.ndarray:
    """True for each output frame index in ``frames`` (of length ``frame_s``) whose centre is speech."""
    centres = (np.asarray(frames) + 0.5) * frame_s
    mask = np.zeros(len(centres), dtype=bool)
    for seg in segments:
        mask |= (centres >= seg.start) & (centres < seg.end)
    return mask


def speech_mask(samples: np.ndarray, sample_rate: int, *, frame_s: float, **kw: int) -> np.ndarray:
    """One bool per output frame of length ``frame_s`` (e.g. 1/fps): True where its centre is speech.

    The number of frames is ``ceil(duration / frame_s)``; ``kw`` goes to :func:`detect_speech`.
    """
    if not frame_s or frame_s <= 0:
        raise InputError(f"frame_s must be positive, got {frame_s}")
    segments = detect_speech(samples, sample_rate, **kw)
    duration = len(np.asarray(samples).reshape(-1)) / float(sample_rate)
    n = int(np.ceil(duration / frame_s - 1e-9))
    return frame_mask(segments, np.arange(n), frame_s)


class StreamVad:
    """webrtcvad's raw decisions for a growing 16 kHz stream, 30 ms frames on the stream's own clock.

    Frames are classified as soon as they are complete (``finish`` pads and classifies the last,
    partial one), in order through one webrtcvad, so the decisions equal :func:`speech_frames` on the
    whole stream. Only decisions from ``forget(before)`` on are kept.
    """

    def __init__(self, *, aggressiveness: int = 2) -> None:
        self._vad = _vad(aggressiveness)
        self._pending = np.zeros(0, dtype=np.float32)
        self.first = 0  # stream frame index of flags[0]
        self.flags = np.zeros(0, dtype=bool)
        self.finished = False

    @property
    def frames(self) -> int:
        """30 ms frames classified so far (kept or forgotten)."""
        return self.first + len(self.flags)

    def push(self, samples16k: np.ndarray, *, at: int | None = None) -> None:
        """Classify the complete frames the new samples (float32, 16 kHz) finish. ``at``: the stream sample
        the new samples start at; after ``finish`` padded a partial frame, the samples it stood in for
        are skipped, so that frames stay on the stream's 30 ms grid."""
        x = np.asarray(samples16k, dtype=np.float32)
        if at is not None:
            skip = self.frames * _FRAME_LEN + self._pending.size - int(at)
            x = x[skip:] if skip > 0 else x
        self._pending = np.concatenate([self._pending, x])
        n = self._pending.size // _FRAME_LEN
        if n:
            self._add(self._pending[: n * _FRAME_LEN])
            self._pending = self._pending[n * _FRAME_LEN:]

    def finish(self) -> None:
        """The stream ended: classify its last, partial frame (zero-padded, as ``speech_frames`` does)."""
        if self._pending.size:
            self._add(self._pending)
            self._pending = np.zeros(0, dtype=np.float32)
        self.finished = True

    def _add(self, samples: np.ndarray) -> None:
        pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)
        self.flags = np.concatenate([self.flags, _classify(pcm, self._vad)])

    def window(self, start: int, stop: int) -> np.ndarray:
        """Decisions of stream frames ``[start, stop)`` (False where not classified yet)."""
        out = np.zeros(max(0, stop - start), dtype=bool)
        a, b = max(start, self.first), min(stop, self.frames)
        if b > a:
            out[a - start: b - start] = self.flags[a - self.first: b - self.first]
        return out

    def forget(self, before: int) -> None:
        """Drop the decisions of frames before ``before`` (memory stays bounded on a long stream)."""
        drop = min(max(0, before - self.first), len(self.flags))
        if drop:
            self.flags = self.flags[drop:]
            self.first += drop


@dataclass(frozen=True)
class VadEvent:
    kind: str  # "start" (speech began) or "end" (speech ended: silence lasted longer than the hangover)
    time_s: float  # seconds since the tracker's first sample: the first speech / first silent frame


class SpeechTracker:
    """Incremental VAD for live audio (turn-taking): push chunks, get start/end events as they happen.

    Same smoothing idea as :func:`detect_speech`, causal: speech starts after ``min_speech_ms`` of
    speech frames (timestamped at their first frame), and ends once silence has lasted longer than
    ``hangover_ms`` (timestamped at the first silent frame). Chunks may have any length.
    """

    def __init__(
        self, sample_rate: int, *, aggressiveness: int = 2, hangover_ms: int = 300, min_speech_ms: int = 150
    ) -> None:
        self._vad = _vad(aggressiveness)
        self.sample_rate = int(sample_rate)
        self.hangover_frames = hangover_ms / FRAME_MS
        self.min_speech_frames = max(1, int(np.ceil(min_speech_ms / FRAME_MS)))
        self.in_speech = False
        self._pending = np.zeros(0, dtype=np.float32)  # samples at the caller's rate not yet framed
        self._frames = 0  # 30 ms frames consumed so far
        self._run = 0  # consecutive speech frames (while silent) or silent frames (while speaking)

    def push(self, samples: np.ndarray) -> list[VadEvent]:
        """Feed the next chunk of mono samples; returns the events it completes."""
        if np.asarray(samples).size == 0:
            return []
        self._pending = np.concatenate([self._pending, check_audio(samples, self.sample_rate)])
        per_frame = self.sample_rate * FRAME_MS / 1000.0
        n = int(len(self._pending) // per_frame)
        if n == 0:
            return []
        used = int(round(n * per_frame))
        flags = _classify(to_pcm16k(self._pending[:used], self.sample_rate), self._vad)[:n]
        self._pending = self._pending[used:]
        events: list[VadEvent] = []
        for flag in flags:
            self._frames += 1
            if not self.in_speech:
                self._run = self._run + 1 if flag else 0
                if self._run >= self.min_speech_frames:
                    self.in_speech = True
                    events.append(VadEvent("start", (self._frames - self._run) * FRAME_MS / 1000.0))
                    self._run = 0
            else:
                self._run = 0 if flag else self._run + 1
                if self._run > self.hangover_frames:
                    self.in_speech = False
                    events.append(VadEvent("end", (self._frames - self._run) * FRAME_MS / 1000.0))
                    self._run = 0
        return events
