"""Lip-sync fidelity by self-reconstruction on held-out footage.

For each clip with audio: build a Face from the first 70 % only; re-voice the last 30 % in dub mode
from its own audio (no transcript); track the result and the ground truth with the same tracker and
compare. Baselines in the same run: "still" (the ground truth with one fixed closed mouth pasted in)
and "random" (mouths drawn at random from the database).

    .venv/bin/python bench/fidelity.py [--videos PATH ...] [--out bench/results/fidelity.json]
    .venv/bin/python bench/fidelity.py --loso [--clips NAME ...] [--out bench/results/fidelity_loso.json]
    .venv/bin/python bench/fidelity.py --loso --merge PART.json ... [--out ...]   (parts of one run, joined)
    .venv/bin/python bench/fidelity.py --footage     (the bilabial and A/V measures on the footage alone)
    ... [--inner-pause-s S] [--long-pause rest|tail|habit]   (the engine's pause settings for the renders)

``--loso``: leave-one-speaker-out over the corpus (``../shared/testdata/corpus``, 26 people) and the dev
clips: for each speaker, the speaker-independent lip-sync model is retrained without that speaker's
clips (``scripts/train_lipsync.py``'s ``fit_general``) and the Face built from the clip's first 70 %
adapts it, so no model has seen the person it is scored on. Short clips are allowed (the upload
check's 5 s minimum is lowered for the bench). Tracks of the clips are cached (``bench/_corpus.py``).

Besides the lip-shape figures: ``mouth_sharpness`` (variance of the Laplacian in the mouth box of the
generated frames over that of the real ones), and for the text path ``bilabial_error_frames``: the
clip's audio is recognised (Whisper) and force-aligned, re-voiced with those phones trusted as a
transcript's would be, and for each p/b/m (not right after a pause) the frame where the generated lips
close minus the phone's first frame (see ``bilabial_closures``); ``bilabial_within_1`` is the share
within one frame. The same measure on the real footage is ``bilabial_error_footage``: the footage's
closures lead the aligned phones by a per-recording offset (0..4 frames: the recording's A/V sync and the
aligner), so the footage is no reference for the absolute timing; ``bilabial_within_1_of_median_footage``
is its scatter about its own offset. The first measure is kept beside it (``*_v1``). A/V offset:
``av_offset_frames`` (the first, dot-product leads), ``av_offset_pearson_frames`` (leads by correlation,
``lead_pearson``) with the footage's and the render's own leads over the loudness.

Silence closure (share of the audio's pauses >= 200 ms whose generated lips read closed) is split
(``pause_split``, at the engine's default ``inner_pause_s``): ``inner_silence_closure``, the short pauses
inside speech, where the engine lets the lips follow the model up to the Face's wide habit, and
``outer_silence_closure``, the silence before the first word and after the last and the longer pauses,
where they close; the footage's own beside each (``*_footage``). ``--inner-pause-s 0 --long-pause habit``
plans pauses as the engine did before that split.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from skimage.metrics import structural_similarity

from _common import REPO, TESTDATA, clip_means, machine_info, run_clips, write_result
from facecraft import media
from facecraft.engine import Renderer
from facecraft.engine.audio_model import mouth_lead, rms_envelope
from facecraft.engine.compose import laplacian_variance
from facecraft.engine.config import EngineConfig
from facecraft.faces.build import build_face
from facecraft.faces.bundle import load_bundle
from facecraft.faces.thresholds import Thresholds
from facecraft.media.types import Frame
from facecraft.perform import DubPlan, dub_frames, select_dub_mouths
from facecraft.speech.vad import speech_mask
from facecraft.vision import landmarks as lm
from facecraft.vision import track_frames
from facecraft.vision.masks import lower_face_polygon, mask_edge
from facecraft.vision.smoothing import runs
from facecraft.vision.types import Tracks
from facecraft.vision.warp import apply_affine, fit_similarity, invert_affine

TRAIN_SHARE = 0.7
CONFIG = EngineConfig()  # the renders' engine parameters (--pause-habit, --inner-pause-s, --long-pause-habit)
SPLIT_S = EngineConfig().inner_pause_s  # the silence closure's split (the engine's default, whatever a run plans)
RATE = 16000
KEYS = ("aperture_r", "plan_aperture_r", "mlmd", "mlmd_still", "mlmd_random", "silence_closure", "text_silence_closure",
        "inner_silence_closure", "outer_silence_closure", "inner_silence_closure_footage",
        "outer_silence_closure_footage", "text_inner_silence_closure", "text_outer_silence_closure",
        "av_offset_frames",
        "av_offset_direct_frames", "lf_psnr", "lf_ssim", "lf_ssim_random", "seam", "mouth_sharpness",
        "bilabial_abs_error", "bilabial_within_1", "bilabial_within_1_footage", "bilabial_within_1_of_median_footage",
        "bilabial_within_1_v1", "bilabial_within_1_footage_v1", "av_lead_footage_frames",
        "av_lead_generated_frames", "av_offset_pearson_frames")
TABLE = ("aperture_r", "plan_aperture_r", "mlmd", "mlmd_still", "silence_closure", "inner_silence_closure",
         "outer_silence_closure", "av_offset_frames",
         "av_offset_direct_frames", "av_offset_pearson_frames", "lf_ssim", "mouth_sharpness", "bilabial_within_1")
BILABIAL = {"P", "B", "M"}
LIPS = list(dict.fromkeys(list(lm.LIPS_OUTER) + list(lm.LIPS_INNER)))


def default_videos() -> list[Path]:
    out = []
    for path in sorted((TESTDATA / "video").glob("*.mp4")):
        info = media.probe(path)
        if info.audio is not None and info.video is not None:
            out.append(path)
    return out


def track(frames: list[np.ndarray], fps: float) -> Tracks:
    h, w = frames[0].shape[:2]
    return track_frames((Frame(i, i / fps, im) for i, im in enumerate(frames)), fps=fps, width=w, height=h)


def mlmd(gen: Tracks, gt: Tracks) -> float:
    """Mean lip-landmark distance after similarity alignment on stable points, / iod x 100."""
    vals = []
    stable = list(lm.STABLE)
    for i in range(min(len(gen), len(gt))):
        if not (gen.present[i] and gt.present[i]):
            continue
        mat = fit_similarity(gen.landmarks[i, stable], gt.landmarks[i, stable])
        lips = apply_affine(mat, gen.landmarks[i, LIPS])
        d = np.linalg.norm(lips - gt.landmarks[i, LIPS, :2], axis=1).mean()
        vals.append(d / gt.interocular[i] * 100)
    return float(np.mean(vals)) if vals else float("nan")


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def lead_pearson(aperture: np.ndarray, envelope: np.ndarray, max_frames: int = 10) -> int:
    """Frames by which ``aperture`` leads ``envelope`` (as ``audio_model.mouth_lead``), chosen by the
    correlation over the overlap at each shift rather than the raw dot product (which favours small
    shifts by their longer overlap and, on a few seconds, lands on the search's edge in a third of clips)."""
    a, e = np.asarray(aperture, np.float64), np.asarray(envelope, np.float64)
    n = min(len(a), len(e))
    best, best_r = 0, -np.inf
    for lead in range(-max_frames, max_frames + 1):
        x, y = (a[: n - lead], e[lead:n]) if lead >= 0 else (a[-lead:n], e[: n + lead])
        r = pearson(x, y)
        if np.isfinite(r) and r > best_r:
            best, best_r = lead, r
    return best


def silence_frames(samples: np.ndarray, fps: float, n: int) -> np.ndarray:
    """Frames inside audio pauses of at least 200 ms (including before the first and after the last word)."""
    speech = np.zeros(n, bool)
    mask = speech_mask(samples, RATE, frame_s=1.0 / fps, hangover_ms=0, min_speech_ms=60)[:n]
    speech[: mask.size] = mask
    out = np.zeros(n, bool)
    for a, b in runs(~speech):
        if (b - a) / fps >= 0.2:
            out[a:b] = True
    return out


def edge_frames(sil: np.ndarray) -> np.ndarray:
    """Of ``silence_frames``, those before the first word and after the last (an utterance's edges)."""
    out = np.zeros_like(sil)
    for a, b in runs(sil):
        if a == 0 or b == len(sil):
            out[a:b] = True
    return out


def pause_split(sil: np.ndarray, fps: float, inner_s: float) -> tuple[np.ndarray, np.ndarray]:
    """(inner, outer) of ``silence_frames``: the pauses inside speech shorter than ``inner_s`` (where the lips
    may stay apart, ``EngineConfig.inner_pause_s``) and the rest: the silence before the first word and after
    the last and the longer pauses (where they close)."""
    edge = edge_frames(sil)
    inner = np.zeros_like(sil)
    for a, b in runs(sil & ~edge):
        if (b - a) / fps < inner_s:
            inner[a:b] = True
    return inner, sil & ~inner


def closure(aperture: np.ndarray, frames: np.ndarray, closed_limit: float) -> float:
    """Share of ``frames`` whose lips are together (NaN: none)."""
    return float(np.mean(np.nan_to_num(aperture[frames], nan=1.0) < closed_limit)) if frames.any() else float("nan")


def lower_face_box(points: np.ndarray, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    poly = lower_face_polygon(points, grow=0.1, nose_clear=0.0)  # the same region as before the mask moved
    x0, y0 = np.floor(poly.min(0)).astype(int)
    x1, y1 = np.ceil(poly.max(0)).astype(int)
    h, w = shape
    return max(0, x0), max(0, y0), min(w, x1), min(h, y1)


def region_scores(gen: list[np.ndarray], gt: list[np.ndarray], gt_tracks: Tracks) -> tuple[float, float]:
    psnrs, ssims = [], []
    for i, (a, b) in enumerate(zip(gen, gt)):
        if not gt_tracks.present[i]:
            continue
        x0, y0, x1, y1 = lower_face_box(gt_tracks.landmarks[i], b.shape[:2])
        if x1 - x0 < 8 or y1 - y0 < 8:
            continue
        ca, cb = a[y0:y1, x0:x1].astype(np.float64), b[y0:y1, x0:x1].astype(np.float64)
        mse = np.mean((ca - cb) ** 2)
        psnrs.append(10 * np.log10(255.0**2 / max(mse, 1e-6)))
        ga = cv2.cvtColor(a[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)
        gb = cv2.cvtColor(b[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)
        ssims.append(structural_similarity(ga, gb, data_range=255))
    return float(np.mean(psnrs)), float(np.mean(ssims))


def seam_score(renderer: Renderer, gen: list[np.ndarray], gt: list[np.ndarray], tracks: Tracks,
               plan: DubPlan) -> float:
    """Gradient energy on the blend boundary of the generated frames / the same place in the real ones."""
    ratios = []
    comp = renderer.compositor
    mouths = plan.mouths
    for i in range(0, len(gen), 3):
        if not tracks.present[i] or mouths[i] < 0:
            continue
        geo = comp.geometry(tracks.landmarks[i])
        mask = comp.mask(mouths[i], geo, None if plan.aperture is None else float(plan.aperture[i]))
        h, w = gt[i].shape[:2]
        full = cv2.warpAffine(mask, invert_affine(geo.to_patch), (w, h), flags=cv2.INTER_LINEAR)
        band = mask_edge(full)
        if band.sum() < 20:
            continue
        energy = []
        for img in (gen[i], gt[i]):
            g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
            gx, gy = cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1)
            energy.append(float(np.sqrt(gx**2 + gy**2)[band].mean()))
        if energy[1] > 1e-3:
            ratios.append(energy[0] / energy[1])
    return float(np.mean(ratios)) if ratios else float("nan")


def mouth_box(points: np.ndarray, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """The outer lips' box grown by a quarter of its width on every side."""
    lips = points[list(lm.LIPS_OUTER), :2]
    x0, y0 = lips.min(0)
    x1, y1 = lips.max(0)
    pad = 0.25 * (x1 - x0)
    h, w = shape
    return (max(0, int(x0 - pad)), max(0, int(y0 - pad)), min(w, int(np.ceil(x1 + pad))),
            min(h, int(np.ceil(y1 + pad))))


def mouth_sharpness(gen: list[np.ndarray], gt: list[np.ndarray], gt_tracks: Tracks) -> float:
    """Mean variance of the Laplacian in the mouth box of the generated frames / of the real ones."""
    a, b = [], []
    for i, (g, r) in enumerate(zip(gen, gt)):
        if not gt_tracks.present[i]:
            continue
        x0, y0, x1, y1 = mouth_box(gt_tracks.landmarks[i], r.shape[:2])
        if x1 - x0 < 8 or y1 - y0 < 8:
            continue
        a.append(laplacian_variance(g[y0:y1, x0:x1]))
        b.append(laplacian_variance(r[y0:y1, x0:x1]))
    return float(np.mean(a) / np.mean(b)) if b and np.mean(b) > 0 else float("nan")


def _bilabial_phones(phones: list, fps: float) -> list[tuple[int, int, str]]:
    """(first frame, last frame, symbol) of each p/b/m that has a closure to time: not right after a pause
    or another bilabial (the lips are already closed there)."""
    out = []
    for k, p in enumerate(phones):
        if p.symbol.upper() not in BILABIAL:
            continue
        before = phones[k - 1] if k else None
        if before is None or before.symbol.upper() in BILABIAL | {"SIL"} or p.start - before.start < 0.03:
            continue
        f0 = int(np.floor(p.start * fps))
        out.append((f0, max(f0, int(np.ceil(p.end * fps)) - 1), p.symbol.upper()))
    return out


def bilabial_errors_v1(aperture: np.ndarray, phones: list, fps: float, span: float) -> list[int]:
    """The first measure (kept beside ``bilabial_closures`` to compare): per p/b/m, the start of the run of
    frames within 15 % of ``span`` of the smallest aperture in the window 6 frames before to 3 after the
    phone (the run overlapping the phone, else the nearest) minus the phone's first frame.

    Where the lips are already nearly closed before the phone (``...d m``, ``...ts b``) the run starts at the
    window's edge and the error reads -6 whatever the lips do: a fifth of the footage's own errors."""
    ap = np.asarray(aperture, dtype=np.float64)
    n = len(ap)
    out = []
    for f0, f1, _ in _bilabial_phones(phones, fps):
        a, b = max(0, f0 - 6), min(n, f1 + 4)
        window = ap[a:b]
        if b - a < 3 or not np.isfinite(window).any():
            continue
        closed = np.nan_to_num(window, nan=np.inf) <= np.nanmin(window) + 0.15 * span
        best = None
        for r0, r1 in runs(closed):
            s0, s1 = a + r0, a + r1 - 1
            gap = 0 if s1 >= f0 and s0 <= f1 else min(abs(s0 - f1), abs(s1 - f0))
            if best is None or gap < best[0]:
                best = (gap, s0)
        out.append(int(best[1] - f0))
    return out


CLOSURE_DEPTH = 0.2  # share of the speaker's closed-to-open range the lips must fall by to time a closure
CLOSED_SHARE = 0.25  # closed: within this share of the way from the open peak down to the minimum


def bilabial_closures(aperture: np.ndarray, phones: list, fps: float, span: float) -> list[int | None]:
    """Per p/b/m (see ``_bilabial_phones``): the first frame the lips are closed minus the phone's first frame,
    or None where the lips make no closure to time (they fall by less than ``CLOSURE_DEPTH`` of ``span``).

    The closure is the smallest aperture from 4 frames before the phone to 2 after it; the open peak is the
    largest of the 8 frames before that; the lips count as closed from the first frame after the peak within
    ``CLOSED_SHARE`` of the way from the peak down to the minimum. Hand-checked on mouth crops of
    styletalk_KristiNoem and pcavs_741400163: the frame found is the first with the lips sealed, and the
    cases without a closure are phones after nearly closed lips (``would m``, ``ts b``)."""
    ap = np.asarray(aperture, dtype=np.float64)
    n = len(ap)
    out: list[int | None] = []
    for f0, f1, _ in _bilabial_phones(phones, fps):
        a, b = max(0, f0 - 4), min(n, f1 + 3)
        if b - a < 3 or not np.isfinite(ap[a:b]).all():
            continue
        low = a + int(np.argmin(ap[a:b]))
        p0 = max(0, low - 8)
        window = ap[p0: low + 1]
        if low == p0 or not np.isfinite(window).all():
            out.append(None)
            continue
        peak = p0 + int(np.argmax(window))
        depth = ap[peak] - ap[low]
        if depth < CLOSURE_DEPTH * span:
            out.append(None)
            continue
        closed = ap[peak: low + 1] <= ap[low] + CLOSED_SHARE * depth
        out.append(int(peak + np.argmax(closed) - f0))
    return out


def _within_1(errors: list) -> float:
    timed = np.array([e for e in errors if e is not None], dtype=np.float64)
    return float(np.mean(np.abs(timed) <= 1)) if timed.size else float("nan")


def _within_1_of_median(errors: list) -> float:
    timed = np.array([e for e in errors if e is not None], dtype=np.float64)
    return float(np.mean(np.abs(timed - np.median(timed)) <= 1)) if timed.size else float("nan")


def text_path_scores(renderer: Renderer, gt: list[np.ndarray], gt_tracks: Tracks, samples: np.ndarray,
                     fps: float) -> dict:
    """Re-voice with recognised, force-aligned phones trusted as a transcript's; bilabial timing.

    A clip whose speech is not recognised and aligned (phone-loop decoding, or no speech) has no text
    path: its phones are not a transcript's (half of them wrong), so it is not scored."""
    from facecraft.speech.align import align_audio

    try:
        alignment = align_audio(samples, RATE)
    except Exception as exc:  # noqa: BLE001 - a clip with no recognisable speech has no text path
        return {"bilabials": 0, "text_error": str(exc)}
    if alignment.source != "align":
        return {"bilabials": 0, "text_error": f"no transcript: alignment fell back to {alignment.source}"}
    plan = select_dub_mouths(renderer, gt_tracks, samples, RATE, alignment=alignment)
    gen_tracks = track(list(dub_frames(renderer, gt, gt_tracks, plan)), fps)
    span = renderer.priors.open - renderer.priors.closed
    errors = bilabial_closures(gen_tracks.aperture, alignment.phones, fps, span)
    footage = bilabial_closures(gt_tracks.aperture, alignment.phones, fps, span)
    timed = [e for e in errors if e is not None]
    old = bilabial_errors_v1(gen_tracks.aperture, alignment.phones, fps, span)
    old_footage = bilabial_errors_v1(gt_tracks.aperture, alignment.phones, fps, span)
    nan = float("nan")
    sil = silence_frames(samples, fps, len(gt))
    return {
        "words": " ".join(w.text for w in alignment.words),
        # pauses (>= 200 ms, the leading and trailing quiet included) with the lips together on the text path
        "text_silence_closure": float(np.mean(np.nan_to_num(gen_tracks.aperture[sil], nan=1.0)
                                              < renderer.priors.closed_limit)) if sil.any() else nan,
        "text_edge_silence_closure": closure(gen_tracks.aperture, edge_frames(sil), renderer.priors.closed_limit),
        # split: short pauses inside speech (may stay apart) / the edges and longer pauses (close)
        **{f"text_{k}_silence_closure": closure(gen_tracks.aperture, frames, renderer.priors.closed_limit)
           for k, frames in zip(("inner", "outer"), pause_split(sil, fps, SPLIT_S))},
        "bilabials": len(timed),
        "bilabials_untimed": len(errors) - len(timed),
        "bilabial_error_frames": errors,
        "bilabial_abs_error": float(np.mean(np.abs(timed))) if timed else nan,
        "bilabial_within_1": _within_1(errors),
        "bilabial_error_footage": footage,
        "bilabial_within_1_footage": _within_1(footage),
        # the footage against itself: its closures scatter about a per-recording offset (A/V sync, aligner)
        "bilabial_within_1_of_median_footage": _within_1_of_median(footage),
        "bilabial_error_frames_v1": old,
        "bilabial_within_1_v1": float(np.mean(np.abs(old) <= 1)) if old else nan,
        "bilabial_within_1_footage_v1": float(np.mean(np.abs(old_footage) <= 1)) if old_footage else nan,
    }


def run_clip(video: Path, work: Path, *, loso: bool = False) -> dict:
    info = media.probe(video)
    assert info.video is not None
    duration = info.duration_s
    split = round(duration * TRAIN_SHARE, 2)
    t0 = time.perf_counter()
    extra = {}
    if loso:  # short or cut corpus clips: relax those upload checks; tracks of the 70 % are cached
        from _corpus import cached_tracker

        extra = {"thresholds": Thresholds(min_duration_s=2.0, cut_hist_distance=2.0),
                 "track_frames": cached_tracker(f"{video.stem}-0-{split}")}
    bundle_dir = build_face(video, name=video.stem, out_dir=work, source_range=(0.0, split), **extra)
    build_s = time.perf_counter() - t0
    renderer = Renderer(load_bundle(bundle_dir), config=CONFIG)
    fps = float(info.video.fps)
    gt = [f.image for f in media.iter_frames(video, start_s=split)]
    n = len(gt)
    audio = media.read_audio(video, sample_rate=RATE).samples
    a = int(round(split * RATE))
    samples = audio[a: a + int(round(n / fps * RATE))]
    if len(samples) < int(round(n / fps * RATE)):
        samples = np.pad(samples, (0, int(round(n / fps * RATE)) - len(samples)))
    if loso:
        from _corpus import cached_tracker

        h, w = gt[0].shape[:2]
        gt_tracks = cached_tracker(f"{video.stem}-{split}-end")(
            (Frame(i, i / fps, im) for i, im in enumerate(gt)), fps=fps, width=w, height=h)
    else:
        gt_tracks = track(gt, fps)
    t0 = time.perf_counter()
    plan = select_dub_mouths(renderer, gt_tracks, samples, RATE)
    gen = list(dub_frames(renderer, gt, gt_tracks, plan))
    dub_s = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    db = renderer.db
    rand_mouths = [int(m) for m in rng.integers(0, len(db), n)]
    closed = int(np.argmin(np.abs(db.features[:, 0] - renderer.priors.closed)))
    rand = list(dub_frames(renderer, gt, gt_tracks, DubPlan(rand_mouths)))
    still = list(dub_frames(renderer, gt, gt_tracks, DubPlan([closed] * n)))
    gen_tracks, rand_tracks, still_tracks = track(gen, fps), track(rand, fps), track(still, fps)
    # restore the ground truth's own geometry: the dub keeps it, the tracker may jitter slightly
    closed_limit = renderer.priors.closed_limit
    sil = silence_frames(samples, fps, n)
    inner, outer = pause_split(sil, fps, SPLIT_S)
    gen_ap = gen_tracks.aperture
    env = rms_envelope(samples, RATE, fps, n)
    psnr, ssim = region_scores(gen, gt, gt_tracks)
    _, ssim_rand = region_scores(rand, gt, gt_tracks)
    # the lip-sync model's own figures; a Face mixing it with its own log-mel model (``BlendedMouthModel``) holds it
    model = getattr(renderer.audio_model, "lip", renderer.audio_model)
    return {
        "clip": video.name,
        "frames": n,
        "fps": fps,
        "train_s": split,
        "test_s": round(n / fps, 2),
        "size": [info.video.width, info.video.height],
        "build_seconds": round(build_s, 2),
        "dub_seconds": round(dub_s, 2),
        "aperture_r": pearson(gen_ap, gt_tracks.aperture),
        # the planned aperture (the timeline's target the render is asked for) against the footage: where
        # aperture_r falls below it, the render loses what the plan had
        "plan_aperture_r": pearson(np.asarray(plan.aperture, np.float64), gt_tracks.aperture),
        "mlmd": mlmd(gen_tracks, gt_tracks),
        "mlmd_still": mlmd(still_tracks, gt_tracks),
        "mlmd_random": mlmd(rand_tracks, gt_tracks),
        "silence_frames": int(sil.sum()),
        "silence_closure": float(np.mean(np.nan_to_num(gen_ap[sil], nan=1.0) < closed_limit)) if sil.any()
        else float("nan"),
        # the same measure on the held-out footage itself (its own habit), and the Face's pause habit measured
        # at build on its first 70 % (``timeline.pause_habit``; None: not measured, the default)
        "silence_closure_footage": float(np.mean(np.nan_to_num(gt_tracks.aperture[sil], nan=1.0) < closed_limit))
        if sil.any() else float("nan"),
        "pause_share": renderer.priors.pause_share,
        # the silence before the first word and after the last only: there the lips rest whatever the habit
        "edge_silence_closure": closure(gen_ap, edge_frames(sil), closed_limit),
        "edge_silence_closure_footage": closure(gt_tracks.aperture, edge_frames(sil), closed_limit),
        # split: short pauses inside speech (``EngineConfig.inner_pause_s``: the lips may stay apart, as the
        # footage's mostly do) / the edges and longer pauses (they close), the footage's own beside each
        "inner_silence_frames": int(inner.sum()),
        "inner_silence_closure": closure(gen_ap, inner, closed_limit),
        "inner_silence_closure_footage": closure(gt_tracks.aperture, inner, closed_limit),
        "outer_silence_closure": closure(gen_ap, outer, closed_limit),
        "outer_silence_closure_footage": closure(gt_tracks.aperture, outer, closed_limit),
        "pause_open": renderer.priors.pause_open,
        # Frame lag of the generated mouth behind the audio, minus the ground truth's (max 10 frames).
        "av_offset_frames": mouth_lead(gt_tracks.aperture, env, 10) - mouth_lead(gen_ap, env, 10),
        # The same offset read directly: frames the generated aperture lags the ground truth's. The
        # envelope route is noisy where the real lips follow the loudness weakly (r ~ 0.2 on 6 s).
        "av_offset_direct_frames": mouth_lead(gt_tracks.aperture, gen_ap, 10),
        # the leads over the loudness by correlation (``lead_pearson``): the footage's own, the render's, and
        # the render's offset from the footage (the target: the footage's lead +-1 frame)
        "av_lead_footage_frames": lead_pearson(gt_tracks.aperture, env),
        "av_lead_generated_frames": lead_pearson(gen_ap, env),
        "av_offset_pearson_frames": lead_pearson(gt_tracks.aperture, env) - lead_pearson(gen_ap, env),
        "lf_psnr": psnr,
        "lf_ssim": ssim,
        "lf_ssim_random": ssim_rand,
        "seam": seam_score(renderer, gen, gt, gt_tracks, plan),
        "mouth_sharpness": mouth_sharpness(gen, gt, gt_tracks),
        "model_lag_frames": getattr(model, "lag", None),
        "model_blend_share": getattr(renderer.audio_model, "share", None),
        "model_cv_r": getattr(model, "cv_r", None),
        **text_path_scores(renderer, gt, gt_tracks, samples, fps),
    }


def loso_run(names: list[str] | None, work: Path) -> tuple[list[Path], list[dict]]:
    """Every corpus and dev clip (or those named), each scored by a Face whose general lip-sync model was
    trained without its speaker."""
    from _corpus import held_out
    from facecraft.engine import lipsync

    paths, rows = [], []
    for clip, model in held_out(names):
        paths.append(clip.path)

        def run(video: Path, model=model, clip=clip) -> dict:  # noqa: ANN001
            with lipsync.general_override(model):
                row = {**run_clip(video, work, loso=True), "speaker": clip.speaker, "dev": clip.dev}
            figures = (f"{k}={row[k]:.3f}" for k in TABLE if isinstance(row.get(k), float))
            print(" ".join(figures), file=sys.stderr)
            return row

        rows += run_clips([clip.path], run)
    return paths, rows


def footage_run() -> dict:
    """The measures on the footage alone, whole clips (no render): how the real lips time their bilabial
    closures against the aligned phones and lead the loudness, per clip, with both versions of each."""
    from _corpus import clip_audio, clip_tracks
    from _corpus import clips as corpus_clips
    from facecraft.speech.align import align_audio

    rows = []
    for clip in corpus_clips():
        tracks = clip_tracks(clip)
        n, fps = len(tracks), tracks.fps
        samples = clip_audio(clip, n, fps)
        env = rms_envelope(samples, RATE, fps, n)
        ok = np.isfinite(tracks.aperture)
        lo, hi = np.percentile(tracks.aperture[ok], [5, 95])
        row = {"clip": clip.name, "dev": clip.dev, "frames": n, "fps": fps,
               "av_lead_dot_frames": mouth_lead(tracks.aperture, env, 10),
               "av_lead_pearson_frames": lead_pearson(tracks.aperture, env)}
        alignment = align_audio(samples, RATE)
        row["alignment"] = alignment.source
        if alignment.source == "align":
            errors = bilabial_closures(tracks.aperture, alignment.phones, fps, hi - lo)
            timed = [e for e in errors if e is not None]
            row.update(bilabial_error_footage=errors, bilabial_error_footage_v1=bilabial_errors_v1(
                tracks.aperture, alignment.phones, fps, hi - lo),
                bilabial_median_footage=float(np.median(timed)) if timed else None)
        print(clip.name, {k: v for k, v in row.items() if k != "clip"}, file=sys.stderr)
        rows.append(row)
    errors = [e for r in rows for e in r.get("bilabial_error_footage", [])]
    timed = [e for e in errors if e is not None]
    about_own = [e - r["bilabial_median_footage"] for r in rows for e in r.get("bilabial_error_footage", [])
                 if e is not None]
    v1 = [e for r in rows for e in r.get("bilabial_error_footage_v1", [])]
    leads = [r["av_lead_pearson_frames"] for r in rows]
    mean = {
        "bilabials": len(errors), "bilabials_timed": len(timed),
        "bilabial_median_frames": float(np.median(timed)),
        "bilabial_within_1": _within_1(errors),
        "bilabial_within_1_of_clip_median": _within_1(about_own),
        "bilabial_within_1_v1": _within_1(v1),
        "bilabial_v1_at_window_edge": float(np.mean(np.asarray(v1) == -6)),
        "av_lead_pearson_median_frames": float(np.median(leads)),
        "av_lead_pearson_at_edge": float(np.mean(np.abs(leads) == 10)),
        "av_lead_dot_at_edge": float(np.mean([abs(r["av_lead_dot_frames"]) == 10 for r in rows])),
    }
    for key, value in mean.items():
        print(f"{key:<36} {value:.3f}" if isinstance(value, float) else f"{key:<36} {value}")
    return {"mean": mean, "clips": rows}


def summarize(clips: list[dict], *, loso: bool) -> tuple[dict, dict]:
    """Print the table of ``clips`` with the means (per group with ``loso``) and the targets; return both."""
    ok = [c for c in clips if "error" not in c]
    mean = clip_means(clips, KEYS)
    for key in ("av_offset_frames", "av_offset_direct_frames", "av_offset_pearson_frames"):
        mean[key.replace("_frames", "_abs_frames")] = float(np.mean([abs(c[key]) for c in ok])) if ok else float("nan")
    groups = {"MEAN": ok}
    if loso:
        groups = {"MEAN dev": [c for c in ok if c["dev"]], "MEAN corpus": [c for c in ok if not c["dev"]],
                  **groups}
    for key, name in (("bilabial_error_frames", "bilabial_within_1_all"),
                      ("bilabial_error_footage", "bilabial_within_1_all_footage"),
                      ("bilabial_error_frames_v1", "bilabial_within_1_all_v1")):
        mean[name] = _within_1([e for c in ok for e in c.get(key, [])])
    mean["mlmd_over_still"] = mean["mlmd"] / mean["mlmd_still"]
    widths = {k: max(9, len(k) + 1) for k in TABLE}
    print(f"{'clip':<34}" + "".join(f"{k:>{widths[k]}}" for k in TABLE))
    for c in clips:
        if "error" in c:
            print(f"{c['clip'][:33]:<34} ERROR {c['error']}")
        else:
            print(f"{c['clip'][:33]:<34}" + "".join(f"{c.get(k, float('nan')):>{widths[k]}.3f}" for k in TABLE))
    for name, rows in groups.items():
        means = clip_means(rows, KEYS)
        print(f"{name:<34}" + "".join(f"{means[k]:>{widths[k]}.3f}" for k in TABLE))
        if name != "MEAN":
            mean[name.replace("MEAN ", "") + "_mean"] = means
    targets = {
        "aperture_r >= 0.65": mean["aperture_r"] >= 0.65,
        "mlmd <= 0.55 * mlmd_still": mean["mlmd"] <= 0.55 * mean["mlmd_still"],
        "silence_closure >= 0.95": mean["silence_closure"] >= 0.95,
        "mean |av_offset_frames| <= 1": mean["av_offset_abs_frames"] <= 1,
        "mean |av_offset_pearson_frames| <= 1 (render's lead over the loudness = footage's +-1)":
            mean["av_offset_pearson_abs_frames"] <= 1,
        "mean |av_offset_direct_frames| <= 1 (generated vs ground-truth aperture)":
            mean["av_offset_direct_abs_frames"] <= 1,
        "lf_ssim > lf_ssim_random": mean["lf_ssim"] > mean["lf_ssim_random"],
        "mouth_sharpness >= 0.8": mean["mouth_sharpness"] >= 0.8,
        "bilabials within +-1 frame >= 90% (all timed p/b/m, bilabial_closures)":
            mean["bilabial_within_1_all"] >= 0.9,
    }
    for name, met in targets.items():
        print(f"{'met' if met else 'NOT met':>8}  {name}")
    return mean, targets


def merge(paths: list[Path], out: Path, *, loso: bool) -> int:
    """Join saved runs of the same tree (a long run split into parts on a busy machine) into one result."""
    rows: dict[str, dict] = {}
    first = json.loads(paths[0].read_text())
    for path in paths:
        for row in json.loads(path.read_text())["clips"]:
            if "error" not in row or row["clip"] not in rows:
                rows[row["clip"]] = row
    clips = list(rows.values())
    mean, targets = summarize(clips, loso=loso)
    inputs = sorted({i for p in paths for i in json.loads(p.read_text())["inputs"]})
    write_result(out, {**first, "machine": machine_info(), "inputs": inputs, "merged_from": [str(p) for p in paths],
                       "mean": mean, "targets": targets, "clips": clips})
    return 0


def main(argv: list[str] | None = None) -> int:
    global CONFIG
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", nargs="+", type=Path, help="clips with audio (default: the test videos)")
    parser.add_argument("--loso", action="store_true",
                        help="leave-one-speaker-out over the corpus and dev clips")
    parser.add_argument("--clips", nargs="+", help="with --loso: only these clip names (file stems)")
    parser.add_argument("--out", type=Path, help="default bench/results/fidelity.json (fidelity_loso.json)")
    parser.add_argument("--footage", action="store_true",
                        help="no render: the bilabial and A/V measures on the corpus and dev footage itself "
                             "(whole clips; default out bench/results/fidelity_footage.json)")
    parser.add_argument("--merge", nargs="+", type=Path,
                        help="with --loso: no run; join the clips of these saved results (a later one's row of a "
                             "clip replaces an earlier one's error) and summarise them as one run")
    parser.add_argument("--pause-habit", choices=("cap", "level", "off"), default=CONFIG.pause_habit,
                        help="EngineConfig.pause_habit: the lips in pauses between words (default: the engine's)")
    parser.add_argument("--inner-pause-s", type=float, default=CONFIG.inner_pause_s,
                        help="EngineConfig.inner_pause_s: shorter pauses inside speech open to the wide habit "
                             "(0: none; with --long-pause-habit: the engine before issue 17's pause split)")
    parser.add_argument("--long-pause", choices=("rest", "tail", "habit"), default=CONFIG.long_pause,
                        help="EngineConfig.long_pause: longer pauses rest, rest but reopen before the next word, or "
                             "are capped at the habit (with --inner-pause-s 0: the engine before the split)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    CONFIG = replace(CONFIG, pause_habit=args.pause_habit, inner_pause_s=args.inner_pause_s,
                     long_pause=args.long_pause)
    out = args.out or REPO / "bench" / "results" / ("fidelity_loso.json" if args.loso else "fidelity.json")
    if args.merge:
        return merge(args.merge, out, loso=args.loso)
    if args.footage:
        write_result(args.out or REPO / "bench" / "results" / "fidelity_footage.json",
                     {"bench": "fidelity_footage", "machine": machine_info(), **footage_run()})
        return 0
    with tempfile.TemporaryDirectory(prefix="fidelity-") as tmp:
        if args.loso:
            videos, clips = loso_run(args.clips, Path(tmp))
        else:
            videos = args.videos or default_videos()
            clips = run_clips(videos, lambda video: run_clip(video, Path(tmp)))
    mean, targets = summarize(clips, loso=args.loso)
    result = {
        "bench": "fidelity_loso" if args.loso else "fidelity",
        "machine": machine_info(),
        "pause_habit": CONFIG.pause_habit,
        "pauses": {"inner_pause_s": CONFIG.inner_pause_s, "long_pause": CONFIG.long_pause,
                   "pause_open_quantile": CONFIG.pause_open_quantile, "closure_split_s": SPLIT_S},
        "protocol": {"train_share": TRAIN_SHARE, "transcript": False, "tracker": "facecraft.vision.track_frames",
                     "leave_one_speaker_out": bool(args.loso)},
        "inputs": [str(v) for v in videos],
        "mean": mean,
        "targets": targets,
        "clips": clips,
    }
    write_result(out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
