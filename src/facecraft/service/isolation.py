"""Run one call in a fresh child process with a memory and a time budget, and say how it ended.

Why a process per call: builds and renders decode video, track faces, synthesise speech and hold frames;
in the API process they would stall every request (the GIL, two cores) and whatever memory they took
would stay with the server. A child process that exits returns all of it, a runaway one can be killed
without touching anything else, and a job that crashes its process crashes only itself.

The child (``python -m facecraft.service.isolation``) reads ``{target, payload, memory_mb}`` as JSON on
stdin, lowers its priority, limits its data segment (``RLIMIT_DATA``, a backstop for allocations faster
than the watchdog), asks the kernel to kill it if its parent dies, calls ``target(payload, send)`` and
writes JSON lines to a pipe: what ``send`` is given (webhooks, notes) and finally ``result`` or
``error``. The parent watches the child's resident memory (``/proc``) and its wall time, kills it past
either budget, and returns an :class:`Outcome`.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import resource
import selectors
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Budget", "Outcome", "run_isolated", "rss_mb"]

log = logging.getLogger(__name__)

Send = Callable[[dict[str, Any]], None]
Ending = Literal["result", "error", "memory", "timeout", "stopped", "crashed"]
_POLL_S = 0.05  # how often the parent samples the child's memory and reads its messages
_GRACE_S = 10.0  # after SIGTERM (stop), how long the child may take to wind down
_PR_SET_PDEATHSIG = 1
# The data segment may exceed the resident budget (address space reserved, not touched: thread stacks,
# arenas); the watchdog holds the resident memory to the budget, this only stops a runaway.
DATA_LIMIT_FACTOR = 2.0


@dataclass(frozen=True)
class Budget:
    memory_mb: int
    time_s: float
    nice: int = 10  # priority increment of the child


@dataclass
class Outcome:
    ending: Ending
    value: Any = None  # the target's return value (ending "result")
    error_id: str | None = None  # ending "error": a FacecraftError raised by the target
    message: str = ""
    peak_rss_mb: float = 0.0
    exit_code: int | None = None  # negative: killed by that signal
    seconds: float = 0.0
    messages: list[dict[str, Any]] = field(default_factory=list)


def rss_mb(pid: int) -> tuple[float, float]:
    """Resident and peak resident memory (MB) of a process from ``/proc/<pid>/status``; zeros if gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            text = fh.read()
    except OSError:
        return 0.0, 0.0
    values = {}
    for line in text.splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, amount = line.split(":", 1)
            values[key] = int(amount.split()[0]) / 1024.0
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def run_isolated(
    target: str,
    payload: dict[str, Any],
    budget: Budget,
    *,
    on_message: Send | None = None,
    stop: threading.Event | None = None,
    on_tick: Callable[[], None] | None = None,
    tick_s: float = 5.0,
) -> Outcome:
    """Call ``target`` (``"module:function"``) with ``payload`` in a child process within ``budget``.

    ``on_message`` gets what the child sends while it runs; ``on_tick`` is called every ``tick_s``
    (a worker renews its job's lease there); setting ``stop`` asks the child to wind down (SIGTERM, then
    SIGKILL after a grace period).
    """
    read_fd, write_fd = os.pipe()
    spec = {
        "target": target,
        "payload": payload,
        "memory_mb": budget.memory_mb,
        "nice": budget.nice,
        "message_fd": write_fd,
    }
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-m", "facecraft.service.isolation"],
        stdin=subprocess.PIPE,
        pass_fds=(write_fd,),
        close_fds=True,
    )
    os.close(write_fd)
    outcome = Outcome(ending="crashed")
    try:
        assert child.stdin is not None
        child.stdin.write(json.dumps(spec).encode("utf-8"))
        child.stdin.close()
    except BrokenPipeError:
        pass
    reader = _Lines(read_fd)
    sel = selectors.DefaultSelector()
    sel.register(read_fd, selectors.EVENT_READ)
    killed: Ending | None = None
    term_at: float | None = None
    next_tick = started + tick_s
    status: int | None = None
    try:
        while status is None:
            for _key, _ in sel.select(timeout=_POLL_S):
                for message in reader.read():
                    _take(message, outcome, on_message)
            rss, hwm = rss_mb(child.pid)
            outcome.peak_rss_mb = max(outcome.peak_rss_mb, rss, hwm)
            now = time.monotonic()
            if killed is None and rss > budget.memory_mb:
                killed = "memory"
                os.kill(child.pid, signal.SIGKILL)
            elif killed is None and now - started > budget.time_s:
                killed = "timeout"
                os.kill(child.pid, signal.SIGKILL)
            elif killed is None and stop is not None and stop.is_set():
                killed, term_at = "stopped", now
                os.kill(child.pid, signal.SIGTERM)
            elif killed == "stopped" and term_at is not None and now - term_at > _GRACE_S:
                os.kill(child.pid, signal.SIGKILL)
                term_at = None
            if on_tick is not None and now >= next_tick:
                next_tick = now + tick_s
                on_tick()
            pid, status_raw, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                status = status_raw
                outcome.peak_rss_mb = max(outcome.peak_rss_mb, usage.ru_maxrss / 1024.0)
        for message in reader.read(final=True):
            _take(message, outcome, on_message)
    finally:
        sel.close()
        os.close(read_fd)
        if status is None:  # the parent itself is unwinding (an exception): leave no child behind
            child.kill()
            child.wait()
        else:
            child.returncode = os.waitstatus_to_exitcode(status)
    outcome.exit_code = child.returncode
    outcome.seconds = time.monotonic() - started
    outcome.peak_rss_mb = round(outcome.peak_rss_mb, 1)
    if killed in ("memory", "timeout"):
        outcome.ending = killed
    elif outcome.ending in ("result", "error", "memory"):
        pass  # the child said how it ended
    elif killed == "stopped":
        outcome.ending = "stopped"
    elif (
        outcome.exit_code is not None
        and outcome.exit_code < 0
        and outcome.peak_rss_mb > 0.9 * budget.memory_mb
    ):
        outcome.ending = "memory"  # killed at the edge of its budget (the data limit made an allocation fail)
    else:
        outcome.ending = "crashed"
        outcome.message = outcome.message or _exit_words(outcome.exit_code)
    return outcome


def _take(message: dict[str, Any], outcome: Outcome, on_message: Send | None) -> None:
    kind = message.get("type")
    if kind == "result":
        outcome.ending, outcome.value = "result", message.get("value")
    elif kind == "error":
        outcome.ending = "error"
        outcome.error_id, outcome.message = message.get("error_id"), str(message.get("message", ""))
    elif kind == "memory":
        outcome.ending, outcome.message = "memory", str(message.get("message", ""))
    elif kind == "crash":
        outcome.message = str(message.get("message", ""))
    else:
        outcome.messages.append(message)
        if on_message is not None:
            on_message(message)


def _exit_words(code: int | None) -> str:
    if code is None:
        return "the process did not report"
    if code < 0:
        try:
            return f"the process was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"the process was killed by signal {-code}"
    return f"the process exited with status {code}"


class _Lines:
    """JSON lines from a pipe, read without blocking the parent's loop."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = b""
        os.set_blocking(fd, False)

    def read(self, *, final: bool = False) -> list[dict[str, Any]]:
        while True:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                break
            if not chunk:
                break
            self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        if final and self.buffer:
            lines, self.buffer = [*lines, self.buffer], b""
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                log.warning("ignoring a malformed message from a child process")
        return out


# --- the child side ------------------------------------------------------------------------------


def _limit_self(memory_mb: int, nice: int) -> None:
    """Lower priority (the API keeps its CPU share), cap the data segment, die with the parent."""
    try:
        if nice:
            os.nice(nice)
    except OSError:
        pass
    limit = int(memory_mb * DATA_LIMIT_FACTOR) * 1024 * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard == resource.RLIM_INFINITY or hard > limit:
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit if hard == resource.RLIM_INFINITY else hard))
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except OSError:
            pass


def _child_main() -> int:
    spec = json.loads(sys.stdin.read())
    out = os.fdopen(spec["message_fd"], "wb", buffering=0)
    lock = threading.Lock()

    def send(message: dict[str, Any]) -> None:
        data = (json.dumps(message, default=str) + "\n").encode("utf-8")
        with lock:
            out.write(data)

    _limit_self(int(spec["memory_mb"]), int(spec.get("nice", 10)))
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s [job process]: %(message)s")
    logging.getLogger("facecraft").setLevel(logging.INFO)
    from facecraft.errors import FacecraftError

    module_name, func_name = spec["target"].split(":")
    try:
        func = getattr(importlib.import_module(module_name), func_name)
        value = func(spec["payload"], send)
    except MemoryError:
        send({"type": "memory", "message": "an allocation failed at the memory limit"})
        return 3
    except FacecraftError as exc:
        send({"type": "error", "error_id": exc.error_id, "message": exc.message})
        return 0
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which decides
        log.error("job process failed:\n%s", traceback.format_exc())
        send({"type": "crash", "message": f"{type(exc).__name__}: {exc}"})
        return 1
    send({"type": "result", "value": value})
    return 0


if __name__ == "__main__":
    sys.exit(_child_main())
