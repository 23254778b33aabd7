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


def audio_level_at(client: LiveClient, times: np.ndarray, window: float, *, wire: bool = False) -> np.ndarray:
    """RMS of the audio that arrived within ``window`` seconds before each time (``wire``: by the arrival
    of its packet)."""
    t = np.array([a.wire if wire else a.t for a in client.audio])
    power = np.array([float(np.mean(a.samples ** 2)) for a in client.audio])
    out = np.zeros(times.size)
    for i, x in enumerate(times):
        sel = (t > x - window) & (t <= x)
        out[i] = np.sqrt(power[sel].mean()) if sel.any() else 0.0
    return out


def best_lag(a: np.ndarray, b: np.ndarray, max_lag: int) -> int:
    """The shift of ``b`` (in samples) that best matches ``a`` (positive: ``b`` comes later)."""
    a = (a - a.mean()) / (a.std() + 1e-9)
    b = (b - b.mean()) / (b.std() + 1e-9)
    scores = {}
    for lag in range(-max_lag, max_lag + 1):
        if lag >= 0:
            x, y = a[: a.size - lag], b[lag:]
        else:
            x, y = a[-lag:], b[: b.size + lag]
        scores[lag] = float(np.mean(x * y))
    return max(scores, key=lambda k: scores[k])


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
