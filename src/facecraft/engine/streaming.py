"""Streaming renderer: push speech audio (with phones and cues) from one thread, pull frames from another.

This is the Face's one renderer: a live call pushes TTS audio as it is synthesised and pulls frames
at the frame rate; a file render pushes a whole sentence at a time and pulls every frame.

Input (any thread, typically the event loop): ``push_audio`` (a chunk of speech, optionally with
its phone timings), ``set_emotion`` (a cue), ``end_of_speech`` (the utterance is complete),
``interrupt`` (barge-in: drop everything queued). Output (one puller thread): ``next_frame`` returns
a ``StreamFrame``: the image, its presentation timestamp (``index`` frames of 1/fps since the
renderer started; ``time_s``), whether it is speech (``speaking``: audio of an utterance plays under
it), the emotion it shows, and the utterance clock it is on (``utterance``, ``utterance_frame``; a
push returns the utterance and the time its audio starts at, so a live output plays each frame's own
audio). Each call to ``next_frame`` is the next frame: none is skipped or repeated, whatever the
pushing thread does meanwhile; the puller paces the calls (a live transport at the Face's fps). A puller
that draws a frame ahead of its clock may give back a listening frame drawn just before speech arrived
(``take_back_listening``): it is undone, and the speech's first frame takes its place and its timestamp. Both
sides take one lock for bookkeeping only; the frame is drawn outside it, so a push never waits for a
frame being drawn.

Planning: frames are planned in fixed blocks (motion step + mouth per frame) once the audio holds
the block plus a fixed look-ahead, or the utterance has ended; planning never depends on how the
audio was chunked, so a streamed render matches the batch render (which is this object fed all at
once). The timeline of an utterance is built as its audio arrives (``UtteranceTimeline``): the cost
of a push, and of planning a block, does not grow with how long the utterance has run, and the
memory held is bounded by what is queued plus a fixed reach.

While no utterance is playing the head keeps its listening motion and the footage's own mouth, where
that mouth rests closed. Speaking footage shown while silent (a state change waiting for a close
pose, or a Face with too little listening footage) gets a closed mouth at rest instead, and so does
listening footage that is mostly pauses between words with the lips apart (a Face built from a clip
of speech only). A switch between a composed mouth and the footage's own fades over a few frames
(``mouth_fade``): the two never match exactly, and at every turn of a conversation a pop in the
lower face would show. After an interruption the mouth closes over ``close_frames`` frames from the
shape it had. If frames are pulled faster than audio arrives, the starved frames render silent (push
audio ahead of playback) and the utterance keeps its clock.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections import deque
from dataclasses import dataclass, field, replace

import numpy as np

from facecraft.audio import RATE, resample
from facecraft.engine.config import EngineConfig
from facecraft.engine.cues import EMOTIONS, NEUTRAL, Emotion
from facecraft.engine.emotion import ExpressionSmoother
from facecraft.engine.lipsync import BlendedMouthModel, FaceLipModel
from facecraft.engine.motion import MotionStep, MotionWalker
from facecraft.engine.renderer import FaceData, Renderer
from facecraft.engine.timeline import Timeline, rest_timeline
from facecraft.engine.timeline_stream import UtteranceTimeline
from facecraft.errors import InputError
from facecraft.speech.encoder import Prefetcher, complete_segments
from facecraft.speech.types import Phone

__all__ = ["StreamingRenderer", "StreamFrame", "Pushed"]

log = logging.getLogger(__name__)

_CHUNK_FRAMES = 128  # most frames shaped at once when the audio is there (bounds a batch render's memory)


@dataclass(frozen=True)
class StreamFrame:
    """One output frame and what it shows."""

    image: np.ndarray  # RGB uint8, (height, width, 3) of the renderer's ``size``
    index: int  # presentation timestamp in frames since the renderer started (0, 1, 2, ...)
    fps: float
    speaking: bool  # audio of an utterance plays under this frame
    emotion: Emotion = NEUTRAL
    aperture: float = 0.0  # the lip opening the frame's mouth aims at (inter-ocular units)
    # The utterance whose clock the frame is on (0: none, listening) and the frame's place in it: a live
    # output takes the frame's audio from that utterance's audio at ``utterance_frame / fps`` seconds.
    utterance: int = 0
    utterance_frame: int = -1

    @property
    def time_s(self) -> float:
        """Presentation time in seconds since the renderer's first frame."""
        return self.index / self.fps


@dataclass(frozen=True)
class Pushed:
    """Where pushed audio landed: the utterance (``StreamFrame.utterance``) and the time in it, in
    seconds, of the audio's first sample (a live output keeps the utterance's audio on that clock)."""

    utterance: int
    start_s: float


@dataclass
class _Planned:
    step: MotionStep
    mouth: int  # database patch, -1: the footage's own mouth
    aperture: float
    emotion: Emotion
    speaking: bool  # part of the utterance's audio (False for a starved frame)
    utterance: int = 0
    utterance_frame: int = -1


@dataclass
class _Utterance:
    id: int
    start_frame: int  # output frame where the utterance's time 0 is shown
    timeline: UtteranceTimeline
    planned: deque[_Planned] = field(default_factory=deque)  # frames planned, not yet drawn
    next_plan: int = 0  # utterance frame planned next
    shown: int = 0  # utterance frames drawn so far
    last_mouth: int | None = None  # the last patch planned (continuity of the next choice)
    chunk: Timeline | None = None  # shaped frames being planned from
    phone_offset: float = 0.0  # seconds of audio queued before the current speech's phones start
    prefetch: Prefetcher | None = None  # encodes the speech states in the background as audio arrives
    last_shown: _Planned | None = None  # the plan of utterance frame ``shown - 1`` (``take_back``)


class StreamingRenderer:
    """Live renderer of one Face. ``bundle`` may be a loaded ``Renderer`` to share its caches.

    ``close_frames``: frames over which the mouth closes after ``interrupt``.
    """

    def __init__(
        self, bundle: FaceData | Renderer, *, size: tuple[int, int] | None = None,
        config: EngineConfig | None = None, close_frames: int = 4,
    ) -> None:
        self.renderer = bundle if isinstance(bundle, Renderer) else Renderer(bundle, size=size, config=config)
        self.config = self.renderer.config
        self.walker = MotionWalker(self.renderer.graph, self.config, pose=self.renderer.tracks.pose,
                                   scale=self.renderer.tracks.interocular)
        self.frame_index = 0
        self.close_frames = max(0, int(close_frames))
        self._lock = threading.Lock()  # guards everything below (bookkeeping; frames are drawn outside)
        self._draw_lock = threading.Lock()  # one frame drawn at a time (the footage reader is not shared)
        self._utt: _Utterance | None = None
        self._utterances = 0
        self._emotion = NEUTRAL
        self._rest = rest_timeline(1, self.fps, self.renderer.priors, self.config)
        self._last_mouth: int | None = None  # the mouth patch planned last (continuity of the next choice)
        self._last_aperture = float(self._rest.aperture[0])
        self._drawn: tuple[int | None, float] | None = None  # patch drawn last, its opacity (None: no frame)
        self._closing: list[float] = []  # target apertures of the frames closing the mouth after a barge-in
        self._held = False  # the speech waits where it is (``hold``)
        self._undo: tuple | None = None  # the state before the last listening frame (``take_back_listening``)
        self._expression = ExpressionSmoother(self.fps)  # the emotion shown, with its onset and release
        m = self.renderer.audio_model
        lead = max(self.config.model_lead_frames, 0)
        self._model_frames = 0 if m is None else m.reach_frames + lead
        self._model_edge = None if m is None else m.edge_frames + lead

    @property
    def fps(self) -> float:
        return self.renderer.fps

    @property
    def size(self) -> tuple[int, int]:
        return self.renderer.size

    @property
    def last_mouth(self) -> int | None:
        """The mouth-database patch planned for the last frame; None where the footage's own mouth was."""
        return self._last_mouth

    @property
    def last_drawn(self) -> tuple[int | None, float]:
        """The patch drawn into the last frame and its opacity over the frame's own mouth ((None, 0.0):
        the own mouth alone). Differs from ``last_mouth`` while a switch between the two fades."""
        return self._drawn if self._drawn is not None else (None, 0.0)

    @property
    def speaking(self) -> bool:
        """Whether an utterance is playing or queued (frames still to show of it)."""
        with self._lock:
            return self._utt is not None and self._remaining(self._utt) > 0

    @property
    def queued_s(self) -> float:
        """Seconds of pushed speech not yet shown (how far the input runs ahead of playback)."""
        with self._lock:
            utt = self._utt
            return 0.0 if utt is None else max(0, self._remaining(utt)) / self.fps

    @property
    def ready(self) -> int:
        """Frames of speech that can be pulled now with their full look-ahead (a file render pulls these,
        then pushes more; a live puller just pulls at its frame rate)."""
        with self._lock:
            utt = self._utt
            return 0 if utt is None else max(0, self._final(utt) - utt.shown)

    @property
    def emotion(self) -> Emotion:
        """The emotion cued last (shown while listening, and by speech pushed from now on)."""
        return self._emotion

    # --- input (any thread) ----------------------------------------------------------------------

    def push_audio(
        self, samples: np.ndarray, sample_rate: int, phones: list[Phone] | None = None, *,
        trust_phones: bool = True, relative_phones: bool = False,
    ) -> Pushed:
        """Add speech audio (float32 mono) to the current utterance, or start one; returns where it landed.

        ``phones`` are timed from the start of the utterance (as ``speech.tts`` streams them); speech
        pushed after ``end_of_speech`` while the last utterance still plays is queued right after it,
        on the same clock, and its phones are shifted accordingly (they are then timed from the start
        of the speech pushed after ``end_of_speech``). ``trust_phones`` False marks recognised (not
        forced-aligned) phones: they then shape the mouth but do not force closures. ``relative_phones``:
        the phones are timed from this audio's first sample instead (a live caller pushing sentence by
        sentence, which does not keep the utterance clock itself).
        """
        x = np.asarray(samples, dtype=np.float32)
        if x.ndim == 2:
            x = x.mean(axis=1)
        if x.ndim != 1 or sample_rate <= 0:
            raise InputError("audio must be mono samples with a positive sample rate")
        if not np.isfinite(x).all():
            raise InputError("audio contains NaN or infinite samples")
        if sample_rate != RATE and x.size:
            x = resample(x, sample_rate, RATE)
        with self._lock:
            utt = self._utt
            if utt is not None and utt.timeline.ended and self._remaining(utt) > 0:
                # a new utterance while the last one still plays: queue it right after, on the same clock
                utt.timeline.resume()
                utt.phone_offset = utt.timeline.n_samples / RATE
                if utt.prefetch is not None:  # the windows at its end now hold more audio
                    utt.prefetch.next_seg = complete_segments(utt.timeline.n_samples)
            elif utt is None or utt.timeline.ended:
                if utt is not None:
                    self._drop(utt)
                utt = self._utt = self._new_utterance()
            else:
                self._catch_up(utt)
            start_s = utt.timeline.n_samples / RATE
            off = start_s if relative_phones else utt.phone_offset
            shifted = [Phone(p.symbol, p.start + off, p.end + off) for p in phones] if phones and off else phones
            utt.timeline.push(x, shifted, trust_phones=trust_phones)
            self._feed(utt)
            return Pushed(utt.id, start_s)

    def _catch_up(self, utt: _Utterance) -> None:
        """Speech that comes after its utterance's clock ran past the audio pushed so far (a live reply's
        next sentence later than the last one took to play) starts at the next frame to plan, after silence:
        the clock never waits (audio and video leave on it together), so at its old place, already shown,
        it would never play."""
        behind = int(np.ceil(utt.shown * utt.timeline.hop)) - utt.timeline.n_samples
        if behind > 0:
            utt.timeline.push(np.zeros(behind, dtype=np.float32), None, trust_phones=True)
            utt.phone_offset += behind / RATE  # phones timed on the caller's clock follow their audio

    def set_emotion(self, emotion: Emotion) -> None:
        """Show ``emotion`` from now on: while listening at once, in speech from the audio pushed next."""
        with self._lock:
            self._emotion = emotion
            if self._utt is not None:  # from its end on: speech queued after it carries the cue
                self._utt.timeline.cue(emotion)

    def end_of_speech(self) -> None:
        """The utterance is complete: its last frames can be planned without more look-ahead."""
        with self._lock:
            if self._utt is not None and not self._utt.timeline.ended:
                self._utt.timeline.end()
                self._feed(self._utt)

    def interrupt(self) -> None:
        """Barge-in: drop the rest of the current utterance (everything pushed and not yet shown).

        The next frames return to listening; a mouth that was open closes over ``close_frames``
        frames instead of snapping shut.
        """
        with self._lock:
            if self._utt is None:
                return
            self._drop(self._utt)
            self._utt = None
            self._held = False
            self._close_mouth()

    def hold(self, held: bool) -> None:
        """Hold the speech where it is (the caller may be barging in), or let it go on from there.

        While held the utterance's clock stands still: frames show listening (a mouth that was open
        closes as after ``interrupt``) and carry the utterance with ``utterance_frame`` -1 (no audio of
        it plays); speech pushed meanwhile waits too. ``interrupt`` ends a hold."""
        with self._lock:
            if held == self._held:
                return
            self._held = held
            if held and self._utt is not None:
                self._close_mouth()

    def take_back(self, frame: StreamFrame) -> bool:
        """A speaking frame drawn before a hold began and not yet played: it is shown again once the hold
        ends (the puller plays it silent, as the held frames after it). A live puller draws a frame ahead
        of its clock; without this the hold would reach the listener one frame later. False (nothing
        changed) unless the speech is held and ``frame`` is the last utterance frame drawn."""
        with self._lock:
            utt = self._utt
            if (not self._held or utt is None or utt.id != frame.utterance or utt.last_shown is None
                    or frame.utterance_frame != utt.shown - 1):
                return False
            utt.planned.appendleft(utt.last_shown)
            utt.last_shown = None
            utt.shown -= 1
            return True

    def take_back_listening(self, frame: StreamFrame) -> bool:
        """A listening frame drawn ahead of the clock just before speech arrived, not yet played: it is
        undone (the listening motion, the expression and the mouth's fade as if it was never drawn) and the
        next ``next_frame`` is the speech's first frame, with its timestamp. A live puller then shows the
        reply one tick sooner, with no skip in the head's motion. False (nothing changed) unless ``frame`` is
        the last frame drawn, a listening one, and the new utterance's first frame is next."""
        with self._lock:
            utt, undo = self._utt, self._undo
            if (undo is None or utt is None or self._held or utt.shown != 0 or frame.utterance != 0
                    or frame.index != self.frame_index - 1 or undo[0] != frame.index):
                return False
            (self.frame_index, walk, expression, self._last_mouth, self._last_aperture, self._drawn,
             closing) = undo
            self.walker.restore(walk)
            self._expression = expression
            self._closing = list(closing)
            utt.start_frame = self.frame_index
            self._undo = None
            return True

    def _checkpoint(self) -> tuple:
        """What ``next_frame`` changes, as it was before (``take_back_listening``)."""
        return (self.frame_index, self.walker.snapshot(), copy.deepcopy(self._expression), self._last_mouth,
                self._last_aperture, self._drawn, list(self._closing))

    def _close_mouth(self) -> None:
        start = self._last_aperture
        rest = float(self._rest.aperture[0])
        n = self.close_frames
        closing = self._last_mouth is not None
        self._closing = [start + (rest - start) * (k + 1) / n for k in range(n)] if closing else []

    def _new_utterance(self) -> _Utterance:
        r = self.renderer
        self._utterances += 1
        timeline = UtteranceTimeline(
            fps=self.fps, priors=r.priors, config=self.config, model_frames=self._model_frames,
            model_edge=self._model_edge,
            mouth_lead=r.mouth_lead, emotion=self._emotion,
            predict=lambda s, n, first, offset: r.predict_mouth(s, n, first=first, offset=offset),
        )
        uses_encoder = isinstance(r.audio_model, (FaceLipModel, BlendedMouthModel))
        prefetch = Prefetcher(paused=True) if uses_encoder else None
        return _Utterance(id=self._utterances, start_frame=self.frame_index, timeline=timeline, prefetch=prefetch)

    def _feed(self, utt: _Utterance) -> None:
        """Hand the speech-state prefetcher the windows the audio pushed so far completes."""
        if utt.prefetch is not None:
            samples, offset = utt.timeline.audio()
            utt.prefetch.feed(samples, offset, utt.timeline.n_samples, final=utt.timeline.ended)

    @staticmethod
    def _drop(utt: _Utterance) -> None:
        if utt.prefetch is not None:
            utt.prefetch.close()

    # --- output (one puller thread) ----------------------------------------------------------------

    def next_frame(self) -> StreamFrame:
        """The next output frame (see the module doc)."""
        with self._lock:
            index = self.frame_index
            self._undo = self._checkpoint() if self._utt is None else None
            plan = self._next_plan()
            self.frame_index += 1
            mouth = None if plan.mouth < 0 else plan.mouth
            self._last_mouth = mouth
            self._last_aperture = plan.aperture
            drawn, opacity = self._drawn = self._fade(mouth)
            expression = self._expression.step(plan.emotion, speaking=plan.speaking)
            prefetch = self._utt.prefetch if self._utt is not None else None
        with self._draw_lock:
            image = self.renderer.render(plan.step, drawn, plan.aperture, opacity, expression)
        if prefetch is not None:  # an utterance's speech states are encoded once its first frame is out
            prefetch.release()
        return StreamFrame(image=image, index=index, fps=self.fps, speaking=plan.speaking, emotion=plan.emotion,
                           aperture=plan.aperture, utterance=plan.utterance, utterance_frame=plan.utterance_frame)

    def _next_plan(self) -> _Planned:
        utt = self._utt
        if utt is not None and utt.shown >= utt.timeline.total and utt.timeline.ended:
            self._drop(utt)
            self._utt = utt = None
        if utt is not None and self._held:
            return replace(self._listening_plan(), utterance=utt.id, utterance_frame=-1)
        if utt is not None:
            k = utt.shown
            if k < utt.timeline.total:
                self._plan(utt, k)
            if utt.planned:
                utt.shown += 1
                utt.last_shown = utt.planned.popleft()
                return replace(utt.last_shown, utterance=utt.id, utterance_frame=k)
            # starved: the utterance keeps its clock, this frame is silent
            utt.shown += 1
            utt.last_shown = None
            utt.next_plan += 1
            plan = self._listening_plan()
            if plan.mouth >= 0:
                utt.last_mouth = plan.mouth
            return replace(plan, emotion=utt.timeline.emotion_at(k), utterance=utt.id, utterance_frame=k)
        return self._listening_plan()

    def _prefer(self, emotion: Emotion) -> np.ndarray | None:
        """The footage the walk should prefer for ``emotion`` (None: no preference)."""
        if emotion.name == "neutral" or emotion.intensity <= 0:
            return None
        return self.renderer.emotion_affinity[emotion.index] * emotion.intensity

    def _listening_plan(self) -> _Planned:
        step = self.walker.step(False, self._prefer(self._emotion))
        mouth: int | None
        if self._closing:
            aperture = self._closing.pop(0)
            mouth = self._closing_mouth(step, aperture)
        else:
            aperture = float(self._rest.aperture[0])
            mouth = self._rest_mouth(step)
        return _Planned(step, -1 if mouth is None else mouth, aperture, self._emotion, False)

    def _fade(self, mouth: int | None) -> tuple[int | None, float]:
        """The patch to draw for a planned ``mouth`` and its opacity: a switch to the footage's own mouth
        keeps the last patch, fading out; a switch away from it fades the new patch in."""
        frames = self.config.mouth_fade
        if frames <= 0 or self._drawn is None:  # no fading, or the first frame: nothing to fade from
            return mouth, 0.0 if mouth is None else 1.0
        last, opacity = self._drawn
        step = 1.0 / (frames + 1)
        if mouth is None:
            opacity -= step
            return (last, opacity) if last is not None and opacity > 1e-6 else (None, 0.0)
        return mouth, min(1.0, (opacity if last is not None else 0.0) + step)

    def _rest_mouth(self, step: MotionStep) -> int | None:
        """A closed mouth at rest for a silent frame; None keeps the footage's own (listening footage whose
        mouth rests closed)."""
        state = self.renderer.graph.state
        talking = state[step.index] == 1 or (step.fade_index >= 0 and state[step.fade_index] == 1)
        if self.renderer.listening_mouth_rests and not talking:
            return None
        return self._closing_mouth(step, None)

    def _closing_mouth(self, step: MotionStep, aperture: float | None) -> int:
        """The patch for a silent frame whose lips head for ``aperture`` (None: at rest), continuing from
        the last patch."""
        target = self._rest if aperture is None else replace(
            self._rest, aperture=np.array([aperture]), closed=np.zeros(1, dtype=bool))
        pose = self.renderer.tracks.pose[step.index][None]
        costs = self.renderer.selector.target_costs(target, slice(0, 1), pose)
        return int(self.renderer.selector.decode(costs, self._last_mouth)[0])

    # --- planning ----------------------------------------------------------------------------------

    def _remaining(self, utt: _Utterance) -> int:
        return utt.timeline.total - utt.shown

    def _final(self, utt: _Utterance) -> int:
        """Frames whose targets no longer change when more audio arrives."""
        n = utt.timeline.total
        return n if utt.timeline.ended else max(0, n - self.config.lookahead)

    def _shaped(self, utt: _Utterance, b0: int, end: int) -> Timeline:
        """Targets of utterance frames ``[b0, end)``: from the chunk shaped last when it covers them and was
        shaped from as much audio, else a new chunk from ``b0`` (up to ``_CHUNK_FRAMES`` more)."""
        chunk = utt.chunk
        if chunk is None or b0 < chunk.start or end > chunk.start + len(chunk):
            stop = max(end, min(b0 + _CHUNK_FRAMES, self._final(utt)))
            chunk = utt.chunk = utt.timeline.timeline(b0, stop)
        return chunk

    def _plan(self, utt: _Utterance, k: int) -> None:
        """Plan blocks until utterance frame ``k`` has a motion step and a mouth."""
        cfg = self.config
        available = utt.timeline.total
        while utt.next_plan <= k:
            b0 = utt.next_plan
            final = self._final(utt)
            # the utterance's first step commits ``first_block`` frames shaped without the audio model (the
            # Whisper states of even one frame cost a window's encoding): the first frame waits for no model,
            # and the states of the next frames are encoded meanwhile (``Prefetcher``)
            block = max(1, cfg.first_block) if b0 == 0 else cfg.block
            if final >= min(b0 + block, available) and final > b0:
                b1 = min(b0 + block, final)
                end = min(b1 + cfg.lookahead, final)
            else:  # starved of look-ahead: plan this frame with what is there
                b1 = b0 + 1
                end = available
                utt.chunk = None  # shaped from less audio than a final chunk: not kept
            if b0 == 0:
                tl = utt.timeline.timeline(0, end, model_until=0)
                utt.chunk = None  # its look-ahead is shaped without the model: not kept
            else:
                tl = self._shaped(utt, b0, end)
            if end == available and not utt.timeline.ended:
                utt.chunk = None
            o = b0 - tl.start
            steps = [self.walker.step(bool(tl.speaking[o + f]), self._prefer(_emotion(tl, o + f)))
                     for f in range(b1 - b0)]
            pose = self.renderer.tracks.pose
            base_pose = np.stack([pose[steps[min(f, b1 - b0 - 1)].index] for f in range(end - b0)])
            costs = self.renderer.selector.target_costs(tl, slice(o, o + end - b0), base_pose)
            path = self.renderer.selector.decode(costs, utt.last_mouth)
            for f in range(b1 - b0):
                mouth = int(path[f])
                utt.planned.append(_Planned(
                    steps[f], mouth, float(tl.aperture[o + f]),
                    _emotion(tl, o + f), True))
                utt.last_mouth = mouth
            utt.next_plan = b1
            utt.timeline.forget(b0)


def _emotion(tl: Timeline, i: int) -> Emotion:
    if tl.emotion is None or tl.intensity is None:
        return NEUTRAL
    return Emotion(EMOTIONS[int(tl.emotion[i])], float(tl.intensity[i]))
