"""The LLM upgrade by URL: streaming chat completions from an OpenAI-compatible endpoint.

Any server speaking OpenAI's ``POST {base_url}/chat/completions`` with ``stream: true`` (OpenAI,
llama.cpp's server, vLLM, Ollama, ...). Every way it can fail becomes a typed error with a sentence:
refused or unreachable, an HTTP error status (its message quoted), a body that is not an event stream,
no first piece within ``first_token_timeout_s`` or a pause longer than ``stall_timeout_s`` —
:class:`~facecraft.errors.LLMTimeoutError` for the two timeouts, :class:`~facecraft.errors.LLMError`
otherwise. The api key is sent as a bearer token and never logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx

from facecraft.errors import LLMError, LLMTimeoutError
from facecraft.llm.openai_stream import ChunkReader, request_body
from facecraft.llm.types import GenerationOptions, LLMDelta, Message

__all__ = ["RemoteLLM"]

log = logging.getLogger(__name__)


class RemoteLLM:
    def __init__(self, base_url: str, *, model: str | None = None, api_key: str | None = None,
                 headers: dict[str, str] | None = None, connect_timeout_s: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"{model or 'default'} at {self.base_url}"
        auth = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(
            headers={**(headers or {}), **auth, "Accept": "text/event-stream"},
            timeout=httpx.Timeout(connect_timeout_s, read=None),
            trust_env=False,
        )

    async def prefill(self, messages: list[Message]) -> None:
        """Nothing to warm: a remote server manages its own cache."""

    async def stream(self, messages: list[Message], options: GenerationOptions | None = None
                     ) -> AsyncIterator[LLMDelta]:
        options = options or GenerationOptions()
        url = f"{self.base_url}/chat/completions"
        body = request_body(self.model, messages, options)
        try:
            async with asyncio.timeout(options.first_token_timeout_s) as deadline:
                async with self._client.stream("POST", url, json=body) as response:
                    if response.status_code >= 400:
                        raise LLMError(f"the LLM endpoint answered HTTP {response.status_code}: "
                                       f"{await _error_text(response)}")
                    reader = ChunkReader()
                    async for data in _events(response):
                        delta = reader.feed(data)
                        if delta is not None:
                            # No deadline while the consumer works on a piece (TTS may take longer
                            # than a stall); the clock restarts when it asks for the next one.
                            deadline.reschedule(None)
                            yield delta
                            deadline.reschedule(asyncio.get_running_loop().time() + options.stall_timeout_s)
        except TimeoutError as exc:
            raise LLMTimeoutError(f"the LLM endpoint {self.base_url} did not answer in time (first piece "
                                  f"{options.first_token_timeout_s:.0f} s, pauses {options.stall_timeout_s:.0f} s)"
                                  ) from exc
        except httpx.TimeoutException as exc:
            raise LLMTimeoutError(f"the LLM endpoint {self.base_url} timed out ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise LLMError(f"the LLM endpoint {self.base_url} cannot be reached ({type(exc).__name__}: "
                           f"{exc})") from exc

    async def aclose(self) -> None:
        await self._client.aclose()


async def _events(response: httpx.Response) -> AsyncIterator[Any]:
    """The JSON payloads of a server-sent event stream, until ``[DONE]``."""
    ctype = response.headers.get("content-type", "")
    if "text/event-stream" not in ctype:
        raise LLMError(f"the LLM endpoint answered {ctype or 'no content type'}, not an event stream")
    async for line in response.aiter_lines():
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == "[DONE]":
            return
        try:
            yield json.loads(payload)
        except ValueError as exc:
            raise LLMError("the LLM endpoint sent an event that is not JSON") from exc


async def _error_text(response: httpx.Response) -> str:
    raw = (await response.aread())[:2000]
    try:
        body = json.loads(raw)
        error = body.get("error", body) if isinstance(body, dict) else body
        message = error.get("message", error) if isinstance(error, dict) else error
        return str(message)[:300]
    except ValueError:
        return raw.decode("utf-8", "replace")[:300] or "(no body)"
