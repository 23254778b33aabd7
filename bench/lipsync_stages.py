"""Where lip-sync correlation is lost on new people: the model, its per-Face adaptation, the timeline.

For each clip (leave-one-speaker-out, as ``bench/fidelity.py --loso``: the general model is trained
without the clip's speaker, the Face is built from the clip's first 70 %), the aperture predicted for
the last 30 % is correlated with the footage's tracked aperture at three stages, without rendering:

- ``model``: the general model adapted to the Face in several ways (``ADAPT``): as built (``on``: lag,
  pulled refit, blend with the Face's own log-mel model), ``off`` (the general model as is: no lag, no
  refit, no blend, no gain), ``lag_only``, ``no_refit``, ``no_blend``, and the Face's own log-mel model
  alone (``own``);
- ``plan``: the timeline's target aperture (``Renderer.timeline`` on the clip's recognised phones, as the
  dub path of ``bench/fidelity.py`` plans it: ``plan_aperture_r`` there) with the engine's settings and
  others (``TIMELINE``): ``before``, the -42 dBFS loudness gate on modelled frames too; ``cap12``, pauses
  capped at 12 % of the range (r +0.014 here, but rendered pauses then read open: silence closure 0.992 ->
  0.965 on the 13 clips of ``bench/fidelity.py --loso``, so the engine keeps 6 %);
  ``no_close_early``, without closing the lips before a pause by the Face's lip lead; ``pauses_open``, the
  pauses follow the model uncapped (the lips no longer close in silence: what closing them costs);
- ``plan_silence_closure``: share of the audio's pauses (>= 200 ms) whose planned aperture reads closed;
- ``plan_input``: the prediction the timeline is given (``Renderer.predict_mouth``, = ``on``), and
  ``plan_input_pauses_closed``: the same with the pause frames as the engine plans them (what a plan that
  closes the lips in every pause can keep at most); ``footage_silence_closure`` and ``footage_pause_share``:
  how the held-out footage holds its lips in those pauses (share reading closed; median share of the way
  from the Face's closed to its open aperture). On the 13 clips (``lipsync_stages_i17h.json``) nearly all the
  correlation the plan loses is there: the footage keeps its lips half apart in pauses (median share ~0.5 on
  5 of the 6 clips with pauses, its silence closure 0.00-0.70) where the plan closes them.

Pauses inside speech (issue 17): the timeline lets the short pauses (``EngineConfig.inner_pause_s``, at most
``timeline.inner_frames``: what the streaming renderer sees end in time, 8 frames less the lips' lead) follow
the model up to the Face's wide habit (``pause_open``, a quantile of its footage's pause openings), and
longer ones rest, reopen for their last ``inner_frames`` ("tail") or keep the median habit ("habit", the
engine before: ``main``). ``--grid`` plans every ``inner_pause_s`` x quantile x ``long_pause`` (``GRID_*``);
per setting the plan's r and its closure split as ``bench/fidelity.py``'s (``inner``: short pauses inside
speech; ``outer``: the edges and longer pauses). ``lipsync_stages_tune_i17k.json`` was planned before the
``inner_frames`` limit (only the look-ahead, 12 frames, capped a pause): its 0.3 s is about the limit, its
0.5 s (12 frames) what a longer look-ahead would allow. ``--tune``: the 18 clips outside the 13 (where
settings are chosen); ``--plan-only``: no model stage.

    nice -n 10 .venv/bin/python bench/lipsync_stages.py [--clips NAME ...] [--out bench/results/lipsync_stages.json]
    nice -n 10 .venv/bin/python bench/lipsync_stages.py --tune --plan-only --grid --out ...

The default clips are the 13 of ``bench/results/fidelity_loso_subset.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from _common import REPO, machine_info, write_result
from facecraft import media
from facecraft.engine import Renderer, lipsync
from facecraft.engine.audio_model import AudioMouthModel
from facecraft.engine.config import EngineConfig
from facecraft.engine.timeline import build_timeline, habit_share, pause_openings
from facecraft.faces.build import build_face
from facecraft.faces.bundle import load_bundle
from facecraft.faces.thresholds import Thresholds
from facecraft.perform.speech import audio_phones, prepare_audio
from facecraft.vision.types import Tracks

RATE = 16000
TRAIN_SHARE = 0.7
SUBSET = REPO / "bench" / "results" / "fidelity_loso_subset.json"
# name: (AdaptParams changes, blend with the Face's own model)
ADAPT: dict[str, tuple[dict, bool]] = {
    "on": ({}, True),
    "off": ({"pulls": (np.inf,), "max_lag": 0, "max_gain": 1.0}, False),
    "lag_only": ({"pulls": (np.inf,), "max_gain": 1.0}, False),
    "no_refit": ({"pulls": (np.inf,)}, True),
    "no_blend": ({}, False),
}
ENGINE = EngineConfig()
QUANTILES = (0.75, 0.9, 0.95)
# name: (EngineConfig changes, the wide habit: a quantile of the Face's pause openings, None: as built)
MAIN = {"inner_pause_s": 0.0, "long_pause": "habit"}  # every pause between words capped at the median habit
TIMELINE: dict[str, tuple[dict, float | None]] = {
    "engine": ({}, None), "main": (MAIN, None), "before": ({**MAIN, "model_silence_db": -42.0}, None),
    "cap12": ({**MAIN, "pause_cap_share": 0.12, "pause_habit": "off"}, None),
    "no_close_early": ({"close_early": False}, None), "pauses_open": ({**MAIN, "pause_cap_share": 1.2,
                                                                       "pause_habit": "off"}, None)}
GRID_S = (0.3, 0.4, 0.5)  # inner_pause_s (at most ``lookahead`` frames: 0.4 s at 30 fps, 0.48 s at 25)
GRID_Q = (0.5, 0.75, 0.9, 1.2)  # the wide habit's quantile (1.2: no cap, the share itself)


def timelines(grid: bool = False) -> dict[str, tuple[dict, float | None]]:
    """The settings planned (with ``grid``, every inner_pause_s x quantile x long_pause as well)."""
    out = dict(TIMELINE)
    if grid:
        for s in GRID_S:
            for q in GRID_Q:
                for long in ("rest", "tail", "habit"):
                    out[f"s{s}_q{q}_{long}"] = ({"inner_pause_s": s, "long_pause": long}, q)
    return out



def _r(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def model_stage(general: lipsync.GeneralLipModel, train: np.ndarray, tracks: Tracks, test: np.ndarray,
                fps: float, n: int, y: np.ndarray) -> dict:
    """Aperture r of the adapted model (each way of ``ADAPT``) and of the Face's own log-mel model."""
    own = AudioMouthModel.fit(train, RATE, tracks)
    own_pred = own.predict(test, RATE, fps, n)[:, 0] if own is not None else None
    row: dict = {"own": _r(own_pred, y) if own_pred is not None else float("nan")}
    for name, (changes, blend) in ADAPT.items():
        params = replace(lipsync.AdaptParams(), **changes)
        fitted = lipsync.FaceLipModel.fit(train, RATE, tracks, general=general, params=params,
                                          own_cv=own.cv_pred if blend and own is not None else None)
        if fitted is None:
            row[name] = float("nan")
            continue
        pred = fitted.predict(test, RATE, fps, n)[:, 0]
        if own_pred is not None and fitted.blend < 1:
            pred = fitted.blend * pred + (1 - fitted.blend) * own_pred
        row[name] = _r(pred, y)
        row[f"{name}_fit"] = {"lag": fitted.lag, "pull": fitted.pull, "blend": fitted.blend,
                              "cv_r": round(fitted.cv_r, 3)}
    return row


def _closure(aperture: np.ndarray, frames: np.ndarray, limit: float) -> float:
    return float(np.mean(aperture[frames] < limit)) if frames.any() else float("nan")


def plan_stage(renderer: Renderer, train: np.ndarray, test: np.ndarray, fps: float, n: int, y: np.ndarray, *,
               grid: bool = False) -> dict:
    """Aperture r of the timeline's targets (recognised phones, untrusted: the dub path) per setting."""
    from fidelity import pause_split, silence_frames

    phones, trusted = audio_phones(prepare_audio(test, RATE), None, None)
    pause = silence_frames(test, fps, n)
    inner, outer = pause_split(pause, fps, ENGINE.inner_pause_s)
    priors = renderer.priors
    # the Face's pause openings at each quantile, measured on its footage as the build does (the median is
    # the stored habit: ``habit_check`` compares them)
    state = renderer.graph.state == 1
    openings = pause_openings(train, RATE, np.asarray(renderer.tracks.aperture), float(renderer.tracks.fps), priors,
                              ENGINE, speaking=state)
    habits = {q: None if openings is None else habit_share(openings, q) for q in (0.5, *QUANTILES)}
    predicted = renderer.predict_mouth(test, n, fps)
    row: dict = {"habit": priors.pause_share, "habit_check": habits[0.5], "habit_open": priors.pause_open,
                 **{f"habit_q{q}": habits[q] for q in QUANTILES}}
    for name, (changes, quantile) in timelines(grid).items():
        config = replace(ENGINE, **changes)
        wide = priors.pause_open if quantile is None else habits.get(quantile, quantile)
        tl = build_timeline(test, RATE, fps=fps, n_frames=n, phones=phones,
                            priors=replace(priors, pause_open=wide), config=config, predicted=predicted,
                            trust_phones=trusted, mouth_lead=renderer.mouth_lead)
        ap = np.asarray(tl.aperture, np.float64)
        row[f"plan_{name}"] = _r(ap, y)
        limit = priors.closed_limit
        row[f"plan_silence_closure_{name}"] = _closure(ap, pause, limit)
        row[f"plan_inner_closure_{name}"] = _closure(ap, inner, limit)
        row[f"plan_outer_closure_{name}"] = _closure(ap, outer, limit)
        if name == "engine":
            engine = ap
    # the plan's input (the Face's prediction as the renderer makes it), and the same with the audio's pauses
    # as the engine plans them: what the plan could keep while the lips close in every pause
    model = predicted[:, 0] if predicted is not None else np.full(n, np.nan)
    row["plan_input"] = _r(model, y)
    row["plan_input_pauses_closed"] = _r(np.where(pause, engine, model), y)
    # how the footage itself holds its lips in those pauses (the Face's closed/open range)
    share = (y[pause] - priors.closed) / (priors.open - priors.closed)
    row["footage_silence_closure"] = _closure(y, pause, priors.closed_limit)
    row["footage_inner_closure"] = _closure(y, inner, priors.closed_limit)
    row["footage_outer_closure"] = _closure(y, outer, priors.closed_limit)
    row["footage_pause_share"] = float(np.nanmedian(share)) if pause.any() else float("nan")
    row["pause_frames"] = int(pause.sum())
    row["inner_pause_frames"] = int(inner.sum())
    return row


def run_clip(clip, general: lipsync.GeneralLipModel, work: Path, *, models: bool = True,  # noqa: ANN001 - Clip
             grid: bool = False) -> dict:
    from _corpus import _cache_file, cached_tracker

    info = media.probe(clip.path)
    assert info.video is not None
    split = round(info.duration_s * TRAIN_SHARE, 2)
    train_tracks = cached_tracker(f"{clip.name}-0-{split}")
    with lipsync.general_override(general):
        bundle = build_face(clip.path, name=clip.name, out_dir=work, source_range=(0.0, split),
                            thresholds=Thresholds(min_duration_s=2.0, cut_hist_distance=2.0),
                            track_frames=train_tracks)
    renderer = Renderer(load_bundle(bundle), size=(64, 48))
    gt_path = _cache_file(f"{clip.name}-{split}-end")
    if not gt_path.exists():  # the held-out footage's tracks, as bench/fidelity.py caches them
        fps = float(info.video.fps)
        frames = [f.image for f in media.iter_frames(clip.path, start_s=split)]
        h, w = frames[0].shape[:2]
        from facecraft.media.types import Frame

        cached_tracker(f"{clip.name}-{split}-end")((Frame(i, i / fps, im) for i, im in enumerate(frames)),
                                                   fps=fps, width=w, height=h)
    gt = Tracks.load(gt_path)
    tracks = Tracks.load(_cache_file(f"{clip.name}-0-{split}"))
    n, fps = len(gt), float(gt.fps)
    audio = media.read_audio(clip.path, sample_rate=RATE).samples.astype(np.float32)
    a = int(round(split * RATE))
    want = int(round(n / fps * RATE))
    test = np.pad(audio[a: a + want], (0, max(0, want - len(audio[a: a + want])))).astype(np.float32)
    y = np.asarray(gt.aperture, np.float64)
    row = {"clip": clip.name, "dev": clip.dev, "speaker": clip.speaker, "frames": n, "train_s": split,
           **(model_stage(general, np.ascontiguousarray(audio[:a]), tracks, test, fps, n, y) if models else {}),
           **plan_stage(renderer, np.ascontiguousarray(audio[:a]), test, fps, n, y, grid=grid)}
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()
                      if not isinstance(v, dict)}), file=sys.stderr, flush=True)
    return row


def _mean(rows: list[dict], key: str) -> float:
    vals = [r[key] for r in rows if isinstance(r.get(key), (int, float)) and r[key] is not None]
    return float(np.nanmean(vals)) if vals and np.isfinite(vals).any() else float("nan")


def main(argv: list[str] | None = None) -> int:
    from _corpus import clips as corpus_clips
    from _corpus import load_training_data

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", nargs="+", help="clip names (default: the 13 of fidelity_loso_subset.json)")
    parser.add_argument("--tune", action="store_true",
                        help="the clips outside fidelity_loso_subset.json (where settings are chosen)")
    parser.add_argument("--plan-only", action="store_true", help="no model stage (the plan settings only: fast)")
    parser.add_argument("--grid", action="store_true",
                        help="plan every inner_pause_s x wide-habit quantile x long_pause too")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "lipsync_stages.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    subset = [Path(p).stem for p in json.loads(SUBSET.read_text())["inputs"]]
    if args.tune:
        chosen = [c for c in corpus_clips() if c.name not in subset]
    else:
        names = args.clips or subset
        chosen = [c for c in corpus_clips() if c.name in names]
    data = load_training_data()
    rows = []
    with tempfile.TemporaryDirectory(prefix="lipsync-stages-") as tmp:
        for clip in chosen:
            general = lipsync.fit_general([d for d in data if d.speaker != clip.speaker])
            rows.append(run_clip(clip, general, Path(tmp), models=not args.plan_only, grid=args.grid))
    settings = timelines(args.grid)
    keys = [*([] if args.plan_only else ["own", *ADAPT]), "plan_input", "plan_input_pauses_closed",
            *(f"plan_{k}" for k in TIMELINE), *(f"plan_silence_closure_{k}" for k in TIMELINE),
            "footage_silence_closure", "footage_inner_closure", "footage_outer_closure", "footage_pause_share"]
    every = keys + [f"plan_{m}_{k}" for k in settings for m in ("inner_closure", "outer_closure")] + [
        f"plan_{k}" for k in settings if k not in TIMELINE]
    groups = {"dev": [r for r in rows if r["dev"]], "corpus": [r for r in rows if not r["dev"]], "all": rows}
    mean = {g: {k: _mean(rs, k) for k in every} for g, rs in groups.items()}
    print(f"{'clip':<32}" + "".join(f"{k[:14]:>15}" for k in keys))
    for r in rows:
        print(f"{r['clip'][:31]:<32}" + "".join(f"{r.get(k, float('nan')):>15.3f}" for k in keys))
    for g, vals in mean.items():
        print(f"{'MEAN ' + g:<32}" + "".join(f"{vals[k]:>15.3f}" for k in keys))
    # per setting: the plan's r and where its pauses close (inner: short pauses inside speech, outer: the rest)
    print(f"\n{'setting':<28}{'r all':>8}{'r dev':>8}{'r corp':>8}{'inner cl':>9}{'outer cl':>9}")
    for k in settings:
        a = mean["all"]
        print(f"{k:<28}{a[f'plan_{k}']:>8.3f}{mean['dev'][f'plan_{k}']:>8.3f}{mean['corpus'][f'plan_{k}']:>8.3f}"
              f"{a[f'plan_inner_closure_{k}']:>9.3f}{a[f'plan_outer_closure_{k}']:>9.3f}")
    write_result(args.out, {"bench": "lipsync_stages", "machine": machine_info(), "adapt": {
        k: {"params": {p: list(v) if isinstance(v, tuple) else v for p, v in c.items()}, "blend": b}
        for k, (c, b) in ADAPT.items()},
        "timeline": {k: {"config": c, "quantile": q} for k, (c, q) in settings.items()},
        "engine": {"inner_pause_s": ENGINE.inner_pause_s, "pause_open_quantile": ENGINE.pause_open_quantile,
                   "long_pause": ENGINE.long_pause},
        "inputs": [str(c.path) for c in chosen], "mean": mean, "clips": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
