"""Where a live echo's first audio goes before it reaches the Face: TTS and voice adaptation, per sentence.

The live bench (``bench/live.py``) times the whole path on the wire, but on a shared 2-core machine its
wall times swing with the load (the same run twice: 2x apart). This bench times what the text path adds
over the PCM path in a way the load barely moves: the CPU time (``time.thread_time``) a session's
``FaceVoice`` spends from a reply's text to its first piece of speech (Piper, then the first part's voice
adaptation), and the silence that piece starts with (20 ms windows under 0.01 RMS, as the live bench's
listener judges its first audible packet). On a quiet machine one thread's CPU time is its wall time, so
``first_ms`` = CPU + lead is what the text path costs before the Face's clock takes the audio.
``piper_cpu_ms``: Piper alone on the same sentence once more (the rest of ``cpu_ms`` is the voice's).

    python bench/echo_speech.py [--bundle DIR | --video CLIP] [--passes 2] [--out FILE]

Sentences are ``bench/live.py``'s; the first pass warms the session's adaptation pace (as the live bench's
session has been warmed by its calibration), every pass is reported.
"""

from __future__ import annotations

import _session_env  # noqa: F401  # isort: skip  (first: the session's thread settings before libraries load)
import argparse
import inspect
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from _common import REPO, TESTDATA, live_bundle, machine_info, write_result
from live import LOUD, SENTENCES


def _lead_ms(x: np.ndarray, rate: int) -> float:
    step = rate // 50
    for i in range(0, max(1, x.size - step), step // 4):
        if float(np.sqrt(np.mean(x[i:i + step] ** 2))) > LOUD:
            return 1000 * i / rate
    return 1000 * x.size / rate


def bench(bundle: Path, passes: int, ratio: float | None = None) -> dict[str, Any]:
    from facecraft.conversation.echo import FaceVoice
    from facecraft.faces.bundle import load_bundle
    from facecraft.perform.speech import face_speaker, face_voice

    face = load_bundle(bundle)
    tts, adapt = face_speaker(face)
    voice = FaceVoice(tts, face_voice(face) if adapt else None)
    voice.start(ThreadPoolExecutor(max_workers=1))
    voice.pieces("Hello.")  # waits for the session's voice mapping
    if ratio is not None:  # the pace held where a quiet machine has it: cut where such a session cuts
        voice.pace.ratio = ratio
        voice.pace.note = lambda audio_s, took_s: None  # type: ignore[method-assign]
    reply_start = "reply_start" in inspect.signature(voice.pieces).parameters  # (older code: no such option)
    rows: list[dict[str, Any]] = []
    for k in range(passes):
        for text in SENTENCES:
            cpu0, wall0 = time.thread_time(), time.perf_counter()
            pieces = voice.pieces(text, reply_start=True) if reply_start else voice.pieces(text)
            first = next(pieces)
            cpu = 1000 * (time.thread_time() - cpu0)
            wall = 1000 * (time.perf_counter() - wall0)
            rest = list(pieces)
            cpu0 = time.thread_time()
            next(tts.stream(text))  # Piper alone on the same sentence: the rest of ``cpu`` is the voice's
            piper = 1000 * (time.thread_time() - cpu0)
            lead = _lead_ms(first.samples, first.sample_rate)
            rows.append({"pass": k, "text": text, "cpu_ms": round(cpu, 1), "wall_ms": round(wall, 1),
                         "piper_cpu_ms": round(piper, 1),
                         "lead_ms": round(lead, 1), "first_ms": round(cpu + lead, 1),
                         "first_part_s": round(first.samples.size / first.sample_rate, 3), "parts": 1 + len(rest)})
    med = {key: round(statistics.median(r[key] for r in rows), 1) for key in ("cpu_ms", "piper_cpu_ms", "lead_ms",
                                                                                 "first_ms", "wall_ms")}
    return {"rows": rows, "ratio_held": ratio, "adapted": voice.profile is not None,
            "pace_ratio": round(voice.pace.ratio, 3),
            **{f"{key}_p50": value for key, value in med.items()}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", type=Path, help="a built Face bundle (default: build one from --video)")
    ap.add_argument("--video", type=Path, default=TESTDATA / "video" / "styletalk_Obama_clip2_muxed.mp4")
    ap.add_argument("--passes", type=int, default=2, help="times each sentence is said")
    ap.add_argument("--ratio", type=float, help="hold the adaptation's pace at this ratio (seconds per second "
                    "of speech; default: measured as a session does, in wall time, which a loaded machine inflates: "
                    "longer first parts)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "echo_speech.json")
    args = ap.parse_args()
    bundle = live_bundle(args.bundle, args.video, "bench live")
    load_before = os.getloadavg()
    result = bench(bundle, args.passes, args.ratio)
    print(f"\necho text -> first speech piece, load average before {load_before[0]:.1f}")
    print(f"{'text':22} {'pass':>4} {'cpu ms':>7} {'piper':>6} {'lead ms':>8} {'first ms':>9} {'wall ms':>8} "
          f"{'part s':>7}")
    for r in result["rows"]:
        print(f"{r['text']:22} {r['pass']:>4} {r['cpu_ms']:>7} {r['piper_cpu_ms']:>6} {r['lead_ms']:>8} "
              f"{r['first_ms']:>9} {r['wall_ms']:>8} {r['first_part_s']:>7}")
    print(f"{'median':22} {'':>4} {result['cpu_ms_p50']:>7} {result['piper_cpu_ms_p50']:>6} {result['lead_ms_p50']:>8} "
          f"{result['first_ms_p50']:>9} {result['wall_ms_p50']:>8}")
    write_result(args.out, {"bench": "echo_speech", "bundle": str(bundle),
                            "machine": machine_info(load_average_before=[round(x, 2) for x in load_before]),
                            **result})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
