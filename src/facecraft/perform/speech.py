"""Speech for the streaming renderer: text (with cues) or audio -> phone-timed pieces, one sentence at a time.

A ``Piece`` is what the renderer's ``push_audio`` takes: samples, their phones on the utterance
clock, whether to trust the phones, and the emotion cue it starts with. Text is synthesised sentence
by sentence (``speech.tts``), and each sentence is moved toward the Face's voice with one mapping
measured on the first seconds (``speech.voice.plan_voice``), so that a script of any length costs
time, not memory. Each sentence is spoken with the prosody of the emotion it is in (``speech.prosody``:
rate and liveliness at synthesis, pitch, range and energy folded into the voice mapping). Audio
without phones is forced-aligned to its transcript or, without one, recognised.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from facecraft.audio import RATE, resample
from facecraft.engine.cues import Emotion
from facecraft.engine.renderer import FaceData
from facecraft.errors import FacecraftError, InputError, SpeechError
from facecraft.perform.script import Script, parse_script
from facecraft.speech.prosody import Prosody, apply_prosody, prosody_for
from facecraft.speech.text import has_speakable
from facecraft.speech.tts import TTSBackend
from facecraft.speech.types import Alignment, Phone
from facecraft.speech.voice import VoiceMapping, VoiceProfile, plan_voice
from facecraft.speech.voices import ShiftedTTS

__all__ = ["Piece", "prepare_audio", "audio_phones", "audio_pieces", "text_pieces", "face_voice",
           "face_speaker", "emotion_prosody", "styled_backend", "live_voice_mapping", "MIN_AUDIO_S",
           "VOICE_PLAN_S"]

log = logging.getLogger(__name__)

MIN_AUDIO_S = 0.1
VOICE_PLAN_S = 4.0  # seconds of TTS speech the voice mapping is measured on


@dataclass
class Piece:
    """A stretch of an utterance for ``StreamingRenderer.push_audio``."""

    samples: np.ndarray  # float32 mono
    sample_rate: int
    phones: list[Phone] = field(default_factory=list)  # on the utterance clock
    trust_phones: bool = True
    emotion: Emotion | None = None  # cue to set before this piece (None: keep the current one)
    text: str = ""  # what it says (progress, logs)
    prosody: Prosody | None = None  # pitch, range and energy still to apply (None: none)


def prepare_audio(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono float32 at 16 kHz; InputError for empty, too short or non-finite audio."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if x.ndim != 1 or sample_rate <= 0:
        raise InputError("audio must be mono samples with a positive sample rate")
    if x.size == 0:
        raise InputError("the audio is empty")
    if x.size / sample_rate < MIN_AUDIO_S:
        raise InputError(f"the audio is too short ({x.size / sample_rate:.3f} s; at least {MIN_AUDIO_S} s)")
    if not np.isfinite(x).all():
        raise InputError("the audio contains NaN or infinite samples")
    return x if sample_rate == RATE else resample(x, sample_rate, RATE)


def audio_phones(x16: np.ndarray, alignment: Alignment | None, text: str | None) -> tuple[list[Phone], bool]:
    """Phone timings of 16 kHz speech (given, forced-aligned to ``text``, or recognised) and whether to
    trust them (recognised phones shape the mouth but do not force closures)."""
    if alignment is not None:
        return list(alignment.phones), alignment.source != "phone_loop"
    from facecraft.speech.align import align, align_audio

    try:
        if text and text.strip():
            return list(align(x16, RATE, text).phones), True
        return list(align_audio(x16, RATE).phones), False
    except SpeechError as exc:
        log.warning("alignment failed (%s); the mouth follows the audio only", exc.message)
        return [], False


def audio_pieces(
    samples: np.ndarray, sample_rate: int, *, alignment: Alignment | None = None, text: str | None = None,
    emotion: Emotion | None = None,
) -> Iterator[Piece]:
    """Recorded speech as one piece, at its own rate (the caller's audio is bounded: API.md allows 10 min);
    its phones are found on the 16 kHz audio the renderer reads. ``emotion`` shows on the face (the
    recorded voice is left as it is)."""
    x16 = prepare_audio(samples, sample_rate)
    phones, trusted = audio_phones(x16, alignment, text)
    x = np.asarray(samples, dtype=np.float32)
    yield Piece(x.mean(axis=1) if x.ndim == 2 else x, int(sample_rate), phones, trusted, emotion)


def face_voice(face: FaceData) -> VoiceProfile | None:
    """The Face's voice profile (``voice.json``), None when it has none usable."""
    try:
        return VoiceProfile.from_dict(json.loads(face.file("voice.json").read_text()))
    except (FacecraftError, ValueError, KeyError, OSError) as exc:
        log.warning("voice adaptation skipped: %s", exc)
        return None


def face_speaker(face: FaceData) -> tuple[TTSBackend, bool]:
    """The TTS a Face speaks with and whether to adapt it toward the Face's voice profile (a photo Face's
    stock voice speaks as it is; see ``speech.voices.face_speaker``). Reads the bundle's manifest where
    the Face has one."""
    from facecraft.speech.voices import face_speaker as speaker_for_manifest

    manifest = getattr(face, "manifest", None)
    return speaker_for_manifest(manifest.get("voice") if isinstance(manifest, dict) else None)


def emotion_prosody(emotion: Emotion | None) -> Prosody | None:
    """The voice of ``emotion`` at its intensity (None: neutral)."""
    if emotion is None:
        return None
    prosody = prosody_for(emotion.name, emotion.intensity)
    return None if prosody.neutral else prosody


def styled_backend(tts: TTSBackend, prosody: Prosody | None) -> TTSBackend:
    """``tts`` speaking at ``prosody``'s rate and liveliness (itself for None)."""
    return tts if prosody is None else tts.styled(length=prosody.length_scale, variation=prosody.variation)


def text_pieces(
    script: str | Script, tts: TTSBackend, *, voice: VoiceProfile | None = None, emotion: Emotion | None = None,
    mapping: VoiceMapping | None = None,
) -> Iterator[Piece]:
    """Synthesise a script sentence by sentence: one piece per sentence, at the first sentence's rate,
    phones on the utterance clock, each segment's cue on its first piece; ``voice`` (the Face's) moves
    every sentence toward it with one mapping: ``mapping`` when given (``live_voice_mapping``: every
    sentence leaves as soon as it is synthesised), else measured on the first ``VOICE_PLAN_S``.
    ``emotion`` is the default until the script's first tag (the per-request default); every sentence
    is spoken with the prosody of its emotion."""
    parsed = script if isinstance(script, Script) else parse_script(script)
    adapter = _Adapter(voice, mapping)
    rate = 0
    clock = 0.0  # seconds of the utterance so far
    pending: Emotion | None = emotion
    current = emotion
    backends: dict[Emotion | None, tuple[TTSBackend, Prosody | None]] = {}
    for segment in parsed.segments():
        pending = segment.emotion if segment.emotion is not None else pending
        current = segment.emotion if segment.emotion is not None else current
        if not has_speakable(segment.text):
            continue
        styled = backends.get(current)
        if styled is None:
            prosody = emotion_prosody(current)
            styled = (styled_backend(tts, prosody), prosody)
            if voice is None:  # a stock voice spoken as it is: a shifted one takes the emotion's pitch itself
                styled = _pitch_in_voice(*styled)
            backends[current] = styled
        backend, prosody = styled
        for chunk in backend.stream(segment.text):
            samples = chunk.samples
            if rate and chunk.sample_rate != rate:
                samples = resample(samples, chunk.sample_rate, rate)
            rate = rate or chunk.sample_rate
            shift = clock - chunk.start_s
            phones = [Phone(p.symbol, p.start + shift, p.end + shift) for p in chunk.phones]
            yield from adapter.feed(Piece(samples, rate, phones, True, pending, chunk.text, prosody))
            pending = None
            clock += samples.size / rate
    yield from adapter.flush()


def _pitch_in_voice(backend: TTSBackend, prosody: Prosody | None) -> tuple[TTSBackend, Prosody | None]:
    """A stock voice made by WORLD (``ShiftedTTS``) re-synthesises every sentence anyway: it takes the
    emotion's pitch and range in that same pass, so a sentence is re-synthesised once, not twice; what is
    left of the prosody (energy) is applied afterwards."""
    if prosody is None or not isinstance(backend, ShiftedTTS):
        return backend, prosody
    rest = replace(prosody, pitch_st=0.0, range=1.0)
    return backend.moved(prosody.pitch_st, prosody.range), None if rest.neutral else rest


CALIBRATION_TEXT = ("The quick brown fox jumps over the lazy dog while we talk about the weather today. "
                    "Thank you very much for coming, I am glad to meet you.")


def live_voice_mapping(tts: TTSBackend, voice: VoiceProfile | None) -> VoiceMapping | None:
    """The mapping of ``tts``'s voice toward ``voice``, measured once on a fixed calibration text, so a
    live session adapts every sentence as it is synthesised instead of holding ``VOICE_PLAN_S`` of
    speech back (a first reply must leave in a fraction of a second). None where there is nothing to
    adapt or the measurement fails (the TTS voice then speaks as it is)."""
    if voice is None:
        return None
    try:
        samples, rate, _ = tts.synthesize(CALIBRATION_TEXT)
        return plan_voice(samples, rate, voice)
    except (FacecraftError, ValueError) as exc:
        log.warning("voice adaptation skipped: %s", exc)
        return None


class _Adapter:
    """Voice adaptation of consecutive pieces with one mapping, measured once on the first
    ``VOICE_PLAN_S`` of speech (held until then; bounded), and each piece's emotional prosody."""

    def __init__(self, voice: VoiceProfile | None, mapping: VoiceMapping | None = None) -> None:
        self.voice = voice
        self.mapping: VoiceMapping | None = mapping
        self.held: list[Piece] = []

    def feed(self, piece: Piece) -> list[Piece]:
        if self.voice is None:
            return [_with_prosody(piece, None, None)]
        self.held.append(piece)
        if self.mapping is None and sum(p.samples.size / p.sample_rate for p in self.held) < VOICE_PLAN_S:
            return []
        return self.flush()

    def flush(self) -> list[Piece]:
        held, self.held = self.held, []
        if self.voice is None or not held:
            return [_with_prosody(p, None, None) for p in held]
        if self.mapping is None:
            try:
                self.mapping = plan_voice(np.concatenate([p.samples for p in held]), held[0].sample_rate,
                                          self.voice)
            except (FacecraftError, ValueError) as exc:
                log.warning("voice adaptation skipped: %s", exc)
                self.voice = None
                return [_with_prosody(p, None, None) for p in held]
        return [_with_prosody(p, self.voice, self.mapping) for p in held]


def _with_prosody(piece: Piece, voice: VoiceProfile | None, mapping: VoiceMapping | None) -> Piece:
    """``piece`` moved to the Face's voice (with ``mapping``) and to its emotion's pitch, range and energy."""
    prosody = piece.prosody or Prosody()
    if voice is None and piece.prosody is None:
        return piece
    try:
        piece.samples = apply_prosody(piece.samples, piece.sample_rate, prosody, voice=voice, mapping=mapping)
    except FacecraftError as exc:  # a sentence too short or silent to re-synthesise keeps its voice
        log.debug("sentence %r kept its TTS voice: %s", piece.text, exc)
    piece.prosody = None
    return piece
