"""Streamed mouths against batch ones: does the live renderer show the lips the batch render plans?

The streaming renderer plans a block of frames once the audio holds it plus a look-ahead; the lip-sync
model's prediction of a frame reads audio further ahead than that (Whisper states are final 0.3-0.5 s
after their audio). Frames planned before that audio has arrived may differ from the batch render's
(the whole utterance pushed, then planned). For a few leave-one-speaker-out Faces (built from each
clip's first 70 % with a general model trained without its speaker, as ``bench/fidelity.py --loso``)
the last 30 % of the clip's audio is voiced in several ways and the planned aperture of every frame
(``StreamFrame.aperture``: the target the mouth is chosen for) and the chosen patch's aperture are
compared with the batch render's and with the footage's tracked aperture:

- ``batch``: all the audio pushed, the end marked, every frame pulled;
- ``pieces``: 2 s pieces pushed one after another, the frames ``ready`` pulled after each (a file render
  of several sentences, ``perform.render``);
- ``live_burst``: 2 s pieces (a TTS sentence) arriving at 3x real time, the first frame pulled as the
  first piece lands and every next one 1/fps later (a live reply);
- ``live_stream``: 0.2 s chunks arriving in real time with a 0.5 s head start (audio streamed as it is
  made: a TTS by URL, an echo); the puller runs about 12 frames behind the audio.

    nice -n 10 .venv/bin/python bench/stream_lipsync.py [--clips NAME ...] [--out bench/results/stream_lipsync.json]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np

from _common import REPO, machine_info, write_result
from facecraft.engine import Renderer, StreamingRenderer
from facecraft.faces.bundle import load_bundle

RATE = 16000
TRAIN_SHARE = 0.7
DEFAULT_CLIPS = ("pcavs_00086", "pcavs_681100216", "deepavsr_00016", "videoretalking_face_4")
# (piece seconds, arrival speed x real time, head start s); None: pushed at once, ``ready`` pulled after each
MODES: dict[str, tuple[float, float, float] | None] = {
    "pieces": None,
    "live_burst": (2.0, 3.0, 0.0),
    "live_stream": (0.2, 1.0, 0.5),
}
PIECE_S = 2.0


def _pull(stream: StreamingRenderer, n: int, out: list[tuple[float, int]]) -> None:
    for _ in range(n):
        frame = stream.next_frame()
        out.append((frame.aperture, -1 if stream.last_mouth is None else stream.last_mouth))


def voice_batch(renderer: Renderer, x: np.ndarray, n: int) -> list[tuple[float, int]]:
    stream = StreamingRenderer(renderer)
    out: list[tuple[float, int]] = []
    stream.push_audio(x, RATE)
    stream.end_of_speech()
    _pull(stream, n, out)
    return out


def voice_pieces(renderer: Renderer, x: np.ndarray, n: int) -> list[tuple[float, int]]:
    stream = StreamingRenderer(renderer)
    out: list[tuple[float, int]] = []
    step = int(PIECE_S * RATE)
    for i in range(0, len(x), step):
        stream.push_audio(x[i: i + step], RATE)
        _pull(stream, stream.ready, out)
    stream.end_of_speech()
    _pull(stream, n - len(out), out)
    return out


def voice_live(renderer: Renderer, x: np.ndarray, n: int, piece_s: float, speed: float,
               head_s: float) -> list[tuple[float, int]]:
    """Pieces arrive at ``speed`` x real time; frame k is pulled at ``head_s + k / fps`` after the first."""
    stream = StreamingRenderer(renderer)
    out: list[tuple[float, int]] = []
    step = int(round(piece_s * RATE))
    pieces = [x[i: i + step] for i in range(0, len(x), step)]
    arrive = [i * piece_s / speed for i in range(len(pieces))]
    pushed = 0
    for k in range(n):
        t = head_s + k / renderer.fps
        while pushed < len(pieces) and arrive[pushed] <= t + 1e-9:
            stream.push_audio(pieces[pushed], RATE)
            pushed += 1
            if pushed == len(pieces):
                stream.end_of_speech()
        _pull(stream, 1, out)
    return out


def _r(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def compare(renderer: Renderer, got: list[tuple[float, int]], batch: list[tuple[float, int]],
            footage: np.ndarray) -> dict:
    span = float(renderer.priors.open - renderer.priors.closed)
    a = np.array([g[0] for g in got])
    b = np.array([g[0] for g in batch])
    feats = renderer.db.features[:, 0]
    pa = np.array([feats[m] if m >= 0 else np.nan for _, m in got])
    diff = np.abs(a - b) / span
    return {
        "r_vs_batch": _r(a, b),
        "mean_abs_diff_share": float(diff.mean()),  # of the Face's closed-to-open range
        "max_abs_diff_share": float(diff.max()),
        "frames_off_5pct": float(np.mean(diff > 0.05)),
        "same_patch": float(np.mean([g[1] == h[1] for g, h in zip(got, batch)])),
        "r_footage": _r(a, footage),
        "patch_r_footage": _r(pa, footage),
    }


def run_clip(video: Path, work: Path, model) -> dict:  # noqa: ANN001 - a lipsync.GeneralLipModel or None
    from _corpus import split_face
    from facecraft.engine import lipsync

    with lipsync.general_override(model):
        face = split_face(video, work, train_share=TRAIN_SHARE, rate=RATE)
    renderer = Renderer(load_bundle(face.bundle_dir), size=(64, 48))  # drawing is not what is measured
    fps, n, x, footage = face.fps, face.frames, face.samples, face.truth
    batch = voice_batch(renderer, x, n)
    row: dict = {"clip": video.name, "frames": n, "fps": fps,
                 "model_future_frames": getattr(renderer.audio_model, "future_frames", None),
                 "lookahead": renderer.config.lookahead,
                 "batch": {"r_footage": _r(np.array([g[0] for g in batch]), footage)}}
    for mode, spec in MODES.items():
        got = voice_pieces(renderer, x, n) if spec is None else voice_live(renderer, x, n, *spec)
        row[mode] = compare(renderer, got, batch, footage)
    print(video.name, {k: v for k, v in row.items() if isinstance(v, dict)}, file=sys.stderr, flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    from _corpus import held_out

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", nargs="+", default=list(DEFAULT_CLIPS), help="clip names (file stems)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "stream_lipsync.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    rows = []
    with tempfile.TemporaryDirectory(prefix="stream-lipsync-") as tmp:
        for clip, model in held_out(args.clips):
            rows.append({**run_clip(clip.path, Path(tmp), model), "speaker": clip.speaker, "dev": clip.dev})
    mean = {mode: {k: float(np.mean([r[mode][k] for r in rows])) for k in rows[0][mode]}
            for mode in ("batch", *MODES)}
    print(f"{'mode':<12}" + "".join(f"{k:>20}" for k in mean["pieces"]))
    for mode, vals in mean.items():
        print(f"{mode:<12}" + "".join(f"{vals.get(k, float('nan')):>20.3f}" for k in mean["pieces"]))
    write_result(args.out, {"bench": "stream_lipsync", "machine": machine_info(), "modes": {
        "batch": "pushed at once", **{m: (f"{s[0]} s pieces at {s[1]}x real time, {s[2]} s head start" if s else
                                          f"{PIECE_S} s pieces, ready frames pulled after each")
                                      for m, s in MODES.items()}}, "mean": mean, "clips": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
