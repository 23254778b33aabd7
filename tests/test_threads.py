"""OS thread names: a named pool thread shows its name to the OS (per-thread CPU figures read it)."""

from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from facecraft.threads import name_os_thread, os_thread_name


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="OS thread names are read from Linux /proc")
def test_a_named_thread_shows_its_name_and_others_keep_theirs() -> None:
    before = os_thread_name()

    def named() -> tuple[str | None, str]:
        tid = threading.get_native_id()
        with open(f"/proc/{os.getpid()}/task/{tid}/comm") as fh:
            return os_thread_name(), fh.read().strip()

    with ThreadPoolExecutor(1, initializer=name_os_thread, initargs=("face-render-long-name",)) as pool:
        assert pool.submit(named).result() == ("face-render-lon", "face-render-lon")  # 15 bytes at most
    assert os_thread_name() == before
