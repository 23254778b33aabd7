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
import re
import time
from collections.abc import Callable, Iterator
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
           "face_speaker", "emotion_prosody", "styled_backend", "live_voice_mapping", "AdaptPace", "clause_first",
           "trim_lead",
           "MIN_AUDIO_S",
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
    synth_s: float = 0.0  # seconds its sentence's synthesis took (a live reply's latency log)
    voice_s: float = 0.0  # seconds its voice adaptation took


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


@dataclass
class AdaptPace:
    """How long the voice adaptation takes per second of speech (wall time, so a busy machine counts), kept
    across a live session's replies. It says where to cut a reply's first sentence: a short first part
    leaves after a fraction of the whole sentence's adaptation, and each next part is adapted while the
    one before it plays (so the parts grow: by about 1 / ratio each).
    """

    ratio: float = 0.35  # seconds of adaptation per second of speech (a guess until measured)
    margin_s: float = 0.15  # context analysed on each side of a cut (WORLD's windows reach this far)
    fade_s: float = 0.01  # crossfade of two parts at their cut
    safety_s: float = 0.1  # slack for a part to be ready before the one before it has played
    min_part_s: float = 0.25  # the shortest part (a shorter one saves too little for its extra analysis)
    max_parts: int = 4
    part_cost_s: float = 0.1  # how much shorter a first part must be to be worth one more part
    step_s: float = 0.05  # head lengths tried

    def note(self, audio_s: float, took_s: float) -> None:
        """One adaptation of ``audio_s`` of speech took ``took_s``."""
        if audio_s > 0.2:
            self.ratio = 0.7 * self.ratio + 0.3 * min(4.0, took_s / audio_s)

    def cuts(self, duration_s: float) -> list[float]:
        """Times (s) where to cut a ``duration_s`` sentence; [] where cutting gains nothing. Each next part,
        with its context, must be adapted while the one before plays (ratio * (part + 2 * margin) + safety
        <= the part before); of the chains that reach the end in ``max_parts``,
        the one with the shortest first part wins, each extra part counting ``part_cost_s`` against it
        (its analysis of the context costs CPU)."""
        r, m = max(self.ratio, 1e-3), self.margin_s
        best: list[float] = []
        best_score = duration_s  # not cutting: the whole sentence is the first part
        head = self.min_part_s
        while head <= duration_s - self.min_part_s:
            chain = self._chain(head, duration_s, r, m)
            if chain:
                score = head + self.part_cost_s * (len(chain) - 1)
                if score < best_score - 1e-9:
                    best, best_score = chain, score
            head += self.step_s
        return best

    def _chain(self, head: float, duration_s: float, r: float, m: float) -> list[float]:
        cuts, last, end = [head], head, head
        while duration_s - end > 1e-9:
            longest = (last - self.safety_s) / r - 2 * m  # the next part ready in time
            part = min(longest, duration_s - end)
            if 0 < duration_s - end - part < self.min_part_s:  # leave no sliver at the end
                part = duration_s - end - self.min_part_s
            if part < self.min_part_s - 1e-9:
                return []
            last, end = part, end + part
            if duration_s - end > 1e-9:
                cuts.append(end)
            if len(cuts) >= self.max_parts:
                return []
        return cuts


def text_pieces(
    script: str | Script, tts: TTSBackend, *, voice: VoiceProfile | None = None, emotion: Emotion | None = None,
    mapping: VoiceMapping | None = None, pace: AdaptPace | None = None, trim_start: bool = False,
) -> Iterator[Piece]:
    """Synthesise a script sentence by sentence: one piece per sentence, at the first sentence's rate,
    phones on the utterance clock, each segment's cue on its first piece; ``voice`` (the Face's) moves
    every sentence toward it with one mapping: ``mapping`` when given (``live_voice_mapping``: every
    sentence leaves as soon as it is synthesised), else measured on the first ``VOICE_PLAN_S``.
    ``emotion`` is the default until the script's first tag (the per-request default); every sentence
    is spoken with the prosody of its emotion. ``pace`` (live): a long first sentence is synthesised
    clause first (``clause_first``) and, with ``mapping``, the first piece is adapted and yielded in
    parts (``AdaptPace.cuts``), so the first audio leaves sooner; every adaptation's time updates it.
    ``trim_start`` (live, a reply's first sentence): its audio starts at its first sound (``trim_lead``)."""
    parsed = script if isinstance(script, Script) else parse_script(script)
    adapter = _Adapter(voice, mapping, pace if mapping is not None else None)
    first = pace is not None  # the script's first speech is still to come (live)
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
        live_first, first = first, False
        texts = clause_first(segment.text) if live_first else [segment.text]
        speaker, feeder = backend, adapter
        if live_first and voice is None and isinstance(backend, ShiftedTTS):
            # a stock shifted voice (a photo Face): its WORLD pass costs twice Piper's synthesis, so the live
            # first sentence is shifted here, part by part like an adaptation, not whole inside its TTS
            speaker, feeder = backend.backend, _Adapter(None, pace=pace, shift=backend.shift)
        chunks = (c for text in texts for c in speaker.stream(text))
        while True:
            asked = time.perf_counter()
            chunk = next(chunks, None)
            if chunk is None:
                break
            synth_s = time.perf_counter() - asked
            samples = chunk.samples
            if rate and chunk.sample_rate != rate:
                samples = resample(samples, chunk.sample_rate, rate)
            rate = rate or chunk.sample_rate
            shift = clock - chunk.start_s
            phones = [Phone(p.symbol, p.start + shift, p.end + shift) for p in chunk.phones]
            if trim_start and clock == 0.0:  # a reply's first audio: it starts with its first sound
                samples, phones = trim_lead(samples, rate, phones)
            yield from feeder.feed(Piece(samples, rate, phones, True, pending, chunk.text, prosody, synth_s))
            pending = None
            clock += samples.size / rate
        if feeder is not adapter:
            yield from feeder.flush()
    yield from adapter.flush()


def _pitch_in_voice(backend: TTSBackend, prosody: Prosody | None) -> tuple[TTSBackend, Prosody | None]:
    """A stock voice made by WORLD (``ShiftedTTS``) re-synthesises every sentence anyway: it takes the
    emotion's pitch and range in that same pass, so a sentence is re-synthesised once, not twice; what is
    left of the prosody (energy) is applied afterwards."""
    if prosody is None or not isinstance(backend, ShiftedTTS):
        return backend, prosody
    rest = replace(prosody, pitch_st=0.0, range=1.0)
    return backend.moved(prosody.pitch_st, prosody.range), None if rest.neutral else rest


LEAD_LEVEL = 0.003  # |sample| above which a TTS sentence's audio has begun (Piper's lead peaks at ~1e-4)
LEAD_KEEP_S = 0.01  # silence kept before the first sound (the onset is not cut, the WORLD pass has context)


def trim_lead(samples: np.ndarray, rate: int, phones: list[Phone]) -> tuple[np.ndarray, list[Phone]]:
    """``samples`` without the silence before their first sound (but ``LEAD_KEEP_S``), ``phones`` moved with
    them. Piper starts every sentence with 20-80 ms of silence (its "^" phone): a live reply's first
    sentence would reach the caller that much later for nothing."""
    loud = np.flatnonzero(np.abs(samples) > LEAD_LEVEL)
    cut = int(loud[0]) - int(round(LEAD_KEEP_S * rate)) if loud.size else 0
    if cut <= 0:
        return samples, phones
    dt = cut / rate
    moved = [Phone(p.symbol, max(0.0, p.start - dt), p.end - dt) for p in phones if p.end - dt > 0.0]
    return samples[cut:], moved


CLAUSE_MIN_WORDS = 3
_CLAUSE = re.compile(r"[,;:]\s+")
_SENTENCE_END = re.compile(r"[.!?](\s|$)")


def clause_first(text: str) -> list[str]:
    """``text`` as [its first clause, the rest] where its first sentence has a clause of at least
    ``CLAUSE_MIN_WORDS`` words before a comma, semicolon or colon and as many after it; else [text].
    A live reply synthesises that clause alone (TTS cost grows with the length it is asked for)."""
    end = _SENTENCE_END.search(text)
    limit = end.start() if end else len(text)
    words = len(text[:limit].split())
    for m in _CLAUSE.finditer(text, 0, limit):
        head = text[: m.start() + 1]
        n = len(head.split())
        if n >= CLAUSE_MIN_WORDS and words - n >= CLAUSE_MIN_WORDS:
            return [head, text[m.end():]]
    return [text]


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
    ``VOICE_PLAN_S`` of speech (held until then; bounded), and each piece's emotional prosody.
    With ``pace`` the first piece (at the utterance's time 0) leaves in parts (``AdaptPace.cuts``).
    ``shift`` (with no ``voice``): a stock voice's own WORLD shift (``ShiftedTTS.shift``), applied here
    instead of by the TTS, the first piece in parts the same way."""

    def __init__(self, voice: VoiceProfile | None, mapping: VoiceMapping | None = None,
                 pace: AdaptPace | None = None,
                 shift: Callable[[np.ndarray, int], np.ndarray] | None = None) -> None:
        self.voice = voice
        self.mapping: VoiceMapping | None = mapping
        self.pace = pace
        self.shift = shift if voice is None else None
        self.held: list[Piece] = []
        self.first = True

    def feed(self, piece: Piece) -> Iterator[Piece]:
        if self.voice is None and self.shift is None:
            yield _with_prosody(piece, None, None)
            return
        if self.voice is None:  # a stock voice shifted: nothing to measure first
            yield from self._paced(piece)
            return
        self.held.append(piece)
        if self.mapping is None and sum(p.samples.size / p.sample_rate for p in self.held) < VOICE_PLAN_S:
            return
        yield from self.flush()

    def flush(self) -> Iterator[Piece]:
        held, self.held = self.held, []
        if self.voice is None or not held:
            yield from (_with_prosody(p, None, None) for p in held)
            return
        if self.mapping is None:
            try:
                self.mapping = plan_voice(np.concatenate([p.samples for p in held]), held[0].sample_rate,
                                          self.voice)
            except (FacecraftError, ValueError) as exc:
                log.warning("voice adaptation skipped: %s", exc)
                self.voice = None
                yield from (_with_prosody(p, None, None) for p in held)
                return
        for piece in held:
            yield from self._paced(piece)

    def _paced(self, piece: Piece) -> Iterator[Piece]:
        first, self.first = self.first, False
        cuts = self.pace.cuts(piece.samples.size / piece.sample_rate) if first and self.pace else []
        if cuts:
            yield from self._in_parts(piece, cuts)
        else:
            yield self._adapted(piece)

    def _adapted(self, piece: Piece) -> Piece:
        started = time.perf_counter()
        if self.shift is not None:
            piece = replace(piece, samples=self.shift(piece.samples, piece.sample_rate))
        out = _with_prosody(piece, self.voice, self.mapping)
        out.voice_s = time.perf_counter() - started
        if self.pace is not None:
            self.pace.note(out.samples.size / out.sample_rate, out.voice_s)
        return out

    def _in_parts(self, piece: Piece, cuts: list[float]) -> Iterator[Piece]:
        """``piece`` (at utterance time 0) adapted part by part between ``cuts``, each part analysed with
        ``margin_s`` of context on either side and crossfaded over ``fade_s`` into the part before."""
        assert self.pace is not None
        rate, x = piece.sample_rate, piece.samples
        margin = int(round(self.pace.margin_s * rate))
        fade = max(1, min(margin, int(round(self.pace.fade_s * rate))))
        w = np.linspace(0.0, 1.0, fade, dtype=np.float32)
        bounds = [0, *(int(round(c * rate)) for c in cuts), x.size]
        times = [0.0, *cuts, float("inf")]
        overhang: np.ndarray | None = None  # the part before, adapted past its end (to fade from)
        for k in range(len(bounds) - 1):
            a, b = bounds[k], bounds[k + 1]
            lo, hi = max(0, a - margin), min(x.size, b + margin)
            part = replace(piece, samples=x[lo:hi],
                           phones=[p for p in piece.phones if times[k] <= p.start < times[k + 1]])
            if k:
                part.emotion, part.text = None, ""
            done = self._adapted(part)
            y = done.samples[a - lo: a - lo + (b - a)].copy()
            if overhang is not None:
                n = min(fade, overhang.size, y.size)
                y[:n] = overhang[:n] * (1.0 - w[:n]) + y[:n] * w[:n]
            overhang = done.samples[b - lo: b - lo + fade]
            yield replace(done, samples=y)


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
