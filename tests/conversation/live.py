"""Helpers of the live-call tests: a running session with a recording aiortc client, and measures of
what the client received (the mouth's opening on the received frames, the received audio's level)."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np

from facecraft.conversation import SessionEvent, SessionManager, SessionSpec
from facecraft.conversation.client import LiveClient

SILENCE_RMS = 0.01  # received audio quieter than this (full scale 1.0) is silence


def spec(bundle: Path, cid: str, **kw: Any) -> SessionSpec:
    base: dict[str, Any] = dict(conversation_id=cid, bundle_dir=bundle, voice=None, mode="echo",
                                max_call_duration_s=600.0, participant_left_timeout_s=30.0,
                                participant_absent_timeout_s=120.0, ice_servers=(), video_size=256)
    base.update(kw)
    return SessionSpec(**base)


def echo_text(text: str, **props: Any) -> dict[str, Any]:
    return {"message_type": "conversation", "event_type": "conversation.echo", "properties": {"text": text, **props}}


def echo_audio(samples: np.ndarray, rate: int, **props: Any) -> dict[str, Any]:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
    return {"message_type": "conversation", "event_type": "conversation.echo",
            "properties": {"audio": base64.b64encode(pcm).decode(), "sample_rate": rate, **props}}


INTERRUPT = {"message_type": "conversation", "event_type": "conversation.interrupt"}


def run(coro_fn: Callable[[], Awaitable[Any]], timeout: float = 240.0) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(coro_fn(), timeout)

    return asyncio.run(bounded())


class Call:
    """A manager with one session and one connected client (``async with Call(...) as call``)."""

    def __init__(self, bundle: Path, cid: str = "c-test", mic: np.ndarray | None = None, **kw: Any) -> None:
        self.mic = mic
        self.events: list[SessionEvent] = []
        self.manager = SessionManager(2, self.events.append)
        self.spec = spec(bundle, cid, **kw)
        self.client: LiveClient

    async def __aenter__(self) -> Call:
        await self.manager.start(self.spec)
        cid = self.spec.conversation_id
        self.client = LiveClient(lambda o: self.manager.offer(cid, o["sdp"], o["type"]), mic=self.mic)
        await self.client.connect()
        await self.client.wait_channel_open()
        await self.client.wait_frames(10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.close()
        await self.manager.close()


def mouth_openings(images: list[np.ndarray]) -> np.ndarray:
    """Inner-lip gap over eye-corner distance per image (NaN where no face was found)."""
    from facecraft.vision.tasks import Landmarker

    lm = Landmarker(video=False, num_faces=1)
    try:
        out = []
        for im in images:
            faces = lm.detect(np.ascontiguousarray(im))
            if not faces:
                out.append(np.nan)
                continue
            p = faces[0].landmarks
            out.append(float(np.linalg.norm(p[13, :2] - p[14, :2]) / np.linalg.norm(p[33, :2] - p[263, :2])))
        return np.array(out)
    finally:
        lm.close()


def audio_playing_during(client: LiveClient, frame_times: np.ndarray) -> np.ndarray:
    """RMS of the audio a listener hears while each received video frame is on screen, for a player that
    plays each packet as it arrives: a packet plays from its arrival for its length, a frame shows from its
    arrival (``frame_times``, ``ReceivedVideo.wire``) until the next frame's. This is what the render's own
    measure (the audio under frame i is the audio of [i/fps, (i+1)/fps)) means on the wire. A window that
    only looks back from each frame's arrival hears audio that has already played out: it put the audio
    about 0.7 frame late against the render and swung with packet bursts."""
    packets: list[tuple[float, np.ndarray]] = []
    for a in client.audio:  # one decoded packet can come out of the resampler in pieces with one arrival
        if packets and packets[-1][0] == a.wire:
            packets[-1] = (a.wire, np.concatenate([packets[-1][1], a.samples]))
        else:
            packets.append((a.wire, a.samples))
    starts = np.array([t for t, _ in packets])
    ends = starts + np.array([x.size for _, x in packets]) / 16000.0
    out = np.zeros(frame_times.size)
    for i, t0 in enumerate(frame_times):
        t1 = frame_times[i + 1] if i + 1 < frame_times.size else t0 + float(np.median(np.diff(frame_times)))
        heard = []
        for k in np.flatnonzero((starts < t1) & (ends > t0)):
            s, x = packets[k]
            heard.append(x[int(max(0.0, t0 - s) * 16000):int(min(x.size, np.ceil((t1 - s) * 16000)))])
        samples = np.concatenate(heard) if heard else np.zeros(0, dtype=np.float32)
        out[i] = float(np.sqrt(np.mean(samples ** 2))) if samples.size else 0.0
    return out


def lag_frames(a: np.ndarray, b: np.ndarray, max_lag: int) -> float:
    """The shift of ``b`` (in samples, to a tenth) that best matches ``a`` (positive: ``b`` comes later): the
    correlation's peak, refined between its neighbours by a parabola so that two near-equal neighbours (a
    lag of 3.5) do not flip a whole frame from run to run."""
    a = (a - a.mean()) / (a.std() + 1e-9)
    b = (b - b.mean()) / (b.std() + 1e-9)
    scores = np.zeros(2 * max_lag + 1)
    for i, lag in enumerate(range(-max_lag, max_lag + 1)):
        x, y = (a[: a.size - lag], b[lag:]) if lag >= 0 else (a[-lag:], b[: b.size + lag])
        scores[i] = float(np.mean(x * y))
    k = int(np.argmax(scores))
    shift = 0.0
    if 0 < k < scores.size - 1:
        y0, y1, y2 = scores[k - 1], scores[k], scores[k + 1]
        curve = y0 - 2 * y1 + y2
        shift = float(np.clip(0.5 * (y0 - y2) / curve, -0.5, 0.5)) if curve < 0 else 0.0
    return round(k - max_lag + shift, 1)


def silent_after(client: LiveClient, t0: float, hold: float = 0.3) -> float:
    return client.silent_after(t0, hold, SILENCE_RMS)


def overloaded() -> str | None:
    """Why live timing cannot be judged on this machine now (None: it can). A call's timing is a
    real-time property: with several times more runnable work than cores (other jobs on a shared
    machine), every process, the session's included, gets a fraction of a core and no frame clock
    holds. CI's own runs stay far below the threshold."""
    import os

    load = os.getloadavg()[0]
    cores = len(os.sched_getaffinity(0))
    return f"load average {load:.1f} on {cores} cores" if load > 3 * cores else None


def now() -> float:
    return time.monotonic()
