"""The embedded model, offline, in this process: it answers as the PAL's prompt says, the prompt prefix
prefilled at session start makes a turn's first token come sooner than a cold start, and closing the
stream stops generation at once (barge-in). Times are compared within one run, not against targets
(the bench measures them)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from facecraft.llm.local import LocalLLM
from facecraft.llm.types import GenerationOptions, collect_text

SYSTEM = [{"role": "system", "content": (
    "Your name is Ada. You are a guide at the Riverside Science Museum, which opens at nine in the morning "
    "and closes at five in the afternoon, Tuesday to Sunday. Adult tickets cost twelve dollars. "
    "Answer in one short sentence.")}]


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def llm(loop: asyncio.AbstractEventLoop) -> Iterator[LocalLLM]:
    model = LocalLLM()
    yield model
    loop.run_until_complete(model.aclose())


async def _first_token_s(llm: LocalLLM, messages: list[dict]) -> tuple[float, str]:
    started, first, text = time.perf_counter(), None, ""
    async for delta in llm.stream(messages, GenerationOptions(first_token_timeout_s=300, stall_timeout_s=300)):
        if first is None and delta.text:
            first = time.perf_counter() - started
        text += delta.text
    assert first is not None
    return first, text


def test_it_answers_from_its_prompt_and_the_prefix_cache_speeds_up_a_turn(
        loop: asyncio.AbstractEventLoop, llm: LocalLLM) -> None:
    cold, _ = loop.run_until_complete(_first_token_s(llm, SYSTEM + [{"role": "user", "content": "Hi!"}]))
    # Another prefix (a different system prompt) is processed whole: a cold turn.
    other = [{"role": "system", "content": SYSTEM[0]["content"].replace("Ada", "Grace") + " Be warm."}]
    cold2, _ = loop.run_until_complete(_first_token_s(llm, other + [{"role": "user", "content": "Hi!"}]))
    loop.run_until_complete(llm.prefill(SYSTEM))
    warm, text = loop.run_until_complete(
        _first_token_s(llm, SYSTEM + [{"role": "user", "content": "What is your name?"}]))
    assert "Ada" in text, text
    assert warm < min(cold, cold2), (warm, cold, cold2)
    _, hours = loop.run_until_complete(
        _first_token_s(llm, SYSTEM + [{"role": "user", "content": "When do you open?"}]))
    assert "nine" in hours.lower() or "9" in hours, hours
    assert "\n" not in hours  # one spoken paragraph: generation stops at a newline


def test_closing_the_stream_stops_generation(loop: asyncio.AbstractEventLoop, llm: LocalLLM) -> None:
    async def run() -> tuple[int, float]:
        pieces = 0
        stream = llm.stream(SYSTEM + [{"role": "user", "content": "Tell me a very long story about flight."}],
                            GenerationOptions(max_tokens=400, stop=(), first_token_timeout_s=300,
                                              stall_timeout_s=300))
        async for _ in stream:
            pieces += 1
            if pieces == 3:
                break
        started = time.perf_counter()
        await stream.aclose()  # returns once the model has stopped
        stopped = time.perf_counter() - started
        # The model is free again at once: the next request is not queued behind 400 tokens.
        await collect_text(llm, SYSTEM + [{"role": "user", "content": "Hi"}],
                           GenerationOptions(max_tokens=2, first_token_timeout_s=300, stall_timeout_s=300))
        return pieces, stopped

    pieces, stopped = loop.run_until_complete(run())
    assert pieces == 3 and stopped < 3.0


def test_the_in_process_server_port_needs_its_random_key(loop: asyncio.AbstractEventLoop, llm: LocalLLM) -> None:
    """xllamacpp always listens on a loopback port: nothing else on the machine may use the model there."""
    import httpx

    llm.load()
    address = llm._server.listening_address
    assert address.startswith("http://127.0.0.1:")
    resp = httpx.post(f"{address}/v1/chat/completions", trust_env=False, timeout=30,
                      json={"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1})
    assert resp.status_code == 401


def test_a_held_answer_stops_writing_and_goes_on_where_it_stopped(
        loop: asyncio.AbstractEventLoop, llm: LocalLLM) -> None:
    """A live reply holds the model while its first clause is synthesised: once it has stopped no piece comes
    until it is released, and then the answer goes on from its last word (greedy: the same text as unheld)."""
    messages = SYSTEM + [{"role": "user", "content": "Describe the museum's opening hours and tickets."}]
    options = GenerationOptions(max_tokens=40, stop=(), first_token_timeout_s=300, stall_timeout_s=300)

    async def run(hold_at: int | None) -> tuple[str, int, list[int]]:
        text, pieces, seen = "", 0, []

        async def release() -> None:
            deadline = time.monotonic() + 120  # the next token stops it, however loaded the machine
            while not llm.waiting:
                assert time.monotonic() < deadline, "the held model did not stop"
                await asyncio.sleep(0.02)
            seen.append(pieces)
            await asyncio.sleep(0.5)
            seen.append(pieces)
            llm.hold(False)

        task = None
        async for delta in llm.stream(messages, options):
            text += delta.text
            pieces += 1 if delta.text else 0
            if hold_at is not None and pieces == hold_at and task is None:
                llm.hold(True)
                task = asyncio.ensure_future(release())
        if task is not None:
            await task
        return text, pieces, seen

    plain, _, _ = loop.run_until_complete(run(None))
    held, pieces, seen = loop.run_until_complete(run(3))
    assert len(seen) == 2 and seen[0] == seen[1], f"pieces came while the model was held: {seen}"
    assert pieces > seen[1] + 3, (held, seen)  # it went on after the release
    assert held.split()[:10] == plain.split()[:10], (held, plain)


def test_a_warmed_history_leaves_the_turn_only_its_words_to_read(
        loop: asyncio.AbstractEventLoop, llm: LocalLLM, caplog: pytest.LogCaptureFixture) -> None:
    """``prefill`` reads the opening of the caller's next turn too (the chat template's user header): the
    turn's prompt then adds fewer new tokens than after a warm of the history alone."""
    import logging
    import re

    history = SYSTEM + [{"role": "assistant", "content": "Hello, I am Ada. How can I help?"}]
    turn = history + [{"role": "user", "content": "What is your name?"}]
    once = GenerationOptions(max_tokens=1, stop=(), first_token_timeout_s=300, stall_timeout_s=300)

    def prompt_tokens() -> tuple[int, int]:
        caplog.clear()
        loop.run_until_complete(collect_text(llm, turn, once))
        found = [re.search(r"timing llm_prompt (\d+) tokens cached, (\d+) new", r.getMessage()) for r in caplog.records]
        cached, new = next(m for m in found if m is not None).groups()
        return int(cached), int(new)

    caplog.set_level(logging.INFO, logger="facecraft.llm.local")
    loop.run_until_complete(collect_text(llm, history, once))  # the history alone, as before
    bare = prompt_tokens()
    loop.run_until_complete(llm.prefill(history))
    warmed = prompt_tokens()
    assert sum(bare) == sum(warmed)  # the same prompt ...
    assert warmed[1] <= bare[1] - 3, (bare, warmed)  # ... of which the warm had read the user header
