"""Service test helpers: a real uvicorn server in a thread on a real SQLite file, a local HTTP receiver."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn

from facecraft.service.app import create_app
from facecraft.service.db import Database
from facecraft.service.keys import create_key
from facecraft.service.settings import Settings


def make_settings(data_dir: Path, **overrides) -> Settings:
    values = {
        "data_dir": data_dir,
        "allow_private_urls": False,
        "max_training_seconds": 8.0,
        "webhook_secret": "test-secret",
        "webhook_backoff_s": 0.05,
        "worker_poll_s": 0.2,
        # Job processes at normal priority: on a machine shared with other test runs a lowered one only
        # slows the suite (the benches keep the default).
        "job_nice": 0,
        "_env_file": None,
    }
    values.update(overrides)
    return Settings(**values)


def new_key(settings: Settings, name: str = "test") -> str:
    db = Database(settings.db_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db.migrate()
    with db.session() as session:
        _, plain = create_key(session, name=name)
    db.dispose()
    return plain


@dataclass
class LiveServer:
    settings: Settings
    url: str = ""
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    def start(self) -> LiveServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            create_app(self.settings), log_level="warning", lifespan="on", timeout_keep_alive=60
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(120)
            assert not self._thread.is_alive(), "server thread did not stop"

    def client(self, key: str | None) -> httpx.Client:
        headers = {"x-api-key": key} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=300, trust_env=False)


@contextmanager
def live_server(settings: Settings) -> Iterator[LiveServer]:
    server = LiveServer(settings).start()
    try:
        yield server
    finally:
        server.stop()


def poll(
    fetch: Callable[[], dict], done: Callable[[dict], bool], *, timeout: float = 300, every: float = 0.5
) -> dict:
    """Call ``fetch`` until ``done`` holds for its answer; fail with the last answer on timeout."""
    deadline = time.monotonic() + timeout
    last: dict = {}
    while time.monotonic() < deadline:
        last = fetch()
        if done(last):
            return last
        time.sleep(every)
    pytest.fail(f"timed out waiting; last answer: {last}")


@dataclass
class Receiver:
    """A local HTTP server that records POSTs (webhooks) and serves byte payloads (fetch tests)."""

    url: str
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    routes: dict[str, tuple[int, str, bytes]] = field(default_factory=dict)
    fail_first: int = 0

    def json_bodies(self) -> list[dict]:
        return [json.loads(body) for _, body in self.received]
