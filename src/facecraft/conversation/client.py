"""A recording aiortc client of a live session (tests, ``bench/live.py``, a server-side app).

It sends a microphone track (silence, or a given recording), receives the Face's video and audio,
and keeps every received frame with its arrival time: video frames as RGB arrays (``keep_images``),
audio as 16 kHz mono float32 with the time each 20 ms packet arrived. Interactions messages go over
the data channel (``send``); received events are kept in ``events`` and awaited with ``wait_event``.
Signalling is a callable: the offer ``{"sdp", "type"}`` in, the answer out (through the server's
API, or a ``SessionManager`` directly).
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["LiveClient", "ReceivedVideo", "ReceivedAudio"]

Signal = Callable[[dict[str, str]], Awaitable[dict[str, Any]]]


@dataclass
class ReceivedVideo:
    t: float  # when the decoded frame came out of aiortc (time.monotonic)
    pts_s: float
    image: np.ndarray | None
    wire: float = 0.0  # when its RTP packets arrived (before the client's jitter buffer)


@dataclass
class ReceivedAudio:
    t: float
    samples: np.ndarray  # 16 kHz mono float32
    wire: float = 0.0  # when its RTP packet arrived (aiortc holds 4 audio packets back before decoding)


@dataclass
class LiveClient:
    """One participant (see the module doc); ``async with LiveClient(signal) as c: ...``."""

    signal: Signal
    keep_images: bool = True
    mic: np.ndarray | None = None  # 48 kHz mono float32 sent as the microphone (None: silence)
    video: list[ReceivedVideo] = field(default_factory=list)
    audio: list[ReceivedAudio] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    connected_at: float = 0.0

    async def __aenter__(self) -> LiveClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        from aiortc import RTCPeerConnection, RTCSessionDescription

        self.pc = RTCPeerConnection()
        self.channel = self.pc.createDataChannel("chat")
        self._event_waiters: list[tuple[Callable[[dict], bool], asyncio.Future]] = []
        self._tasks: list[asyncio.Task] = []

        @self.channel.on("message")
        def _on_message(message: str) -> None:
            try:
                obj = json.loads(message)
            except ValueError:
                return
            obj["_t"] = time.monotonic()
            self.events.append(obj)
            for pred, fut in list(self._event_waiters):
                if not fut.done() and pred(obj):
                    fut.set_result(obj)

        @self.pc.on("track")
        def _on_track(track: Any) -> None:
            reader = self._read_video(track) if track.kind == "video" else self._read_audio(track)
            self._tasks.append(asyncio.get_running_loop().create_task(reader))

        self._mic = _MicTrack(self.mic)
        self.pc.addTrack(self._mic)
        self.pc.addTransceiver("video", direction="recvonly")
        self._wire: dict[str, dict[int, float]] = {"audio": {}, "video": {}}
        for transceiver in self.pc.getTransceivers():
            _record_arrivals(transceiver.receiver, self._wire[transceiver.kind])
        offer = await self.pc.createOffer()
        await self.pc.setLocalDescription(offer)
        answer = await self.signal({"sdp": self.pc.localDescription.sdp, "type": self.pc.localDescription.type})
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))
        self.connected_at = time.monotonic()

    async def _read_video(self, track: Any) -> None:
        from aiortc.mediastreams import MediaStreamError

        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await track.recv()
                t = time.monotonic()
                image = frame.to_ndarray(format="rgb24") if self.keep_images else None
                self.video.append(ReceivedVideo(t, float(frame.pts * frame.time_base), image,
                                                self._wire["video"].get(frame.pts, t)))

    async def _read_audio(self, track: Any) -> None:
        from aiortc.mediastreams import MediaStreamError
        from av.audio.resampler import AudioResampler

        resampler = AudioResampler(format="s16", layout="mono", rate=16000)
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await track.recv()
                t = time.monotonic()
                wire = self._wire["audio"].get(frame.pts, t)
                for out in resampler.resample(frame):
                    x = out.to_ndarray().reshape(-1).astype(np.float32) / 32768.0
                    self.audio.append(ReceivedAudio(t, x, wire))

    def speak(self, samples: np.ndarray) -> float:
        """Play ``samples`` (48 kHz mono float32) into the microphone from now on, in place of what is left
        of the current recording; returns when it starts (``time.monotonic()``)."""
        self._mic.samples = np.asarray(samples, dtype=np.float32)
        self._mic.pos = 0
        return time.monotonic()

    def send(self, message: dict[str, Any] | str) -> None:
        """An interactions message over the data channel (a str is sent as it is: malformed-input tests)."""
        self.channel.send(message if isinstance(message, str) else json.dumps(message))

    async def wait_event(self, event_type: str, timeout: float = 10.0,
                         where: Callable[[dict], bool] | None = None) -> dict[str, Any]:
        """The first received event of ``event_type`` (already received or still to come)."""
        def pred(e: dict) -> bool:
            return e.get("event_type") == event_type and (where is None or where(e))

        for e in self.events:
            if pred(e):
                return e
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        self._event_waiters.append((pred, fut))
        return await asyncio.wait_for(fut, timeout)

    async def wait_channel_open(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.channel.readyState != "open":
            if time.monotonic() > deadline:
                raise TimeoutError("the data channel did not open")
            await asyncio.sleep(0.02)

    async def wait_frames(self, n: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.video) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"received {len(self.video)} video frames, expected {n}")
            await asyncio.sleep(0.02)

    def audio_envelope(self, t0: float, t1: float, step: float) -> np.ndarray:
        """RMS of the received audio in ``step``-second bins by arrival time, from ``t0`` to ``t1``."""
        bins = np.zeros(max(1, int(np.ceil((t1 - t0) / step))), dtype=np.float64)
        counts = np.zeros_like(bins)
        for a in self.audio:
            i = int((a.t - t0) / step)
            if 0 <= i < bins.size:
                bins[i] += float(np.mean(a.samples ** 2))
                counts[i] += 1
        return np.sqrt(bins / np.maximum(counts, 1))

    def first_sound(self, after: float, level: float = 0.01) -> float | None:
        """Arrival (on the wire) of the first audio packet louder than ``level`` RMS after ``after``."""
        for a in self.audio:
            if a.wire > after and float(np.sqrt(np.mean(a.samples ** 2))) > level:
                return a.wire
        return None

    async def wait_sound(self, after: float, timeout: float = 20.0, level: float = 0.01) -> float:
        """Wait for the first packet louder than ``level`` RMS that arrived after ``after``; its arrival time.
        (An event such as ``started_speaking`` travels on the data channel and can overtake the audio.)"""
        deadline = time.monotonic() + timeout
        while (t := self.first_sound(after, level)) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no audio louder than {level} RMS arrived in {timeout:.0f} s")
            await asyncio.sleep(0.02)
        return t

    def silent_after(self, t0: float, hold: float = 0.3, level: float = 0.01) -> float:
        """Seconds from ``t0`` until the received audio (as decoded) went quieter than ``level`` RMS and
        stayed so for ``hold`` seconds; inf if it never did."""
        packets = [a for a in self.audio if a.t >= t0]
        for i, a in enumerate(packets):
            rest = [p for p in packets[i:] if p.t <= a.t + hold]
            if rest and all(float(np.sqrt(np.mean(p.samples ** 2))) < level for p in rest):
                return a.t - t0
        return float("inf")

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.pc.close()


def _record_arrivals(receiver: Any, arrivals: dict[int, float]) -> None:
    """Note when each RTP timestamp's packet arrived, keyed as aiortc stamps the decoded frames (the
    timestamp less the stream's first): the wire timing of a stream, before the client's own buffering
    (what a receiver that keeps audio and video in step has to work with)."""
    raw: dict[int, float] = {}
    handle = receiver._handle_rtp_packet  # noqa: SLF001 - aiortc has no hook for packet arrival
    mapper = receiver._RTCRtpReceiver__timestamp_mapper  # noqa: SLF001

    async def on_packet(packet: Any, arrival_time_ms: int) -> None:
        raw.setdefault(packet.timestamp, time.monotonic())
        await handle(packet, arrival_time_ms)

    mapped = mapper.map

    def on_map(timestamp: int) -> int:
        pts = mapped(timestamp)
        arrivals[pts] = raw.pop(timestamp, time.monotonic())
        return pts

    receiver._handle_rtp_packet = on_packet  # noqa: SLF001
    mapper.map = on_map


class _MicTrack:
    """An audio track for the microphone: a recording, then silence (20 ms frames at 48 kHz)."""

    kind = "audio"

    def __new__(cls, samples: np.ndarray | None) -> Any:
        from aiortc.mediastreams import AudioStreamTrack
        from av import AudioFrame

        class Mic(AudioStreamTrack):
            def __init__(self) -> None:
                super().__init__()
                self.samples = np.zeros(0, dtype=np.float32) if samples is None else samples.astype(np.float32)
                self.pos = 0
                self._t0 = 0.0
                self._n = 0

            async def recv(self) -> Any:
                rate, n = 48000, 960
                if self._n == 0:
                    self._t0 = time.time()
                wait = self._t0 + self._n * n / rate - time.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                chunk = np.zeros(n, dtype=np.float32)
                part = self.samples[self.pos:self.pos + n]
                chunk[: part.size] = part
                self.pos += n
                frame = AudioFrame.from_ndarray((chunk * 32767).astype(np.int16)[None, :], layout="mono")
                frame.sample_rate = rate
                frame.pts = self._n * n
                frame.time_base = fractions.Fraction(1, rate)
                self._n += 1
                return frame

        return Mic()
