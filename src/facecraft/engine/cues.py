"""Cues: what a Face should show besides its speech (for now an emotion, with an intensity).

Cues travel with the audio into the streaming renderer and land on its timeline per frame; the
renderer hands each frame's emotion on to its drawing stages (rendering the emotion itself is the
emotion stage's job). The names are API.md's emotions.
"""

from __future__ import annotations

from dataclasses import dataclass

from facecraft.errors import InputError

__all__ = ["EMOTIONS", "NEUTRAL", "Emotion"]

EMOTIONS = (
    "neutral",
    "angry",
    "excited",
    "elated",
    "content",
    "sad",
    "dejected",
    "scared",
    "contempt",
    "disgusted",
    "surprised",
)


@dataclass(frozen=True)
class Emotion:
    """An emotion (one of ``EMOTIONS``) shown at ``intensity`` (0: not at all, 1: fully)."""

    name: str = "neutral"
    intensity: float = 1.0

    def __post_init__(self) -> None:
        if self.name not in EMOTIONS:
            raise InputError(f"unknown emotion {self.name!r}; use one of {', '.join(EMOTIONS)}",
                             error_id="unknown_emotion")
        if not (0.0 <= float(self.intensity) <= 1.0):
            raise InputError(f"emotion intensity must be within 0..1, got {self.intensity}",
                             error_id="invalid_emotion_intensity")

    @property
    def index(self) -> int:
        """Position in ``EMOTIONS`` (how a timeline stores it per frame)."""
        return EMOTIONS.index(self.name)


NEUTRAL = Emotion()
