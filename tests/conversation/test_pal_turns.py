"""Turn taking around the Face's speech, with pipecat's real frames in real time: speech over the Face
holds it at once; a cough lets it go on where it stopped, speech as long as the PAL's minimum interrupts
it; the caller's pause starts a speculative recognition (the real Whisper) that speech going on withdraws;
a turn that goes on before the Face said a word withdraws the reply and joins the last turn's audio."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from pipecat.frames.frames import (
    InputAudioRawFrame,
    LLMContextFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.tests.utils import SleepFrame, run_test

from facecraft.conversation.pal_pipeline import PalBrain, PalParts
from facecraft.conversation.turns import TURN_RATE, TurnSettings, TurnTaker
from facecraft.speech.asr import Transcript, WhisperASR


def _audio(seconds: float, level: float = 0.0) -> list[Any]:
    """20 ms chunks of a tone (or silence) at TURN_RATE, each followed by its real-time wait."""
    out: list[Any] = []
    n = int(seconds * 50)
    for i in range(n):
        t = (np.arange(320) + i * 320) / TURN_RATE
        pcm = (level * np.sin(2 * np.pi * 220 * t) * 32767).astype(np.int16)
        out += [InputAudioRawFrame(audio=pcm.tobytes(), sample_rate=TURN_RATE, num_channels=1), SleepFrame(0.02)]
    return out


class Recorder:
    def __init__(self, *, replying: bool = True, unheard: bool = False) -> None:
        self.events: list[tuple[str, Any]] = []
        self.replying = replying
        self.is_unheard = unheard

    async def turn(self, samples: np.ndarray) -> None:
        self.events.append(("turn", samples.size / TURN_RATE))

    async def barge(self) -> None:
        self.events.append(("barge", None))
        self.replying = False

    def pause(self, samples: np.ndarray | None) -> None:
        self.events.append(("pause", None if samples is None else samples.size / TURN_RATE))

    def hold(self, held: bool) -> None:
        self.events.append(("hold", held))

    async def withdraw(self) -> None:
        self.events.append(("continue", None))

    def taker(self, settings: TurnSettings) -> TurnTaker:
        return TurnTaker(settings, replying=lambda: self.replying, on_turn=self.turn, on_barge_in=self.barge,
                         on_pause=self.pause, on_hold=self.hold, unheard=lambda: self.is_unheard,
                         on_continue=self.withdraw)

    def kinds(self) -> list[str]:
        return [k for k, _ in self.events]


def _run(taker: TurnTaker, frames: list[Any]) -> None:
    asyncio.run(run_test(taker, frames_to_send=frames, expected_down_frames=None))


SILENT_TURNS = TurnSettings(stop_secs=0.6, smart=False, barge_in_s=0.45)


def test_a_cough_over_the_face_holds_it_and_lets_it_go_on() -> None:
    rec = Recorder()
    # the VAD reports speech 0.2 s after it began: a 0.3 s cough is reported for 0.1 s
    _run(rec.taker(SILENT_TURNS), [*_audio(0.2, 0.3), VADUserStartedSpeakingFrame(), *_audio(0.1, 0.3),
                                   VADUserStoppedSpeakingFrame(), *_audio(1.4)])
    assert rec.events == [("hold", True), ("hold", False)], rec.events  # no barge-in, no turn


def test_loud_audio_holds_the_face_before_the_vad_and_a_knock_lets_it_go_on() -> None:
    """0.1 s of loud audio that the VAD never calls speech (a knock): held at once (no VAD start needed),
    released after ``EARLY_RELEASE_S``; a loud noise that goes on (1 s) is held once, not again and again;
    nothing is held while the Face is not replying."""
    rec = Recorder()
    _run(rec.taker(SILENT_TURNS), [*_audio(0.1, 0.3), *_audio(0.6)])
    assert rec.events == [("hold", True), ("hold", False)], rec.events
    rec = Recorder()
    _run(rec.taker(SILENT_TURNS), [*_audio(1.0, 0.3), *_audio(0.4)])
    assert rec.events == [("hold", True), ("hold", False)], rec.events
    rec = Recorder(replying=False)
    _run(rec.taker(SILENT_TURNS), [*_audio(0.3, 0.3), *_audio(0.4)])
    assert rec.events == [], rec.events


def test_speech_over_the_face_as_long_as_the_minimum_interrupts_it() -> None:
    rec = Recorder()
    _run(rec.taker(SILENT_TURNS), [*_audio(0.2, 0.3), VADUserStartedSpeakingFrame(), *_audio(0.8, 0.3),
                                   VADUserStoppedSpeakingFrame(), *_audio(1.0)])
    kinds = rec.kinds()
    assert kinds[:3] == ["hold", "barge", "hold"] and rec.events[2] == ("hold", False), rec.events
    assert "turn" in kinds  # what they said after barging in is their turn
    assert [e for e in rec.events if e[0] == "turn"][0][1] >= 0.8


def test_a_cough_reported_early_and_stopped_late_is_still_a_cough() -> None:
    """The VAD reports a 0.3 s cough 0.06 s into it and its stop 0.26 s after it: 0.5 s reported, more than
    the 0.45 s minimum; the loud audio (0.3 s) is what counts: the Face goes on."""
    rec = Recorder()
    _run(rec.taker(SILENT_TURNS), [*_audio(0.06, 0.3), VADUserStartedSpeakingFrame(), *_audio(0.24, 0.3),
                                   *_audio(0.26), VADUserStoppedSpeakingFrame(), *_audio(1.4)])
    assert rec.events == [("hold", True), ("hold", False)], rec.events


def test_speech_reported_early_interrupts_once_it_is_as_long_as_the_minimum() -> None:
    rec = Recorder()
    _run(rec.taker(SILENT_TURNS), [*_audio(0.06, 0.3), VADUserStartedSpeakingFrame(), *_audio(0.3, 0.3),
                                   *_audio(0.1), *_audio(0.3, 0.3), VADUserStoppedSpeakingFrame(), *_audio(1.0)])
    assert rec.kinds()[:2] == ["hold", "barge"], rec.events  # 0.36 s, a 0.1 s gap, then more: 0.45 s reached


def test_speech_over_the_face_counts_on_across_a_pause() -> None:
    """"Wait, [pause] stop": 0.3 s of speech, the VAD's stop, 0.3 s of quiet, 0.3 s more: 0.6 s in all, more than
    the 0.45 s minimum, interrupts (each part alone is below it: the count went back to zero at the second)."""
    rec = Recorder()
    _run(rec.taker(SILENT_TURNS), [*_audio(0.06, 0.3), VADUserStartedSpeakingFrame(), *_audio(0.24, 0.3),
                                   *_audio(0.2), VADUserStoppedSpeakingFrame(), *_audio(0.3),
                                   *_audio(0.06, 0.3), VADUserStartedSpeakingFrame(), *_audio(0.24, 0.3),
                                   *_audio(0.2), VADUserStoppedSpeakingFrame(), *_audio(1.2)])
    assert "barge" in rec.kinds(), rec.events
    assert rec.kinds().index("barge") > rec.kinds().index("hold"), rec.events


def test_two_coughs_further_apart_than_a_fragment_gap_do_not_interrupt() -> None:
    rec = Recorder()
    cough = [*_audio(0.06, 0.3), VADUserStartedSpeakingFrame(), *_audio(0.24, 0.3), *_audio(0.2),
             VADUserStoppedSpeakingFrame()]
    _run(rec.taker(SILENT_TURNS), [*cough, *_audio(1.3), *cough, *_audio(1.3)])
    assert "barge" not in rec.kinds() and "turn" not in rec.kinds(), rec.events


def test_smart_turn_is_asked_again_as_the_silence_goes_on() -> None:
    """The real smart-turn at the VAD's stop and again after ``later``'s silence, at that step's threshold: a
    threshold nothing reaches (1.01) never ends the turn before the 1.5 s fallback; a later step at 0 ends it
    0.3 s of audio into the silence (the turn's audio: 0.1 s before, 0.6 s of speech, the quiet so far)."""
    speech = [*_audio(0.1), VADUserStartedSpeakingFrame(), *_audio(0.6, 0.3), VADUserStoppedSpeakingFrame(),
              *_audio(1.0)]
    rec = Recorder(replying=False)
    _run(rec.taker(TurnSettings(threshold=1.01, stop_secs=1.5)), speech)
    assert "turn" not in rec.kinds(), rec.events
    rec = Recorder(replying=False)
    _run(rec.taker(TurnSettings(threshold=1.01, stop_secs=1.5, later=((0.3, 0.0),))), speech)
    turns = [e[1] for e in rec.events if e[0] == "turn"]
    assert len(turns) == 1 and 0.6 + 0.3 <= turns[0] < 0.7 + 1.0, rec.events


def test_no_interruptibility_never_holds_the_face() -> None:
    rec = Recorder()
    _run(rec.taker(TurnSettings(stop_secs=0.6, smart=False, barge_in_s=None)),
         [VADUserStartedSpeakingFrame(), *_audio(0.8, 0.3), VADUserStoppedSpeakingFrame(), *_audio(1.2)])
    assert "hold" not in rec.kinds() and "barge" not in rec.kinds(), rec.events


def test_a_pause_starts_recognition_that_speech_going_on_withdraws() -> None:
    rec = Recorder(replying=False)
    _run(rec.taker(SILENT_TURNS), [
        VADUserStartedSpeakingFrame(), *_audio(0.4, 0.3), VADUserStoppedSpeakingFrame(), *_audio(0.3),
        VADUserStartedSpeakingFrame(), *_audio(0.4, 0.3), VADUserStoppedSpeakingFrame(), *_audio(1.0)])
    assert rec.kinds() == ["pause", "pause", "pause", "turn"], rec.events
    assert rec.events[1] == ("pause", None)  # withdrawn when the caller went on
    assert rec.events[2][1] is not None and rec.events[2][1] <= rec.events[3][1]


def test_speech_before_the_face_said_a_word_continues_the_last_turn() -> None:
    rec = Recorder(replying=False)
    taker = rec.taker(SILENT_TURNS)
    first = [VADUserStartedSpeakingFrame(), *_audio(0.5, 0.3), VADUserStoppedSpeakingFrame(), *_audio(0.8)]
    then = [VADUserStartedSpeakingFrame(), *_audio(0.5, 0.3), VADUserStoppedSpeakingFrame(), *_audio(0.8)]

    async def go() -> None:
        async def thinking() -> None:  # once the turn ended, the reply is on its way, not heard yet
            while "turn" not in rec.kinds():
                await asyncio.sleep(0.01)
            rec.replying, rec.is_unheard = True, True

        await asyncio.gather(run_test(taker, frames_to_send=[*first, *_audio(0.1), *then],
                                      expected_down_frames=None), thinking())

    asyncio.run(go())
    turns = [e[1] for e in rec.events if e[0] == "turn"]
    assert "continue" in rec.kinds() and "hold" not in rec.kinds(), rec.events
    assert len(turns) == 2 and turns[1] > turns[0] + 0.4, rec.events  # the second holds the first's audio


class CountingWhisper(WhisperASR):
    """The real recogniser, counting its calls."""

    def __init__(self) -> None:
        super().__init__(word_timings=False)
        self.calls = 0

    def transcribe(self, samples: np.ndarray, sample_rate: int) -> Transcript:
        self.calls += 1
        return super().transcribe(samples, sample_rate)


def _brain(asr: WhisperASR, pushed: list[Any], executor: ThreadPoolExecutor) -> PalBrain:
    return PalBrain(PalParts(llm=None, options=None, asr=asr, knowledge=None), executor,
                    push=pushed.append, report=lambda *a: None, on_error=pushed.append)


def test_the_turn_uses_the_recognition_started_at_the_callers_pause() -> None:
    from tests.conversation.test_pal_pipeline import _say

    question = _say("What is your name?")
    asr, pushed = CountingWhisper(), []
    with ThreadPoolExecutor(1) as pool:
        brain = _brain(asr, pushed, pool)
        brain.speculate(question)  # the VAD stopped: recognition starts while smart-turn decides
        turn = np.concatenate([question, np.zeros(TURN_RATE // 4, np.float32)])  # and the silence after it
        asyncio.run(brain.user_audio(turn, TURN_RATE))
        assert asr.calls == 1 and brain.history[-1]["content"].lower().startswith("what is your name")
        brain.speculate(question[: question.size // 2])  # a pause, then the caller went on: not that guess
        asyncio.run(brain.user_audio(question, TURN_RATE))
        assert asr.calls == 3 and "name" in brain.history[-1]["content"].lower()
    assert sum(isinstance(p, LLMContextFrame) for p in pushed) == 2


def test_a_turn_taken_back_leaves_the_history() -> None:
    from tests.conversation.test_pal_pipeline import _say

    pushed: list[Any] = []
    with ThreadPoolExecutor(1) as pool:
        brain = _brain(CountingWhisper(), pushed, pool)
        asyncio.run(brain.user_text("Hi there."))
        brain.take_back()  # "... how are you doing today?" follows before the Face said a word
        assert brain.history == [] and not brain.thinking
        asyncio.run(brain.user_audio(_say("Hi there, how are you doing today?"), TURN_RATE))
    assert [m["role"] for m in brain.history] == ["user"] and "how are you" in brain.history[0]["content"].lower()


def test_the_llm_starts_on_the_turn_heard_at_the_callers_pause() -> None:
    """The speculative STT's words go to the LLM as a guess at once; the caller going on voids it; the turn
    confirmed with the same words sends the same messages (the LLM service then uses the guess)."""
    from facecraft.conversation.llm import LLMGuessFrame
    from tests.conversation.test_pal_pipeline import _say

    question = _say("What is your name?")
    pushed: list[Any] = []

    async def guessed(count: int) -> None:
        for _ in range(600):
            if sum(isinstance(p, LLMGuessFrame) for p in pushed) >= count:
                return
            await asyncio.sleep(0.05)

    async def go(pool: ThreadPoolExecutor) -> None:
        brain = _brain(CountingWhisper(), pushed, pool)
        brain.speculate(question[: question.size // 2])  # a pause in the middle of the question
        await guessed(1)
        brain.speculate(None)  # the caller went on
        brain.speculate(question)
        await guessed(3)
        await brain.user_audio(np.concatenate([question, np.zeros(TURN_RATE // 4, np.float32)]), TURN_RATE)

    with ThreadPoolExecutor(1) as pool:
        asyncio.run(go(pool))
    kinds = [("void" if p.context is None else "guess") if isinstance(p, LLMGuessFrame) else type(p).__name__
             for p in pushed]
    assert kinds == ["guess", "void", "guess", "LLMContextFrame"], kinds
    first, last, turn = pushed[0].context.get_messages(), pushed[2].context.get_messages(), pushed[3].context
    assert "name" not in first[-1]["content"].lower()
    assert last == turn.get_messages() and "name" in last[-1]["content"].lower()


def test_quiet_audio_starts_recognition_before_the_vad_reports_the_stop() -> None:
    """0.12 s of quiet after speech is a pause already (the VAD says so ~0.2 s later); loud audio after it
    withdraws it, as speech going on does."""
    rec = Recorder(replying=False)
    _run(rec.taker(SILENT_TURNS), [
        VADUserStartedSpeakingFrame(), *_audio(0.5, 0.3), *_audio(0.2), *_audio(0.4, 0.3),  # a short gap
        *_audio(0.3), VADUserStoppedSpeakingFrame(), *_audio(1.0)])
    assert rec.kinds() == ["pause", "pause", "pause", "pause", "turn"], rec.events
    early, void, last_early, stop, turn = (e[1] for e in rec.events)
    assert early is not None and void is None, "the gap's pause is withdrawn when the speech goes on"
    assert last_early is not None and stop is not None and last_early < stop <= turn
    # the early pause came 0.12 s into the quiet: the turn's audio then ended ~0.18 s before the VAD's stop
    assert 0.1 < stop - last_early < 0.25, rec.events


def test_the_recognition_of_a_pause_holds_when_only_quiet_audio_follows() -> None:
    """The VAD's stop after the early pause asks again for audio that only adds quiet: no second STT."""
    from tests.conversation.test_pal_pipeline import _say

    question = _say("What is your name?")
    asr, pushed = CountingWhisper(), []
    with ThreadPoolExecutor(1) as pool:
        brain = _brain(asr, pushed, pool)
        brain.speculate(question)
        brain.speculate(np.concatenate([question, np.zeros(TURN_RATE // 5, np.float32)]))  # the VAD's stop
        asyncio.run(brain.user_audio(np.concatenate([question, np.zeros(TURN_RATE // 2, np.float32)]), TURN_RATE))
    assert asr.calls == 1 and "name" in brain.history[-1]["content"].lower()
