"""The PAL's LLM as a pipecat LLM service, for the conversation pipeline (phase B drops it in).

:class:`FacecraftLLMService` takes an ``LLMContextFrame`` like pipecat's ``OpenAILLMService`` does
(messages and tools converted by pipecat's own OpenAI adapter), streams the answer from any
:class:`facecraft.llm.types.ChatLLM` (the embedded model or an endpoint by URL) as ``LLMTextFrame``
pieces between ``LLMFullResponseStartFrame`` and ``LLMFullResponseEndFrame``, and hands tool calls to
pipecat's function-call machinery (``run_function_calls``; the app, not facecraft, runs them).

An interruption cancels the frame's processing: closing the stream stops the model at the next token.

Thinking ahead: an ``LLMGuessFrame`` (the turn as the caller's pause suggests it, from the speculative STT)
starts the answer at once, held back; the ``LLMContextFrame`` that confirms the turn takes what the guess has
streamed so far and the rest as it comes, when its messages (system instruction and tools included) are the
guess's exactly. Anything else (a different turn, a void guess, an interruption) stops the guess unheard:
nothing of it goes down the pipeline before the turn is confirmed. An ``LLMWarmFrame`` (the history once the
Face has stopped speaking) has the model process it while the caller speaks, so the next turn's prompt
only adds the caller's words (llama.cpp keeps the longest common prefix cached).
A failing or silent LLM (``LLMError``, ``LLMTimeoutError``) never hangs the turn: the service calls its
``on_llm_error`` event handler with the error and, when ``apology`` is set, says that fixed text instead.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from pipecat.adapters.llm.services.open_ai_adapter import OpenAILLMAdapter
from pipecat.frames.frames import (
    CancelFrame,
    DataFrame,
    EndFrame,
    Frame,
    InterruptionFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.llm_service import FunctionCallFromLLM, LLMService
from pipecat.services.settings import LLMSettings

from facecraft.errors import LLMError
from facecraft.llm.types import ChatLLM, GenerationOptions, LLMDelta, Message, ToolCall

__all__ = ["FacecraftLLMService", "LLMAnswerFailedFrame", "LLMGuessFrame", "LLMWarmFrame", "DEFAULT_APOLOGY",
           "pal_instruction"]

log = logging.getLogger(__name__)

DEFAULT_APOLOGY = "Sorry, I lost my train of thought for a moment. Could you say that again?"


@dataclass
class LLMAnswerFailedFrame(DataFrame):
    """The answer broke off (the LLM failed or stalled): what it wrote after its last full sentence is void;
    the apology, if any, follows as text."""


@dataclass
class LLMGuessFrame(DataFrame):
    """The caller's turn as guessed at their pause (``context``), for the LLM to start on; None: the guess
    is void (the caller went on)."""

    context: LLMContext | None = None


@dataclass
class LLMWarmFrame(DataFrame):
    """The conversation so far (``context``), for the model to process ahead of the caller's next turn."""

    context: LLMContext | None = None


_END = object()


class _Guess:
    """An answer streamed ahead into a queue, for the turn it was started for (``key``)."""

    def __init__(self, llm: ChatLLM, messages: list[Message], options: GenerationOptions, key: str) -> None:
        self.key = key
        self.started = time.monotonic()
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._run(llm, messages, options))

    async def _run(self, llm: ChatLLM, messages: list[Message], options: GenerationOptions) -> None:
        try:
            async for delta in llm.stream(messages, options):
                self._queue.put_nowait(delta)
        except LLMError as exc:
            self._queue.put_nowait(exc)
        finally:
            self._queue.put_nowait(_END)

    async def deltas(self) -> AsyncIterator[LLMDelta]:
        while True:
            item = await self._queue.get()
            if item is _END:
                return
            if isinstance(item, LLMError):
                raise item
            yield item

    def stop(self) -> None:
        """Stops the model at its next token (the model's lock keeps the next request waiting until it has:
        an interruption is not held up by a guess's prompt still being read)."""
        self._task.cancel()


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
        self._guess: _Guess | None = None
        self._warming: asyncio.Task | None = None
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
        if isinstance(frame, LLMWarmFrame):
            if frame.context is not None and (self._warming is None or self._warming.done()):
                messages, _ = await self._invocation(frame.context)
                self._warming = self.create_task(self._warm(messages), "llm-warm")
        elif isinstance(frame, LLMGuessFrame):
            self._drop_guess()
            if frame.context is not None:
                messages, options = await self._invocation(frame.context)
                self._guess = _Guess(self._llm, messages, options, _key(messages, options))
        elif isinstance(frame, LLMContextFrame):
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
            if isinstance(frame, (InterruptionFrame, EndFrame, CancelFrame)):
                self._drop_guess()
            await self.push_frame(frame, direction)

    async def _warm(self, messages: list[Message]) -> None:
        try:
            await self._llm.prefill(messages)
        except LLMError as exc:  # an endpoint down now may be up at the next turn
            log.info("warming the LLM's cache failed: %s", exc.message)

    def _drop_guess(self) -> None:
        guess, self._guess = self._guess, None
        if guess is not None:
            guess.stop()

    async def _invocation(self, context: LLMContext) -> tuple[list[Message], GenerationOptions]:
        params = await self.get_llm_adapter().get_llm_invocation_params(
            context, system_instruction=self._system_instruction, convert_developer_to_user=True)
        messages = [dict(m) for m in params["messages"]]
        tools = params.get("tools")
        options = self._options
        if isinstance(tools, list) and tools:
            options = GenerationOptions(**{**options.__dict__, "tools": tuple(tools)})
        return messages, options

    async def _answer(self, context: LLMContext) -> None:
        messages, options = await self._invocation(context)
        guess, self._guess = self._guess, None
        stream: AsyncIterator[LLMDelta]
        if guess is not None and guess.key == _key(messages, options):
            log.info("timing llm_guess_used started %.0f ms before the turn was confirmed",
                     (time.monotonic() - guess.started) * 1000)
            stream = guess.deltas()
        else:
            if guess is not None:
                log.info("the LLM's guess was for another turn: dropped")
                guess.stop()
            stream = self._llm.stream(messages, options)
        try:
            await self._stream(context, stream)
        finally:
            if guess is not None:
                guess.stop()  # an interruption while it streams: the model stops

    async def _stream(self, context: LLMContext, stream: AsyncIterator[LLMDelta]) -> None:
        await self.start_ttfb_metrics()
        calls: tuple[ToolCall, ...] = ()
        async for delta in stream:
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


def _key(messages: list[Message], options: GenerationOptions) -> str:
    """What makes two requests the same answer to wait for (messages, tools, sampling)."""
    return json.dumps([messages, options.__dict__], sort_keys=True, default=str)
