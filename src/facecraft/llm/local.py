"""The embedded LLM: a GGUF model run in this process by llama.cpp (``xllamacpp``), offline.

llama.cpp keeps the key/value cache of the last prompt in its slot (``cache_prompt``), so a request
whose messages start like the previous one only processes the new tokens: :meth:`LocalLLM.prefill`
runs the PAL's system prompt and context once at session start, and each turn then pays only for what
the caller said. ``xllamacpp`` answers a request synchronously through a callback; it runs in a worker
thread and the pieces cross into the event loop through a queue. Returning ``True`` from the callback
stops generation, which is how closing the stream early (barge-in) stops the model within one token.

xllamacpp's server object always listens on a loopback port too; it is given a random API key so that
nothing else on the machine (or a web page, its CORS being open) can use it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

from facecraft.errors import LLMError, LLMTimeoutError, ModelError
from facecraft.llm.catalog import EmbeddedModel, embedded_model
from facecraft.llm.gguf import gguf_path
from facecraft.llm.openai_stream import ChunkReader, request_body
from facecraft.llm.types import GenerationOptions, LLMDelta, Message
from facecraft.threads import name_os_thread, os_thread_name

__all__ = ["LocalLLM", "server_params"]

log = logging.getLogger(__name__)

_DONE = object()
HOLD_MAX_S = 2.0  # a held answer goes on after this long even if nobody releases it


def server_params(model_file: Path, *, threads: int = 2, n_ctx: int = 4096, port: int = 0,
                  api_key: str | None = None, gen_threads: int | None = None) -> Any:
    """llama.cpp server parameters for one conversation on a CPU: one slot, prompt cache on. ``threads``
    read the prompt; ``gen_threads`` (default: as many) write the answer, token by token."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(model_file)
    params.n_ctx = n_ctx
    params.n_parallel = 1
    params.cache_prompt = True
    params.warmup = False
    params.cpuparams.n_threads = gen_threads or threads
    params.cpuparams_batch.n_threads = threads
    params.hostnames = ["127.0.0.1"]
    params.port = port
    params.api_keys = [api_key or secrets.token_urlsafe(24)]
    params.cors_origins = "http://127.0.0.1"
    params.endpoint_props = False
    params.endpoint_slots = False
    params.verbosity = 0  # llama.cpp logs every request to stderr otherwise; failures still raise
    return params


class LocalLLM:
    """One embedded model loaded for one conversation (one request at a time)."""

    def __init__(self, model: EmbeddedModel | str | None = None, *, threads: int = 2, n_ctx: int = 4096,
                 gen_threads: int | None = None) -> None:
        self.model = model if isinstance(model, EmbeddedModel) else embedded_model(model)
        self.name = self.model.name
        self._threads, self._n_ctx, self._gen_threads = threads, n_ctx, gen_threads
        self._server: Any = None
        self._busy = asyncio.Lock()
        self._held = threading.Event()  # read by llama.cpp's callback thread
        self._released: asyncio.Event | None = None  # (made in the loop that streams)
        self.waiting = False  # an answer stopped by ``hold`` waits to go on
        self.load_s: float | None = None

    def load(self) -> None:
        """Join/verify the GGUF and load it (seconds; done by the first request when not called)."""
        if self._server is not None:
            return
        import xllamacpp

        started = time.perf_counter()
        path = gguf_path(self.model)
        was = os_thread_name()
        name_os_thread("llm")  # the server's loop thread and its OpenMP team inherit it (per-thread CPU figures)
        try:
            self._server = xllamacpp.Server(server_params(path, threads=self._threads, n_ctx=self._n_ctx,
                                                                gen_threads=self._gen_threads))
        except Exception as exc:  # xllamacpp raises plain RuntimeErrors for unusable files
            raise ModelError(f"llama.cpp could not load {self.name} from {path}: {exc}") from exc
        finally:
            if was is not None:
                name_os_thread(was)
        self.load_s = time.perf_counter() - started
        log.info("loaded %s in %.1f s", self.name, self.load_s)

    async def prefill(self, messages: list[Message]) -> None:
        """Process ``messages`` and the opening of the caller's next turn (the chat template's user header,
        read here as an empty user message: its tokens are the next prompt's, up to the caller's words), so
        that the turn's prompt adds only the words and the assistant's header (5 of ~15 new tokens fewer;
        bench/llm_turn.py --configs 2/2,2/2:bare at load 9: first token p50 634 -> 503 ms)."""
        if messages and messages[-1].get("role") != "user":
            messages = [*messages, {"role": "user", "content": ""}]
        options = GenerationOptions(max_tokens=1, stop=(), first_token_timeout_s=600)
        async for _ in self.stream(messages, options):
            pass

    def hold(self, held: bool) -> None:
        """``True``: the answer being written stops at its next token and waits (at most ``HOLD_MAX_S``) for
        ``hold(False)``, then goes on where it stopped, in a new request that continues the answer so far
        (llama.cpp keeps it cached, so only its last few tokens are read again). A live reply holds the model
        while its first clause is synthesised: on 2 cores, Piper and the voice step then have the CPU to
        themselves (bench/reply_contention.py: first audio 1.5x sooner than with the model writing on)."""
        if held:
            self._held.set()
        else:
            self._held.clear()
            if self._released is not None:
                self._released.set()

    async def stream(self, messages: list[Message], options: GenerationOptions | None = None
                     ) -> AsyncIterator[LLMDelta]:
        options = options or GenerationOptions()
        async with self._busy:
            if self._server is None:
                await asyncio.to_thread(self.load)
            self.hold(False)  # a hold is for the answer it was set in (one cut off by a barge-in leaves it set)
            said, pieces, request = "", 0, messages
            while True:
                finished, cut = False, threading.Event()
                left = GenerationOptions(**{**options.__dict__, "max_tokens": max(1, options.max_tokens - pieces)})
                async with aclosing(self._request(request, left, cut, resumed=bool(said))) as deltas:
                    async for delta in deltas:
                        said += delta.text
                        pieces += 1 if delta.text else 0
                        finished = finished or delta.finish_reason is not None or bool(delta.tool_calls)
                        yield delta
                if finished or not cut.is_set() or pieces >= options.max_tokens:
                    return
                self._released = released = asyncio.Event()
                if not self._held.is_set():  # released already
                    released.set()
                self.waiting = True
                try:  # held: the answer goes on when released (or after HOLD_MAX_S, whatever happens)
                    await asyncio.wait_for(released.wait(), HOLD_MAX_S)
                except TimeoutError:
                    log.info("the LLM's hold ran out after %.1f s: the answer goes on", HOLD_MAX_S)
                    self.hold(False)
                finally:
                    self.waiting = False
                if said:  # llama.cpp continues a last assistant message (``prefill_assistant``)
                    request = [*messages, {"role": "assistant", "content": said}]

    async def _request(self, messages: list[Message], options: GenerationOptions, cut: threading.Event, *,
                       resumed: bool = False) -> AsyncGenerator[LLMDelta, None]:
        """One request's pieces; it ends early (without a finish reason, ``cut`` set) when the model is held."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()
        held = self._held
        body = request_body(None, messages, options)

        def on_chunk(chunk: Any) -> bool:
            loop.call_soon_threadsafe(queue.put_nowait, chunk)
            if held.is_set():
                cut.set()
            return stop.is_set() or cut.is_set()

        def run() -> None:
            try:
                self._server.handle_chat_completions(body, on_chunk)
            except Exception as exc:  # reported to the consumer as an LLMError
                loop.call_soon_threadsafe(queue.put_nowait, LLMError(f"the embedded LLM failed: {exc}"))
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, _DONE)

        worker = loop.run_in_executor(None, run)
        reader = ChunkReader()
        timeout = options.first_token_timeout_s
        try:
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), timeout)
                except TimeoutError as exc:
                    raise LLMTimeoutError(f"the embedded LLM gave no answer within {timeout:.0f} s") from exc
                if item is _DONE:
                    break
                if isinstance(item, LLMError):
                    raise item
                timings = item.get("timings") if isinstance(item, dict) else None
                if isinstance(timings, dict):  # llama.cpp's last chunk: did the prompt cache hit?
                    log.info("timing %s %s tokens cached, %s new in %.0f ms",
                             "llm_resumed" if resumed else "llm_prompt", timings.get("cache_n"),
                             timings.get("prompt_n"), float(timings.get("prompt_ms") or 0.0))
                delta = reader.feed(item)
                if delta is not None:
                    timeout = options.stall_timeout_s
                    yield delta
        finally:
            stop.set()  # the callback returns True at the next token: generation ends
            await asyncio.shield(worker)

    async def aclose(self) -> None:
        async with self._busy:
            self._server = None
