"""Head motion of the motion-graph walk, and the mouth of a silent (listening) Face, per test clip.

    .venv/bin/python bench/motion.py [--videos PATH...] [--out bench/results/motion.json]

For each test video with audio (or ``--videos``), a Face is built from the whole clip, and its
motion walk follows a fixed pattern of speaking and listening (96 s from however little footage the
clip has). Per clip:

- jumps_per_min: cuts to another place in the footage (each one cross-faded);
- max_jump_deg: the largest head turn between two consecutive output frames (degrees, the pose's
  largest axis); p99_step_deg: its 99th percentile;
- coverage_speaking / coverage_listening: share of the footage of each state that is shown while
  that state is wanted (NaN where the state has too little footage and the other stands in);
- repeat_3s: share of output frames whose footage frame was already shown within the last 3 s (a
  visible loop);
- wrong_state: share of frames showing the other state's footage (by design where a state has too
  little footage of its own);
- listen_closed: share of frames of an 8 s streamed listening render whose tracked mouth is closed
  (below a quarter of the Face's closed-to-open range), and listen_own_mouth: share of those frames
  that keep the footage's own mouth (listening footage) rather than a composed mouth at rest.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import machine_info, run_clips, write_result
from fidelity import default_videos, track

from facecraft.engine import Renderer, StreamingRenderer
from facecraft.engine.motion import MotionWalker
from facecraft.faces.build import build_face
from facecraft.faces.bundle import load_bundle

REPO = Path(__file__).resolve().parents[1]
PATTERN = ((1, 10.0), (0, 6.0), (1, 20.0), (0, 10.0), (1, 30.0), (0, 20.0))  # (speaking, seconds)
LISTEN_SECONDS = 8.0
KEYS = ("jumps_per_min", "max_jump_deg", "p99_step_deg", "coverage_speaking", "coverage_listening",
        "repeat_3s", "wrong_state", "listen_closed", "listen_own_mouth")


def walk_scores(renderer: Renderer) -> dict[str, float]:
    graph = renderer.graph
    walker = MotionWalker(graph, renderer.config, pose=renderer.tracks.pose)
    want = np.concatenate([np.full(int(round(sec * graph.fps)), s) for s, sec in PATTERN])
    idx = np.array([walker.step(bool(s)).index for s in want])
    state = np.asarray(graph.state)
    valid = np.asarray(graph.present, dtype=bool)
    pose = np.nan_to_num(np.asarray(renderer.tracks.pose, dtype=np.float64))
    turn = np.abs(np.diff(pose[idx], axis=0)).max(axis=1)
    coverage = {}
    for s, name in ((1, "coverage_speaking"), (0, "coverage_listening")):
        own = np.flatnonzero(valid & (state == s))
        shown = idx[(want == s) & (state[idx] == s)]
        used = own.size and walker.has_state[s]  # else the other state's footage stands in (by design)
        coverage[name] = float(np.isin(own, shown).mean()) if used else float("nan")
    window = int(round(3 * graph.fps))
    last: dict[int, int] = {}
    repeats = 0
    for t, i in enumerate(idx.tolist()):
        repeats += int(i in last and t - last[i] <= window)
        last[i] = t
    return {
        "jumps_per_min": float(np.sum(np.abs(np.diff(idx)) > 1) / (len(idx) / graph.fps / 60)),
        "max_jump_deg": float(turn.max()),
        "p99_step_deg": float(np.percentile(turn, 99)),
        **coverage,
        "repeat_3s": repeats / len(idx),
        "wrong_state": float(np.mean(state[idx] != want)),
        "footage_speaking_s": float(np.sum(valid & (state == 1)) / graph.fps),
        "footage_listening_s": float(np.sum(valid & (state == 0)) / graph.fps),
    }


def listen_scores(renderer: Renderer) -> dict[str, float]:
    stream = StreamingRenderer(renderer)
    n = int(round(LISTEN_SECONDS * renderer.fps))
    frames, own = [], 0
    for _ in range(n):
        frames.append(stream.next_frame())
        own += int(stream.last_mouth is None)
    tracks = track(frames, renderer.fps)
    limit = renderer.priors.closed_limit
    ap = np.asarray(tracks.aperture, dtype=np.float64)[np.asarray(tracks.present, dtype=bool)]
    return {"listen_closed": float(np.mean(ap < limit)) if ap.size else float("nan"), "listen_own_mouth": own / n}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, nargs="+", help="clips to build Faces from (default: the test videos)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "motion.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    videos = args.videos or default_videos()

    def run(video: Path) -> dict:
        t0 = time.perf_counter()
        renderer = Renderer(load_bundle(build_face(video, name=video.stem, out_dir=Path(tmp))))
        row = {"clip": video.name, **walk_scores(renderer), **listen_scores(renderer)}
        row["seconds"] = time.perf_counter() - t0
        return row

    with tempfile.TemporaryDirectory(prefix="bench-motion-") as tmp:
        clips = run_clips(videos, run)
    ok = [c for c in clips if "error" not in c]
    for c in clips:
        scores = " ".join(f"{k}={c[k]:.2f}" for k in KEYS) if c in ok else f"ERROR {c['error']}"
        print(f"{Path(c['clip']).stem[:28]:<28}", scores)
    mean = {k: float(np.nanmean([c[k] for c in ok])) if ok else float("nan") for k in KEYS}
    print(f"\n{'measure':<20} {'mean':>8}")
    for k in KEYS:
        print(f"{k:<20} {mean[k]:>8.2f}")
    write_result(args.out, {"bench": "motion", "machine": machine_info(), "pattern": PATTERN,
                            "mean": mean, "clips": clips})
    return 0


if __name__ == "__main__":
    sys.exit(main())
