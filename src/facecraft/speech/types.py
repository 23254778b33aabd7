"""Typed values the speech layer hands to the layers above it.

Audio is passed as ``(samples, sample_rate)``: ``samples`` float32 mono in [-1, 1]. The speech layer
does not import ``facecraft.media`` (both are leaves); callers decode files with ``facecraft.media``.
Times are seconds from the start of the audio (or utterance, for streamed chunks: see ``start_s``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Segment:
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Phone:
    """A phone as its source spelled it: ARPAbet (PocketSphinx, e.g. "AA", "P", "SIL") or IPA (Piper)."""

    symbol: str
    start: float
    end: float


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float


@dataclass
class Alignment:
    words: list[Word]
    phones: list[Phone]
    duration_s: float
    source: str = "align"  # "tts" (Piper's own timings), "align", "phone_loop"


@dataclass
class SpeechChunk:
    """One streamed piece of synthesised speech (Piper: one sentence)."""

    samples: np.ndarray  # float32 mono
    sample_rate: int
    start_s: float  # offset of this chunk in the whole utterance
    text: str
    phones: list[Phone] = field(default_factory=list)  # times relative to the whole utterance
    words: list[Word] = field(default_factory=list)
