"""Emotional prosody: how each emotion changes a voice (pitch level and range, rate, energy, liveliness).

The figures follow the acoustic profiles of vocal emotion in the literature (Scherer 1986; Banse &
Scherer 1996; Juslin & Laukka 2003): high-arousal emotions (anger, excitement, elation, fear, surprise)
raise the pitch, widen its range, speed up and get louder; low-arousal ones (sadness, dejection)
lower and flatten the pitch, slow down and soften; contempt and disgust are low, slow and a little
wider. An intensity between 0 and 1 moves each figure from neutral toward the full one.

The changes are applied in two places, so that the phone timings the mouth follows stay exact:
- the rate and the liveliness at synthesis (``TTSBackend.styled``: Piper's length and noise scales),
- pitch, range and energy on each sentence afterwards (``apply_prosody``): with the WORLD vocoder
  (``speech.voice``), folded into the Face's own voice mapping when there is one (one re-synthesis,
  not two), then a gain with a soft limiter (louder speech keeps its peak level). Lengths never change.

Everything here works on one sentence at a time, so a live conversation can change emotion between
sentences (the names are API.md's emotions; ``engine.cues.EMOTIONS`` has the same set).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from facecraft.errors import InputError, SpeechError
from facecraft.speech._pcm import check_audio
from facecraft.speech.voice import VoiceMapping, VoiceProfile, adapt_voice, shift_voice

__all__ = ["Prosody", "PROSODY", "NEUTRAL_PROSODY", "prosody_for", "apply_prosody", "apply_energy"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prosody:
    """A change of voice: ``pitch_st`` semitones up, the pitch's spread around its level times ``range``,
    speaking ``rate`` times as fast, ``energy_db`` louder, Piper's sampling noise (the liveliness of its
    durations and intonation) times ``variation``."""

    pitch_st: float = 0.0
    range: float = 1.0
    rate: float = 1.0
    energy_db: float = 0.0
    variation: float = 1.0

    @property
    def neutral(self) -> bool:
        return (abs(self.pitch_st) < 1e-3 and abs(self.range - 1) < 1e-3 and abs(self.rate - 1) < 1e-3
                and abs(self.energy_db) < 1e-3 and abs(self.variation - 1) < 1e-3)

    @property
    def length_scale(self) -> float:
        """The factor on a TTS's phone durations (> 1: slower)."""
        return 1.0 / self.rate

    def at(self, intensity: float) -> Prosody:
        """This prosody at ``intensity`` (0: neutral, 1: as it is): offsets linear, factors geometric."""
        k = float(intensity)
        return Prosody(self.pitch_st * k, self.range ** k, self.rate ** k, self.energy_db * k, self.variation ** k)


NEUTRAL_PROSODY = Prosody()

PROSODY: dict[str, Prosody] = {
    "neutral": NEUTRAL_PROSODY,
    "angry": Prosody(pitch_st=1.5, range=1.3, rate=1.08, energy_db=4.0, variation=1.1),
    "excited": Prosody(pitch_st=3.0, range=1.4, rate=1.12, energy_db=3.0, variation=1.2),
    "elated": Prosody(pitch_st=3.5, range=1.5, rate=1.05, energy_db=3.0, variation=1.2),
    "content": Prosody(pitch_st=0.5, range=1.05, rate=0.95, energy_db=-1.0, variation=0.9),
    "sad": Prosody(pitch_st=-1.5, range=0.7, rate=0.85, energy_db=-4.0, variation=0.8),
    "dejected": Prosody(pitch_st=-2.5, range=0.6, rate=0.8, energy_db=-6.0, variation=0.7),
    "scared": Prosody(pitch_st=3.0, range=1.2, rate=1.15, energy_db=1.0, variation=1.3),
    "contempt": Prosody(pitch_st=-1.0, range=1.15, rate=0.92, energy_db=-1.0, variation=0.9),
    "disgusted": Prosody(pitch_st=-1.5, range=1.1, rate=0.88, energy_db=0.0, variation=0.9),
    "surprised": Prosody(pitch_st=4.0, range=1.5, rate=1.0, energy_db=2.0, variation=1.2),
}


def prosody_for(emotion: str, intensity: float = 1.0) -> Prosody:
    """The prosody of ``emotion`` (an API.md name) at ``intensity`` 0..1; InputError ``unknown_emotion`` or
    ``invalid_emotion_intensity`` otherwise."""
    found = PROSODY.get(str(emotion).strip().lower())
    if found is None:
        raise InputError(f"unknown emotion {emotion!r}; use one of {', '.join(PROSODY)}", error_id="unknown_emotion")
    try:
        k = float(intensity)
    except (TypeError, ValueError):
        raise InputError(f"emotion intensity {intensity!r} is not a number",
                         error_id="invalid_emotion_intensity") from None
    if not 0.0 <= k <= 1.0:
        raise InputError(f"emotion intensity must be within 0..1, got {intensity}",
                         error_id="invalid_emotion_intensity")
    return found.at(k)


def apply_energy(samples: np.ndarray, energy_db: float) -> np.ndarray:
    """``samples`` ``energy_db`` louder (or softer). Louder speech keeps its peak: a soft limiter
    (tanh knee at the input's peak) raises the body of the speech rather than clipping its peaks."""
    x = np.asarray(samples, dtype=np.float32)
    if abs(energy_db) < 1e-3 or not x.size:
        return x.copy()
    gain = float(10.0 ** (energy_db / 20.0))
    if gain <= 1.0:
        return (x * gain).astype(np.float32)
    peak = float(np.max(np.abs(x)))
    if peak <= 0.0:
        return x.copy()
    return (peak * np.tanh(x * (gain / peak))).astype(np.float32)


def apply_prosody(
    samples: np.ndarray, sample_rate: int, prosody: Prosody, *, voice: VoiceProfile | None = None,
    mapping: VoiceMapping | None = None,
) -> np.ndarray:
    """One sentence with ``prosody``'s pitch, range and energy (its rate was set at synthesis), same length.

    With ``voice`` and ``mapping`` (the Face's voice adaptation, ``speech.voice.plan_voice``) the pitch
    change is folded into that mapping: one re-synthesis moves the sentence to the Face's voice and to
    the emotion together. A sentence too short or unvoiced for WORLD keeps its pitch (logged).
    """
    x = check_audio(samples, sample_rate)
    if voice is not None and mapping is not None:
        moved = replace(mapping, f0_new_median_st=mapping.f0_new_median_st + prosody.pitch_st,
                        f0_spread=mapping.f0_spread * prosody.range)
        try:
            x = adapt_voice(x, sample_rate, voice, mapping=moved)
        except SpeechError as exc:
            log.debug("a sentence kept its TTS voice: %s", exc.message)
    elif abs(prosody.pitch_st) > 1e-3 or abs(prosody.range - 1.0) > 1e-3:
        try:
            x = shift_voice(x, sample_rate, semitones=float(np.clip(prosody.pitch_st, -12, 12)),
                            intonation=float(np.clip(prosody.range, 0.5, 2.0)))
        except SpeechError as exc:
            log.debug("a sentence kept its pitch: %s", exc.message)
    return apply_energy(x, prosody.energy_db)
