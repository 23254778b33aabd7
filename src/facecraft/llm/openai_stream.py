"""Reading OpenAI chat-completion chunks (the shape llama.cpp and OpenAI-compatible servers stream)."""

from __future__ import annotations

from typing import Any

from facecraft.errors import LLMError
from facecraft.llm.types import GenerationOptions, LLMDelta, ToolCall

__all__ = ["request_body", "ChunkReader"]


def request_body(model: str | None, messages: list[dict[str, Any]], options: GenerationOptions) -> dict[str, Any]:
    body: dict[str, Any] = {
        "messages": messages,
        "stream": True,
        "max_tokens": options.max_tokens,
        "temperature": options.temperature,
    }
    if model:
        body["model"] = model
    if options.stop:
        body["stop"] = list(options.stop)
    if options.tools:
        body["tools"] = list(options.tools)
    body.update(options.extra_body)  # the PAL's extra_body wins, as in OpenAI's client
    return body


class ChunkReader:
    """Turns chunks into :class:`LLMDelta` pieces; tool-call fragments are gathered until the end."""

    def __init__(self) -> None:
        self._calls: dict[int, dict[str, str]] = {}

    def feed(self, chunk: Any) -> LLMDelta | None:
        if not isinstance(chunk, dict):
            raise LLMError(f"the LLM sent a malformed chunk ({type(chunk).__name__})")
        if chunk.get("error"):
            error = chunk["error"]
            message = error.get("message") if isinstance(error, dict) else str(error)
            raise LLMError(f"the LLM failed: {str(message)[:300]}")
        choices = chunk.get("choices") or []
        if not choices or not isinstance(choices[0], dict):
            return None
        choice = choices[0]
        delta = choice.get("delta") or {}
        for call in delta.get("tool_calls") or []:
            slot = self._calls.setdefault(int(call.get("index", 0)), {"id": "", "name": "", "arguments": ""})
            slot["id"] = call.get("id") or slot["id"]
            function = call.get("function") or {}
            slot["name"] += function.get("name") or ""
            slot["arguments"] += function.get("arguments") or ""
        text = delta.get("content") or ""
        finish = choice.get("finish_reason")
        if not text and not finish:
            return None
        calls: tuple[ToolCall, ...] = ()
        if finish:
            calls = tuple(ToolCall(c["id"] or f"call_{i}", c["name"], c["arguments"] or "{}")
                          for i, c in sorted(self._calls.items()) if c["name"])
        return LLMDelta(text=text, tool_calls=calls, finish_reason=finish)
