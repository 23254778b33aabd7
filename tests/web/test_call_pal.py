"""A spoken conversation with a PAL in Debian's Chromium: the fake microphone plays a Piper-spoken "What is
your name?" (``--use-file-for-fake-audio-capture``, looped with long pauses) into the hosted call page of a
conversation with a full-mode PAL whose prompt names it. The interactions WebSocket carries the recognised question and
an answer with the PAL's name; the Face's lips move while it answers (mouth opening measured with MediaPipe
on frames of the page's <video>) and rest once it listens again."""

from __future__ import annotations

import base64
import json
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np
import pytest
from websockets.sync.client import connect

from facecraft.cli import main
from tests.conversation.live import mouth_openings
from tests.web.portal import Portal, chromium_context

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NAME = "Ada"
PROMPT = (f"Your name is {NAME}. You are a friendly guide at a science museum. When asked your name, say it. "
          "Answer in one short spoken sentence.")
QUESTION = "What is your name?"
LEAD_S = 8.0  # silence before the question: the page joins and the session settles first
GAP_S = 40.0  # silence after it; the file loops, so a question played before the call was up comes again
WAIT_S = 240.0  # Whisper, the LLM and Piper on a loaded 2-core CI machine

# The <video>'s current frame as a PNG (data URL), at most 256 pixels wide (enough for the mouth landmarks).
GRAB_JS = """() => {
  const v = document.getElementById("face-video");
  if (!v.videoWidth) return null;
  const c = document.createElement("canvas");
  const k = Math.min(1, 256 / v.videoWidth);
  c.width = Math.round(v.videoWidth * k); c.height = Math.round(v.videoHeight * k);
  c.getContext("2d").drawImage(v, 0, 0, c.width, c.height);
  return c.toDataURL("image/png");
}"""


@pytest.fixture(scope="module")
def question_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """LEAD_S of silence, the question (Piper's joe-us voice), then GAP_S of silence: 48 kHz 16-bit."""
    from facecraft.audio import resample
    from facecraft.media.audio import write_wav
    from facecraft.speech.voices import tts_for

    x, rate, _ = tts_for("joe-us", deterministic=True).synthesize(QUESTION)
    x = resample(x.astype(np.float32), rate, 48000)
    signal = np.concatenate([np.zeros(int(LEAD_S * 48000), np.float32), x, np.zeros(int(GAP_S * 48000), np.float32)])
    return write_wav(tmp_path_factory.mktemp("pal-mic") / "question.wav", signal, 48000)


@pytest.fixture(scope="module")
def pal_context(tmp_path_factory: pytest.TempPathFactory, question_wav: Path) -> Iterator[BrowserContext]:
    media = ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
             f"--use-file-for-fake-audio-capture={question_wav}")
    with chromium_context(tmp_path_factory.mktemp("chromium-pal-profile"), extra_args=media,
                          viewport=(1000, 800)) as context:
        yield context


@pytest.fixture(scope="module")
def conversation(portal: Portal, bundle_dir: Path) -> dict[str, Any]:
    """A full-mode PAL named in its prompt, paired with the test Face, and a conversation with it."""
    assert main(["stock", "add", str(bundle_dir), "--data-dir", str(portal.data_dir)]) == 0
    with httpx.Client(base_url=portal.base_url, headers={"x-api-key": portal.key}, timeout=120) as api:
        face_id = api.get("/v2/faces", params={"face_type": "system"}).json()["data"][0]["face_id"]
        pal = api.post("/v2/pals", json={"pal_name": NAME, "system_prompt": PROMPT, "pipeline_mode": "full",
                                         "default_face_id": face_id})
        assert pal.status_code == 200, pal.text
        made = api.post("/v2/conversations", json={"pal_id": pal.json()["pal_id"]})
        assert made.status_code == 200, made.text
        return made.json()


def _frame(page: Page) -> np.ndarray | None:
    from facecraft.media.image import read_image

    url = page.evaluate(GRAB_JS)
    if not url:
        return None
    return read_image(base64.b64decode(url.split(",", 1)[1]))


def test_a_spoken_question_to_a_pal_in_chromium(portal: Portal, conversation: dict[str, Any],
                                                pal_context: BrowserContext) -> None:
    page = pal_context.new_page()
    page.set_default_timeout(60_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    cid = conversation["conversation_id"]
    ws_url = portal.base_url.replace("http://", "ws://") + f"/v2/conversations/{cid}/interactions"
    events: list[dict[str, Any]] = []
    frames: deque[tuple[float, np.ndarray]] = deque(maxlen=600)  # (when grabbed, the frame): bounded memory
    try:
        with connect(ws_url, additional_headers={"x-api-key": portal.key}, open_timeout=30) as ws:
            page.goto(conversation["conversation_url"])
            page.get_by_role("button", name="Join the call").click()
            page.wait_for_function("document.body.dataset.callState === 'connected'")
            deadline = time.monotonic() + WAIT_S
            while time.monotonic() < deadline and not _said(events, "replica", NAME.lower()):
                try:
                    event = json.loads(ws.recv(timeout=0.05))
                    event["_t"] = time.monotonic()
                    events.append(event)
                except TimeoutError:
                    pass
                _grab(page, frames)
            # the video lags the events (jitter buffer, a loaded machine): keep watching the end of the answer
            until = time.monotonic() + 4.0
            while time.monotonic() < until:
                _grab(page, frames)
            time.sleep(2.0)
            rest = [f for f in (_frame(page) for _ in range(6)) if f is not None]
        assert not errors, errors
    finally:
        page.close()
    user = [e["properties"]["speech"] for e in events if _is(e, "user")]
    replies = [e["properties"]["speech"] for e in events if _is(e, "replica")]
    assert any("your name" in u.lower() for u in user), (user, replies)
    assert any(NAME.lower() in r.lower() for r in replies), (user, replies)
    began = [e["_t"] for e in events if e.get("event_type") == "conversation.replica.started_speaking"]
    assert began, [e.get("event_type") for e in events]
    answer = [f for t, f in frames if t >= began[-1]]
    open_speaking = mouth_openings(answer)
    open_resting = mouth_openings(rest)
    assert np.isfinite(open_speaking).sum() >= 5, f"a face in only {np.isfinite(open_speaking).sum()} frames"
    # the lips part and move while the Face answers, and rest once it listens again
    assert np.nanmax(open_speaking) > 0.06, open_speaking
    assert np.nanmax(open_speaking) > np.nanmedian(open_resting) + 0.03, (open_speaking, open_resting)
    assert np.nanstd(open_speaking) > 0.01, open_speaking
    with httpx.Client(base_url=portal.base_url, headers={"x-api-key": portal.key}, timeout=60) as api:
        api.post(f"/v2/conversations/{cid}/end")


def _grab(page: Page, frames: deque[tuple[float, np.ndarray]]) -> None:
    frame = _frame(page)
    if frame is not None:
        frames.append((time.monotonic(), frame))


def _is(event: dict[str, Any], role: str) -> bool:
    return (event.get("event_type") == "conversation.utterance"
            and (event.get("properties") or {}).get("role") == role)


def _said(events: list[dict[str, Any]], role: str, word: str) -> bool:
    return any(_is(e, role) and word in str(e["properties"].get("speech", "")).lower() for e in events)
