"""Tracking and build throughput on the real test videos.

Measures (1) face tracking speed at 512x512 (frames decoded first, so only the tracker is timed) and
(2) the wall time of a whole Face build as a multiple of the video's duration (< 1 means a build
takes less time than the video lasts), with the time of each build step and the CPU time (the
wall time is only meaningful on an otherwise idle machine: the load average is recorded). Prints a
table; writes ``bench/results/track_speed.json`` (or ``--out``) with the machine and the inputs.

    .venv/bin/python bench/track_speed.py [--clips NAME ...] [--out PATH]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _common import REPO, TESTDATA, machine_info, write_result

VIDEOS = TESTDATA / "video"
# Clips with audio that a Face can be built from, and the clips tracked at 512 (long side).
BUILD_CLIPS = ("mimictalk_German_20s.mp4", "styletalk_Obama_clip2_muxed.mp4", "sadtalker_WDA_KatieHill_000.mp4",
               "edtalk_uncrop_Obama.mp4")
TRACK_CLIPS = ("mimictalk_German_20s.mp4", "sadtalker_WDA_KatieHill_000.mp4", "videoretalking_face_2.mp4",
               "latentsync_demo3_vertical_hevc.mp4")


def bench_tracking(path: Path) -> dict[str, object]:
    from facecraft import media, vision

    frames = list(media.iter_frames(path, max_side=512))
    h, w = frames[0].image.shape[:2]
    info = media.probe(path)
    t0 = time.perf_counter()
    tracks = vision.track_frames(frames, fps=info.video.fps, width=w, height=h)
    seconds = time.perf_counter() - t0
    return {"clip": path.name, "size": [w, h], "frames": len(frames), "seconds": round(seconds, 3),
            "fps": round(len(frames) / seconds, 1), "face_present": round(float(tracks.present.mean()), 3)}


def bench_build(path: Path, out_dir: Path) -> dict[str, object]:
    from facecraft import media
    from facecraft.errors import FacecraftError
    from facecraft.faces.build import build_face

    info = media.probe(path)
    steps: dict[str, float] = {}
    current = {"name": None, "t": 0.0}

    def on_progress(_fraction: float, step: str) -> None:
        now = time.perf_counter()
        if step != current["name"]:
            if current["name"] is not None:
                steps[current["name"]] = round(steps.get(current["name"], 0.0) + now - current["t"], 2)
            current.update(name=step, t=now)

    t0, cpu0 = time.perf_counter(), time.process_time()
    try:
        bundle = build_face(path, name=path.stem, out_dir=out_dir, progress=on_progress)
        error = None
    except FacecraftError as exc:
        bundle, error = None, f"{exc.error_id}: {exc.message}"
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    if bundle is not None:
        shutil.rmtree(bundle, ignore_errors=True)
    return {"clip": path.name, "size": [info.video.width, info.video.height], "duration_s": round(info.duration_s, 2),
            "build_s": round(seconds, 2), "cpu_s": round(cpu, 2),
            "realtime_factor": round(seconds / info.duration_s, 3),
            "steps_s": steps, "error": error}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "track_speed.json")
    parser.add_argument("--clips", nargs="*", help="restrict to these file names")
    args = parser.parse_args(argv)
    pick = lambda names: [VIDEOS / n for n in names if (not args.clips or n in args.clips)  # noqa: E731
                          and (VIDEOS / n).exists()]
    track_rows = [bench_tracking(p) for p in pick(TRACK_CLIPS)]
    with tempfile.TemporaryDirectory() as tmp:
        build_rows = [bench_build(p, Path(tmp)) for p in pick(BUILD_CLIPS)]
    square = [r for r in track_rows if r["size"] == [512, 512]] or track_rows
    track_fps = sum(r["frames"] for r in square) / max(sum(r["seconds"] for r in square), 1e-9)
    built = [r for r in build_rows if r["error"] is None]
    build_512 = [r for r in built if max(r["size"]) <= 512] or built
    video_s = max(sum(r["duration_s"] for r in build_512), 1e-9)
    factor = sum(r["build_s"] for r in build_512) / video_s
    # CPU seconds (all threads) per second of video: on an idle machine the wall time of a build
    # that does not wait on disk is at most this, so it stands in when the machine is shared.
    cpu_factor = sum(r["cpu_s"] for r in build_512) / video_s
    load = os.getloadavg()[0]

    print(f"{'tracking clip':<40} {'size':>10} {'frames':>7} {'fps':>7}")
    for r in track_rows:
        print(f"{r['clip']:<40} {'x'.join(map(str, r['size'])):>10} {r['frames']:>7} {r['fps']:>7}")
    print(f"\n{'build clip':<40} {'size':>10} {'video s':>8} {'build s':>8} {'x real':>7}")
    for r in build_rows:
        tail = f"  ({r['error']})" if r["error"] else ""
        print(f"{r['clip']:<40} {'x'.join(map(str, r['size'])):>10} {r['duration_s']:>8} {r['build_s']:>8} "
              f"{r['realtime_factor']:>7}{tail}")
    steps: dict[str, float] = {}
    for r in build_512:
        for name, sec in r["steps_s"].items():
            steps[name] = steps.get(name, 0.0) + sec
    print("\nbuild time by step (s, all <=512 px clips): "
          + ", ".join(f"{k} {v:.1f}" for k, v in sorted(steps.items(), key=lambda kv: -kv[1])))
    print(f"\ntrack_fps_512 = {track_fps:.1f}   build_realtime_factor (<=512 px clips) = {factor:.3f}"
          f"   cpu factor = {cpu_factor:.3f}   load average {load:.1f}")

    result = {
        "bench": "track_speed",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "track_fps_512": round(track_fps, 1),
        "build_realtime_factor": round(factor, 3),
        "build_cpu_factor": round(cpu_factor, 3),
        "build_steps_s": {k: round(v, 2) for k, v in steps.items()},
        "load_average_1min": round(load, 2),
        "target": "build_realtime_factor < 1 at 512x512 on 2 cores",
        "tracking": track_rows,
        "builds": build_rows,
    }
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "src"))
    sys.exit(main())
