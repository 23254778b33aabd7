"""A PAL's TTS by URL in a live call: the Face speaks through the OpenAI-compatible endpoint of
``layers.tts`` (``facecraft serve`` itself, its real ``/v1/audio/speech`` route, on a loopback port) and
lip-syncs from that audio; an endpoint that cannot be reached is an error event, and the call goes on."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.conversation.live import Call, echo_text, run
from tests.utils import free_port
from tests.web.portal import served

pytestmark = pytest.mark.slow

WAIT = 180.0


def pal(tts: dict[str, Any]) -> dict[str, Any]:
    return {"pal_id": "p-tts", "pal_name": "Tess", "system_prompt": "You are Tess.", "pipeline_mode": "echo",
            "layers": {"tts": tts}, "llm_defaults": {}, "speech_defaults": {}, "knowledge": []}


def test_the_face_speaks_through_the_pals_tts_endpoint(bundle_dir: Path, tmp_path: Path) -> None:
    def tts(base: str, key: str) -> dict[str, Any]:
        return {"base_url": base, "api_key": key, "model": "tts-1", "voice_id": "ada-us"}

    async def scenario(layer: dict[str, Any], expect: str) -> tuple[list[dict], dict, float | None]:
        async with Call(bundle_dir, cid="c-tts-url", pal=pal(layer)) as call:
            c = call.client
            t = time.monotonic()
            c.send(echo_text("Hello from the endpoint.", inference_id="said"))
            out = await c.wait_event(expect, WAIT, where=lambda e: e["properties"].get("inference_id") == "said"
                                     or expect == "conversation.error")
            return list(c.events), out, c.first_sound(t)

    with served(tmp_path / "srv") as portal:
        events, said, sound = run(lambda: scenario(tts(portal.base_url + "/v1", portal.key),
                                                   "conversation.utterance"), 600)
        log = portal.log_path.read_text(errors="replace")
    assert said["properties"]["speech"] == "Hello from the endpoint." and sound, said
    assert "/v1/audio/speech" in log, log[-2000:]  # spoken by the endpoint, not by the Face's own Piper

    events, failed, _ = run(lambda: scenario(tts(f"http://127.0.0.1:{free_port()}/v1", "k"), "conversation.error"),
                            600)
    assert failed["properties"]["error"] == "speech_unavailable", failed
