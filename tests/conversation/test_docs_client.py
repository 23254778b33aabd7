"""The Python client example of docs/live.md, run as written against ``facecraft talk``'s app."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.utils import free_port

DOC = Path(__file__).resolve().parents[2] / "docs" / "live.md"

pytestmark = pytest.mark.slow


def _example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) == 1, "docs/live.md should hold one Python example"
    return blocks[0]


def test_the_documented_client_makes_the_face_speak(bundle_dir: Path, tmp_path: Path) -> None:
    import httpx
    import uvicorn

    from facecraft.conversation.talk import talk_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(talk_app(bundle_dir, size=256), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "facecraft talk did not come up"
            time.sleep(0.5)
        page = httpx.get(f"http://127.0.0.1:{port}/").text
        assert "RTCPeerConnection" in page and "conversation.echo" in page
        bad = httpx.post(f"http://127.0.0.1:{port}/offer", json={"sdp": "nonsense", "type": "offer"})
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_input"
        script = tmp_path / "client.py"
        script.write_text(_example())
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=180,
                              env={**os.environ, "OFFER_URL": f"http://127.0.0.1:{port}/offer"})
        assert done.returncode == 0, done.stderr[-3000:]
        out = done.stdout
        assert "conversation.replica.started_speaking" in out
        assert "conversation.utterance.streaming {'role': 'replica', 'speech': 'Hello!'" in out
        assert "conversation.replica.stopped_speaking" in out
        frames = int(re.search(r"received (\d+) video frames", out).group(1))  # type: ignore[union-attr]
        assert frames > 30
    finally:
        server.should_exit = True
        thread.join(timeout=30)
