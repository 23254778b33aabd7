"""A reply's first audio is synthesised while the embedded LLM is held (on 2 cores the model writing on would
take half the CPU from Piper and the voice step): the real model, the real voice (a stock WORLD-shifted one),
pipecat's frames. The model is held from the reply's first clause to its first audio, writes nothing
meanwhile, and then goes on with the same answer, all of which is said."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pipecat.frames.frames import Frame, LLMContextFrame, TTSStoppedFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.tests.utils import SleepFrame, run_test

from facecraft.conversation.echo import FaceVoice
from facecraft.conversation.face_video import SpeechAudioFrame
from facecraft.conversation.llm import FacecraftLLMService
from facecraft.conversation.pal_pipeline import ReplyAssembler, TimedEchoService, llm_hold
from facecraft.llm.local import LocalLLM
from facecraft.llm.types import GenerationOptions, LLMDelta, Message, collect_text
from facecraft.speech.voices import tts_for

SYSTEM = ("Your name is Ada. You are a guide at the Riverside Science Museum, which opens at nine in the morning "
          "and closes at five in the afternoon, Tuesday to Sunday. Adult tickets cost twelve dollars.")
QUESTION = "Tell me about the museum's opening hours and its tickets, in three sentences."


class _Recorded:
    """The embedded model, with when each piece came and when it was held or released."""

    def __init__(self, llm: LocalLLM) -> None:
        self.llm = llm
        self.name = llm.name
        self.events: list[tuple[float, str, Any]] = []

    def hold(self, held: bool) -> None:
        self.events.append((time.monotonic(), "hold", held))
        self.llm.hold(held)

    async def prefill(self, messages: list[Message]) -> None:
        await self.llm.prefill(messages)

    async def stream(self, messages: list[Message], options: GenerationOptions | None = None
                     ) -> AsyncIterator[LLMDelta]:
        async for delta in self.llm.stream(messages, options):
            self.events.append((time.monotonic(), "piece", delta.text))
            yield delta


class _Stopped(FrameProcessor):
    """Passes frames on; ``seen`` once the reply's speech has ended (its ``TTSStoppedFrame``)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = False

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        self.seen = self.seen or isinstance(frame, TTSStoppedFrame)
        await self.push_frame(frame, direction)


def test_the_llm_is_held_from_the_first_clause_to_the_first_audio_and_the_whole_answer_is_said() -> None:
    llm = LocalLLM()
    options = GenerationOptions(max_tokens=80, first_token_timeout_s=300, stall_timeout_s=300)
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}]
    executor = ThreadPoolExecutor(2)
    recorded = _Recorded(llm)
    hold = llm_hold(recorded)
    assert hold is not None and llm_hold(object()) is None  # an endpoint by URL is never held

    async def go() -> tuple[list[Any], str]:
        plain = await collect_text(llm, messages, options)  # the same answer, never held (greedy)
        voice = FaceVoice(tts_for("ada-us"), None)
        stages = [FacecraftLLMService(recorded, system_instruction=SYSTEM, options=options),  # type: ignore[arg-type]
                  ReplyAssembler(on_first_clause=lambda _i: hold(True)),
                  TimedEchoService(voice, executor, on_first_audio=lambda _i: hold(False))]
        stopped = _Stopped()

        def frames() -> Iterator[Frame]:  # the turn, then as long as the answer takes to be said (a loaded CI)
            yield LLMContextFrame(context=LLMContext(messages=messages[1:]))  # type: ignore[arg-type]
            deadline = time.monotonic() + 600
            while not stopped.seen and time.monotonic() < deadline:
                yield SleepFrame(0.25)

        down, _ = await run_test(Pipeline([*stages, stopped]), frames_to_send=frames(),  # type: ignore[arg-type]
                                 expected_down_frames=None)
        return down, plain

    try:
        down, plain = asyncio.run(go())
    finally:
        executor.shutdown()
        asyncio.run(llm.aclose())
    holds = [(t, v) for t, kind, v in recorded.events if kind == "hold"]
    assert [v for _, v in holds[:2]] == [True, False], holds
    held_at, released_at = holds[0][0], holds[1][0]
    during = [v for t, kind, v in recorded.events if kind == "piece" and held_at < t < released_at]
    assert len(during) <= 1, f"the model wrote {during} while held"  # (one piece may be in flight)
    after = [v for t, kind, v in recorded.events if kind == "piece" and t > released_at]
    assert len(after) > 5, "the hold came after the answer was written: it held nothing"
    spoken = " ".join(f.text for f in down if isinstance(f, SpeechAudioFrame) and f.text)
    assert spoken.split() == plain.split(), (spoken, plain)
    assert len(plain.split()) > 12, plain  # the answer went on well past its first clause
