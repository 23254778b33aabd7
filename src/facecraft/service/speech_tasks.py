"""The work behind ``/v1/audio/*`` (``routers.openai_audio``), each call in its own process
(``facecraft.service.isolation``): the API process never decodes audio nor runs Whisper or Piper."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from facecraft.errors import InputError
from facecraft.service.isolation import Send

__all__ = ["transcribe_task", "speak_task", "MAX_TRANSCRIBE_S"]

MAX_TRANSCRIBE_S = 15 * 60.0  # longest audio transcribed in one request (bounds memory and time)


def transcribe_task(payload: dict[str, Any], send: Send) -> dict[str, Any]:
    """``{path, engine}`` -> ``{text, duration, words: [{word, start, end}]}``: the file decoded (any
    format PyAV reads), then recognised by Whisper tiny.en (or PocketSphinx)."""
    from facecraft.media import read_audio
    from facecraft.speech.asr import PocketSphinxASR, WhisperASR

    audio = read_audio(Path(payload["path"]), sample_rate=16000, max_s=MAX_TRANSCRIBE_S + 1)
    if audio.samples.size == 0:
        raise InputError("the audio file holds no samples")
    if audio.duration_s > MAX_TRANSCRIBE_S:
        raise InputError(f"the audio is longer than {MAX_TRANSCRIBE_S / 60:.0f} minutes: split it",
                         error_id="audio_file_max_duration")
    asr = PocketSphinxASR() if payload.get("engine") == "pocketsphinx" else WhisperASR()
    transcript = asr.transcribe(audio.samples, audio.sample_rate)
    return {"text": transcript.text, "duration": round(audio.duration_s, 3),
            "words": [{"word": w.text, "start": w.start, "end": w.end} for w in transcript.words]}


PCM_RATE = 24000  # OpenAI's ``pcm`` response format: raw 16-bit mono little-endian at 24 kHz


def speak_task(payload: dict[str, Any], send: Send) -> dict[str, Any]:
    """``{text, voice, out, speed, format}`` -> ``{path, sample_rate, seconds}``: a stock voice speaks the
    text into ``out``, a 16-bit mono WAV (``format`` wav) or raw PCM at 24 kHz (``pcm``)."""
    from facecraft.audio import resample
    from facecraft.media.audio import to_int16, write_wav
    from facecraft.speech.voices import tts_for

    tts = tts_for(payload["voice"])
    speed = float(payload.get("speed") or 1.0)
    if speed != 1.0:
        tts = tts.styled(length=1.0 / speed)
    samples, rate, _ = tts.synthesize(payload["text"])
    if payload.get("format") == "pcm":
        samples, rate = resample(samples, rate, PCM_RATE), PCM_RATE
        Path(payload["out"]).write_bytes(to_int16(samples).astype("<i2").tobytes())
    else:
        write_wav(payload["out"], samples, rate)
    return {"path": payload["out"], "sample_rate": rate, "seconds": round(samples.size / rate, 3)}
