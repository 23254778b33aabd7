"""What the streaming look-ahead costs the lip-sync: aperture r of streamed plans against batch ones.

    .venv/bin/python bench/lookahead.py [--clips NAME ...] [--lookahead 12 16 22] [--out bench/results/lookahead.json]

The audio model reads ``future_frames`` (about 21) frames of speech ahead of the frame it shapes; a
streamed frame is planned once the audio holds it plus ``EngineConfig.lookahead`` frames. When speech
trickles in at the rate it plays (a live voice, a TTS that streams without running ahead), the model
shapes each frame without the speech beyond that: the plan may differ from the batch one, which sees
the whole utterance. When a TTS hands over a whole sentence at once, nothing is cut.

Per clip, leave-one-speaker-out as ``bench/fidelity.py --loso`` (the speaker-independent model is
refitted without the clip's speaker; the Face is built from the first 70 %), the last 30 % of its
own audio (no transcript) is planned: in batch (``batch``), streamed in 20 ms pushes with each frame
pulled as soon as its look-ahead is there (``trickle_L`` for each look-ahead L), and pushed at once
(``whole_12``). ``aperture_r_*``: Pearson r of the planned aperture with the aperture tracked on the
real footage; ``vs_batch_r_*``: r with the batch plan. A look-ahead of L frames delays a trickled
frame by L / fps behind its audio (the latency it costs a live call whose speech trickles in).
Frames are planned, not drawn (the drawing does not change the plan).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from _common import REPO, clip_means, machine_info, run_clips, write_result
from facecraft.engine import EngineConfig, Renderer, StreamingRenderer
from facecraft.faces.bundle import load_bundle

RATE = 16000
TRAIN_SHARE = 0.7
PUSH = 320  # 20 ms
DEFAULT_CLIPS = ("pcavs_00015", "pcavs_00473", "deepavsr_00016", "sadtalker_RD_Radio2_000", "styletalk_KristiNoem",
                 "videoretalking_face_2")


def _r(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def streamed(renderer: Renderer, samples: np.ndarray, n: int, *, trickle: bool) -> np.ndarray:
    """(n,) planned apertures of ``samples`` streamed (no phones), pulled as soon as they are ready."""
    renderer.render = lambda *args, **kwargs: None  # type: ignore[method-assign]  # plans only
    stream = StreamingRenderer(renderer)
    out = np.full(n, np.nan)

    def pull(count: int) -> None:
        for _ in range(count):
            frame = stream.next_frame()
            if frame.utterance and 0 <= frame.utterance_frame < n:
                out[frame.utterance_frame] = frame.aperture

    step = PUSH if trickle else len(samples)
    for a in range(0, len(samples), step):
        stream.push_audio(samples[a:a + step], RATE)
        pull(stream.ready)
    stream.end_of_speech()
    pull(n + 1)
    return out


def run_clip(video: Path, work: Path, lookaheads: list[int]) -> dict:
    from _corpus import split_face

    face = split_face(video, work, train_share=TRAIN_SHARE, rate=RATE)
    bundle, fps, n, samples, truth = face.bundle_dir, face.fps, face.frames, face.samples, face.truth
    loaded = load_bundle(bundle)
    base = Renderer(loaded)
    batch = base.timeline(samples, n, [], trust_phones=False).aperture
    row: dict = {"clip": video.name, "frames": n, "fps": fps,
                 "future_frames": int(base.audio_model.future_frames) if base.audio_model else 0,
                 "aperture_r_batch": _r(batch, truth)}
    plans = {f"trickle_{k}": (k, True) for k in lookaheads} | {"whole_12": (12, False)}
    for name, (k, trickle) in plans.items():
        renderer = Renderer(loaded, config=replace(EngineConfig(), lookahead=k))
        plan = streamed(renderer, samples, n, trickle=trickle)
        row[f"aperture_r_{name}"] = _r(plan, truth)
        row[f"vs_batch_r_{name}"] = _r(plan, batch)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", nargs="+", default=list(DEFAULT_CLIPS), help="clip names (file stems)")
    parser.add_argument("--lookahead", nargs="+", type=int, default=[12, 16, 22])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "lookahead.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    from _corpus import held_out
    from facecraft.engine import lipsync

    rows = []
    with tempfile.TemporaryDirectory(prefix="lookahead-") as tmp:
        for clip, model in held_out(args.clips):
            def run(video: Path, model=model) -> dict:  # noqa: ANN001
                with lipsync.general_override(model):
                    return run_clip(video, Path(tmp), args.lookahead)

            rows += run_clips([clip.path], run)
    keys = ["aperture_r_batch"] + [f"{p}_{name}" for name in [f"trickle_{k}" for k in args.lookahead] + ["whole_12"]
                                   for p in ("aperture_r", "vs_batch_r")]
    mean = clip_means(rows, keys)
    labels = {k: k.replace("aperture_", "").replace("vs_batch_r_", "~batch_").replace("trickle_", "t") for k in keys}
    print(f"{'clip':<36}" + "".join(f"{labels[k]:>13}" for k in keys))
    for row in rows:
        if "error" in row:
            print(f"{row['clip'][:35]:<36} ERROR {row['error']}")
        else:
            print(f"{row['clip'][:35]:<36}" + "".join(f"{row[k]:>13.3f}" for k in keys))
    print(f"{'MEAN':<36}" + "".join(f"{mean[k]:>13.3f}" for k in keys))
    write_result(args.out, {"bench": "lookahead", "machine": machine_info(), "lookahead": args.lookahead,
                            "mean": mean, "clips": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
