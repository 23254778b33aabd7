"""The server's side of live sessions: one OS process per session, under a cap.

``SessionManager`` starts ``python -m facecraft.conversation.session`` for each conversation and talks
to it over the child's stdin/stdout (JSON lines, see ``session``). A session that crashes, hangs on
the way out or is ended is reported once as a ``shutdown`` event with the reason; its process is
always reaped. Nothing a session does can raise into the server beyond the calls' own errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from facecraft import errors
from facecraft.conversation.spec import SessionEvent, SessionSpec
from facecraft.errors import FacecraftError, InputError, NotFoundError, SessionLimitError

__all__ = ["SessionManager", "START_TIMEOUT_S", "OFFER_TIMEOUT_S"]

log = logging.getLogger(__name__)

START_TIMEOUT_S = 180.0  # loading a Face (and its voice; with a PAL, Whisper and the LLM) in a fresh process
OFFER_TIMEOUT_S = 20.0
END_GRACE_S = 10.0  # a session asked to end gets this long before it is killed

OnEvent = Callable[[SessionEvent], Awaitable[None] | None]


@dataclass
class _Process:
    spec: SessionSpec
    proc: asyncio.subprocess.Process
    replies: dict[int, asyncio.Future] = field(default_factory=dict)
    next_id: int = 0
    reader: asyncio.Task | None = None
    shutdown_reason: str | None = None  # what the session said when it ended itself
    ended: bool = False  # the shutdown event was reported
    ending_reason: str | None = None  # the reason we asked it to end with


# One session is one Face, drawn by one thread at its frame rate: math libraries that spread each call over
# every core only contend with the other sessions (their threads cost ~40 % more CPU per frame than one).
# GOMP_SPINCOUNT: llama.cpp (xllamacpp's ggml) and CTranslate2 (Whisper) run on OpenMP (libgomp), whose threads
# wait at every barrier of a step spinning 300000 rounds (~10-20 ms) before they sleep; a session's own render,
# encoder and WebRTC threads (~0.4 cores while it listens) keep preempting one of the two, and its partner
# then burns the other core waiting for it. 10000 rounds (~0.5 ms) still covers the ordinary wait of a step
# (bench/llm_turn.py, three LLMs at once under load 11-13: at 10000 and at 1000 each answered 20 questions,
# first clause median 4.9 and 3.6 s, in the time the one at the default answered 4, first clause 19 s).
SESSION_THREADS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                   "FACECRAFT_TTS_THREADS": "1", "GOMP_SPINCOUNT": "10000"}


class SessionManager:
    """One per server process. Each session runs in its own OS process."""

    def __init__(self, max_sessions: int, on_event: OnEvent) -> None:
        self.max_sessions = int(max_sessions)
        self.on_event = on_event
        self._sessions: dict[str, _Process] = {}
        self._starting = 0

    def active(self) -> int:
        """Sessions running (their processes alive or being started)."""
        return len(self._sessions) + self._starting

    def pids(self) -> dict[str, int]:
        """Process id of each running session (tests and diagnostics)."""
        return {cid: p.proc.pid for cid, p in self._sessions.items()}

    async def start(self, spec: SessionSpec) -> None:
        """Start a session's process; returns once it has loaded the Face. SessionLimitError at the cap;
        the session's own error (an unusable Face, an unknown voice) if it cannot start."""
        if spec.conversation_id in self._sessions:
            raise InputError(f"conversation {spec.conversation_id} already has a live session")
        if self.active() >= self.max_sessions:
            raise SessionLimitError(f"{self.active()} live conversations are running, the most this server "
                                    f"allows ({self.max_sessions}); end one or try again later")
        self._starting += 1
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "facecraft.conversation.session",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=16 * 1024 * 1024,
                env={**SESSION_THREADS, **os.environ, "PYTHONUNBUFFERED": "1"},
            )
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write((json.dumps(spec.to_json()) + "\n").encode())
            await proc.stdin.drain()
            try:
                first = await asyncio.wait_for(_ready(proc), timeout=START_TIMEOUT_S)
            except (TimeoutError, EOFError) as exc:
                await _kill(proc)
                raise FacecraftError(f"the live session did not start ({type(exc).__name__}); see the server "
                                     "log", error_id="invalid_input") from exc
            if first.get("event") == "error":
                await _kill(proc)
                raise _error(first.get("error") or {})
            entry = _Process(spec, proc)
            self._sessions[spec.conversation_id] = entry
            entry.reader = asyncio.get_running_loop().create_task(self._read(entry))
            log.info("live session %s started (pid %d)", spec.conversation_id, proc.pid)
        finally:
            self._starting -= 1

    async def offer(self, conversation_id: str, sdp: str, type: str) -> dict:
        """A participant's WebRTC offer -> the session's answer ``{"sdp", "type"}``."""
        return await self._call(conversation_id, {"op": "offer", "sdp": sdp, "type": type}, OFFER_TIMEOUT_S)

    async def send(self, conversation_id: str, message: dict) -> None:
        """An inbound interactions message; problems with it come back as "message" error events."""
        await self._call(conversation_id, {"op": "send", "message": message}, OFFER_TIMEOUT_S)

    async def end(self, conversation_id: str, reason: str = "ended") -> None:
        """End a session and release its process (idempotent)."""
        entry = self._sessions.get(conversation_id)
        if entry is None:
            return
        if entry.ending_reason is None:
            entry.ending_reason = reason
            with contextlib.suppress(Exception):
                self._write(entry, {"op": "end", "id": -1, "reason": reason})
        try:
            await asyncio.wait_for(entry.proc.wait(), timeout=END_GRACE_S)
        except TimeoutError:
            log.warning("live session %s did not stop in %.0f s: killing it", conversation_id, END_GRACE_S)
            await _kill(entry.proc)
        if entry.reader is not None:
            await entry.reader

    async def close(self) -> None:
        """End every session (the server is shutting down)."""
        await asyncio.gather(*(self.end(cid, "server_shutdown") for cid in list(self._sessions)),
                             return_exceptions=True)

    # --- the child's stdout ---------------------------------------------------------------------

    def _write(self, entry: _Process, obj: dict[str, Any]) -> None:
        stdin = entry.proc.stdin
        if stdin is None or stdin.is_closing():
            raise NotFoundError(f"conversation {entry.spec.conversation_id} has no live session")
        stdin.write((json.dumps(obj) + "\n").encode())

    async def _call(self, conversation_id: str, command: dict[str, Any], timeout: float) -> Any:
        entry = self._sessions.get(conversation_id)
        if entry is None or entry.ended:
            raise NotFoundError(f"conversation {conversation_id} has no live session (ended or never started)")
        entry.next_id += 1
        ident = entry.next_id
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        entry.replies[ident] = fut
        try:
            self._write(entry, {**command, "id": ident})
            reply = await asyncio.wait_for(fut, timeout=timeout)
        except TimeoutError as exc:
            raise FacecraftError(f"the live session did not answer {command['op']} in {timeout:.0f} s",
                                 error_id="invalid_input") from exc
        except (ConnectionError, BrokenPipeError) as exc:
            raise NotFoundError(f"conversation {conversation_id} has no live session") from exc
        finally:
            entry.replies.pop(ident, None)
        if "error" in reply:
            raise _error(reply["error"])
        return reply.get("result")

    async def _read(self, entry: _Process) -> None:
        stdout = entry.proc.stdout
        assert stdout is not None
        cid = entry.spec.conversation_id
        try:
            while True:
                line = await stdout.readline()
                if not line:
                    break
                try:
                    obj = json.loads(line)
                except ValueError:
                    log.warning("session %s wrote a line that is not JSON: %r", cid, line[:200])
                    continue
                if "reply" in obj:
                    fut = entry.replies.get(obj["reply"])
                    if fut is not None and not fut.done():
                        fut.set_result(obj)
                    continue
                kind = obj.get("event")
                if kind == "shutdown":
                    entry.shutdown_reason = obj.get("reason") or "ended"
                elif kind in ("joined", "left"):
                    await self._report(SessionEvent(cid, kind))
                elif kind == "message":
                    await self._report(SessionEvent(cid, "message", message=obj.get("message")))
        finally:
            code = await entry.proc.wait()
            for fut in entry.replies.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("session process exited"))
            self._sessions.pop(cid, None)
            reason = entry.shutdown_reason or (f"crashed: the session process exited with code {code}"
                                               if entry.ending_reason is None else entry.ending_reason)
            if entry.shutdown_reason is None and entry.ending_reason is None:
                log.error("live session %s crashed (exit code %s)", cid, code)
            entry.ended = True
            await self._report(SessionEvent(cid, "shutdown", reason=reason))

    async def _report(self, event: SessionEvent) -> None:
        try:
            result = self.on_event(event)
            if inspect.isawaitable(result):
                await result
        except Exception:  # the server's handler failing must not stop the session's reader
            log.exception("on_event failed for %s", event)


async def _ready(proc: asyncio.subprocess.Process) -> dict[str, Any]:
    assert proc.stdout is not None
    while True:
        line = await proc.stdout.readline()
        if not line:
            raise EOFError("the session process exited while starting")
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if obj.get("event") in ("ready", "error"):
            return obj


async def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    await proc.wait()


def _error(d: dict[str, Any]) -> FacecraftError:
    """The session's error as the same class of the tree (so the service maps it to the same status)."""
    cls = getattr(errors, str(d.get("class")), None)
    if not (isinstance(cls, type) and issubclass(cls, FacecraftError)) or cls is errors.ConflictError:
        cls = FacecraftError
    return cls(str(d.get("message") or "the live session failed"), error_id=d.get("error_id"))
