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
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from facecraft.errors import LLMError, LLMTimeoutError, ModelError
from facecraft.llm.catalog import EmbeddedModel, embedded_model
from facecraft.llm.gguf import gguf_path
from facecraft.llm.openai_stream import ChunkReader, request_body
from facecraft.llm.types import GenerationOptions, LLMDelta, Message

__all__ = ["LocalLLM", "server_params"]

log = logging.getLogger(__name__)

_DONE = object()


def server_params(model_file: Path, *, threads: int = 2, n_ctx: int = 4096, port: int = 0,
                  api_key: str | None = None) -> Any:
    """llama.cpp server parameters for one conversation on a CPU: one slot, prompt cache on."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(model_file)
    params.n_ctx = n_ctx
    params.n_parallel = 1
    params.cache_prompt = True
    params.warmup = False
    params.cpuparams.n_threads = threads
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

    def __init__(self, model: EmbeddedModel | str | None = None, *, threads: int = 2, n_ctx: int = 4096) -> None:
        self.model = model if isinstance(model, EmbeddedModel) else embedded_model(model)
        self.name = self.model.name
        self._threads, self._n_ctx = threads, n_ctx
        self._server: Any = None
        self._busy = asyncio.Lock()
        self.load_s: float | None = None

    def load(self) -> None:
        """Join/verify the GGUF and load it (seconds; done by the first request when not called)."""
        if self._server is not None:
            return
        import xllamacpp

        started = time.perf_counter()
        path = gguf_path(self.model)
        try:
            self._server = xllamacpp.Server(server_params(path, threads=self._threads, n_ctx=self._n_ctx))
        except Exception as exc:  # xllamacpp raises plain RuntimeErrors for unusable files
            raise ModelError(f"llama.cpp could not load {self.name} from {path}: {exc}") from exc
        self.load_s = time.perf_counter() - started
        log.info("loaded %s in %.1f s", self.name, self.load_s)

    async def prefill(self, messages: list[Message]) -> None:
        options = GenerationOptions(max_tokens=1, stop=(), first_token_timeout_s=600)
        async for _ in self.stream(messages, options):
            pass

    async def stream(self, messages: list[Message], options: GenerationOptions | None = None
                     ) -> AsyncIterator[LLMDelta]:
        options = options or GenerationOptions()
        async with self._busy:
            if self._server is None:
                await asyncio.to_thread(self.load)
            loop = asyncio.get_running_loop()
            queue: asyncio.Queue[Any] = asyncio.Queue()
            stop = threading.Event()
            body = request_body(None, messages, options)

            def on_chunk(chunk: Any) -> bool:
                loop.call_soon_threadsafe(queue.put_nowait, chunk)
                return stop.is_set()

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
                        log.info("timing llm_prompt %s tokens cached, %s new in %.0f ms", timings.get("cache_n"),
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
