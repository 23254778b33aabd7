"""Streaming renderer: push audio in chunks, pull frames at the output rate.

Frames are planned in fixed blocks (motion step + mouth per frame) once the audio holds the block
plus a fixed look-ahead, or the utterance has ended; planning never depends on how the audio was
chunked, so a streamed render equals the batch render (which is this object fed all at once). While
no utterance is playing the head keeps its listening motion and the footage's own mouth, where that
mouth rests closed. Speaking footage shown while silent (a state change waiting for a close pose,
or a Face with too little listening footage) gets a closed mouth at rest instead, and so does
listening footage that is mostly pauses between words with the lips apart (a Face built from a
clip of speech only). A switch between a composed mouth and the footage's own fades over a few
frames (``mouth_fade``): the two never match exactly, and at every turn of a conversation a pop
in the lower face would show. If frames are pulled faster than audio arrives, the starved frames render
silent (push audio ahead of playback).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from facecraft.engine.config import EngineConfig
from facecraft.engine.motion import MotionStep, MotionWalker
from facecraft.engine.renderer import FaceData, Renderer
from facecraft.engine.timeline import Timeline, rest_timeline
from facecraft.errors import InputError
from facecraft.media import resample
from facecraft.speech.types import Phone

__all__ = ["StreamingRenderer"]

log = logging.getLogger(__name__)

RATE = 16000


@dataclass
class _Utterance:
    start_frame: int  # output frame where the utterance's time 0 is shown
    chunks: list[np.ndarray] = field(default_factory=list)
    phones: list[Phone] = field(default_factory=list)
    n_samples: int = 0
    ended: bool = False
    trust_phones: bool = True
    phone_offset: float = 0.0  # seconds of audio queued before the current speech's phones start
    timeline: Timeline | None = None
    steps: list[MotionStep] = field(default_factory=list)
    mouths: list[int] = field(default_factory=list)

    def samples(self) -> np.ndarray:
        if len(self.chunks) > 1:
            self.chunks = [np.concatenate(self.chunks)]
        return self.chunks[0] if self.chunks else np.zeros(0, np.float32)


class StreamingRenderer:
    """Live renderer of one Face. ``bundle`` may be a loaded ``Renderer`` to share its caches."""

    def __init__(
        self, bundle: FaceData | Renderer, *, size: tuple[int, int] | None = None,
        config: EngineConfig | None = None,
    ) -> None:
        self.renderer = bundle if isinstance(bundle, Renderer) else Renderer(bundle, size=size, config=config)
        self.config = self.renderer.config
        self.walker = MotionWalker(self.renderer.graph, self.config, pose=self.renderer.tracks.pose)
        self.frame_index = 0
        self._utt: _Utterance | None = None
        self._rest = rest_timeline(1, self.fps, self.renderer.priors, self.config)
        self._last_mouth: int | None = None  # the mouth patch planned last (continuity of the next choice)
        self._drawn: tuple[int | None, float] | None = None  # patch drawn last, its opacity (None: no frame)

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

    # --- input ---------------------------------------------------------------------------

    def push_audio(
        self, samples: np.ndarray, sample_rate: int, phones: list[Phone] | None = None, *,
        trust_phones: bool = True,
    ) -> None:
        """Add speech audio (float32 mono). ``phones`` are timed from the start of the utterance.

        Speech pushed after ``end_of_speech`` while the last utterance still plays is queued right
        after it (its phones are shifted accordingly).

        ``trust_phones`` False marks recognised (not forced-aligned) phones: they then shape the
        mouth but do not force closures.
        """
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim == 2:
            samples = samples.mean(axis=1)
        if samples.ndim != 1 or sample_rate <= 0:
            raise InputError("audio must be mono samples with a positive sample rate")
        if not np.isfinite(samples).all():
            raise InputError("audio contains NaN or infinite samples")
        utt = self._utt
        if utt is not None and utt.ended and self._remaining(utt) > 0:
            # a new utterance while the last one still plays: queue it right after, on the same clock
            utt.ended = False
            utt.phone_offset = utt.n_samples / RATE
        elif utt is None or utt.ended:
            utt = self._utt = _Utterance(start_frame=self.frame_index)
        if sample_rate != RATE and samples.size:
            samples = resample(samples, sample_rate, RATE).astype(np.float32)
        if samples.size:
            utt.chunks.append(samples)
            utt.n_samples += samples.size
        if phones:
            off = utt.phone_offset
            utt.phones.extend(Phone(p.symbol, p.start + off, p.end + off) for p in phones)
            utt.trust_phones = utt.trust_phones and trust_phones
        self._retime(utt)

    def end_of_speech(self) -> None:
        """The utterance is complete: its last frames can be planned without more look-ahead."""
        if self._utt is not None and not self._utt.ended:
            self._utt.ended = True
            self._retime(self._utt)

    def interrupt(self) -> None:
        """Drop the rest of the current utterance (barge-in): listening resumes at the next frame."""
        self._utt = None

    # --- output --------------------------------------------------------------------------

    def next_frame(self) -> np.ndarray:
        """The next output frame (RGB uint8, ``size``)."""
        utt = self._utt
        k = self.frame_index - utt.start_frame if utt is not None else -1
        if utt is not None and k >= self._total(utt) and utt.ended:
            self._utt = utt = None
        if utt is not None and k < self._available(utt):
            self._plan(utt, k)
            step, mouth = utt.steps[k], utt.mouths[k]
            assert utt.timeline is not None
            aperture = float(utt.timeline.aperture[k])
        else:
            step = self.walker.step(False)
            mouth = self._rest_mouth(step)
            aperture = float(self._rest.aperture[0])
            if utt is not None:  # starved: the utterance keeps its clock, this frame is silent
                utt.steps.append(step)
                utt.mouths.append(-1 if mouth is None else mouth)
        self.frame_index += 1
        if mouth is not None and mouth < 0:
            mouth = None
        self._last_mouth = mouth
        drawn, opacity = self._drawn = self._fade(mouth)
        return self.renderer.render(step, drawn, aperture, opacity)

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
        pose = self.renderer.tracks.pose[step.index][None]
        costs = self.renderer.selector.target_costs(self._rest, slice(0, 1), pose)
        return int(self.renderer.selector.decode(costs, self._last_mouth)[0])

    # --- planning --------------------------------------------------------------------------

    def _total(self, utt: _Utterance) -> int:
        return int(round(utt.n_samples / RATE * self.fps))

    def _available(self, utt: _Utterance) -> int:
        return len(utt.timeline) if utt.timeline is not None else 0

    def _remaining(self, utt: _Utterance) -> int:
        return self._total(utt) - (self.frame_index - utt.start_frame)

    def _final(self, utt: _Utterance) -> int:
        """Frames whose timeline no longer changes when more audio arrives."""
        n = self._available(utt)
        return n if utt.ended else max(0, n - self.config.lookahead)

    def _retime(self, utt: _Utterance) -> None:
        n = self._total(utt) if utt.ended else int(utt.n_samples / RATE * self.fps)
        utt.timeline = self.renderer.timeline(utt.samples(), n, utt.phones, trust_phones=utt.trust_phones)

    def _plan(self, utt: _Utterance, k: int) -> None:
        """Plan blocks until frame ``k`` has a motion step and a mouth."""
        cfg = self.config
        tl = utt.timeline
        assert tl is not None
        while len(utt.mouths) <= k:
            b0 = len(utt.mouths)
            final = self._final(utt)
            if final >= min(b0 + cfg.block, self._available(utt)) and final > b0:
                b1 = min(b0 + cfg.block, final)
                end = min(b1 + cfg.lookahead, final)
            else:  # starved of look-ahead: plan this frame with what is there
                b1 = b0 + 1
                end = self._available(utt)
            for f in range(b0, b1):
                utt.steps.append(self.walker.step(bool(tl.speaking[f])))
            pose = self.renderer.tracks.pose
            base_pose = np.stack([pose[utt.steps[min(f, b1 - 1)].index] for f in range(b0, end)])
            costs = self.renderer.selector.target_costs(tl, slice(b0, end), base_pose)
            prev = next((m for m in reversed(utt.mouths) if m >= 0), None)
            path = self.renderer.selector.decode(costs, prev)
            utt.mouths.extend(int(m) for m in path[: b1 - b0])
