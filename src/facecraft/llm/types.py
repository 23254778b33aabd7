"""What every LLM backend speaks: OpenAI-style chat messages in, a stream of text and tool calls out.

Failures are typed (``facecraft.errors.LLMError``, ``LLMTimeoutError``) so the conversation pipeline can
answer with a fixed short apology instead of hanging; a backend never raises anything else for a failed
request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["LLMDelta", "ToolCall", "ChatLLM", "GenerationOptions", "collect_text"]

Message = dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    """A function call the LLM asked for (complete: name and JSON arguments text)."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class LLMDelta:
    """One streamed piece: new text, or (once, at the end) the tool calls of the answer."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str | None = None


@dataclass(frozen=True)
class GenerationOptions:
    max_tokens: int = 160  # a spoken answer of a few sentences
    temperature: float = 0.0  # greedy: the same question gets the same answer (tests, benches)
    # A spoken answer is one paragraph: a newline starts lists and markdown the voice must not read.
    stop: tuple[str, ...] = ("\n",)
    tools: tuple[dict[str, Any], ...] = ()
    extra_body: dict[str, Any] = field(default_factory=dict)
    first_token_timeout_s: float = 20.0  # from the request to the first piece of text
    stall_timeout_s: float = 10.0  # between two pieces


class ChatLLM(Protocol):
    name: str

    def stream(self, messages: list[Message], options: GenerationOptions | None = None) -> AsyncIterator[LLMDelta]:
        """The answer to ``messages``, piece by piece. Closing the iterator early stops generation."""
        ...

    async def prefill(self, messages: list[Message]) -> None:
        """Process ``messages`` (system prompt, PAL context) ahead of the first turn, so that a turn only
        processes its new tokens. A no-op where the backend has no cache to warm."""
        ...

    async def aclose(self) -> None: ...


async def collect_text(llm: ChatLLM, messages: list[Message], options: GenerationOptions | None = None) -> str:
    """The whole answer as one string (tests, benches)."""
    parts = [d.text async for d in llm.stream(messages, options)]
    return "".join(parts)
