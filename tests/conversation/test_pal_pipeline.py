"""Full mode's parts on their own, with the real models: the LLM's streamed answer cut into sentences for
the Face's voice (emotion tags set, never spoken), the context kept to what the caller heard, the turn
settings of a PAL, the caller's turn audio bounded, smart-turn on real speech, the STT on silence, and
the PAL messages of the interactions protocol."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from pipecat.frames.frames import (
    InputAudioRawFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.tests.utils import SleepFrame, run_test

from facecraft.conversation.echo import EchoFrame
from facecraft.conversation.llm import LLMAnswerFailedFrame
from facecraft.conversation.pal_pipeline import PalBrain, PalParts, ReplyAssembler
from facecraft.conversation.protocol import ContextUpdate, ProtocolError, Respond, parse_inbound
from facecraft.conversation.turns import TURN_RATE, TurnAudio, TurnSettings, TurnTaker
from facecraft.knowledge import Chunk, KnowledgeBase
from facecraft.speech.asr import WhisperASR


def _say(text: str) -> np.ndarray:
    """``text`` spoken by Piper at TURN_RATE, float32."""
    from facecraft.audio import resample
    from facecraft.speech.voices import tts_for

    x, rate, _ = tts_for(None, deterministic=True).synthesize(text)
    return resample(x.astype(np.float32), rate, TURN_RATE)


def test_the_streamed_answer_becomes_sentences_with_emotion_tags_that_are_never_words() -> None:
    tokens = ["<emo", 'tion value="ex', 'cited"/>Hello', " there! I am", " Ada. ", "<emotion value=", '"sad"/>',
              " It rained", " today"]
    ends: list[tuple[str, bool]] = []

    async def go():  # noqa: ANN202
        frames = [LLMFullResponseStartFrame(), *[LLMTextFrame(t) for t in tokens], LLMFullResponseEndFrame()]
        return await run_test(ReplyAssembler(on_end=lambda i, spoke: ends.append((i, spoke))),
                              frames_to_send=frames, expected_down_frames=None)

    down, _ = asyncio.run(go())
    echoes = [f.echo for f in down if isinstance(f, EchoFrame)]
    said = [e.text for e in echoes if e.text]
    assert said == ['<emotion value="excited"/>Hello there!', "I am Ada.",
                    '<emotion value="sad"/> It rained today'], said
    assert echoes[-1].done and not echoes[-1].text and len({e.inference_id for e in echoes}) == 1
    assert ends == [(echoes[0].inference_id, True)]
    assert not any(isinstance(f, LLMTextFrame) for f in down), "the LLM's text must not reach the Face raw"


def _said(tokens: list[str | SleepFrame], assembler: ReplyAssembler) -> list[str]:
    """What ``assembler`` sends to the voice, in pieces, for one answer streamed as ``tokens``."""
    frames = [LLMFullResponseStartFrame(), *[LLMTextFrame(t) if isinstance(t, str) else t for t in tokens],
              LLMFullResponseEndFrame()]
    down, _ = asyncio.run(run_test(assembler, frames_to_send=frames, expected_down_frames=None))
    return [f.echo.text for f in down if isinstance(f, EchoFrame) and f.echo.text]


def test_a_replys_first_clause_of_a_few_words_is_said_before_its_sentence_ends() -> None:
    tokens: list[str | SleepFrame] = ["Sure,", " I can", " help you", " with that,", " and", " with the tickets,",
                                      " of", " course."]
    # (a fast LLM: the slow LLM's rule, below, never applies however loaded the machine running the test)
    said = _said(tokens, ReplyAssembler(short_clause_after_s=None))
    # "Sure," is too short to say alone; after the first clause the rest goes by sentences again
    assert said == ["Sure, I can help you with that,", "and with the tickets, of course."], said


def test_a_slow_llm_s_first_clause_is_said_whatever_its_length() -> None:
    tokens: list[str | SleepFrame] = ["Sure,", " I", SleepFrame(0.45), " can help", " you with that.", " Anything",
                                      " else, maybe?"]
    said = _said(tokens, ReplyAssembler(short_clause_after_s=0.3))
    # the first sentence still open 0.3 s after the first token: "Sure," goes to the voice; later clauses wait
    assert said == ["Sure,", "I can help you with that.", "Anything else, maybe?"], said


def test_a_long_first_sentence_is_said_in_two_parts_cut_before_a_phrase() -> None:
    tokens: list[str | SleepFrame] = ["The", " museum", " opens", " tomorrow", " at", " ", "1", "0", ":", "0", "0",
                                      " AM", ".", " I", " would", " like", " to", " see", " you", " there", "."]
    said = _said(tokens, ReplyAssembler(short_clause_after_s=None))
    # the first sentence, 6 words long and no comma in sight: cut before "at" (4 words before it); the next
    # sentence is whole ("to" comes after 3 words only, and the reply's first audio is on its way anyway)
    assert said == ["The museum opens tomorrow", "at 10:00 AM.", "I would like to see you there."], said


def test_a_first_sentence_goes_to_the_voice_at_its_full_stop_not_at_the_answer_s_end() -> None:
    times: dict[str, float] = {}

    async def go():  # noqa: ANN202
        import time

        frames = [LLMFullResponseStartFrame(), *[LLMTextFrame(t) for t in ["My", " name", " is", " E", "ileen", "."]],
                  SleepFrame(1.0), LLMFullResponseEndFrame()]
        assembler = ReplyAssembler(short_clause_after_s=None,
                                   on_first_clause=lambda _i: times.setdefault("clause", time.monotonic()),
                                   on_end=lambda _i, _s: times.setdefault("end", time.monotonic()))
        return await run_test(assembler, frames_to_send=frames, expected_down_frames=None)

    down, _ = asyncio.run(go())
    said = [f.echo.text for f in down if isinstance(f, EchoFrame) and f.echo.text]
    assert said == ["My name is Eileen."], said
    assert times["end"] - times["clause"] > 0.5, times  # said at its "." (the answer ended 1 s later)
    # a stop after a possible abbreviation or a number waits for what follows
    for text in ["It opens at 10 a.m.", "Ask Dr.", "It costs 5."]:
        assembler = ReplyAssembler(short_clause_after_s=None)
        assembler._text = text  # noqa: SLF001 - the rule alone
        assert assembler._sentence_end() is None, text  # noqa: SLF001


def test_a_broken_off_answer_is_not_said_before_the_apology() -> None:
    frames = [LLMFullResponseStartFrame(), LLMTextFrame("It is late. My"), LLMAnswerFailedFrame(),
              LLMTextFrame("Sorry, say that again?"), LLMFullResponseEndFrame()]

    async def go():  # noqa: ANN202
        return await run_test(ReplyAssembler(), frames_to_send=frames, expected_down_frames=None)

    down, _ = asyncio.run(go())
    assert [f.echo.text for f in down if isinstance(f, EchoFrame) and f.echo.text] == [
        "It is late.", "Sorry, say that again?"]


def test_the_context_keeps_only_what_the_caller_heard() -> None:
    pushed: list = []
    reports: list = []
    kb = KnowledgeBase([Chunk("The museum opens at nine and closes at five.", 12, 0, "d1", "hours")])
    brain = PalBrain(PalParts(llm=None, options=None, asr=None, knowledge=kb), executor=None,  # type: ignore[arg-type]
                     push=pushed.append, report=lambda *a: reports.append(a), on_error=lambda e: None)
    asyncio.run(brain.user_text("When does the museum open?"))
    context = pushed[-1]
    assert isinstance(context, LLMContextFrame)
    last = context.context.get_messages()[-1]
    assert "opens at nine" in last["content"] and last["content"].endswith("When does the museum open?")
    assert brain.history == [{"role": "user", "content": "When does the museum open?"}], "notes are per turn"
    assert reports[-1][:2] == ("conversation.utterance", {"role": "user", "speech": "When does the museum open?"})
    # the reply plays two sentences of four, then the caller barges in
    brain.speech("started", "r1")
    brain.speech("caption", "r1", "It opens at nine.")
    brain.speech("caption", "r1", "And on Sundays")
    brain.interrupted()
    brain.speech("stopped", "r1")
    asyncio.run(brain.user_text("Thanks"))
    assert [m["content"] for m in brain.history] == ["When does the museum open?",
                                                     "It opens at nine. And on Sundays", "Thanks"]


def test_pal_turn_settings() -> None:
    medium = TurnSettings.from_flow(None)
    patient = TurnSettings.from_flow({"turn_taking_patience": "high", "replica_interruptibility": "low"})
    eager = TurnSettings.from_flow({"turn_taking_patience": "low", "replica_interruptibility": "high"})
    assert eager.stop_secs < medium.stop_secs < patient.stop_secs
    assert eager.threshold < medium.threshold < patient.threshold
    assert eager.barge_in_s < medium.barge_in_s < patient.barge_in_s  # type: ignore[operator]
    assert 0.4 <= medium.barge_in_s <= 0.5  # type: ignore[operator]
    assert TurnSettings.from_flow({"replica_interruptibility": "none"}).barge_in_s is None
    # smart-turn asked again 0.1 s into the silence (the VAD's stop at 0.1 s reads too little of it alone)
    assert all(s.later and s.later[0][0] <= 0.2 for s in (eager, medium, patient))
    assert not TurnSettings.from_flow({"turn_detection_model": "silence"}).smart


def test_a_ten_minute_monologue_holds_a_bounded_amount_of_audio() -> None:
    audio = TurnAudio(max_s=30.0)
    audio.start()
    chunk = np.ones(320, dtype=np.int16)  # 20 ms
    for _ in range(10 * 60 * 50):
        audio.add(chunk)
        assert audio.samples_held <= 30 * TURN_RATE + chunk.size
    assert audio.take().size == 30 * TURN_RATE and audio.samples_held == 0


def test_smart_turn_ends_a_finished_question_and_silence_ends_any_turn() -> None:
    question = _say("What is your name?")
    turns: list[np.ndarray] = []

    async def turn(samples: np.ndarray) -> None:
        turns.append(samples)

    async def barge() -> None:
        raise AssertionError("nobody was speaking over the caller")

    def frames(samples: np.ndarray, *, vad: bool) -> list:
        pcm = (np.concatenate([samples, np.zeros(TURN_RATE * 2, np.float32)]) * 32767).astype(np.int16)
        out: list = [VADUserStartedSpeakingFrame()] if vad else []
        chunks = [pcm[i:i + 320].tobytes() for i in range(0, pcm.size, 320)]
        speech_chunks = samples.size // 320
        for i, c in enumerate(chunks):
            out.append(InputAudioRawFrame(audio=c, sample_rate=TURN_RATE, num_channels=1))
            if vad and i == speech_chunks:
                out.append(VADUserStoppedSpeakingFrame())
        return out

    async def go(settings: TurnSettings) -> None:
        taker = TurnTaker(settings, replying=lambda: False, on_turn=turn, on_barge_in=barge)
        # the pipeline stays up while the model decides in its thread (the end frame would cancel that; on
        # a loaded machine the decision took longer than handing over the frames did)
        await run_test(taker, frames_to_send=[*frames(question, vad=True), SleepFrame(6.0)],
                       expected_down_frames=None)
        await asyncio.sleep(0.5)

    asyncio.run(go(TurnSettings(stop_secs=5.0)))  # 2 s of silence follow: the model ended this turn
    assert len(turns) == 1 and turns[0].size >= question.size * 0.9
    asyncio.run(go(TurnSettings(stop_secs=1.0, smart=False)))
    assert len(turns) == 2


def test_silence_is_no_turn() -> None:
    pushed: list = []
    brain = PalBrain(PalParts(llm=None, options=None, asr=WhisperASR(), knowledge=None),
                     executor=None, push=pushed.append, report=lambda *a: None,  # type: ignore[arg-type]
                     on_error=lambda e: pushed.append(e))
    asyncio.run(brain.user_audio(np.zeros(TURN_RATE, np.float32), TURN_RATE))
    asyncio.run(brain.user_audio(np.zeros(0, np.float32), TURN_RATE))
    assert not any(isinstance(p, LLMContextFrame) for p in pushed) and not brain.thinking


def test_pal_messages_of_the_protocol() -> None:
    def msg(event: str, **props: object) -> dict:
        return {"message_type": "conversation", "event_type": event, "properties": props}

    assert parse_inbound(msg("conversation.respond", text=" Hi "), "c", full=True) == Respond("Hi")
    assert parse_inbound(msg("conversation.overwrite_llm_context", context="A"), "c", full=True) == \
        ContextUpdate("A", overwrite=True)
    assert parse_inbound(msg("conversation.append_llm_context", context="B"), "c", full=True) == \
        ContextUpdate("B", overwrite=False)
    for bad in (msg("conversation.respond"), msg("conversation.respond", text="  "),
                msg("conversation.append_llm_context", context=3)):
        with pytest.raises(ProtocolError):
            parse_inbound(bad, "c", full=True)
    with pytest.raises(ProtocolError, match="needs a PAL"):
        parse_inbound(msg("conversation.respond", text="Hi"), "c")


def test_a_pal_with_speech_by_url_hears_through_that_endpoint() -> None:
    """``layers.stt.base_url`` (or the server's FACECRAFT_STT_*) puts an OpenAI-compatible recogniser in the
    turn's path; without it the embedded Whisper hears. (The endpoint itself is tested against a real
    ``facecraft serve`` in tests/speech/test_remote.py.)"""
    from facecraft.conversation.pal_pipeline import load_pal_parts
    from facecraft.speech.asr import OpenAIASR

    llm = {"base_url": "http://127.0.0.1:9/v1", "model": "m"}  # by URL: nothing loads
    by_url = load_pal_parts({"layers": {"llm": llm, "stt": {"base_url": "http://127.0.0.1:9/v1"}}})
    assert isinstance(by_url.asr, OpenAIASR)
    server = load_pal_parts({"layers": {"llm": llm},
                             "speech_defaults": {"stt_base_url": "http://127.0.0.1:9", "stt_model": "w"}})
    assert isinstance(server.asr, OpenAIASR)
    assert isinstance(load_pal_parts({"layers": {"llm": llm}}).asr, WhisperASR)
