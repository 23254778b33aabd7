"""The timeline of one utterance, built as its audio arrives, in bounded memory.

``build_timeline`` shapes a whole utterance at once; a live utterance grows 20 ms at a time and may
last many minutes, so rebuilding it whole on every push costs time in proportion to its length
(and keeps all its audio). Every step of the timeline reaches a bounded number of frames around a
frame (``reach``: VAD smoothing, short-pause removal, the lips' lead, co-articulation, the audio
model's context, the speaking state's bridging of pauses). So a stretch of frames is shaped from the
audio, VAD decisions and phones around it, with that reach as context on both sides: the same
targets as the whole utterance would give, at a cost per stretch independent of how long the
utterance has run. Audio, VAD decisions, phones and cues older than the reach behind the oldest
frame still wanted are forgotten (``forget``).

Cues (emotion) are change points on the utterance's clock; each frame carries the emotion in
force at its start.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from facecraft.audio import RATE
from facecraft.engine.config import EngineConfig
from facecraft.engine.cues import Emotion
from facecraft.engine.timeline import (
    VAD_MIN_SPEECH_MS,
    ShapePriors,
    Timeline,
    _phone_visemes,
    frame_energy_db,
    shape_timeline,
)
from facecraft.speech.types import Phone
from facecraft.speech.vad import FRAME_MS, StreamVad, flag_segments, frame_mask

__all__ = ["UtteranceTimeline", "reach"]

# (samples, n, first, offset) -> (n, 2) predicted aperture/width of frames first.. (None: no model)
Predictor = Callable[[np.ndarray, int, int, int], "np.ndarray | None"]

_VAD_FRAME = RATE * FRAME_MS // 1000  # samples per 30 ms VAD decision


def reach(config: EngineConfig, fps: float, model_frames: int = 0) -> int:
    """Frames of context on each side after which a frame's targets no longer depend on the audio
    beyond them (a safe bound on every step's reach; ``model_frames``: the audio model's)."""
    vad = math.ceil((config.vad_hangover_ms + VAD_MIN_SPEECH_MS + 2 * FRAME_MS) / 1000 * fps)
    pause = int(round(config.min_pause_s * fps)) + config.lookahead + len(config.coartic) // 2
    speaking = int(round(config.speaking_back_s * fps)) + int(round(config.speaking_ahead_s * fps)) + 2
    energy = 2
    return vad + max(pause, speaking) + max(model_frames, energy) + 2


@dataclass
class _Cue:
    frame: int  # utterance frame from which the emotion holds
    emotion: Emotion


class UtteranceTimeline:
    """Audio, phones and cues of one utterance; ``timeline(f0, f1)`` shapes frames ``[f0, f1)``.

    Not thread-safe by itself: the streaming renderer calls it under its lock.
    """

    def __init__(
        self, *, fps: float, priors: ShapePriors, config: EngineConfig, predict: Predictor,
        model_frames: int, mouth_lead: int, emotion: Emotion, model_edge: int | None = None,
    ) -> None:
        self.fps = float(fps)
        self.priors = priors
        self.config = config
        self._predict = predict
        self.mouth_lead = mouth_lead
        self.reach = reach(config, self.fps, model_frames)
        # the audio model's prediction of a frame is used at that frame only: a stretch asks it for the
        # frames wanted and ``model_edge`` more each side (its predictions that far from a stretch's edges
        # equal the whole stream's; None: the whole stretch)
        self.model_edge = model_edge
        self.hop = RATE / self.fps
        self.n_samples = 0  # samples pushed so far (the utterance clock)
        self.ended = False
        self.trust_phones = True
        self.any_phones = False
        self._audio = _Samples()  # the utterance's samples from _audio.offset on
        self._vad = StreamVad()
        self._phones: list[Phone] = []  # sorted by start, those not yet forgotten
        self._cues = [_Cue(0, emotion)]

    # --- input -------------------------------------------------------------------------------------

    def push(self, samples16k: np.ndarray, phones: list[Phone] | None, *, trust_phones: bool) -> None:
        """Append audio (16 kHz float32) and its phones (timed on the utterance clock)."""
        if samples16k.size:
            self._audio.append(samples16k)
            self._vad.push(samples16k, at=self.n_samples)
            self.n_samples += samples16k.size
        if phones:
            self._phones.extend(phones)
            self._phones.sort(key=lambda p: p.start)
            self.any_phones = True
            self.trust_phones = self.trust_phones and trust_phones

    def cue(self, emotion: Emotion) -> None:
        """The emotion holds from the frame where the audio pushed next starts."""
        frame = int(round(self.n_samples / self.hop))
        while self._cues and self._cues[-1].frame >= frame and len(self._cues) > 1:
            self._cues.pop()
        self._cues.append(_Cue(frame, emotion))

    def end(self) -> None:
        self.ended = True
        self._vad.finish()

    def resume(self) -> None:
        """More speech follows an ended utterance on the same clock."""
        self.ended = False

    # --- frames ----------------------------------------------------------------------------------

    @property
    def total(self) -> int:
        """Frames of the utterance (all of it once ended; the whole frames heard so far before)."""
        t = self.n_samples / RATE * self.fps
        return int(round(t)) if self.ended else int(t)

    def emotion_at(self, frame: int) -> Emotion:
        k = bisect_right([c.frame for c in self._cues], frame) - 1
        return self._cues[max(k, 0)].emotion

    def timeline(self, f0: int, f1: int, *, model_until: int | None = None) -> Timeline:
        """The targets of utterance frames ``[f0, f1)`` (within ``total``), ``start`` = ``f0``; frames from
        ``model_until`` on are shaped without the audio model (a look-ahead that need not wait for it)."""
        total = self.total
        f1 = min(f1, total)
        c0 = max(0, f0 - self.reach)
        c1 = min(total, f1 + self.reach)
        n = c1 - c0
        local, offset = self._audio.view(), self._audio.offset
        db = frame_energy_db(local, RATE, self.fps, n, first=c0, offset=offset)
        voiced = self._voiced(c0, c1)
        vis = at_phone = None
        if self.any_phones:
            vis = _phone_visemes(self._phones, n, self.fps, self.config.lead_s, first=c0,
                                 total=total if self.ended else None)
            at_phone = _phone_visemes(self._phones, n, self.fps, 0.0, first=c0,
                                      total=total if self.ended else None)
        m1 = f1 if model_until is None else max(f0, min(f1, model_until))
        predicted = self._predicted(local, offset, c0, c1, f0, m1) if m1 > f0 else None
        if predicted is not None and m1 < f1:
            predicted = np.array(predicted, dtype=np.float64)
            predicted[m1 - c0:] = np.nan
        tl = shape_timeline(db, voiced, vis, fps=self.fps, priors=self.priors, config=self.config,
                            predicted=predicted, trust_phones=self.trust_phones, mouth_lead=self.mouth_lead,
                            start=c0, at_phone=at_phone, first_frames=c0 == 0,
                            last_frames=self.ended and c1 == total, may_end=not self.ended and c1 == total)
        a, b = f0 - c0, f1 - c0
        k = np.searchsorted([c.frame for c in self._cues], np.arange(f0, f1), side="right") - 1
        emotion = np.array([c.emotion.index for c in self._cues], dtype=np.uint8)[np.maximum(k, 0)]
        intensity = np.array([c.emotion.intensity for c in self._cues], dtype=np.float64)[np.maximum(k, 0)]
        return Timeline(fps=tl.fps, viseme=tl.viseme[a:b], closed=tl.closed[a:b], aperture=tl.aperture[a:b],
                        width=tl.width[a:b], speaking=tl.speaking[a:b], voiced=tl.voiced[a:b],
                        emotion=emotion, intensity=intensity, start=f0)

    def _predicted(self, local: np.ndarray, offset: int, c0: int, c1: int, f0: int, f1: int) -> np.ndarray | None:
        """The audio model's prediction for frames ``[c0, c1)``, computed for ``[f0, f1)`` and the model's edge
        around it (the rows beyond repeat the nearest computed one: they shape no frame returned)."""
        if self.model_edge is None:
            return self._predict(local, c1 - c0, c0, offset)
        p0, p1 = max(c0, f0 - self.model_edge), min(c1, f1 + self.model_edge)
        if p1 <= p0:
            return None
        pred = self._predict(local, p1 - p0, p0, offset)
        if pred is None:
            return None
        return np.concatenate([np.repeat(pred[:1], p0 - c0, axis=0), pred, np.repeat(pred[-1:], c1 - p1, axis=0)])

    def _voiced(self, c0: int, c1: int) -> np.ndarray:
        """Voice activity of frames ``[c0, c1)`` from the VAD decisions around them."""
        frame_s = 1.0 / self.fps
        if self.ended and self.n_samples < RATE // 50:
            return np.zeros(c1 - c0, dtype=bool)
        span = self.reach / self.fps  # seconds of VAD context either side (covers its smoothing)
        r0 = max(0, int((c0 * frame_s - span) * 1000 // FRAME_MS))
        r1 = int(math.ceil((c1 * frame_s + span) * 1000 / FRAME_MS))
        segments = flag_segments(self._vad.window(r0, r1), first=r0,
                                 duration_s=self.n_samples / RATE if self.ended else None,
                                 hangover_ms=self.config.vad_hangover_ms, min_speech_ms=VAD_MIN_SPEECH_MS)
        return frame_mask(segments, np.arange(c0, c1), frame_s)

    def forget(self, before: int) -> None:
        """Frames before ``before`` will not be asked for again: drop what only they needed."""
        keep_frame = max(0, before - self.reach - 2)
        keep_sample = max(0, int(keep_frame * self.hop) - 1024)  # audio model and energy windows
        self._audio.forget(keep_sample)
        self._vad.forget(keep_sample // _VAD_FRAME - 2)
        t = keep_frame / self.fps - 1.0
        k = 0
        while k < len(self._phones) and self._phones[k].end < t:
            k += 1
        if k:
            del self._phones[:k]
        while len(self._cues) > 1 and self._cues[1].frame <= keep_frame:
            self._cues.pop(0)

    def audio(self) -> tuple[np.ndarray, int]:
        """The audio held (a view: copy what is kept) and the utterance sample it starts at."""
        return self._audio.view(), self._audio.offset

    @property
    def held_samples(self) -> int:
        """Audio samples held (bounded by the reach and what is queued, not by the utterance's length)."""
        return self._audio.size


class _Samples:
    """A growing run of samples that forgets its start: appends cost what they add (the storage grows
    by doubling and is compacted when its start is forgotten), not what is held."""

    def __init__(self) -> None:
        self._buf = np.zeros(RATE, dtype=np.float32)
        self._start = 0  # index in _buf of the first held sample
        self._end = 0
        self.offset = 0  # stream sample of the first held sample

    @property
    def size(self) -> int:
        return self._end - self._start

    def append(self, x: np.ndarray) -> None:
        if self._end + x.size > self._buf.size:
            held = self._buf[self._start:self._end]
            capacity = max(self._buf.size, 2 * (held.size + x.size))
            buf = np.zeros(capacity, dtype=np.float32) if capacity > self._buf.size else self._buf
            buf[: held.size] = held  # (a copy within the same buffer moves data to the front)
            self._buf, self._start, self._end = buf, 0, held.size
        self._buf[self._end:self._end + x.size] = x
        self._end += x.size

    def view(self) -> np.ndarray:
        return self._buf[self._start:self._end]

    def forget(self, before: int) -> None:
        """Drop the samples before stream sample ``before``."""
        drop = min(max(0, before - self.offset), self.size)
        self._start += drop
        self.offset += drop
