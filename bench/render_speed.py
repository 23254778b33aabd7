"""Render speed: frames per second at 512x512 and 720p (one process), build time, first streamed frame.

    .venv/bin/python bench/render_speed.py [--out bench/results/render_speed.json] [--build-only]

build_seconds / build_seconds_720: building a Face from the first 20 s of each clip (a fresh process's
first build pays for loading the models); ``build_cpu_seconds*`` the process CPU time meanwhile (every
thread), ``build_ratio`` build time over footage time (target < 1), ``build_steps*`` each step's wall and
CPU seconds (background jobs as "<name> (background)" with their own thread's CPU). The machine is
shared: compare builds run in the same sitting, CPU seconds as well as wall.

fps_512: a Face built from the 512x512 clip renders speech at 512x512 (frames made in memory, no
encoding; ``fps_512_encoded`` includes H.264 + AAC; ``fps_512_emotion`` shows an emotion, elated at 1).
fps_720: the same for a Face built from the
1080x1920 phone clip (footage 720x1280). first_frame_ms: a warm streaming renderer gets the first
sentence of Piper speech (with its phones; ``_no_phones``: without, as a TTS without timings gives it)
and returns its first frame, nothing encoded beforehand; median of several tries.
first_second_worst_pull_ms: the slowest frame pulled over the second after it, at the frame rate.
push_ms_at_1s / push_ms_at_12s: a live utterance pushed 20 ms at a time (no phones, as a streaming
TTS without timings gives it) while its frames are pulled at the rate they play: the median cost of
one push, and of one push plus the pulls it lets through, around 1 s and 12 s into the utterance
(the incremental timeline keeps both flat).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import REPO, TESTDATA, machine_info, write_result
from facecraft import media
from facecraft.engine import Emotion, Renderer, StreamingRenderer
from facecraft.faces.build import StepTime, build_face
from facecraft.faces.bundle import load_bundle
from facecraft.perform import render_speech, speech_frames

CLIP_512 = TESTDATA / "video" / "mimictalk_German_20s.mp4"
CLIP_720 = TESTDATA / "video" / "latentsync_demo3_vertical_hevc.mp4"
SPEECH = TESTDATA / "speech" / "whisper_jfk.flac"
TEXT = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."


def timed_build(video: Path, work: Path, seconds: float) -> tuple[Path, float, dict[str, object]]:
    """The bundle, the build's wall seconds, and its costs: process CPU seconds and per step wall and CPU."""
    timings: dict[str, StepTime] = {}
    t0, c0 = time.perf_counter(), time.process_time()
    path = build_face(video, name=video.stem, out_dir=work, source_range=(0.0, seconds), timings=timings)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    steps = {name: {"wall_s": round(t.wall_s, 3), "cpu_s": round(t.cpu_s, 3)} for name, t in timings.items()}
    return path, wall, {"cpu_s": round(cpu, 3), "steps": steps}


def print_build(label: str, wall: float, costs: dict[str, object]) -> None:
    """The build's stage table: wall and process CPU seconds per step."""
    print(f"{label}: {wall:.2f} s wall, {costs['cpu_s']:.2f} s CPU")
    for name, t in costs["steps"].items():  # type: ignore[attr-defined]
        print(f"  {name:<12} {t['wall_s']:>7.2f} {t['cpu_s']:>7.2f}")


def render_fps(renderer: Renderer, samples: np.ndarray, alignment: object) -> tuple[float, int]:
    frames = speech_frames(renderer, samples, 16000, alignment=alignment)  # type: ignore[arg-type]
    next(frames)  # first frame: planning and decoder start-up
    t0 = time.perf_counter()
    n = sum(1 for _ in frames)
    return n / (time.perf_counter() - t0), n + 1


def render_fps_emotion(renderer: Renderer, samples: np.ndarray, alignment: object) -> float:
    """``render_fps`` with an emotion shown (elated at 1: its face warp and head style on every frame)."""
    stream = StreamingRenderer(renderer)
    stream.set_emotion(Emotion("elated", 1.0))
    stream.push_audio(samples, 16000, list(alignment.phones))  # type: ignore[attr-defined]
    stream.end_of_speech()
    n = int(round(samples.size / 16000 * renderer.fps))
    stream.next_frame()  # planning and decoder start-up
    t0 = time.perf_counter()
    for _ in range(n - 1):
        stream.next_frame()
    return (n - 1) / (time.perf_counter() - t0)


def first_frame_ms(renderer: Renderer, tries: int = 5, *, phones: bool = True) -> tuple[list[float], list[float]]:
    """Per try: ms from pushing the first sentence to its first frame, and the slowest of the pulls over
    the next second at the frame rate (a live reply's frames must keep coming while its speech states
    are encoded). Each try starts with nothing encoded (``clear_cache``)."""
    from facecraft.speech.encoder import encoder
    from facecraft.speech.tts import PiperTTS

    chunk = next(iter(PiperTTS().stream("Hello, nice to meet you. How can I help today?")))
    times, worst = [], []
    for _ in range(tries):
        stream = StreamingRenderer(renderer)
        for _ in range(5):  # the Face is already live and listening
            stream.next_frame()
        encoder().clear_cache()
        t0 = time.perf_counter()
        stream.push_audio(chunk.samples, chunk.sample_rate, chunk.phones if phones else None)
        stream.next_frame()
        times.append((time.perf_counter() - t0) * 1000)
        slowest = 0.0
        for k in range(1, int(stream.fps) + 1):
            time.sleep(max(0.0, t0 + k / stream.fps - time.perf_counter()))
            t1 = time.perf_counter()
            stream.next_frame()
            slowest = max(slowest, time.perf_counter() - t1)
        worst.append(slowest * 1000)
        stream.interrupt()
    return times, worst


def push_ms(renderer: Renderer, samples: np.ndarray, at_s: tuple[float, ...] = (1.0, 12.0)) -> dict[str, float]:
    """Median ms of one 20 ms push (and of a push with its pulls) within 0.5 s around each of ``at_s``."""
    chunk = 320
    x = np.tile(samples, int(max(at_s) * 16000 // len(samples)) + 2)
    stream = StreamingRenderer(renderer)
    per_frame = 16000 / stream.fps
    lead = int(0.5 * 16000)  # the TTS runs half a second ahead of playback
    stream.push_audio(x[:lead], 16000)
    pulled = 0
    push: dict[float, list[float]] = {t: [] for t in at_s}
    both: dict[float, list[float]] = {t: [] for t in at_s}
    for a in range(lead, int((max(at_s) + 0.5) * 16000), chunk):
        t0 = time.perf_counter()
        stream.push_audio(x[a:a + chunk], 16000)
        t1 = time.perf_counter()
        while pulled < (a + chunk - lead) / per_frame:
            stream.next_frame()
            pulled += 1
        t2 = time.perf_counter()
        for t in at_s:
            if abs(a / 16000 - t) <= 0.25:
                push[t].append((t1 - t0) * 1000)
                both[t].append((t2 - t0) * 1000)
    out = {}
    for t in at_s:
        out[f"push_ms_at_{t:g}s"] = float(np.median(push[t]))
        out[f"push_pull_ms_at_{t:g}s"] = float(np.median(both[t]))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "render_speed.json")
    parser.add_argument("--build-seconds", type=float, default=20.0, help="footage used for each build")
    parser.add_argument("--build-only", action="store_true",
                        help="only the two builds (with their stage tables), nothing rendered")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from facecraft.speech.align import align

    audio = media.read_audio(SPEECH, sample_rate=16000)
    alignment = align(audio.samples, 16000, TEXT)
    rows: dict[str, float | int | list[float] | str] = {}
    with tempfile.TemporaryDirectory(prefix="render-speed-") as tmp:
        b512, s512, c512 = timed_build(CLIP_512, Path(tmp), args.build_seconds)
        b720, s720, c720 = timed_build(CLIP_720, Path(tmp), args.build_seconds)
        print_build("build 512", s512, c512)
        print_build("build 720", s720, c720)
        rows["build_seconds"] = s512
        rows["build_seconds_720"] = s720
        rows["build_footage_seconds"] = args.build_seconds
        rows["build_ratio"] = s512 / args.build_seconds
        rows["build_cpu_seconds"] = c512["cpu_s"]  # type: ignore[assignment]
        rows["build_cpu_seconds_720"] = c720["cpu_s"]  # type: ignore[assignment]
        if args.build_only:
            result = {"bench": "render_speed", "machine": machine_info(), "build_only": True,
                      "inputs": {"clip_512": str(CLIP_512), "clip_720": str(CLIP_720)}, **rows,
                      "build_steps": c512["steps"], "build_steps_720": c720["steps"]}
            write_result(args.out, result)
            return 0
        r512 = Renderer(load_bundle(b512), size=(512, 512))
        rows["fps_512"], rows["frames_512"] = render_fps(r512, audio.samples, alignment)
        rows["fps_512_emotion"] = render_fps_emotion(r512, audio.samples, alignment)
        t0 = time.perf_counter()
        out = render_speech(r512, audio.samples, 16000, alignment=alignment, out_path=Path(tmp) / "a.mp4")
        seconds = time.perf_counter() - t0  # the count below re-decodes the file: not part of the render
        rows["fps_512_encoded"] = sum(1 for _ in media.iter_frames(out)) / seconds
        r720 = Renderer(load_bundle(b720))
        rows["size_720"] = "x".join(str(v) for v in r720.size)
        rows["fps_720"], rows["frames_720"] = render_fps(r720, audio.samples, alignment)
        rows.update(push_ms(Renderer(load_bundle(b512), size=(512, 512)), audio.samples))
        tries, worst = first_frame_ms(r512)
        rows["first_frame_ms"] = float(np.median(tries))
        rows["first_frame_ms_tries"] = [round(t, 1) for t in tries]
        rows["first_second_worst_pull_ms"] = float(np.median(worst))
        tries, worst = first_frame_ms(r512, phones=False)
        rows["first_frame_ms_no_phones"] = float(np.median(tries))
        rows["first_second_worst_pull_ms_no_phones"] = float(np.median(worst))
    for key in (
        "fps_512", "fps_512_emotion", "fps_512_encoded", "fps_720", "first_frame_ms", "first_second_worst_pull_ms",
        "first_frame_ms_no_phones", "first_second_worst_pull_ms_no_phones", "push_ms_at_1s", "push_ms_at_12s",
        "push_pull_ms_at_1s", "push_pull_ms_at_12s", "build_seconds", "build_seconds_720",
    ):
        print(f"{key:<20} {rows[key]:>10.2f}")
    flat = rows["push_ms_at_12s"] <= 1.2 * rows["push_ms_at_1s"]  # type: ignore[operator]
    targets = {"fps_512 >= 30": rows["fps_512"] >= 30, "first_frame_ms <= 150": rows["first_frame_ms"] <= 150,
               "push_ms_at_12s within 20% of push_ms_at_1s": flat,
               "build faster than its video": rows["build_ratio"] < 1.0}  # type: ignore[operator]
    for name, met in targets.items():
        print(f"{'met' if met else 'NOT met':>8}  {name}")
    result = {
        "bench": "render_speed",
        "machine": machine_info(),
        "inputs": {"clip_512": str(CLIP_512), "clip_720": str(CLIP_720), "speech": str(SPEECH)},
        **rows,
        "build_steps": c512["steps"],
        "build_steps_720": c720["steps"],
        "targets": targets,
    }
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
