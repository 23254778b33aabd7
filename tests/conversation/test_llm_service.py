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
from pipecat.tests.utils import run_test

from facecraft.conversation.llm import DEFAULT_APOLOGY, FacecraftLLMService, pal_instruction
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
