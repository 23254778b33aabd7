"""The URL upgrade against a REAL local OpenAI-compatible server (llama.cpp's, started on a loopback
port with the embedded model): answers stream; every failure is a typed error with a sentence, never a
hang: a wrong key, a wrong path, a closed port, a server that accepts and then says nothing, a first
token slower than the limit."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from facecraft.errors import LLMError, LLMTimeoutError
from facecraft.llm.factory import LLMDefaults, generation_options, make_llm
from facecraft.llm.remote import RemoteLLM
from facecraft.llm.types import GenerationOptions, collect_text
from tests.llm.conftest import LlamaServer, free_port

PROMPT = [
    {"role": "system", "content": "Your name is Ada. You are a guide at the Riverside Science Museum. "
                                  "Answer in one short sentence."},
    {"role": "user", "content": "Please introduce yourself."},
]


def test_a_pal_with_base_url_streams_from_the_server(llama_server: LlamaServer) -> None:
    llm = make_llm({"base_url": llama_server.url, "api_key": llama_server.api_key, "model": "any"})
    assert isinstance(llm, RemoteLLM)

    async def run() -> tuple[list[str], str]:
        pieces = [d.text async for d in llm.stream(PROMPT, generation_options({}, first_token_timeout_s=120))]
        await llm.aclose()
        return pieces, "".join(pieces)

    pieces, text = asyncio.run(run())
    assert len(pieces) > 2 and "Ada" in text, text  # streamed in pieces, and it answers with its name


def test_the_server_settings_supply_url_and_key(llama_server: LlamaServer) -> None:
    llm = make_llm(None, LLMDefaults(base_url=llama_server.url, api_key=llama_server.api_key))
    text = asyncio.run(collect_text(llm, PROMPT, GenerationOptions(max_tokens=8, first_token_timeout_s=120)))
    asyncio.run(llm.aclose())
    assert text.strip()


def _fails(llm: RemoteLLM, options: GenerationOptions | None = None) -> LLMError:
    async def run() -> None:
        try:
            await collect_text(llm, PROMPT, options or GenerationOptions(first_token_timeout_s=120))
        finally:
            await llm.aclose()

    with pytest.raises(LLMError) as info:
        asyncio.run(run())
    return info.value


def test_a_wrong_key_is_an_llm_error_quoting_the_server(llama_server: LlamaServer) -> None:
    err = _fails(RemoteLLM(llama_server.url, api_key="wrong"))
    assert err.error_id == "llm_unavailable" and "401" in err.message and "Invalid API Key" in err.message


def test_a_wrong_path_is_an_llm_error(llama_server: LlamaServer) -> None:
    err = _fails(RemoteLLM(llama_server.url.replace("/v1", "/nothing"), api_key=llama_server.api_key))
    assert "HTTP 404" in err.message


def test_a_closed_port_is_an_llm_error() -> None:
    err = _fails(RemoteLLM(f"http://127.0.0.1:{free_port()}/v1"))
    assert err.error_id == "llm_unavailable" and "cannot be reached" in err.message


def test_a_silent_server_times_out() -> None:
    """A server that accepts the connection and never answers: LLMTimeoutError after the first-token limit."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        started = time.monotonic()
        err = _fails(RemoteLLM(f"http://127.0.0.1:{sock.getsockname()[1]}/v1"),
                     GenerationOptions(first_token_timeout_s=1.0))
        assert isinstance(err, LLMTimeoutError) and err.error_id == "llm_timeout"
        assert time.monotonic() - started < 5


def test_a_first_token_slower_than_the_limit_times_out(llama_server: LlamaServer) -> None:
    long_prompt = [{"role": "system", "content": "Background: " + "The museum has many rooms. " * 300},
                   {"role": "user", "content": "Describe every room."}]

    async def run() -> None:
        llm = RemoteLLM(llama_server.url, api_key=llama_server.api_key)
        try:
            await collect_text(llm, long_prompt, GenerationOptions(first_token_timeout_s=0.05))
        finally:
            await llm.aclose()

    with pytest.raises(LLMTimeoutError):
        asyncio.run(run())
