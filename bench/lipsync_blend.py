"""Lip-sync model alone vs mixed with the Face's own log-mel model, per clip, leave-one-speaker-out.

    .venv/bin/python bench/lipsync_blend.py [clip ...] [--out bench/results/lipsync_blend.json]

Model level (no rendering): each clip of ``bench/_corpus.py`` is split 70/30; the general model is refit
without the clip's speaker, adapted to the first 70 % (``FaceLipModel.fit``), the Face's own model is
fitted there too (``AudioMouthModel.fit``), and the share of each (``blend``) is chosen by their
cross-validated predictions on the first 70 % only (``engine.lipsync._choose_blend``, without the
footage-length gate ``AdaptParams.min_blend_s``, which the table shows applied). Scores: correlation of
the predicted and tracked aperture on the last 30 %: ``lip`` (lip-sync model alone), ``own`` (the
Face's own model), ``blend`` (the mix by the cross-validated share), ``gated`` (the mix where the build
part is at least ``min_blend_s`` long, the lip-sync model alone elsewhere: what a build does).
Tracks and encoder states come from ``.cache/`` (see ``scripts/train_lipsync.py``).

The gate's length was chosen on these same clips. ``nested_gate``: for each speaker in turn, the gate
among ``GATES`` that scores best on the other speakers' clips is applied to that speaker's clips, so the
choice is nested in the leave-one-speaker-out folds; its mean is what a gate chosen without the scored
speaker gives (``--rows`` recomputes it from a saved result without refitting anything).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

import _corpus
from _common import REPO, machine_info, write_result
from facecraft.audio import RATE
from facecraft.engine import audio_model as am
from facecraft.engine import lipsync


class _Part:
    """The tracked lips of frames ``[a, b)`` of a clip (what the model fits read)."""

    def __init__(self, tracks, a: int, b: int) -> None:  # noqa: ANN001
        self.fps = tracks.fps
        self.aperture = tracks.aperture[a:b]
        self.mouth_width = tracks.mouth_width[a:b]
        self.present = tracks.present[a:b]

    def __len__(self) -> int:
        return len(self.aperture)


def _r(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.corrcoef(a[ok], b[ok])[0, 1]) if ok.sum() > 5 and np.std(a[ok]) > 0 else float("nan")


def score_clip(clip: _corpus.Clip, data: list) -> dict | None:  # noqa: C901
    tracks = _corpus.clip_tracks(clip)
    n, fps = len(tracks), tracks.fps
    x = _corpus.clip_audio(clip, n, fps)
    split = int(n * 0.7)
    sa = int(round(split / fps * RATE))
    part = _Part(tracks, 0, split)
    general = lipsync.fit_general([d for d in data if d.speaker != clip.speaker])
    own = am.AudioMouthModel.fit(x[:sa], RATE, part)  # type: ignore[arg-type]
    params = lipsync.AdaptParams(min_blend_s=0.0)
    lip = lipsync.FaceLipModel.fit(x[:sa], RATE, part, general=general, params=params,  # type: ignore[arg-type]
                                   own_cv=None if own is None else own.cv_pred)
    if lip is None or own is None:
        return None
    y = np.where(np.asarray(tracks.present[split:], bool), tracks.aperture[split:], np.nan)
    lp = lip.predict(x, RATE, fps, n - split, first=split)[:, 0]
    op = own.predict(x[sa:], RATE, fps, n - split)[:, 0]
    mixed = lip.blend * lp + (1 - lip.blend) * op
    long_enough = split / fps >= lipsync.AdaptParams().min_blend_s
    return {"clip": clip.name, "speaker": clip.speaker, "dev": clip.dev, "build_s": round(split / fps, 1),
            "share": lip.blend, "lip": _r(lp, y), "own": _r(op, y), "blend": _r(mixed, y),
            "gated": _r(mixed if long_enough else lp, y)}


GATES = (0.0, 5.0, 7.5, 10.0, 12.5, 15.0, 20.0, float("inf"))  # build seconds from which the mix is used


def _gated(row: dict, gate: float) -> float:
    return row["blend"] if row["build_s"] >= gate else row["lip"]


def nested_gate(rows: list[dict]) -> dict:
    """Per held-out speaker the gate chosen on the other speakers, and the mean r that nesting gives."""
    chosen, scores = {}, []
    for speaker in sorted({q["speaker"] for q in rows}):
        train = [q for q in rows if q["speaker"] != speaker]
        gate = max(GATES, key=lambda g: float(np.nanmean([_gated(q, g) for q in train])))
        chosen[speaker] = gate
        scores += [(q, _gated(q, gate)) for q in rows if q["speaker"] == speaker]
    groups = (("dev", lambda q: q["dev"]), ("corpus", lambda q: not q["dev"]), ("all", lambda q: True))
    means = {name: float(np.nanmean([r for q, r in scores if sel(q)])) for name, sel in groups}
    return {"gates": chosen, "means": means,
            "fixed": {str(g): float(np.nanmean([_gated(q, g) for q in rows])) for g in GATES}}


def _print_nested(nested: dict) -> None:
    counts: dict[float, int] = {}
    for gate in nested["gates"].values():
        counts[gate] = counts.get(gate, 0) + 1
    print("nested gate: chosen per fold " + ", ".join(f"{g:g} s x{n}" for g, n in sorted(counts.items()))
          + "; r " + "  ".join(f"{k} {v:.3f}" for k, v in nested["means"].items()))
    print("fixed gates (not nested), all clips: " + "  ".join(f"{g} s {v:.3f}" for g, v in nested["fixed"].items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", nargs="*", help="clip names (default: all)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "lipsync_blend.json")
    parser.add_argument("--rows", type=Path, help="recompute the nested gate from this saved result (no fits)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.rows:
        saved = json.loads(args.rows.read_text())
        saved["nested_gate"] = nested_gate(saved["rows"])
        _print_nested(saved["nested_gate"])
        write_result(args.out, saved)
        return 0
    data = _corpus.load_training_data()
    rows = []
    for clip in _corpus.clips():
        if args.clips and clip.name not in args.clips:
            continue
        row = score_clip(clip, data)
        if row is None:
            continue
        rows.append(row)
        print(f"{row['clip']:<34} {row['build_s']:>5.1f} s share {row['share']:.1f}  lip {row['lip']:.3f}  "
              f"own {row['own']:.3f}  blend {row['blend']:.3f}  gated {row['gated']:.3f}", flush=True)
    means = {}
    for name, sel in (("dev", lambda q: q["dev"]), ("corpus", lambda q: not q["dev"]), ("all", lambda q: True)):
        chosen = [q for q in rows if sel(q)]
        if chosen:
            means[name] = {k: float(np.nanmean([q[k] for q in chosen])) for k in ("lip", "own", "blend", "gated")}
            print(f"{name:<8} n={len(chosen):>2} " + "  ".join(f"{k} {v:.3f}" for k, v in means[name].items()))
    nested = nested_gate(rows)
    _print_nested(nested)
    write_result(args.out, {"bench": "lipsync_blend", "machine": machine_info(), "rows": rows, "means": means,
                            "nested_gate": nested})
    return 0


if __name__ == "__main__":
    sys.exit(main())
