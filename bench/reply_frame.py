"""A reply's first frame on the Face's clock: its first audio reaches the Face -> its first frame leaves.

The Face's clock (``FaceVideoService``) draws each frame one tick (1/fps) ahead of the tick it leaves at. A
reply's first audio usually arrives while a listening frame already drawn waits for its tick; that frame
can leave first (the reply's first frame then waits a tick more) or be given back
(``StreamingRenderer.take_back_listening``: the reply's first frame is drawn in its place, at once when the audio
comes in, or at the tick where the clock was already taking the frame). This bench runs the
real clock of the stock Face at the live size and settings, in this process, with its frames kept instead of
sent, and pushes the same sentence at random moments of the tick, the two ways taking turns (paired rounds:
each pair saw about the same load). Per way: push -> the reply's first frame emitted (``first_frame_ms``), p50
and p95, and the paired difference. The echo and conversation benches include this step end to end.

    python bench/reply_frame.py [--rounds 30] [--work DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from _common import REPO, machine_info, write_result

WAYS = ("drawn_ahead_leaves", "given_back")
SENTENCE = "The museum opens tomorrow at ten."


async def one(face: Any, stream: Any, raw: Any, emitted: list[tuple[float, Any]],
              give_back: bool, rng: random.Random) -> float:
    """ms from the push of a reply's first audio to the emit of its first frame."""
    if give_back:
        stream.take_back_listening = type(stream).take_back_listening.__get__(stream)
    else:
        stream.take_back_listening = lambda frame: False
    await asyncio.sleep(0.4 + rng.random() / face.fps)  # a random moment of the tick, listening
    n = len(emitted)
    t0 = time.monotonic()
    await face.say(raw)
    while True:
        await asyncio.sleep(0.002)
        speaking = [t for t, f in emitted[n:] if f.speaking]
        if speaking:
            first = speaking[0]
            break
    face.interrupt()  # back to listening for the next round
    await asyncio.sleep(0.3)
    return 1000 * (first - t0)


async def bench(bundle: Path, rounds: int, seed: int) -> dict[str, Any]:
    from pipecat.frames.frames import TTSAudioRawFrame

    from facecraft.conversation.face_video import FaceVideoService
    from facecraft.conversation.session import live_engine_config
    from facecraft.engine import Renderer, StreamingRenderer
    from facecraft.faces.bundle import load_bundle
    from facecraft.speech.voices import tts_for

    stream = StreamingRenderer(Renderer(load_bundle(bundle), size=(512, 512), config=live_engine_config()))
    face = FaceVideoService(stream)
    emitted: list[tuple[float, Any]] = []

    async def emit(frame: Any, i420: Any = None) -> None:
        emitted.append((time.monotonic(), frame))
        face._track_speech(frame)

    face._emit = emit  # type: ignore[method-assign]
    samples, rate, _ = tts_for("joe-us").synthesize(SENTENCE)
    pcm = np.asarray(samples, dtype=np.float32)
    raw = TTSAudioRawFrame(audio=(np.clip(pcm, -1, 1) * 32767).astype(np.int16).tobytes(),
                           sample_rate=rate, num_channels=1)
    rng = random.Random(seed)
    got: dict[str, list[float]] = {w: [] for w in WAYS}
    clock = asyncio.create_task(face._clock())
    try:
        await asyncio.sleep(1.0)
        for k in range(rounds):
            for way in (WAYS if k % 2 == 0 else WAYS[::-1]):
                got[way].append(await one(face, stream, raw, emitted, way == "given_back", rng))
    finally:
        clock.cancel()
        face._executor.shutdown(wait=False)
        face._pusher.shutdown(wait=False)
    paired = [a - b for a, b in zip(got[WAYS[0]], got[WAYS[1]])]
    out: dict[str, Any] = {}
    for way, values in got.items():
        out[f"{way}_first_frame_ms_p50"] = round(statistics.median(values), 1)
        out[f"{way}_first_frame_ms_p95"] = round(float(np.percentile(values, 95)), 1)
    out["paired_saved_ms_p50"] = round(statistics.median(paired), 1)
    out["raw_ms"] = {w: [round(x, 1) for x in v] for w, v in got.items()}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "facecraft-bench-conversation")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "reply_frame.json")
    args = ap.parse_args()
    from conversation import stock_bundle, stock_pal

    _, face_key = stock_pal()
    bundle = stock_bundle(face_key, args.work)
    load_before = os.getloadavg()
    result = asyncio.run(bench(bundle, args.rounds, args.seed))
    load_after = os.getloadavg()
    print(f"\nreply audio pushed -> its first frame out of the Face's clock (load {load_before[0]:.1f} before, "
          f"{load_after[0]:.1f} after)")
    for key, value in result.items():
        if key != "raw_ms":
            print(f"{key:40} {value:>8}")
    write_result(args.out, {"bench": "reply_frame", "rounds": args.rounds,
                            "machine": machine_info(load_average_before=[round(x, 2) for x in load_before]),
                            **result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
