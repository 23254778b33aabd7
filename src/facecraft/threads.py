"""OS thread names (Linux ``comm``), so that per-thread CPU figures (``bench/conversation.py --thread-cpu``,
``top -H``) say whose thread is whose: Python's threads all show "python" otherwise, and native threads
(llama.cpp's server loop, its OpenMP team) take the name of the thread that started them."""

from __future__ import annotations

import ctypes
import sys

__all__ = ["os_thread_name", "name_os_thread"]

_PR_SET_NAME, _PR_GET_NAME = 15, 16


def _prctl(option: int, arg: object) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(option, arg, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def os_thread_name() -> str | None:
    """The calling thread's OS name (None where it cannot be read)."""
    buf = ctypes.create_string_buffer(16)
    return buf.value.decode(errors="replace") if _prctl(_PR_GET_NAME, buf) else None


def name_os_thread(name: str) -> None:
    """Names the calling thread for the OS (15 bytes at most; nothing happens where it cannot)."""
    _prctl(_PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]))
