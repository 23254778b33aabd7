"""Live calls judged by a local aiortc client: connection, echo latency, interrupt, fps, CPU, capacity.

One Face (512x512 by default) in echo mode, each session in its own process under a
``SessionManager``, each client a real aiortc peer on this machine; every time is taken on the client's
side. Audio times are when the packet arrived (before the client's own jitter buffer):

- ``connect_first_frame_ms``: offer sent -> first video frame received;
- ``echo_first_audio_ms_p50``: ``conversation.echo`` text sent -> first audible packet (TTS included);
  ``echo_audio_first_audio_ms_p50``: the same for PCM audio sent (no TTS), less the clip's own leading
  silence (``echo_audio_lead_ms``: the GRID clip starts with about 0.5 s of it): the audio path's own delay;
- ``echo_first_frame_ms_p50``: text sent -> ``replica.started_speaking`` received (sent as the first
  speaking frame leaves the Face);
- ``interrupt_ms_p50``: ``conversation.interrupt`` sent (1 s into the speech as heard) -> the received
  audio is silent;
- ``fps_p5``, ``fps_median``, ``jitter_ms`` (std and p95 of frame inter-arrival) over ``--seconds`` of a
  call that speaks half of the time; ``cpu_per_session`` (cores, the session process);
- ``sessions_max``: the most concurrent sessions that all held >= 24 fps (p5 of per-second fps) over a
  window in which each session speaks and listens in turn (staggered: about half of them speak at any
  time), each judged by its own aiortc client; ``capacity`` has every session's fps p5 per N, its
  speaking and listening fps p5 and the CPU per session.

    python bench/live.py [--bundle DIR | --video CLIP] [--size 512] [--seconds 60] [--out FILE]

The machine's load is recorded with the result: figures on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from _common import REPO, TESTDATA, live_bundle, machine_info, write_result
from facecraft.conversation import SessionManager, SessionSpec
from facecraft.conversation.client import LiveClient

SENTENCES = ["Hello there.", "Nice to meet you.", "How are you today?", "That sounds great.", "Thank you.",
             "See you soon.", "I agree with you.", "Let me think.", "Good morning.", "Of course."]
LONG = ("This is a long sentence that keeps going for quite a while, so that it can be interrupted right in "
        "the middle of what it is saying.")
MIN_FPS = 24.0
LOUD = 0.01  # RMS of a 20 ms packet that counts as sound (LiveClient.first_sound's level)


def _spec(bundle: Path, cid: str, size: int) -> SessionSpec:
    return SessionSpec(conversation_id=cid, bundle_dir=bundle, voice=None, mode="echo",
                       max_call_duration_s=3600, participant_left_timeout_s=60, participant_absent_timeout_s=300,
                       ice_servers=(), video_size=size)


def _echo(text: str | None = None, audio: np.ndarray | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {"text": text} if text is not None else {}
    if audio is not None:
        pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
        props = {"audio": base64.b64encode(pcm).decode(), "sample_rate": 16000}
    return {"message_type": "conversation", "event_type": "conversation.echo", "properties": props}


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _lead_s(samples: np.ndarray, rate: int) -> float:
    """Seconds of leading silence in a clip (20 ms windows quieter than ``LOUD`` RMS)."""
    step = rate // 50
    for i in range(0, samples.size, step):
        if float(np.sqrt(np.mean(samples[i:i + step] ** 2))) > LOUD:
            return i / rate
    return samples.size / rate


def _fps_per_second(client: LiveClient, t0: float, t1: float) -> list[int]:
    return [sum(1 for f in client.video if t0 + k <= f.t < t0 + k + 1) for k in range(int(t1 - t0))]


async def _connect(manager: SessionManager, cid: str) -> tuple[LiveClient, float]:
    client = LiveClient(lambda o: manager.offer(cid, o["sdp"], o["type"]), keep_images=False)
    t = time.monotonic()
    await client.connect()
    await client.wait_frames(1, timeout=60)
    await client.wait_channel_open()
    return client, (client.video[0].t - t) * 1000


async def _latencies(client: LiveClient, speech: np.ndarray, rounds: int) -> dict[str, Any]:
    audio_ms, frame_ms, pcm_ms, interrupt_ms = [], [], [], []
    for k in range(rounds):
        inference = f"echo-{k}"
        t = time.monotonic()
        client.send({**_echo(SENTENCES[k % len(SENTENCES)]), "properties": {
            "text": SENTENCES[k % len(SENTENCES)], "inference_id": inference}})
        started = await client.wait_event("conversation.replica.started_speaking", 30,
                                          where=lambda e, i=inference: e["inference_id"] == i)
        await client.wait_event("conversation.replica.stopped_speaking", 30,
                                where=lambda e, i=inference: e["inference_id"] == i)
        sound = client.first_sound(t)
        frame_ms.append((started["_t"] - t) * 1000)
        if sound is not None:
            audio_ms.append((sound - t) * 1000)
        await asyncio.sleep(0.3)
    lead_ms = _lead_s(speech, 16000) * 1000
    for k in range(rounds):
        inference = f"pcm-{k}"
        t = time.monotonic()
        message = _echo(audio=speech)
        message["properties"]["inference_id"] = inference
        client.send(message)
        await client.wait_event("conversation.replica.stopped_speaking", 30,
                                where=lambda e, i=inference: e["inference_id"] == i)
        sound = client.first_sound(t)
        if sound is not None:
            pcm_ms.append((sound - t) * 1000 - lead_ms)
        await asyncio.sleep(0.3)
    for k in range(max(3, rounds // 2)):
        inference = f"long-{k}"
        client.send({"message_type": "conversation", "event_type": "conversation.echo",
                     "properties": {"text": LONG, "inference_id": inference}})
        started = await client.wait_event("conversation.replica.started_speaking", 30,
                                          where=lambda e, i=inference: e["inference_id"] == i)
        # 1 s into the speech as heard: on a busy machine the event can overtake the audio by a second
        heard = await client.wait_sound(started["_t"] - 1.0, 30)
        await asyncio.sleep(max(0.0, heard + 1.0 - time.monotonic()))
        t = time.monotonic()
        client.send({"message_type": "conversation", "event_type": "conversation.interrupt"})
        await client.wait_event("conversation.replica.stopped_speaking", 30,
                                where=lambda e, i=inference: e["inference_id"] == i)
        await asyncio.sleep(1.0)
        interrupt_ms.append(client.silent_after(t) * 1000)
    return {
        "echo_first_audio_ms_p50": _p(audio_ms, 50), "echo_first_audio_ms_p95": _p(audio_ms, 95),
        "echo_first_frame_ms_p50": _p(frame_ms, 50), "echo_first_frame_ms_p95": _p(frame_ms, 95),
        "echo_audio_first_audio_ms_p50": _p(pcm_ms, 50), "echo_audio_lead_ms": round(lead_ms, 1),
        "interrupt_ms_p50": _p(interrupt_ms, 50), "interrupt_ms_p95": _p(interrupt_ms, 95),
        "samples": {"echo_first_audio_ms": audio_ms, "echo_first_frame_ms": frame_ms,
                    "echo_audio_first_audio_ms": pcm_ms, "interrupt_ms": interrupt_ms},
    }


def _p(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


async def _steady(manager: SessionManager, client: LiveClient, cid: str, seconds: float) -> dict[str, Any]:
    """fps, jitter and CPU over ``seconds`` of a call speaking about half of the time."""
    pid = manager.pids()[cid]
    cpu0, t0 = _cpu_seconds(pid), time.monotonic()
    n0 = len(client.video)
    while time.monotonic() - t0 < seconds:
        client.send(_echo(SENTENCES[int(time.monotonic()) % len(SENTENCES)]))
        await asyncio.sleep(3.0)
    t1 = time.monotonic()
    cpu = (_cpu_seconds(pid) - cpu0) / (t1 - t0)
    frames = [f.t for f in client.video[n0:]]
    gaps = np.diff(frames) * 1000
    per_second = _fps_per_second(client, t0, t1)
    return {"fps_p5": round(float(np.percentile(per_second, 5)), 1),
            "fps_median": float(statistics.median(per_second)),
            "jitter_ms": round(float(np.std(gaps)), 1), "frame_gap_ms_p95": round(float(np.percentile(gaps, 95)), 1),
            "cpu_per_session": round(cpu, 2)}


CYCLE_S = 8.0  # each capacity session speaks (about 4 s of text) once per cycle, then listens
TURN = " ".join(SENTENCES[:4])


def _speaking_spans(client: LiveClient, t0: float, t1: float) -> list[tuple[float, float]]:
    """(start, stop) of the Face's speech between t0 and t1 by the client's events (stop t1 if open)."""
    spans: list[tuple[float, float]] = []
    start: float | None = None
    for e in client.events:
        kind, t = e.get("event_type"), e.get("_t", 0.0)
        if kind == "conversation.replica.started_speaking" and start is None:
            start = t
        elif kind == "conversation.replica.stopped_speaking" and start is not None:
            if t > t0 and start < t1:
                spans.append((max(start, t0), min(t, t1)))
            start = None
    if start is not None and start < t1:
        spans.append((max(start, t0), t1))
    return spans


def _judge(client: LiveClient, t0: float, t1: float) -> dict[str, Any]:
    """fps p5 of the window, and of its seconds spent speaking and listening."""
    per_second = _fps_per_second(client, t0, t1)
    spans = _speaking_spans(client, t0, t1)
    talking = [any(a < t0 + k + 1 and b > t0 + k for a, b in spans) for k in range(len(per_second))]
    speaking = [n for n, s in zip(per_second, talking) if s]
    listening = [n for n, s in zip(per_second, talking) if not s]

    def p5(xs: list[int]) -> float | None:
        return round(float(np.percentile(xs, 5)), 1) if xs else None

    return {"fps_p5": p5(per_second), "fps_p5_speaking": p5(speaking), "fps_p5_listening": p5(listening),
            "speaking_s": len(speaking)}


async def _converse(clients: list[LiveClient], seconds: float) -> None:
    """Every client speaks once per ``CYCLE_S``, staggered evenly over the cycle, for ``seconds``."""
    t0 = time.monotonic()
    n = len(clients)
    due = [t0 + i * CYCLE_S / n for i in range(n)]
    while time.monotonic() - t0 < seconds:
        now = time.monotonic()
        for i, c in enumerate(clients):
            if now >= due[i]:
                c.send(_echo(TURN))
                due[i] += CYCLE_S
        await asyncio.sleep(0.05)


async def _capacity(bundle: Path, size: int, most: int, seconds: float) -> tuple[int, list[dict[str, Any]]]:
    """Add sessions one at a time; the most that all held >= MIN_FPS (p5 of per-second fps) while each
    spoke and listened in turn (see the module doc)."""
    manager = SessionManager(most, lambda e: None)
    clients: list[LiveClient] = []
    rows: list[dict[str, Any]] = []
    best = 0
    try:
        for n in range(1, most + 1):
            cid = f"cap-{n}"
            await manager.start(_spec(bundle, cid, size))
            client, _ = await _connect(manager, cid)
            clients.append(client)
            await asyncio.sleep(6.0)  # the new session measures its voice mapping at the start
            pids = list(manager.pids().values())
            cpu0, t0 = sum(_cpu_seconds(p) for p in pids), time.monotonic()
            await _converse(clients, seconds)
            t1 = time.monotonic()
            cpu = (sum(_cpu_seconds(p) for p in pids) - cpu0) / (t1 - t0) / n
            judged = [_judge(c, t0, t1) for c in clients]
            for c in clients:  # quiet before the next session joins
                c.send({"message_type": "conversation", "event_type": "conversation.interrupt"})
            fps = [j["fps_p5"] or 0.0 for j in judged]
            rows.append({"sessions": n, "fps_p5_each": fps,
                         "fps_p5_speaking_each": [j["fps_p5_speaking"] for j in judged],
                         "fps_p5_listening_each": [j["fps_p5_listening"] for j in judged],
                         "speaking_s_each": [j["speaking_s"] for j in judged],
                         "cpu_per_session": round(cpu, 2),
                         "load_average": [round(x, 2) for x in os.getloadavg()]})
            print(f"  {n} sessions: fps p5 {', '.join(f'{x:.1f}' for x in fps)}; cpu/session {cpu:.2f}",
                  file=sys.stderr)
            if min(fps) < MIN_FPS:
                break
            best = n
            await asyncio.sleep(1.0)
    finally:
        for c in clients:
            await c.close()
        await manager.close()
    return best, rows


async def bench(bundle: Path, size: int, seconds: float, rounds: int, most: int,
                capacity_s: float = 2 * CYCLE_S, only: str = "all") -> dict[str, Any]:
    from facecraft import media

    result: dict[str, Any] = {}
    if only in ("all", "latency"):
        speech = media.read_audio(TESTDATA / "speech" / "grid_id2_vcd_swwp2s_16k.wav", sample_rate=16000).samples
        manager = SessionManager(1, lambda e: None)
        try:
            t = time.monotonic()
            await manager.start(_spec(bundle, "bench", size))
            start_ms = (time.monotonic() - t) * 1000
            client, connect_ms = await _connect(manager, "bench")
            await asyncio.sleep(5.0)  # the session measures its voice mapping at the start
            result.update({"session_start_ms": round(start_ms, 1), "connect_first_frame_ms": round(connect_ms, 1)})
            result.update(await _latencies(client, speech, rounds))
            result.update(await _steady(manager, client, "bench", seconds))
            await client.close()
        finally:
            await manager.close()
    if only in ("all", "capacity"):
        best, rows = await _capacity(bundle, size, most, capacity_s)
        result["sessions_max"] = best
        result["capacity"] = rows
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", type=Path, help="a built Face bundle (default: build one from --video)")
    ap.add_argument("--video", type=Path, default=TESTDATA / "video" / "styletalk_Obama_clip2_muxed.mp4")
    ap.add_argument("--size", type=int, default=512, help="the Face's video is SIZE x SIZE")
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the fps/jitter/CPU window")
    ap.add_argument("--rounds", type=int, default=10, help="echoes per latency figure")
    ap.add_argument("--most", type=int, default=6, help="the most concurrent sessions tried")
    ap.add_argument("--capacity-seconds", type=float, default=2 * CYCLE_S,
                    help="window each N of the capacity probe is judged over")
    ap.add_argument("--only", choices=["all", "latency", "capacity"], default="all",
                    help="run only the single-session figures or only the capacity probe")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "live.json")
    args = ap.parse_args()
    bundle = live_bundle(args.bundle, args.video, "bench live")
    load_before = os.getloadavg()
    result = asyncio.run(bench(bundle, args.size, args.seconds, args.rounds, args.most, args.capacity_seconds,
                               args.only))
    targets = {"echo_first_audio_ms_p50": ("<=", 250), "interrupt_ms_p50": ("<=", 200), "fps_p5": (">=", 24),
               "sessions_max": (">=", 3)}
    print(f"\nlive calls, {args.size}x{args.size} Face, load average before {load_before[0]:.1f}")
    print(f"{'key':34} {'value':>10}  target")
    for key, value in result.items():
        if isinstance(value, (int, float)) or value is None:
            target = targets.get(key)
            mark = ""
            if target is not None and value is not None:
                ok = value <= target[1] if target[0] == "<=" else value >= target[1]
                mark = f"{target[0]} {target[1]}  {'met' if ok else 'NOT met'}"
            print(f"{key:34} {value if value is not None else '-':>10}  {mark}")
    write_result(args.out, {"bench": "live", "size": args.size, "bundle": str(bundle),
                            "machine": machine_info(load_average_before=[round(x, 2) for x in load_before]),
                            **result})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
