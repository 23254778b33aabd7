"""Turn taking in a PAL conversation: when the caller's turn ends, and when the caller barges in.

``TurnTaker`` sits after the Silero VAD. It keeps the caller's audio of the current turn (bounded:
the last ``max_turn_s`` seconds, so a monologue of any length holds a fixed amount of memory), feeds
pipecat's smart-turn v3 model (shipped in pipecat's wheel, hash-checked through the model registry),
and ends the turn when the model says the caller is done after a VAD stop (asked again at each of
``later``'s silences: at a 0.1 s stop it has heard little of the quiet), or, whatever the model says,
after ``stop_secs`` of silence (the fallback; the only rule with ``turn_detection_model: silence``).

The analyzer hears all of the caller's audio, also before the VAD reports speech: smart-turn reads the
turn from its first syllable (the VAD reports speech ``VAD_START_S`` late; the first word was missing).

Speculative recognition: at each VAD stop the turn's audio so far goes to ``on_pause(audio)`` (the STT can
start while smart-turn decides); speech that goes on withdraws it (``on_pause(None)``). It goes sooner still:
``EARLY_PAUSE_S`` of quiet audio (peak below ``QUIET_LEVEL``) already makes a pause, before the VAD reports
its stop (~0.2 s later: its ``stop_secs`` and its window); loud audio after it withdraws it.

A turn that goes on: when the caller speaks again within ``CONTINUE_S`` after a turn ended and the Face
has not said a word of its reply yet (``unheard()``: "Hi there, [the turn ended here] how are you?"),
the reply is withdrawn (``on_continue()``) and the new speech joins the last turn's audio.

Barge-in: caller speech that starts while the Face is replying holds the Face at once (``on_hold(True)``:
its audio and speaking frames stop where they are, the mouth goes to rest), as soon as ``EARLY_HOLD_S`` of
loud audio came in, before the VAD reports its start (~40 ms later); when the VAD does not hear speech within
``EARLY_RELEASE_S`` (a knock, a click) the Face goes on. Speech that lasts
``barge_in_s`` interrupts the reply (``on_barge_in``), counted as loud caller audio (peak above
``QUIET_LEVEL``) from just before the VAD's start to its stop, so how soon the VAD reports a start or how
late it reports a stop does not decide it, and on across the VAD's segments while they are fragments joined by
``FRAGMENT_GAP_S`` ("Wait, [pause] stop" counts both words; it counted from zero at "stop"); shorter speech
(a cough, "mm-hm") lets the Face go on where it stopped (``on_hold(False)``, ``RESUME_GAP_S`` after it), is
not answered, unless more speech follows within ``FRAGMENT_GAP_S`` and barges in: then the fragments before
it ("Wait, ...") belong to the caller's turn.
``replica_interruptibility: none`` neither holds nor interrupts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import numpy as np
from pipecat.audio.turn.base_turn_analyzer import EndOfTurnState
from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

__all__ = ["TurnSettings", "TurnAudio", "TurnTaker", "smart_turn_analyzer", "vad_analyzer", "TURN_RATE",
           "QUIET_LEVEL"]

log = logging.getLogger(__name__)

TURN_RATE = 16000  # the caller's audio as the transport hands it (TransportParams.audio_in_sample_rate)
# Silero's start_secs and stop_secs. start: two of its 32 ms windows; with the volume unsmoothed (below) the
# VAD reports speech 60-120 ms after its onset instead of 220-240 ms (start 0.1 s, pipecat's smoothing: Piper
# questions and "Wait, stop please." in 4 voices, audio time; tests/conversation/test_pal_vad.py). The Face is
# held then; a false start costs only a short hold (a sound of 0.1 s now reports speech: it is held ~0.4 s).
VAD_START_S = 0.064
# stop: three windows. The VAD reported the stop 280-310 ms after the speech (0.2 s); now 180-220 ms, and smart-turn
# decides there and once more 0.1 s later (``_PATIENCE``; bench/turn_end.py, bench/results/turn_end.json)
VAD_STOP_S = 0.1
# pipecat smooths the volume it gates the VAD on (min_volume 0.6) with a factor of 0.2 per 32 ms window on top
# of its 400 ms loudness window: from silence, speech crossed the gate after 5-6 windows (~0.16 s). The window
# alone is the level that must be reached; 1.0 takes it as it is.
VAD_VOLUME_SMOOTHING = 1.0
ONSET_S = 0.25  # loud audio this long before the VAD's start counts as speech of a barge-in (its detection lag)
# turn_taking_patience -> (smart-turn probability that ends a turn at the VAD's stop, silence after the stop that
# ends one regardless, (silence after the stop, probability) at which smart-turn is asked again). Measured in audio
# time on 12 questions x 6 stock voices (complete, and cut at their inner dips) and the inner pauses of 29 real
# recordings, tuned on half, reported on the other (bench/turn_end.py, bench/results/turn_end.json). Asked at a
# 0.1 s stop smart-turn calls fewer turns complete (complete questions 0.67 -> 0.53 report; cut ones 0.51 -> 0.36);
# asked again 0.1 s later at 0.7 it ends medium turns at p50 238 ms after the last loud sample (294 at 0.2 s) with
# fewer false ends (cut questions 0.51 -> 0.48, real inner pauses 9.3 -> 8.6 a minute). A third of complete
# questions smart-turn never calls complete ("I would like to book a table for four people on Friday evening."
# in grace-us: 0.03-0.29 at every ask): medium's fallback 1.1 s after the stop (1.5 s after a 0.2 s one) brings
# them from ~1.8 s to ~1.3 s (report mean 783 -> 566 ms, p90 1789 -> 1294) and ends no more real pauses (8.6/min);
# low and high keep their fallback after the caller's last word (0.1 s more after the earlier stop).
_PATIENCE: dict[str, tuple[float, float, tuple[tuple[float, float], ...]]] = {
    "low": (0.35, 0.9, ((0.1, 0.7),)), "medium": (0.5, 1.1, ((0.1, 0.7),)), "high": (0.7, 2.6, ((0.1, 0.7),))}
FRAGMENT_GAP_S = 1.0  # a pause shorter than this joins short speech over the Face to the speech after it
RESUME_GAP_S = 0.3  # a held Face goes on this long after the caller's speech stopped (unless it starts again)
CONTINUE_S = 3.0  # speech this soon after a turn ended, before the Face said a word, continues that turn
QUIET_LEVEL = 0.05  # peak level (full scale 1) below which the caller's audio counts as a pause
EARLY_PAUSE_S = 0.12  # quiet audio after speech that starts the speculative recognition before the VAD stops
# loud caller audio in a row (peak above QUIET_LEVEL, 20 ms chunks) that holds the Face before the VAD's start,
# and how long such a hold lasts when the VAD hears no speech. The VAD reports a start 60-120 ms after the
# onset (VAD_START_S above): the hold at its start reached the listener ~40 ms later than this one
EARLY_HOLD_S = 0.04
EARLY_RELEASE_S = 0.25
# replica_interruptibility -> seconds of caller speech over the Face that interrupt it (None: never)
_INTERRUPTIBILITY: dict[str, float | None] = {"low": 0.9, "medium": 0.45, "high": 0.3, "none": None}


@dataclass(frozen=True)
class TurnSettings:
    threshold: float = 0.5  # smart-turn probability of "complete" that ends the turn at a VAD stop
    stop_secs: float = 1.5  # silence after speech that ends the turn whatever the model says
    smart: bool = True  # False: silence alone ends a turn
    barge_in_s: float | None = 0.45  # caller speech over the Face that interrupts it; None: never
    max_turn_s: float = 30.0  # caller audio kept for the STT (the last seconds of a longer turn)
    # (silence after the VAD's stop, probability): smart-turn asked again as the silence goes on, ending the turn
    # at a lower probability than ``threshold`` once the caller has been quiet that long
    later: tuple[tuple[float, float], ...] = ()

    @classmethod
    def from_flow(cls, flow: dict[str, Any] | None) -> TurnSettings:
        """The PAL's ``layers.conversational_flow`` (unknown or missing values: medium)."""
        flow = flow or {}
        threshold, stop, later = _PATIENCE.get(str(flow.get("turn_taking_patience") or "medium"),
                                               _PATIENCE["medium"])
        level = str(flow.get("replica_interruptibility") or flow.get("face_interruptibility") or "medium")
        barge = _INTERRUPTIBILITY.get(level, _INTERRUPTIBILITY["medium"])
        smart = str(flow.get("turn_detection_model") or "smart_turn") != "silence"
        return cls(threshold=threshold, stop_secs=stop, smart=smart, barge_in_s=barge, later=later)


class TurnAudio:
    """The caller's audio of one turn, int16 at ``TURN_RATE``: at most ``max_s`` seconds (the latest) plus a
    short pre-roll from before the VAD noticed the speech."""

    def __init__(self, max_s: float, pre_roll_s: float = 0.5) -> None:
        self.max_samples = int(max_s * TURN_RATE)
        self.pre_samples = int(pre_roll_s * TURN_RATE)
        self._chunks: deque[np.ndarray] = deque()
        self._size = 0
        self.open = False

    @property
    def samples_held(self) -> int:
        return self._size

    def add(self, chunk: np.ndarray) -> None:
        self._chunks.append(chunk)
        self._size += chunk.size
        limit = self.max_samples if self.open else self.pre_samples
        while self._chunks and self._size - self._chunks[0].size >= limit:
            self._size -= self._chunks.popleft().size

    def start(self, before: np.ndarray | None = None) -> None:
        """Open the turn; ``before``: int16 audio of the turn this one continues (goes first)."""
        self.open = True
        if before is not None and before.size:
            self._chunks.appendleft(before[-self.max_samples:])
            self._size += min(before.size, self.max_samples)

    def chunks(self) -> list[np.ndarray]:
        """The int16 chunks held, oldest first."""
        return list(self._chunks)

    def peek(self) -> np.ndarray:
        """The turn's audio so far as float32 (the buffer unchanged)."""
        return (np.concatenate(list(self._chunks)).astype(np.float32) / 32768.0 if self._chunks
                else np.zeros(0, np.float32))

    def take(self) -> np.ndarray:
        """The turn's audio as float32 (and a fresh, closed buffer)."""
        out = self.peek()
        self.clear()
        return out

    def clear(self) -> None:
        self._chunks.clear()
        self._size = 0
        self.open = False


def _loud_samples(chunk: np.ndarray) -> int:
    """``chunk``'s size if its peak is above ``QUIET_LEVEL`` (int16), else 0."""
    return int(chunk.size) if chunk.size and int(np.abs(chunk.astype(np.int32)).max()) >= QUIET_LEVEL * 32768 else 0


def vad_analyzer() -> Any:
    """pipecat's Silero VAD (its wheel's model) on the caller's audio, with the start and stop above."""
    from pipecat.audio.vad.silero import SileroVADAnalyzer
    from pipecat.audio.vad.vad_analyzer import VADParams

    analyzer = SileroVADAnalyzer(sample_rate=TURN_RATE,
                                 params=VADParams(start_secs=VAD_START_S, stop_secs=VAD_STOP_S))
    if not hasattr(analyzer, "_smoothing_factor"):  # (pipecat 1.14's name: a newer pipecat must be looked at)
        raise RuntimeError("pipecat's VAD analyzer has no _smoothing_factor: check VAD_VOLUME_SMOOTHING")
    analyzer._smoothing_factor = VAD_VOLUME_SMOOTHING  # noqa: SLF001
    return analyzer


def smart_turn_analyzer(settings: TurnSettings) -> Any:
    """pipecat's smart-turn v3 on the registry's hash-checked file, deciding at ``settings.threshold``."""
    from pipecat.audio.turn.smart_turn.base_smart_turn import SmartTurnParams
    from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3

    from facecraft.models import model_path

    class _Analyzer(LocalSmartTurnAnalyzerV3):
        threshold = settings.threshold  # (the turn taker sets the one of each question)

        def _predict_endpoint(self, audio_array: np.ndarray) -> dict[str, Any]:
            result = super()._predict_endpoint(audio_array)
            result["prediction"] = int(result["probability"] >= self.threshold)
            return result

        def append_audio(self, buffer: bytes, is_speech: bool) -> EndOfTurnState:
            state = super().append_audio(buffer, is_speech)
            # pipecat keeps every chunk of a turn until it ends; the model reads the last 8 s at most
            keep = int((self._params.max_duration_secs + self._params.pre_speech_ms / 1000 + 1) * 50)
            if len(self._audio_buffer) > 2 * keep:
                del self._audio_buffer[:-keep]
            return state

    analyzer = _Analyzer(smart_turn_model_path=str(model_path("smart_turn_v3")), cpu_count=1,
                         params=SmartTurnParams(stop_secs=settings.stop_secs, pre_speech_ms=500,
                                                max_duration_secs=8))
    analyzer.set_sample_rate(TURN_RATE)
    analyzer.update_vad_start_secs(VAD_START_S)
    return analyzer


class TurnTaker(FrameProcessor):
    """Ends the caller's turns (``on_turn(audio)``) and decides barge-ins (``on_barge_in()``); see the
    module doc. ``replying()`` says whether the Face is answering (thinking or speaking) now; the optional
    hooks: ``on_pause`` (speculative recognition), ``on_hold`` (hold the Face while the caller may be
    barging in), ``unheard`` + ``on_continue`` (a turn that goes on before the Face spoke)."""

    def __init__(self, settings: TurnSettings, *, replying: Callable[[], bool],
                 on_turn: Callable[[np.ndarray], Coroutine[Any, Any, None]],
                 on_barge_in: Callable[[], Awaitable[None]],
                 on_pause: Callable[[np.ndarray | None], None] | None = None,
                 on_hold: Callable[[bool], None] | None = None,
                 unheard: Callable[[], bool] | None = None,
                 on_continue: Callable[[], Coroutine[Any, Any, None]] | None = None,
                 analyzer: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.replying = replying
        self.on_turn = on_turn
        self.on_barge_in = on_barge_in
        self.on_pause = on_pause
        self.on_hold = on_hold
        self.unheard = unheard
        self.on_continue = on_continue
        self.analyzer = analyzer if analyzer is not None or not settings.smart else smart_turn_analyzer(settings)
        self.audio = TurnAudio(settings.max_turn_s)
        self._speaking = False
        self._silence_s = 0.0
        self._over_face = False  # this turn began while the Face was replying and has not barged in
        self._barge_left: int | None = None  # samples of speech over the Face still to come before it barges in
        self._decide: asyncio.Task | None = None
        self._quiet_more = asyncio.Event()  # set at each chunk of audio while the caller is silent
        self._forget: asyncio.Task | None = None
        self._held = False  # the Face is held while the caller's speech over it may become a barge-in
        self._release: asyncio.Task | None = None
        self._last_turn: tuple[float, np.ndarray] | None = None  # when the last turn ended, its int16 audio
        self._quiet_s = 0.0  # quiet audio since the caller's last loud chunk while the VAD still hears speech
        self._loud_run = 0  # loud samples in a row while the VAD hears no speech (``EARLY_HOLD_S``)
        self._early = False  # the quiet made a pause (on_pause) before the VAD stopped
        self._gap_samples = 0  # caller audio since the VAD's last stop (the gap between fragments)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            await self._audio(frame)
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            self._started()
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._stopped()
        await self.push_frame(frame, direction)

    async def _audio(self, frame: InputAudioRawFrame) -> None:
        chunk = np.frombuffer(frame.audio, dtype=np.int16)
        if frame.sample_rate != TURN_RATE or frame.num_channels != 1:
            from facecraft.audio import resample

            mono = chunk.reshape(-1, max(1, frame.num_channels)).mean(axis=1) / 32768.0
            chunk = (resample(mono.astype(np.float32), frame.sample_rate, TURN_RATE) * 32767).astype(np.int16)
        self.audio.add(chunk)
        if not self._speaking:
            self._gap_samples += chunk.size
            self._early_hold(chunk)
        if self._barge_left is not None and self._speaking:
            self._barge_left -= _loud_samples(chunk)
            if self._barge_left <= 0:
                self._barge_left = None
                self.create_task(self._barge_in(), "barge-in")
        complete = False
        if self.analyzer is not None:  # all audio: its pre-speech buffer keeps the words before the VAD
            complete = self.analyzer.append_audio(chunk.tobytes(), self._speaking) == EndOfTurnState.COMPLETE
        if not self.audio.open:
            return
        if self._speaking and not self._over_face:
            self._early_pause(chunk)
        if not self._speaking:  # (in audio, not on the wall clock: a loaded machine hands it over late)
            self._silence_s += chunk.size / TURN_RATE
            self._quiet_more.set()
            if self.analyzer is None:
                complete = self._silence_s >= self.settings.stop_secs
        if complete and not self._over_face:  # (speech over the Face ends no turn unless it barged in)
            self._end_turn("silence")

    def _early_hold(self, chunk: np.ndarray) -> None:
        """Loud audio over the Face before the VAD reports speech: hold it now (see the module doc)."""
        loud, limit = _loud_samples(chunk), EARLY_HOLD_S * TURN_RATE
        before, self._loud_run = self._loud_run, self._loud_run + loud if loud else 0
        # once per loud run: a noise that goes on (music) is not held again and again
        if (before < limit <= self._loud_run and not self._held and self.on_hold is not None
                and self.settings.barge_in_s is not None and self.replying()):
            self._hold(True)
            self._cancel(self._release)
            self._release = self.create_task(self._release_soon(EARLY_RELEASE_S), "release-early-hold")

    def _early_pause(self, chunk: np.ndarray) -> None:
        if chunk.size and int(np.abs(chunk).max()) < QUIET_LEVEL * 32768:
            self._quiet_s += chunk.size / TURN_RATE
            if self._quiet_s >= EARLY_PAUSE_S and not self._early:
                self._early = True
                self._speculate(self.audio.peek())
        else:
            self._quiet_s = 0.0
            if self._early:  # the caller goes on (a pause inside the turn the VAD did not report)
                self._early = False
                self._speculate(None)

    def _started(self) -> None:
        self._speaking = True
        self._loud_run = 0
        self._silence_s = 0.0
        self._quiet_s, self._early = 0.0, False
        self._cancel(self._decide)
        self._cancel(self._forget)
        self._cancel(self._release)
        if self.audio.open:
            self._speculate(None)
        if not self.audio.open:
            before = self._continued()
            self.audio.start(before)
            self._over_face = before is None and self.replying()
        elif self._over_face and not self.replying():  # the Face finished while a fragment was held:
            self._over_face = False  # what the caller says now is their turn (the fragment with it)
            self._barge_left = None
        if self._over_face and self.settings.barge_in_s is not None:
            self._hold(True)
            # counted in the caller's loud audio, not on the wall clock: a loaded machine that hands the audio
            # over late must not turn a cough into a barge-in because its VAD stop is still queued
            if self._barge_left is None:
                self._barge_left = int(self.settings.barge_in_s * TURN_RATE) - self._loud_onset()
            else:  # more speech within FRAGMENT_GAP_S ("Wait, [pause] stop"): the count goes on from the
                # fragments before it (only the gap's loud audio is new: the VAD's stop lag was counted)
                self._barge_left -= self._loud_onset(self._gap_samples)
        elif self._held and not self._over_face:  # (never left held once the speech is the caller's turn)
            self._hold(False)

    def _loud_onset(self, within: int | None = None) -> int:
        """Loud samples of the caller's audio in the last ``ONSET_S`` (the speech the VAD took to notice), or in
        the last ``within`` samples if fewer."""
        left, loud = int(ONSET_S * TURN_RATE), 0
        if within is not None:
            left = min(left, within)
        if left <= 0:
            return 0
        for chunk in reversed(self.audio.chunks()):
            part = chunk[-left:]
            loud += _loud_samples(part)
            left -= part.size
            if left <= 0:
                break
        return loud

    def _continued(self) -> np.ndarray | None:
        """The last turn's audio when this speech continues it (see the module doc), its reply withdrawn."""
        last, self._last_turn = self._last_turn, None
        if (last is None or time.monotonic() - last[0] > CONTINUE_S or self.unheard is None
                or self.on_continue is None or not self.unheard()):
            return None
        log.info("the caller goes on with the turn before the Face said a word: its reply is withdrawn")
        self.create_task(self.on_continue(), "continue-turn")
        return last[1]

    def _stopped(self) -> None:
        self._speaking = False
        self._quiet_s, self._early = 0.0, False
        self._gap_samples = 0
        if not self._over_face:  # (over the Face the count goes on into the next fragment, see _started)
            self._barge_left = None
        if self._held:  # shorter than a barge-in: the Face goes on where it stopped, unless the caller
            # speaks again at once ("Wait, [pause] stop"): a short gap keeps it held
            self._release = self.create_task(self._release_soon(RESUME_GAP_S), "release-hold")
        if not self.audio.open:
            return
        if self._over_face:  # a cough or an "mm-hm" over the Face: not a turn to answer, unless more speech
            # follows at once ("Wait, ... stop, I have a question"): then the fragments are one barge-in turn
            self._forget = self.create_task(self._forget_fragment(), "forget-fragment")
            return
        self._speculate(self.audio.peek())
        if self.analyzer is not None:
            self._decide = self.create_task(self._model_decides(), "end-of-turn")

    def _speculate(self, audio: np.ndarray | None) -> None:
        if self.on_pause is not None:
            self.on_pause(audio)

    def _hold(self, hold: bool) -> None:
        if hold != self._held and self.on_hold is not None:
            self._held = hold
            self.on_hold(hold)

    async def _forget_fragment(self) -> None:
        await asyncio.sleep(FRAGMENT_GAP_S)
        if not self._speaking and self._over_face:
            log.debug("short speech over the Face ignored")
            self._reset()

    async def _release_soon(self, delay: float) -> None:
        await asyncio.sleep(delay)
        if not self._speaking:  # (an early hold the VAD's start took over stays)
            self._hold(False)

    async def _barge_in(self) -> None:
        if self._speaking and self.audio.open and self.replying():
            log.info("the caller barged in")
            self._over_face = False  # what they say now is their turn
            await self.on_barge_in()
        self._hold(False)  # the interruption dropped what was held (or the Face has nothing left to say)

    async def _model_decides(self) -> None:
        """smart-turn at the VAD's stop, and again at each of ``settings.later`` while the silence goes on."""
        for after_s, threshold in ((0.0, self.settings.threshold), *self.settings.later):
            while self._silence_s < after_s:
                self._quiet_more.clear()
                await self._quiet_more.wait()
            if self._speaking or not self.audio.open:
                return
            if hasattr(self.analyzer, "threshold"):
                self.analyzer.threshold = threshold
            state, metrics = await self.analyzer.analyze_end_of_turn()
            p = getattr(metrics, "probability", None)
            log.debug("smart-turn: %s after %.2f s of silence (threshold %.2f)", p, self._silence_s, threshold)
            if state == EndOfTurnState.COMPLETE and not self._speaking and self.audio.open:
                self._end_turn("model" if not after_s else f"model after {after_s:.2f} s")
                return

    def _end_turn(self, why: str) -> None:
        samples = self.audio.take()
        self._reset()
        self._last_turn = (time.monotonic(), (samples * 32768.0).astype(np.int16))
        log.info("the caller's turn ended (%s): %.2f s of audio", why, samples.size / TURN_RATE)
        self.create_task(self.on_turn(samples), "turn")

    def _reset(self) -> None:
        if self._decide is not asyncio.current_task():
            self._cancel(self._decide)
        self.audio.clear()
        self._silence_s = 0.0
        self._over_face = False
        self._barge_left = None
        if self.analyzer is not None:
            self.analyzer.clear()

    def _cancel(self, task: asyncio.Task | None) -> None:
        if task is not None and not task.done():
            task.cancel()

    async def cleanup(self) -> None:
        await super().cleanup()
        if self.analyzer is not None:
            await self.analyzer.cleanup()
