"""The embedded model, offline, in this process: it answers as the PAL's prompt says, the prompt prefix
prefilled at session start leaves a turn only its new tokens to read, and closing the stream stops
generation at once (barge-in). The cache is judged by the tokens llama.cpp reports reading, and the stop
against the model's own pace in the same run, not against targets (the bench measures times)."""

from __future__ import annotations

import asyncio
import logging
import re
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


def _prompt_read(caplog: pytest.LogCaptureFixture) -> tuple[int, int]:
    """(cached, new) prompt tokens of the last request, as ``LocalLLM`` logs llama.cpp's figures."""
    found = [re.search(r"timing llm_prompt (\d+) tokens cached, (\d+) new", r.getMessage()) for r in caplog.records]
    cached, new = [m for m in found if m is not None][-1].groups()
    return int(cached), int(new)


def test_it_answers_from_its_prompt_and_the_prefix_cache_serves_a_turn(
        loop: asyncio.AbstractEventLoop, llm: LocalLLM, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="facecraft.llm.local")
    # Another prefix (a different system prompt) is read whole: a cold turn.
    other = [{"role": "system", "content": SYSTEM[0]["content"].replace("Ada", "Grace") + " Be warm."}]
    loop.run_until_complete(_first_token_s(llm, other + [{"role": "user", "content": "Hi!"}]))
    cold = _prompt_read(caplog)
    loop.run_until_complete(llm.prefill(SYSTEM))
    caplog.clear()
    _, text = loop.run_until_complete(
        _first_token_s(llm, SYSTEM + [{"role": "user", "content": "What is your name?"}]))
    warm = _prompt_read(caplog)
    assert "Ada" in text, text
    assert cold[1] > 40, cold  # the system prompt was read ...
    assert warm[0] > 40 and warm[1] <= 15, warm  # ... and after the prefill the turn read only its own words
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
        first = 0.0
        async for _ in stream:
            pieces += 1
            if pieces == 1:
                first = time.perf_counter()
            if pieces == 3:
                break
        per_piece = (time.perf_counter() - first) / 2  # the model's pace in this run (slower on a loaded machine)
        started = time.perf_counter()
        await stream.aclose()  # returns once the model has stopped
        stopped = time.perf_counter() - started
        # The model is free again at once: the next request is not queued behind 400 tokens.
        await collect_text(llm, SYSTEM + [{"role": "user", "content": "Hi"}],
                           GenerationOptions(max_tokens=2, first_token_timeout_s=300, stall_timeout_s=300))
        return pieces, stopped, per_piece

    pieces, stopped, per_piece = loop.run_until_complete(run())
    # stopped at once: well before the ~397 tokens left would take at the pace it wrote the first ones
    assert pieces == 3 and stopped < max(3.0, 50 * per_piece), (stopped, per_piece)


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
    history = SYSTEM + [{"role": "assistant", "content": "Hello, I am Ada. How can I help?"}]
    turn = history + [{"role": "user", "content": "What is your name?"}]
    once = GenerationOptions(max_tokens=1, stop=(), first_token_timeout_s=300, stall_timeout_s=300)

    def prompt_tokens() -> tuple[int, int]:
        caplog.clear()
        loop.run_until_complete(collect_text(llm, turn, once))
        return _prompt_read(caplog)

    caplog.set_level(logging.INFO, logger="facecraft.llm.local")
    loop.run_until_complete(collect_text(llm, history, once))  # the history alone, as before
    bare = prompt_tokens()
    loop.run_until_complete(llm.prefill(history))
    warmed = prompt_tokens()
    assert sum(bare) == sum(warmed)  # the same prompt ...
    assert warmed[1] <= bare[1] - 3, (bare, warmed)  # ... of which the warm had read the user header
