"""A live call end to end: Debian's Chromium with a fake camera and a recorded voice as its microphone opens
the portal, presses "Talk to this Face" on a stock Face, joins the hosted call page over WebRTC, receives the
Face's moving video and its audio, an echo sent on the interactions WebSocket makes the Face speak (captions
appear, the audio's energy rises), mute toggles, and Leave ends the conversation and kills its link."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from websockets.sync.client import connect

from facecraft.cli import main
from tests.utils import GRID, testdata_path
from tests.web.portal import Portal, Shots, chromium_context

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

pytestmark = pytest.mark.browser

ECHO_TEXT = "Hello there, it is good to meet you."

# Counters of the received streams from the page's RTCPeerConnection (inbound-rtp statistics).
STATS_JS = """async () => {
  const out = {video_frames: 0, audio_samples: 0, audio_energy: 0};
  const stats = await window.facecraftCall.pc.getStats();
  stats.forEach((s) => {
    if (s.type !== "inbound-rtp") return;
    if (s.kind === "video") out.video_frames = s.framesDecoded || 0;
    if (s.kind === "audio") {
      out.audio_samples = s.totalSamplesReceived || 0;
      out.audio_energy = s.totalAudioEnergy || 0;
    }
  });
  return out;
}"""

# Mean and spread of the luma of the frame the <video> shows (drawn to a canvas).
FRAME_JS = """() => {
  const v = document.getElementById("face-video");
  const c = document.createElement("canvas");
  c.width = 64; c.height = 64;
  const g = c.getContext("2d");
  g.drawImage(v, 0, 0, 64, 64);
  const d = g.getImageData(0, 0, 64, 64).data;
  let sum = 0, sum2 = 0;
  for (let i = 0; i < d.length; i += 4) {
    const y = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
    sum += y; sum2 += y * y;
  }
  const n = d.length / 4, mean = sum / n;
  return {mean, std: Math.sqrt(Math.max(0, sum2 / n - mean * mean)), width: v.videoWidth};
}"""


@pytest.fixture(scope="module")
def talk_portal(portal: Portal, bundle_dir: Path) -> Portal:
    assert main(["stock", "add", str(bundle_dir), "--data-dir", str(portal.data_dir)]) == 0
    return portal


@pytest.fixture(scope="module")
def call_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """Chromium whose microphone plays a recorded sentence and whose camera is Chromium's test pattern."""
    voice = testdata_path(*GRID)
    media = ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
             f"--use-file-for-fake-audio-capture={voice}")
    profile = tmp_path_factory.mktemp("chromium-call-profile")
    with chromium_context(profile, extra_args=media, viewport=(1100, 900)) as context:
        yield context


@pytest.fixture()
def call_page(call_context: BrowserContext) -> Iterator[Page]:
    tab = call_context.new_page()
    tab.set_default_timeout(60_000)
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield tab
        assert not errors, errors
    finally:
        tab.close()


def _stats(page: Page) -> dict:
    return page.evaluate(STATS_JS)


def _wait_stats(page: Page, check, timeout: float = 60.0) -> dict:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    last = _stats(page)
    while time.monotonic() < deadline and not check(last):
        time.sleep(0.25)
        last = _stats(page)
    assert check(last), last
    return last


def _energy_gain(page: Page, seconds: float) -> float:
    """How much audio energy (``totalAudioEnergy``: the sum of squared levels times seconds) arrived."""
    before = _stats(page)["audio_energy"]
    time.sleep(seconds)
    return float(_stats(page)["audio_energy"] - before)


def test_talk_to_a_stock_face_in_chromium(talk_portal: Portal, call_page: Page) -> None:
    page, shot = call_page, Shots(call_page, prefix="call-")
    page.goto(talk_portal.base_url + "/")
    page.get_by_label("API key").fill(talk_portal.key)
    page.get_by_label("API key").press("Enter")
    page.get_by_role("tab", name="Stock").click()
    card = page.locator("li.face-card", has_text="Obama test")
    card.wait_for()
    shot("library")
    card.get_by_role("link", name="Talk to this Face").click()
    page.wait_for_url("**/call/**")
    config = json.loads(page.locator("#call-config").text_content() or "{}")
    cid = config["conversation_id"]
    page.get_by_role("heading", name="Talk to Obama test").wait_for()
    page.get_by_role("button", name="Join the call").click()
    page.wait_for_function("document.body.dataset.callState === 'connected'")

    # The Face's video arrives and moves (frames keep being decoded); it is a face, not a black frame.
    first = _wait_stats(page, lambda s: s["video_frames"] >= 10)
    time.sleep(1.0)
    assert _stats(page)["video_frames"] >= first["video_frames"] + 10, "the video does not advance"
    frame = page.evaluate(FRAME_JS)
    assert frame["width"] > 0 and frame["mean"] > 20 and frame["std"] > 10, frame
    _wait_stats(page, lambda s: s["audio_samples"] > 0)  # an audio track is received
    assert not page.get_by_text("Audio only").is_visible()
    shot("connected")
    quiet = _energy_gain(page, 2.0)  # the Face listens: silence

    # An echo on the interactions WebSocket: the Face says it, captions show it, the audio gets louder.
    ws_url = talk_portal.base_url.replace("http://", "ws://") + f"/v2/conversations/{cid}/interactions"
    with connect(ws_url, additional_headers={"x-api-key": talk_portal.key}, open_timeout=20) as ws:
        ws.send(json.dumps({"message_type": "conversation", "event_type": "conversation.echo",
                            "conversation_id": cid,
                            "properties": {"modality": "text", "text": ECHO_TEXT, "done": True}}))
        start = _stats(page)["audio_energy"]
        page.wait_for_function("document.getElementById('captions').textContent.includes('good to meet')")
        _wait_stats(page, lambda s: s["audio_energy"] - start > max(quiet * 20, 0.01), timeout=20)
        speaking = _stats(page)["audio_energy"] - start
        shot("speaking")
        utterances = _utterances(ws, timeout=30)
    assert speaking > max(quiet * 20, 0.01), (quiet, speaking)
    assert "good to meet you" in " ".join(utterances), utterances

    # Mute toggles; Leave ends the conversation and the link stops working.
    mute = page.get_by_role("button", name="Mute")
    mute.click()
    assert page.get_by_role("button", name="Unmute").get_attribute("aria-pressed") == "true"
    page.get_by_role("button", name="Leave").click()
    page.wait_for_function("document.body.dataset.callState === 'left'")
    shot("left")
    with httpx.Client(base_url=talk_portal.base_url, headers={"x-api-key": talk_portal.key}, timeout=30) as api:
        conversation = api.get(f"/v2/conversations/{cid}").json()
        assert conversation["status"] == "ended" and conversation["shutdown_reason"] == "participant_left"
        transcript = api.get(f"/v2/conversations/{cid}", params={"verbose": "true"}).json()["transcript"]
        assert any("good to meet you" in entry["content"] for entry in transcript), transcript
    page.reload()
    page.get_by_role("heading", name="This call has ended").wait_for()


def _utterances(ws, timeout: float) -> list[str]:  # noqa: ANN001
    """The sentences the Face said (``conversation.utterance.streaming``) until it stops speaking."""
    texts: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        props = event.get("properties") or {}
        if event.get("event_type") in ("conversation.utterance", "conversation.utterance.streaming"):
            texts.append(str(props.get("speech") or props.get("text") or ""))
        if event.get("event_type") == "conversation.replica.stopped_speaking" and texts:
            break
    return texts


def test_the_page_says_so_when_the_conversation_is_ended_through_the_api(talk_portal: Portal,
                                                                        call_page: Page) -> None:
    page = call_page
    with httpx.Client(base_url=talk_portal.base_url, headers={"x-api-key": talk_portal.key}, timeout=60) as api:
        face_id = api.get("/v2/faces", params={"face_type": "system"}).json()["data"][0]["face_id"]
        conversation = api.post("/v2/conversations", json={"face_id": face_id}).json()
        page.goto(conversation["conversation_url"])
        page.get_by_role("button", name="Join the call").click()
        page.wait_for_function("document.body.dataset.callState === 'connected'")
        _wait_stats(page, lambda s: s["video_frames"] >= 5)
        api.post(f"/v2/conversations/{conversation['conversation_id']}/end")
    page.wait_for_function("document.body.dataset.callState === 'ended'", timeout=30_000)
    page.get_by_text("The call has ended.").wait_for()
    assert page.get_by_role("button", name="Leave").is_hidden()
