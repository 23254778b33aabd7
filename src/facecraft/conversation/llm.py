"""The PAL's LLM as a pipecat LLM service, for the conversation pipeline (phase B drops it in).

:class:`FacecraftLLMService` takes an ``LLMContextFrame`` like pipecat's ``OpenAILLMService`` does
(messages and tools converted by pipecat's own OpenAI adapter), streams the answer from any
:class:`facecraft.llm.types.ChatLLM` (the embedded model or an endpoint by URL) as ``LLMTextFrame``
pieces between ``LLMFullResponseStartFrame`` and ``LLMFullResponseEndFrame``, and hands tool calls to
pipecat's function-call machinery (``run_function_calls``; the app, not facecraft, runs them).

An interruption cancels the frame's processing: closing the stream stops the model at the next token.
A failing or silent LLM (``LLMError``, ``LLMTimeoutError``) never hangs the turn: the service calls its
``on_llm_error`` event handler with the error and, when ``apology`` is set, says that fixed text instead.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from pipecat.adapters.llm.services.open_ai_adapter import OpenAILLMAdapter
from pipecat.frames.frames import (
    DataFrame,
    Frame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.llm_service import FunctionCallFromLLM, LLMService
from pipecat.services.settings import LLMSettings

from facecraft.errors import LLMError
from facecraft.llm.types import ChatLLM, GenerationOptions, ToolCall

__all__ = ["FacecraftLLMService", "LLMAnswerFailedFrame", "DEFAULT_APOLOGY", "pal_instruction"]

log = logging.getLogger(__name__)

DEFAULT_APOLOGY = "Sorry, I lost my train of thought for a moment. Could you say that again?"


@dataclass
class LLMAnswerFailedFrame(DataFrame):
    """The answer broke off (the LLM failed or stalled): what it wrote after its last full sentence is void;
    the apology, if any, follows as text."""


def pal_instruction(system_prompt: str | None, context: str | None = None,
                    conversational_context: str | None = None) -> str:
    """The system instruction of a PAL's conversation: prompt, then PAL context, then the conversation's
    own context. It stays the same for the whole session: it is the prefix llama.cpp keeps cached (knowledge
    retrieved per turn belongs in the turn's messages, after it)."""
    parts = [p.strip() for p in (system_prompt, context, conversational_context) if p and p.strip()]
    return "\n\n".join(parts)


class FacecraftLLMService(LLMService[OpenAILLMAdapter]):
    adapter_class = OpenAILLMAdapter

    def __init__(self, llm: ChatLLM, *, system_instruction: str | None = None,
                 options: GenerationOptions | None = None, apology: str | None = None, **kwargs: Any) -> None:
        options = options or GenerationOptions()
        # every pipecat setting given (pipecat logs an error for each one left NOT_GIVEN); the instruction
        # is ours (``_system_instruction``), not pipecat's
        kwargs.setdefault("settings", LLMSettings(
            model=llm.name, system_instruction=None, temperature=options.temperature,
            max_tokens=options.max_tokens, top_p=None, top_k=None, frequency_penalty=None, presence_penalty=None,
            seed=None, filter_incomplete_user_turns=False, user_turn_completion_config=None))
        super().__init__(**kwargs)
        self._llm = llm
        self._system_instruction = system_instruction or None
        self._options = options
        self._apology = apology
        self._register_event_handler("on_llm_error")

    @property
    def system_instruction(self) -> str | None:
        return self._system_instruction

    def set_system_instruction(self, text: str | None) -> None:
        """A new instruction from the next turn on (``conversation.overwrite_llm_context`` and friends)."""
        self._system_instruction = text or None

    async def prefill(self) -> None:
        """Warm the model's prompt cache with the session's system instruction (call at session start)."""
        if self._system_instruction:
            await self._llm.prefill([{"role": "system", "content": self._system_instruction}])

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame):
            await self.push_frame(LLMFullResponseStartFrame())
            await self.start_processing_metrics()
            try:
                await self._answer(frame.context)
            except LLMError as exc:
                log.warning("LLM %s failed: %s", self._llm.name, exc.message)
                await self.push_frame(LLMAnswerFailedFrame())  # the broken-off text is not to be said
                await self._call_event_handler("on_llm_error", exc)
                if self._apology:
                    await self._push_llm_text(self._apology)
            finally:
                await self.stop_processing_metrics()
                await self.push_frame(LLMFullResponseEndFrame())
        else:
            await self.push_frame(frame, direction)

    async def _answer(self, context: LLMContext) -> None:
        params = await self.get_llm_adapter().get_llm_invocation_params(
            context, system_instruction=self._system_instruction, convert_developer_to_user=True)
        messages = [dict(m) for m in params["messages"]]
        tools = params.get("tools")
        options = self._options
        if isinstance(tools, list) and tools:
            options = GenerationOptions(**{**options.__dict__, "tools": tuple(tools)})
        await self.start_ttfb_metrics()
        calls: tuple[ToolCall, ...] = ()
        async for delta in self._llm.stream(messages, options):
            await self.stop_ttfb_metrics()
            if delta.text:
                await self._push_llm_text(delta.text)
            calls = delta.tool_calls or calls
        if calls:
            function_calls = []
            for call in calls:
                try:
                    arguments = json.loads(call.arguments or "{}")
                except ValueError:
                    log.warning("the LLM called %s with arguments that are not JSON", call.name)
                    continue
                function_calls.append(FunctionCallFromLLM(
                    context=context, tool_call_id=call.id, function_name=call.name, arguments=arguments))
            await self.run_function_calls(function_calls)
