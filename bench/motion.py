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
  that keep the footage's own mouth (listening footage) rather than a composed mouth at rest;
- turn_change / turn_change_abrupt: at the turns of a streamed conversation (listening, a GRID
  sentence, listening, the sentence again, listening) the mouth switches between a composed patch
  and the footage's own (forced here on all listening footage, as on a Face whose listening mouth
  rests closed). The largest change of the mouth region from one frame to the next over the frames
  of each switch, averaged over the switches, relative to the median change of all frames; with
  the engine's fade (``mouth_fade``) and without it (0), in the same run on the same plan. NaN
  where the walk never shows listening footage.
- ghosting / ghosting_footage: over a streamed render (``SEAM_SECONDS`` of the speaking/listening
  pattern), the largest drop of the head's edge sharpness (variance of the Laplacian in the face box)
  in a frame where the walk jumps, against the footage frames it shows (1 - rendered / footage, the
  two frames' sharpness weighted as they are blended; the rendered head measured in the box between
  the two frames' boxes, weighted alike, where the fade draws it: measured in the new frame's box, a
  shift of 2 px moved the figure by up to a fifth, box edges cutting through hair and collar); a
  double image from blending two head positions softens the edges. ``ghosting_footage`` is the same
  drop between consecutive frames of the footage itself (its 99th percentile): the footage's own.
- scale_jump / scale_jump_footage: the largest frame-to-frame change of face size (inter-ocular
  distance, |log ratio|, tracked on the rendered frames) at the walk's jumps, and the footage's own
  (99th percentile of consecutive footage frames).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from _common import REPO, TESTDATA, clip_means, machine_info, run_clips, write_result
from facecraft import media
from facecraft.engine import Renderer, StreamingRenderer
from facecraft.engine.motion import MotionWalker
from facecraft.faces.build import build_face
from facecraft.faces.bundle import load_bundle
from fidelity import default_videos, track

PATTERN = ((1, 10.0), (0, 6.0), (1, 20.0), (0, 10.0), (1, 30.0), (0, 20.0))  # (speaking, seconds)
LISTEN_SECONDS = 8.0
TURN_AUDIO = TESTDATA / "speech" / "grid_id2_vcd_swwp2s_16k.wav"
TURN_PATTERN = (1.5, None, 3.0, None, 3.0)  # seconds of listening; None: the sentence
SEAM_PATTERN = ((0, 12.0), (1, 6.0), (0, 12.0))  # (speaking, seconds) of the rendered walk
KEYS = ("jumps_per_min", "max_jump_deg", "p99_step_deg", "coverage_speaking", "coverage_listening",
        "repeat_3s", "wrong_state", "listen_closed", "listen_own_mouth", "turn_change", "turn_change_abrupt",
        "ghosting", "ghosting_footage", "scale_jump", "scale_jump_footage")


def walk_scores(renderer: Renderer) -> dict[str, float]:
    graph = renderer.graph
    tracks = renderer.tracks
    walker = MotionWalker(graph, renderer.config, pose=tracks.pose, scale=tracks.interocular)
    want = np.concatenate([np.full(int(round(sec * graph.fps)), s) for s, sec in PATTERN])
    idx = np.array([walker.step(bool(s)).index for s in want])
    state = np.asarray(graph.state)
    valid = np.asarray(graph.present, dtype=bool)
    pose = np.nan_to_num(np.asarray(tracks.pose, dtype=np.float64))
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


def _pull(stream: StreamingRenderer, seconds: float) -> tuple[list[np.ndarray], list[bool]]:
    """``seconds`` of frames from ``stream`` and, per frame, whether the footage's own mouth was planned."""
    frames, own = [], []
    for _ in range(int(round(seconds * stream.fps))):
        frames.append(stream.next_frame().image)
        own.append(stream.last_mouth is None)
    return frames, own


def listen_scores(renderer: Renderer) -> dict[str, float]:
    frames, own = _pull(StreamingRenderer(renderer), LISTEN_SECONDS)
    tracks = track(frames, renderer.fps)
    limit = renderer.priors.closed_limit
    ap = np.asarray(tracks.aperture, dtype=np.float64)[np.asarray(tracks.present, dtype=bool)]
    return {"listen_closed": float(np.mean(ap < limit)) if ap.size else float("nan"),
            "listen_own_mouth": float(np.mean(own))}


def _turn_render(renderer: Renderer, fade: int, audio: media.Audio) -> tuple[list[np.ndarray], list[bool]]:
    """Frames of the turn pattern and, per frame, whether the footage's own mouth was planned."""
    config = replace(renderer.config, own_listening_mouth_share=0.0, mouth_fade=fade)
    stream = StreamingRenderer(Renderer(renderer.bundle, config=config))
    frames, own = [], []
    for seconds in TURN_PATTERN:
        if seconds is None:
            stream.push_audio(audio.samples, audio.sample_rate)
            stream.end_of_speech()
            seconds = audio.duration_s
        more_frames, more_own = _pull(stream, seconds)
        frames += more_frames
        own += more_own
    return frames, own


def _mouth_box(renderer: Renderer) -> tuple[slice, slice]:
    """The footage's typical mouth region, grown by half its size on every side."""
    from facecraft.vision import landmarks as lm

    tracks = renderer.tracks
    lips = tracks.landmarks[np.asarray(tracks.present, dtype=bool)][:, list(lm.LIPS_OUTER), :2]
    lo, hi = np.nanmedian(lips.min(axis=1), axis=0), np.nanmedian(lips.max(axis=1), axis=0)
    (x0, y0), (x1, y1) = np.maximum(lo - (hi - lo) / 2, 0).astype(int), (hi + (hi - lo) / 2).astype(int)
    return slice(y0, y1), slice(x0, x1)


def turn_scores(renderer: Renderer, audio: media.Audio) -> dict[str, float]:
    box = _mouth_box(renderer)
    width = max(renderer.config.mouth_fade, 1)
    scores = {}
    for key, fade in (("turn_change", renderer.config.mouth_fade), ("turn_change_abrupt", 0)):
        frames, own = _turn_render(renderer, fade, audio)
        roi = np.stack([f[box] for f in frames]).astype(np.float32)
        change = np.abs(np.diff(roi, axis=0)).mean(axis=(1, 2, 3))  # change[j - 1]: frame j - 1 to j
        switches = [j for j in range(1, len(own)) if own[j] != own[j - 1]]
        peaks = [change[i - 1: i - 1 + width].max() for i in switches]
        scores[key] = float(np.mean(peaks) / np.median(change)) if peaks else float("nan")
    return scores


def _face_sharpness(image: np.ndarray, box: np.ndarray) -> float:
    import cv2

    x0, y0, x1, y1 = (int(v) for v in np.round(box))
    h, w = image.shape[:2]
    crop = image[max(0, y0):min(h, y1), max(0, x0):min(w, x1)]
    if crop.shape[0] < 8 or crop.shape[1] < 8:
        return float("nan")
    return float(cv2.Laplacian(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


def seam_scores(renderer: Renderer) -> dict[str, float]:
    """Ghosting and scale jumps where the rendered walk jumps between footage positions (module doc)."""
    from facecraft.engine.motion import MotionWalker

    tracks = renderer.tracks
    box = np.asarray(tracks.box, dtype=np.float64)
    walker = MotionWalker(renderer.graph, renderer.config, pose=tracks.pose, scale=tracks.interocular)
    steps = [walker.step(bool(s)) for s, sec in SEAM_PATTERN for _ in range(int(round(sec * renderer.fps)))]
    frames = [renderer.render(step, None) for step in steps]
    nan = float("nan")
    jumps = [t for t in range(1, len(steps)) if abs(steps[t].index - steps[t - 1].index) > 1]
    faded = sorted({t + k for t in jumps for k in range(renderer.config.crossfade + 1) if t + k < len(steps)})
    own: dict[int, float] = {}

    def footage_sharpness(i: int, at: int) -> float:  # footage frame i's head, measured in frame at's box
        if (i, at) not in own:
            own[(i, at)] = _face_sharpness(renderer.footage.get(i), box[at])
        return own[(i, at)]

    drops = []
    for t in faded:
        step = steps[t]
        i = step.index
        if not tracks.present[i]:
            continue
        # what a clean blend of the two frames would keep: their sharpness, weighted as blended; the
        # rendered head is measured where the fade draws it (between the two frames' boxes, as weighted)
        ref, drawn = footage_sharpness(i, i), box[i]
        if step.fade_index >= 0 and step.fade_weight > 0 and tracks.present[step.fade_index]:
            w = step.fade_weight
            ref = w * footage_sharpness(step.fade_index, step.fade_index) + (1 - w) * ref
            drawn = w * box[step.fade_index] + (1 - w) * box[i]
        drops.append(1.0 - _face_sharpness(frames[t], drawn) / ref)
    sharp = np.array([_face_sharpness(renderer.footage.get(i), box[i]) if tracks.present[i] else nan
                      for i in range(len(tracks))])
    natural = 1.0 - sharp[1:] / sharp[:-1]
    iod = np.asarray(tracks.interocular, dtype=np.float64)
    foot_scale = np.abs(np.diff(np.log(iod)))
    out_iod = np.asarray(track(frames, renderer.fps).interocular, dtype=np.float64)
    out_scale = np.abs(np.diff(np.log(out_iod)))  # out_scale[t - 1]: frame t - 1 to t
    at_jumps = [out_scale[t - 1 + k] for t in jumps for k in range(renderer.config.crossfade + 2)
                if t - 1 + k < len(out_scale)]
    return {
        "ghosting": float(np.nanmax(drops)) if drops else nan,
        "ghosting_footage": float(np.nanpercentile(natural, 99)) if np.isfinite(natural).any() else nan,
        "scale_jump": float(np.nanmax(at_jumps)) if at_jumps else nan,
        "scale_jump_footage": float(np.nanpercentile(foot_scale, 99))
        if np.isfinite(foot_scale).any() else nan,
        "seam_jumps": len(jumps),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, nargs="+", help="clips to build Faces from (default: the test videos)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "motion.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    videos = args.videos or default_videos()

    audio = media.read_audio(TURN_AUDIO, sample_rate=16000)

    def run(video: Path) -> dict:
        renderer = Renderer(load_bundle(build_face(video, name=video.stem, out_dir=Path(tmp))))
        return {"clip": video.name, **walk_scores(renderer), **listen_scores(renderer),
                **turn_scores(renderer, audio), **seam_scores(renderer)}

    with tempfile.TemporaryDirectory(prefix="bench-motion-") as tmp:
        clips = run_clips(videos, run)
    for c in clips:
        scores = f"ERROR {c['error']}" if "error" in c else " ".join(f"{k}={c[k]:.2f}" for k in KEYS)
        print(f"{Path(c['clip']).stem[:28]:<28}", scores)
    mean = clip_means(clips, KEYS)
    print(f"\n{'measure':<20} {'mean':>8}")
    for k in KEYS:
        print(f"{k:<20} {mean[k]:>8.2f}")
    write_result(args.out, {"bench": "motion", "machine": machine_info(), "pattern": PATTERN,
                            "mean": mean, "clips": clips})
    return 0


if __name__ == "__main__":
    sys.exit(main())
