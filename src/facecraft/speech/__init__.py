"""facecraft.speech: TTS, recognition, forced alignment, voice activity, visemes, voice profile.

A leaf package: it never imports ``facecraft.media`` (audio travels as float32 ``samples`` plus a
``sample_rate``). Heavy backends (Piper/onnxruntime, PocketSphinx, pyworld) are imported on first use
of a name below, so that ``import facecraft.speech.vad`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from facecraft.speech.types import Alignment, Phone, Segment, SpeechChunk, Word

_LAZY = {
    "detect_speech": "vad",
    "speech_mask": "vad",
    "SpeechTracker": "vad",
    "align": "align",
    "align_audio": "align",
    "ASRBackend": "asr",
    "PocketSphinxASR": "asr",
    "OpenAIASR": "asr",
    "Transcript": "asr",
    "TTSBackend": "tts",
    "PiperTTS": "tts",
    "OpenAITTS": "tts",
    "VISEMES": "visemes",
    "phone_to_viseme": "visemes",
    "VoiceProfile": "voice",
    "profile_voice": "voice",
    "adapt_voice": "voice",
    "f0_distance": "voice",
    "shift_voice": "voice",
    "FliteTTS": "flite",
    "StockVoice": "voices",
    "list_voices": "voices",
    "get_voice": "voices",
    "tts_for": "voices",
    "SpeechDefaults": "remote",
    "make_stt": "remote",
    "make_tts": "remote",
}

__all__ = ["Alignment", "Phone", "Segment", "SpeechChunk", "Word", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'facecraft.speech' has no attribute {name!r}")
    return getattr(importlib.import_module(f"facecraft.speech.{module}"), name)
