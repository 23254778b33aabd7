"""A real llama.cpp OpenAI-compatible server (``python -m facecraft.llm.server``) with the embedded model,
on a free loopback port, for the tests of the URL upgrade; stopped (and waited for) at the end."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

API_KEY = "test-key-7f3a9c"


@dataclass(frozen=True)
class LlamaServer:
    url: str  # the /v1 base URL
    api_key: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def llama_server() -> Iterator[LlamaServer]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "facecraft.llm.server", "--port", str(port), "--api-key", API_KEY],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ},
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, "the llama.cpp server exited"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the llama.cpp server did not start"
            time.sleep(0.5)
        yield LlamaServer(f"http://127.0.0.1:{port}/v1", API_KEY)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
