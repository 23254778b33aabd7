"""The PAL's LLM inside a real pipecat pipeline: an ``LLMContextFrame`` in, the answer out as
``LLMTextFrame`` pieces between the response start and end frames; an LLM endpoint that cannot be
reached ends the turn with the fixed apology and the ``on_llm_error`` event, not a hang."""

from __future__ import annotations

import asyncio

from pipecat.frames.frames import (
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.tests.utils import SleepFrame, run_test

from facecraft.conversation.llm import (
    DEFAULT_APOLOGY,
    FacecraftLLMService,
    LLMGuessFrame,
    LLMWarmFrame,
    pal_instruction,
)
from facecraft.errors import LLMError
from facecraft.llm.local import LocalLLM
from facecraft.llm.remote import RemoteLLM
from facecraft.llm.types import GenerationOptions
from tests.llm.conftest import free_port


def _texts(frames) -> str:  # noqa: ANN001
    return "".join(f.text for f in frames if isinstance(f, LLMTextFrame))


def test_the_embedded_llm_answers_in_a_pipeline() -> None:
    instruction = pal_instruction("Your name is Ada. Answer in one short sentence.",
                                  "You work at the Riverside Science Museum.")
    messages = [{"role": "user", "content": "Please introduce yourself."}]

    async def run():  # noqa: ANN202
        llm = LocalLLM()
        service = FacecraftLLMService(llm, system_instruction=instruction,
                                      options=GenerationOptions(first_token_timeout_s=300))
        await service.prefill()
        down, _ = await run_test(service, frames_to_send=[LLMContextFrame(LLMContext(messages=messages))],
                                 start_timeout=30)
        await llm.aclose()
        return down

    down = asyncio.run(run())
    kinds = [type(f) for f in down if type(f) in (LLMFullResponseStartFrame, LLMTextFrame, LLMFullResponseEndFrame)]
    assert kinds[0] is LLMFullResponseStartFrame and kinds[-1] is LLMFullResponseEndFrame
    assert sum(k is LLMTextFrame for k in kinds) >= 2  # streamed
    assert "Ada" in _texts(down)


def test_an_unreachable_endpoint_ends_the_turn_with_the_apology() -> None:
    errors: list[LLMError] = []

    async def run():  # noqa: ANN202
        llm = RemoteLLM(f"http://127.0.0.1:{free_port()}/v1")
        service = FacecraftLLMService(llm, apology=DEFAULT_APOLOGY)

        @service.event_handler("on_llm_error")
        async def on_error(_service, error: LLMError) -> None:  # noqa: ANN001
            errors.append(error)

        context = LLMContext(messages=[{"role": "user", "content": "Hello?"}])
        down, _ = await run_test(service, frames_to_send=[LLMContextFrame(context)], start_timeout=30)
        await llm.aclose()
        return down

    down = asyncio.run(run())
    assert _texts(down) == DEFAULT_APOLOGY
    assert type(down[-1]) is LLMFullResponseEndFrame
    assert len(errors) == 1 and errors[0].error_id == "llm_unavailable"


class CountingLLM:
    """The real embedded model, counting its requests and those closed before their answer ended."""

    def __init__(self, llm: LocalLLM) -> None:
        self.llm, self.name = llm, llm.name
        self.asked: list[str] = []
        self.stopped = 0

    async def stream(self, messages, options=None):  # noqa: ANN001, ANN201
        self.asked.append(messages[-1]["content"])
        finished = False
        try:
            async for delta in self.llm.stream(messages, options):
                yield delta
            finished = True
        finally:
            self.stopped += not finished

    async def prefill(self, messages) -> None:  # noqa: ANN001
        await self.llm.prefill(messages)


def test_a_guessed_turn_is_answered_ahead_and_used_only_when_confirmed() -> None:
    """The answer starts on the turn guessed at the caller's pause: the confirmed turn takes it (no second
    request, nothing said before the confirmation); a guess for another turn, or a void one, stops unheard."""
    instruction = pal_instruction("Your name is Ada. Answer in one short sentence.")
    name = LLMContext(messages=[{"role": "user", "content": "What is your name?"}])
    other = LLMContext(messages=[{"role": "user", "content": "Tell me a long story about the sea."}])

    async def run(frames):  # noqa: ANN001, ANN202
        down, _ = await run_test(service, frames_to_send=frames, start_timeout=30, expected_down_frames=None)
        return down

    llm = CountingLLM(LocalLLM())
    service = FacecraftLLMService(llm, system_instruction=instruction,  # type: ignore[arg-type]
                                  options=GenerationOptions(first_token_timeout_s=300))

    async def scenario():  # noqa: ANN202
        await service.prefill()
        # the guess streams ahead while the turn is decided; nothing goes down until it is confirmed
        ahead = await run([LLMGuessFrame(name), SleepFrame(3.0)])
        used = await run([LLMGuessFrame(name), SleepFrame(1.5), LLMContextFrame(name)])
        asked_once = list(llm.asked)
        # the caller went on: the guess is void; then another turn than guessed
        void = await run([LLMGuessFrame(other), SleepFrame(1.0), LLMGuessFrame(None), SleepFrame(0.5)])
        wrong = await run([LLMGuessFrame(other), SleepFrame(1.0), LLMContextFrame(name)])
        await llm.llm.aclose()
        return ahead, used, asked_once, void, wrong

    ahead, used, asked_once, void, wrong = asyncio.run(scenario())
    assert not any(isinstance(f, (LLMTextFrame, LLMFullResponseStartFrame)) for f in ahead + void)
    assert "Ada" in _texts(used) and type(used[-1]) is LLMFullResponseEndFrame
    assert asked_once[1:] == ["What is your name?"], "the confirmed turn used the guess, no second request"
    assert "Ada" in _texts(wrong) and "sea" not in _texts(wrong).lower()
    assert llm.asked[2:] == ["Tell me a long story about the sea."] * 2 + ["What is your name?"]
    assert llm.stopped >= 2, "the unused guesses were stopped before their answers ended"


def test_the_history_is_read_ahead_so_a_turn_only_adds_the_callers_words(caplog) -> None:  # noqa: ANN001
    """Once the Face stopped speaking the model reads the history (``LLMWarmFrame``) while the caller speaks:
    the next turn's prompt then only processes the caller's new words (llama.cpp's prompt cache)."""
    import logging
    import re

    instruction = pal_instruction("Your name is Ada. Answer in one short sentence.")
    said = [{"role": "user", "content": "What is your name?"},
            {"role": "assistant", "content": "My name is Ada, and I work at the Riverside Science Museum."}]
    turn = LLMContext(messages=[*said, {"role": "user", "content": "Where is it?"}])
    llm = LocalLLM()
    service = FacecraftLLMService(llm, system_instruction=instruction,
                                  options=GenerationOptions(first_token_timeout_s=300, max_tokens=8))

    async def run():  # noqa: ANN202
        await service.prefill()
        frames = [LLMWarmFrame(LLMContext(messages=said)), SleepFrame(4.0), LLMContextFrame(turn)]
        down, _ = await run_test(service, frames_to_send=frames, start_timeout=30, expected_down_frames=None)
        await llm.aclose()
        return down

    with caplog.at_level(logging.INFO, logger="facecraft.llm.local"):
        down = asyncio.run(run())
    assert _texts(down)
    prompts = [re.search(r"(\d+) tokens cached, (\d+) new", r.getMessage()) for r in caplog.records]
    cached, new = (int(g) for g in [m for m in prompts if m][-1].groups())
    assert new <= 16 and cached > 30, (cached, new)  # "Where is it?" and the chat template (the history: ~30)
