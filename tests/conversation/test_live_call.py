"""A Face in a live call, judged by a real aiortc client that records what it receives.

One session serves the tests of this module in turn (loading a Face takes seconds): echoed text and
audio make the mouth open in step with the audio and close after it; an interrupt silences the Face
within 200 ms; bad messages get error events and the session keeps going.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from tests.conversation.live import (
    INTERRUPT,
    Call,
    audio_playing_during,
    echo_audio,
    echo_text,
    lag_frames,
    mouth_openings,
    now,
    overloaded,
    run,
    silent_after,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def grid16(grid_audio) -> np.ndarray:  # noqa: ANN001
    return grid_audio.samples.astype(np.float32)


def _local_lag(bundle: Path, samples: np.ndarray) -> float:
    """The lag between mouth and audio in the renderer's own output (what the call must keep)."""
    from facecraft.engine import Renderer, StreamingRenderer
    from facecraft.faces.bundle import load_bundle

    stream = StreamingRenderer(Renderer(load_bundle(bundle), size=(256, 256)))
    fps = stream.fps
    stream.push_audio(samples, 16000)
    stream.end_of_speech()
    n = int(samples.size / 16000 * fps) + 10
    frames = [stream.next_frame() for _ in range(n)]
    ap = np.nan_to_num(mouth_openings([f.image for f in frames]))
    level = np.array([np.sqrt(np.mean(samples[int(i / fps * 16000):int((i + 1) / fps * 16000)] ** 2))
                      if i / fps * 16000 < samples.size else 0.0 for i in range(n)])
    return lag_frames(level, ap, 8)


def test_echo_audio_moves_the_mouth_in_step_and_closes_it_after(bundle_dir: Path, grid16: np.ndarray) -> None:
    async def scenario() -> tuple[np.ndarray, np.ndarray, list[dict]]:
        async with Call(bundle_dir) as call:
            c = call.client
            c.send(echo_audio(grid16, 16000, inference_id="grid"))
            start = await c.wait_event("conversation.replica.started_speaking", 30)
            stop = await c.wait_event("conversation.replica.stopped_speaking", 30)
            await asyncio.sleep(1.0)
            frames = [f for f in c.video if start["_t"] - 0.7 <= f.t <= stop["_t"] + 1.0]
            wire = np.array([f.wire for f in frames])
            ap = np.nan_to_num(mouth_openings([f.image for f in frames]))
            level = audio_playing_during(c, wire)
            return ap, level, list(c.events)

    ap, level, events = run(scenario)
    kinds = [e["event_type"] for e in events]
    assert kinds.index("conversation.replica.started_speaking") < kinds.index("conversation.replica.stopped_speaking")
    stopped = next(e for e in events if e["event_type"] == "conversation.replica.stopped_speaking")
    assert stopped["properties"]["interrupted"] is False and stopped["inference_id"] == "grid"
    assert abs(stopped["properties"]["duration"] - 1.0 * len(grid16) / 16000) < 0.5
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    speech = level > 0.02
    assert speech.sum() > 20, "the Face's audio did not arrive"
    assert ap[speech].mean() > 2 * ap[-10:].mean(), "the mouth does not open during speech"
    # closed after the speech as the Face listens: most frames of the last 0.4 s (the listening footage's own
    # lips part now and then: this Face's local listening render reaches 0.053-0.061 in 8-18 % of 10-frame
    # windows, so a bound on the largest frame failed on which footage the motion graph happened to show)
    assert np.median(ap[-10:]) < 0.05, f"the mouth is not closed after the speech: {np.round(ap[-10:], 3)}"
    lag = lag_frames(level, ap, 8)
    expected = _local_lag(bundle_dir, grid16)
    if (busy := overloaded()) is not None and abs(lag - expected) > 1:
        pytest.xfail(f"A/V lag {lag} frames on the wire vs {expected} in the render, not judged: {busy}")
    assert abs(lag - expected) <= 1, f"mouth vs audio lag {lag} frames on the wire, {expected} in the render"


def test_echo_text_speaks_with_captions_and_interrupt_silences_within_200_ms(bundle_dir: Path) -> None:
    async def scenario() -> tuple[float, list[dict], float, np.ndarray]:
        async with Call(bundle_dir, "c-interrupt") as call:
            c = call.client
            c.send(echo_text("Hello there. This is a long sentence that keeps going for a while, so that we "
                             "can interrupt it right in the middle of what it says.", inference_id="long"))
            await c.wait_event("conversation.utterance.streaming", 60)
            started = await c.wait_event("conversation.replica.started_speaking", 60)
            # The event can overtake the audio on a busy machine: interrupt once the speech is heard.
            heard = await c.wait_sound(started["_t"] - 1.0, 30, level=0.02)
            await asyncio.sleep(max(0.0, heard + 0.8 - now()))
            t = now()
            c.send(INTERRUPT)
            await c.wait_event("conversation.replica.stopped_speaking", 10)
            await asyncio.sleep(2.2)
            loud = [a for a in c.audio if heard <= a.wire <= t]
            level = float(np.sqrt(np.mean(np.concatenate([a.samples for a in loud]) ** 2)))
            frames = [f for f in c.video if f.t > t + 1.6]  # after the mouth closed, however late
            return silent_after(c, t), list(c.events), level, np.nan_to_num(mouth_openings(
                [f.image for f in frames]))

    silent_s, events, level, closed = run(scenario)
    assert level > 0.02, "the Face did not speak before the interrupt"
    kinds = [e["event_type"] for e in events]
    assert "conversation.replica_interrupted" in kinds
    stopped = next(e for e in events if e["event_type"] == "conversation.replica.stopped_speaking")
    assert stopped["properties"]["interrupted"] is True and stopped["inference_id"] == "long"
    captions = [e["properties"]["speech"] for e in events if e["event_type"] == "conversation.utterance.streaming"]
    assert captions[0] == "Hello there."
    # closed = the listening Face's own rest: this Face's listening footage rests at up to ~0.06 with the lips
    # barely apart and parts them to ~0.09 on a frame now and then (seen in 1 of 3 runs, old code and new);
    # speech opens it to 0.15 and more
    rest, most = float(np.median(closed)), float(closed.max())
    assert rest < 0.06 and most < 0.12, f"the mouth did not close after the interrupt ({rest:.3f}, max {most:.3f})"
    if (busy := overloaded()) is not None and silent_s > 0.2:  # (a loaded machine: timing not judged)
        pytest.xfail(f"silence {silent_s * 1000:.0f} ms after the interrupt, not judged: {busy}")
    assert silent_s < 1.5, f"the Face still spoke {silent_s * 1000:.0f} ms after the interrupt"
    assert silent_s <= 0.2, f"the Face went silent {silent_s * 1000:.0f} ms after the interrupt"


BAD = [
    ("not json", "not JSON"),
    ('["a list"]', "JSON object"),
    ('{"message_type": "conversation", "event_type": "conversation.fly"}', "unknown event_type"),
    ('{"message_type": "chat", "event_type": "conversation.echo"}', "message_type"),
    ('{"message_type": "conversation", "event_type": "conversation.echo", "properties": {"done": false}}',
     "either text or audio"),  # (with done: true and nothing else it ends a streamed reply)
    ('{"message_type": "conversation", "event_type": "conversation.echo", "properties": '
     '{"audio": "%%%", "sample_rate": 16000}}', "base64"),
    ('{"message_type": "conversation", "event_type": "conversation.echo", "properties": '
     '{"audio": "AAAA", "sample_rate": 3}}', "sample_rate"),
    ('{"message_type": "conversation", "event_type": "conversation.echo", "properties": {"text": "..."}}',
     "nothing to say"),
    ('{"message_type": "conversation", "event_type": "conversation.respond", "properties": {"text": "hi"}}',
     "echo mode"),
    ('{"message_type": "conversation", "event_type": "conversation.echo", "conversation_id": "other", '
     '"properties": {"text": "hi"}}', "not this conversation"),
]


def test_bad_messages_get_error_events_and_the_call_goes_on(bundle_dir: Path) -> None:
    async def scenario() -> tuple[list[dict], list[dict]]:
        async with Call(bundle_dir, "c-bad") as call:
            c = call.client
            for raw, _ in BAD:
                c.send(raw)
            c.send('{"message_type": "conversation", "event_type": "conversation.echo", "properties": {"text": "'
                   + "a" * 230_000 + '"}}')
            for _ in range(60):
                if sum(e["event_type"] == "conversation.error" for e in c.events) >= len(BAD) + 1:
                    break
                await asyncio.sleep(0.25)
            errors = [e for e in c.events if e["event_type"] == "conversation.error"]
            # the same session still speaks, and the server's path (the WebSocket's) answers alike
            await call.manager.send("c-bad", {"message_type": "conversation", "event_type": "nope"})
            c.send(echo_text("Still here.", inference_id="after"))
            await c.wait_event("conversation.replica.stopped_speaking", 60)
            return errors, [e.message for e in call.events if e.kind == "message" and e.message]

    errors, server_side = run(scenario)
    messages = [e["properties"]["message"] for e in errors]
    assert len(errors) == len(BAD) + 1, messages
    for _, words in BAD:
        assert any(words in m for m in messages), (words, messages)
    assert any("bytes; at most" in m for m in messages)
    assert all(e["properties"]["error"] == "invalid_input" for e in errors)
    assert any(m["event_type"] == "conversation.error" and "unknown event_type" in m["properties"]["message"]
               for m in server_side)


def test_the_callers_voice_gives_user_speaking_events(bundle_dir: Path, grid16: np.ndarray) -> None:
    from facecraft.audio import resample

    mic = np.concatenate([np.zeros(48000, np.float32), resample(grid16, 16000, 48000).astype(np.float32),
                          np.zeros(48000 * 3, np.float32)])

    async def scenario() -> list[dict]:
        async with Call(bundle_dir, "c-user", mic=mic) as call:
            c = call.client
            await c.wait_event("conversation.user.started_speaking", 30)
            await c.wait_event("conversation.user.stopped_speaking", 30)
            return list(c.events)

    events = run(scenario)
    kinds = [e["event_type"] for e in events]
    assert kinds.index("conversation.user.started_speaking") < kinds.index("conversation.user.stopped_speaking")
