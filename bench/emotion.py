"""Emotion: does each of the eleven emotions show, grow with intensity, and leave lip-sync, identity
and the blend seams alone?

    .venv/bin/python bench/emotion.py [--faces KEY ...] [--work DIR] [--out bench/results/emotion.json]
    .venv/bin/python bench/emotion.py --stills 8 [--faces KEY ...] [--work DIR]   # the quick protocol

On each dev Face (``FACES``: four test videos, two test photos and the two stock Faces, each built here or
reused from ``--work``; ``--faces`` picks some, ``MORE`` adds the other test clips by name):
the same sentence (the Face's own voice, neutral prosody, so that every render hears the same audio)
followed by 8 s of listening, rendered for every emotion at intensities 0.5 and 1.0, plus a neutral
reference rendered with another motion seed (so that "neutral" against it measures render noise, not
zero). Every output frame is tracked with the blendshape tracker (MediaPipe Tasks FaceLandmarker).

Per emotion, against the reference and averaged over the Faces:
- ``expected``: the change of its expected blendshapes (``EXPECTED``: signed, the direction they
  should move), at 0.5 and 1.0; met when the 1.0 change is clearly above render noise (>= 0.03 and
  above 2 standard errors over the Faces) and larger than at 0.5;
- ``actions``: the same for the emotion's facial actions (``EXPECTED_ACTIONS``), each read on both of the
  tracker's channels for it (``ACTIONS``: an action's blendshapes less its opposite's), because the tracker
  reports one action through either depending on the face's resting level; ``expected`` (round 1) reads
  one channel only and is kept beside it;
- ``geometry``: the same for a few landmark measures (brow height, eye opening, mouth-corner height;
  inter-ocular units), which show what the warp does where the blendshape regressor does not react;
- ``aperture_r_drop``: the correlation of the tracked lip opening with the opening the audio asks for,
  neutral minus emotion (target <= 0.03);
- ``identity``: stable-landmark distance to the reference (after a similarity fit; x100 / iod);
- ``seam``: gradient energy on the lower-face blend boundary and on the face outline, over the
  reference's (target <= 1.05: no seam increase);
- ``lf_ssim``: lower-face SSIM against the reference (aligned on stable points; informative only);
- ``emotion_accuracy``: a nearest-centroid classifier over the blendshape changes (speech and
  listening), trained on half of the Faces and scored on the other half, both ways (target >= 0.7);
  ``emotion_accuracy_held_out``: centroids from the Faces the amplitudes were tuned on (``TUNED_ON``),
  scored on the others alone.

``--stills N`` is a quick protocol for more Faces per hour: N footage frames per Face warped with each
emotion and tracked one by one (the expression warp alone; ``run_stills``), with the same measures and
classifier; it writes ``emotion_stills.json``.

Every speech frame is tracked; every listening frame is rendered and every other one tracked (the
tracker is the bench's main cost). ``--work`` keeps each Face's result, so a run can be split and resumed,
and split over processes: several invocations with the same ``--work`` and different ``--faces`` run side
by side (one Face each at a time, about 22 renders of 12 s of video: 8 min at a quiet machine's pace,
30-40 min at a load of 20 on 2 cores), then one invocation with every Face reuses their results and
writes the tables, the JSON and the sheet.

Writes ``emotion.json`` and ``emotion_sheet.png`` (every emotion on one Face, speaking and listening)
next to it. Prosody (pitch level and range, duration, loudness per emotion against neutral) is measured
on the same sentence in the default voice, synthesised deterministically.
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
from typing import Any

import cv2
import numpy as np
from skimage.metrics import structural_similarity

from _common import REPO, TESTDATA, machine_info, write_result
from facecraft.engine import EMOTIONS, Emotion, Renderer, StreamingRenderer
from facecraft.faces.bundle import load_bundle
from facecraft.perform.speech import Piece, face_speaker, face_voice, text_pieces
from facecraft.vision import landmarks as lm
from facecraft.vision.features import geometric_features
from facecraft.vision.masks import feathered_mask, lower_face_polygon, mask_edge
from facecraft.vision.track import tracks_from_landmarks
from facecraft.vision.tracker import FaceTracker
from facecraft.vision.types import BLENDSHAPE_INDEX, BLENDSHAPE_NAMES, N_BLENDSHAPES
from facecraft.vision.warp import apply_affine, fit_similarity, normalise_shape

SENTENCE = "Thank you for calling. I have some news about your order today."
LISTEN_S = 8.0
INTENSITIES = (0.5, 1.0)
REFERENCE_SEED = 1007
LISTEN_TRACK_EVERY = 2  # every listening frame is rendered, every other one tracked (the bench's main cost)
# Eight people, four video Faces and four photo Faces (two of them the stock Faces, with their shifted stock
# voices), ordered so that each half of the classifier's split holds two of each (``accuracy``).
FACES = ("video/mimictalk_German_20s.mp4", "photo/edtalk_leijun.png", "photo/real3dportrait_Macron.png",
         "video/styletalk_Obama_clip2_muxed.mp4", "video/sadtalker_WDA_KatieHill_000.mp4", "stock/eileen-collins",
         "stock/grace-hopper", "video/videoretalking_face_2.mp4")
MORE = ("video/edtalk_uncrop_Obama.mp4", "video/latentsync_demo3_vertical_hevc.mp4",
        "photo/face_recognition_biden2.jpg", "photo/hallo_reference_6.jpg")  # by name with --faces
STOCK = Path("stock")  # ``stock/KEY``: a stock Face (faces.stock), built from the photo its package ships
SHEET_FACE = "mimictalk_German_20s"
# The Faces whose renders were looked at while the expressions' amplitudes were set (engine.emotion
# AMPLITUDE); the others in FACES were not: ``held_out_accuracy`` scores those alone.
TUNED_ON = ("mimictalk_German_20s", "edtalk_leijun", "real3dportrait_Macron", "styletalk_Obama_clip2_muxed")

# What each emotion should move, as the blendshape tracker reports it: (blendshape, +1 rises / -1 falls).
# From FACS (and ARKit's names for the action units), restricted to what MediaPipe's blendshape regressor
# reacts to: it reports raised brows as less browDown (browInnerUp/browOuterUp and eyeWide stay near 0 on
# most faces), a frown as less mouthSmile, and hardly ever noseSneer or mouthFrown.
EXPECTED: dict[str, list[tuple[str, int]]] = {
    "angry": [("browDownLeft", 1), ("browDownRight", 1), ("mouthPressLeft", 1), ("mouthPressRight", 1)],
    "excited": [("mouthSmileLeft", 1), ("mouthSmileRight", 1), ("browDownLeft", -1), ("browDownRight", -1)],
    "elated": [("mouthSmileLeft", 1), ("mouthSmileRight", 1), ("eyeSquintLeft", 1), ("eyeSquintRight", 1)],
    "content": [("mouthSmileLeft", 1), ("mouthSmileRight", 1)],
    "sad": [("browDownLeft", -1), ("browDownRight", -1), ("mouthSmileLeft", -1), ("mouthSmileRight", -1)],
    "dejected": [("mouthSmileLeft", -1), ("mouthSmileRight", -1), ("eyeBlinkLeft", 1), ("eyeBlinkRight", 1)],
    "scared": [("browDownLeft", -1), ("browDownRight", -1), ("mouthStretchLeft", 1), ("mouthStretchRight", 1)],
    "contempt": [("mouthSmileRight", 1), ("mouthSmileLeft", -1)],  # one corner: the difference grows
    "disgusted": [("browDownLeft", 1), ("browDownRight", 1), ("mouthSmileLeft", -1), ("mouthSmileRight", -1)],
    "surprised": [("browDownLeft", -1), ("browDownRight", -1), ("eyeSquintLeft", -1), ("eyeSquintRight", -1)],
}
# Landmark measures (inter-ocular units) per emotion, signed like EXPECTED.
GEOMETRY: dict[str, list[tuple[str, int]]] = {
    "angry": [("brow", -1)], "excited": [("brow", 1), ("corner_up", 1)], "elated": [("corner_up", 1)],
    "content": [("corner_up", 1)], "sad": [("inner_brow", 1), ("corner_up", -1)],
    "dejected": [("eye_open", -1), ("corner_up", -1)], "scared": [("brow", 1), ("eye_open", 1)],
    "contempt": [("corner_asym", 1)], "disgusted": [("brow", -1), ("upper_lip", 1)],
    "surprised": [("brow", 1), ("eye_open", 1)],
}
CLEAR = 0.03  # the smallest mean change that counts as clearly shown

# The same, as facial actions (the list: FACS action units), each read on the blendshapes that show
# it AND on those of the opposite action: the tracker reports one action through either, depending on the
# face's resting level (a brow raise shows as browDown falling on a face whose brows rest above zero, and as
# browInnerUp/browOuterUp rising on one whose browDown already rests at zero, where it cannot fall: the
# round-1 sets above read only browDown, so they scored a clearly raised brow as nothing on such faces).
# An action's change: the mean change of its blendshapes less the mean change of its opposites'.
ACTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "brows_up": (("browInnerUp", "browOuterUpLeft", "browOuterUpRight"), ("browDownLeft", "browDownRight")),
    "inner_brows_up": (("browInnerUp",), ("browDownLeft", "browDownRight")),
    "brows_down": (("browDownLeft", "browDownRight"), ("browInnerUp", "browOuterUpLeft", "browOuterUpRight")),
    "eyes_wide": (("eyeWideLeft", "eyeWideRight"), ("eyeSquintLeft", "eyeSquintRight")),
    "lids_tight": (("eyeSquintLeft", "eyeSquintRight"), ("eyeWideLeft", "eyeWideRight")),
    "lids_down": (("eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft", "eyeLookDownRight"),
                  ("eyeWideLeft", "eyeWideRight", "eyeLookUpLeft", "eyeLookUpRight")),
    "smile": (("mouthSmileLeft", "mouthSmileRight"), ("mouthFrownLeft", "mouthFrownRight")),
    "cheeks_up": (("cheekSquintLeft", "cheekSquintRight", "eyeSquintLeft", "eyeSquintRight"), ()),
    "corners_down": (("mouthFrownLeft", "mouthFrownRight"), ("mouthSmileLeft", "mouthSmileRight")),
    "lips_pressed": (("mouthPressLeft", "mouthPressRight"), ()),
    "lips_stretched": (("mouthStretchLeft", "mouthStretchRight"), ()),
    "sneer": (("noseSneerLeft", "noseSneerRight", "mouthUpperUpLeft", "mouthUpperUpRight"), ()),
    "one_corner": (("mouthSmileRight",), ("mouthSmileLeft",)),  # contempt: one corner, not a smile
}
EXPECTED_ACTIONS: dict[str, tuple[str, ...]] = {
    "angry": ("brows_down", "lids_tight", "lips_pressed"), "excited": ("smile", "brows_up", "eyes_wide"),
    "elated": ("smile", "cheeks_up"), "content": ("smile",), "sad": ("inner_brows_up", "corners_down"),
    "dejected": ("corners_down", "lids_down"), "scared": ("brows_up", "eyes_wide", "lips_stretched"),
    "contempt": ("one_corner",), "disgusted": ("sneer", "brows_down"), "surprised": ("brows_up", "eyes_wide"),
}


def default_faces() -> list[Path]:
    return [_source(f) for f in FACES]


def _source(name: str) -> Path:
    return STOCK / name.split("/", 1)[1] if name.startswith("stock/") else TESTDATA / name


def build(source: Path, work: Path) -> Path:
    """The Face of ``source`` under ``work`` (built once; a later run reuses it)."""
    from facecraft.faces.build import build_face
    from facecraft.faces.from_image import build_face_from_image
    from facecraft.faces.stock import build_stock_face, get_source

    home = work / source.stem
    found = [d for d in home.glob("r*") if (d / "manifest.json").is_file()] if home.is_dir() else []
    if found:
        return found[0]
    home.mkdir(parents=True, exist_ok=True)
    if source.parent == STOCK:
        return build_stock_face(get_source(source.name), home)
    if source.suffix.lower() in (".png", ".jpg", ".jpeg"):
        return build_face_from_image(source, name=source.stem, out_dir=home, auto_fix=True)
    return build_face(source, name=source.stem, out_dir=home)


def measures(landmarks: np.ndarray) -> dict[str, np.ndarray]:
    """Per frame: brow height, inner-brow height, eye opening, mouth-corner height above the lip middle,
    corner asymmetry (subject's right corner higher), upper-lip height; inter-ocular units."""
    geo = geometric_features(landmarks)
    units = np.stack([normalise_shape(f) if np.isfinite(f[0, 0]) else np.full((478, 2), np.nan) for f in landmarks])
    middle = units[:, [0, 17, 13, 14], 1].mean(1)
    right, left = units[:, 61, 1], units[:, 291, 1]
    inner = -units[:, [55, 285, 107, 336], 1].mean(1)
    return {
        "brow": geo.brow.astype(np.float64), "inner_brow": inner, "eye_open": geo.eye_open.astype(np.float64),
        "corner_up": middle - 0.5 * (right + left), "corner_asym": left - right,
        "upper_lip": units[:, 2, 1] - units[:, 0, 1],
    }


class Recorder:
    """Tracks each frame as it is rendered and keeps what the metrics need (never the frames)."""

    def __init__(self, renderer: Renderer, reference: dict[str, Any] | None) -> None:
        self.renderer = renderer
        self.reference = reference
        self.tracker = FaceTracker(static_image_mode=False, max_faces=1)
        self.raw: list[np.ndarray] = []
        self.shapes: list[np.ndarray] = []
        self.target: list[float] = []
        self.seam: list[tuple[float, float]] = []
        self.crops: list[np.ndarray | None] = []
        self.rest = renderer.expressions.rest
        self.keep: dict[int, np.ndarray] = {}

    def add(self, image: np.ndarray, target: float, keep: bool = False) -> None:
        faces = self.tracker.process(image)
        if faces:
            points, shape = faces[0].landmarks, faces[0].blendshapes
        else:
            points, shape = np.full((478, 3), np.nan, np.float32), np.full(N_BLENDSHAPES, np.nan, np.float32)
        self.raw.append(points)
        self.shapes.append(shape)
        self.target.append(target)
        self.seam.append(_seam(image, points, self.renderer.config.mask_grow) if faces else (np.nan, np.nan))
        self.crops.append(_lower_face(image, points, self.rest) if faces else None)
        if keep:
            self.keep[len(self.raw) - 1] = image

    def close(self) -> None:
        self.tracker.close()


def _seam(image: np.ndarray, points: np.ndarray, grow: float) -> tuple[float, float]:
    """Mean gradient magnitude on the lower-face blend boundary and on the face outline. Computed on the
    face's box with a margin wider than the feather's blur (the same values as on the whole frame, at a
    fraction of the cost: the blur of full-frame masks was a sixth of the bench's time)."""
    iod = float(np.hypot(*(points[263, :2] - points[33, :2])))
    feather = max(1.5, 0.035 * 2.0 * iod)
    polys = (lower_face_polygon(points, grow=grow), points[list(lm.FACE_OVAL), :2])
    corners = np.concatenate(polys)
    margin = int(np.ceil(3 * (2 * round(2 * feather) + 1))) + 4  # beyond the blur kernel and the Sobel's
    h, w = image.shape[:2]
    (x0, y0), (x1, y1) = np.floor(corners.min(0)).astype(int) - margin, np.ceil(corners.max(0)).astype(int) + margin
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    grey = cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY).astype(np.float32)
    grad = np.sqrt(cv2.Sobel(grey, cv2.CV_32F, 1, 0) ** 2 + cv2.Sobel(grey, cv2.CV_32F, 0, 1) ** 2)
    out = []
    for poly in (p - np.array([x0, y0]) for p in polys):
        band = mask_edge(feathered_mask(grey.shape, [poly], feather_px=feather))
        out.append(float(grad[band].mean()) if band.sum() > 20 else np.nan)
    return out[0], out[1]


def _lower_face(image: np.ndarray, points: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """Grey lower face aligned on stable points to the Face's rest shape (80 x 64 px, 60 px per iod)."""
    stable = list(lm.STABLE)
    to_units = fit_similarity(points[stable, :2], rest[stable])
    scale = 60.0
    mat = np.array([[scale, 0.0, 0.65 * scale], [0.0, scale, -0.35 * scale]]) @ np.vstack([to_units, [0, 0, 1]])
    crop = cv2.warpAffine(image, mat, (78, 64), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    return cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)


def speech_pieces(bundle: Any) -> list[Piece]:
    backend, adapts = face_speaker(bundle)
    voice = face_voice(bundle) if adapts else None
    return list(text_pieces(SENTENCE, backend, voice=voice))


def render(renderer: Renderer, pieces: list[Piece], emotion: Emotion, recorder: Recorder,
           keep: tuple[int, ...] = ()) -> tuple[int, int]:
    """Speech then listening with ``emotion``; returns (speech frames, listening frames)."""
    stream = StreamingRenderer(renderer)
    stream.set_emotion(emotion)
    for piece in pieces:
        stream.push_audio(piece.samples, piece.sample_rate, piece.phones, trust_phones=piece.trust_phones)
    stream.end_of_speech()
    n_speech = 0
    while stream.ready:
        frame = stream.next_frame()
        recorder.add(frame.image, frame.aperture, keep=len(recorder.raw) in keep)
        n_speech += 1
    n_listen = int(round(LISTEN_S * renderer.fps))
    for k in range(n_listen):
        frame = stream.next_frame()
        if k % LISTEN_TRACK_EVERY == 0:
            recorder.add(frame.image, frame.aperture, keep=len(recorder.raw) in keep)
    return n_speech, n_listen


def summarise(renderer: Renderer, rec: Recorder, n_speech: int) -> dict[str, Any]:
    raw = np.stack(rec.raw)
    tracks = tracks_from_landmarks(raw, fps=renderer.fps, width=renderer.size[0], height=renderer.size[1],
                                   times=np.arange(len(raw)) / renderer.fps, face_count=np.ones(len(raw), np.int32),
                                   teeth=np.zeros(len(raw)), sharpness=np.zeros(len(raw)),
                                   luminance=np.zeros(len(raw)), blendshapes=np.stack(rec.shapes))
    shapes = np.asarray(tracks.blendshapes, dtype=np.float64)
    target = np.asarray(rec.target)
    ap = np.asarray(tracks.aperture, dtype=np.float64)
    speech = slice(0, n_speech)
    listen = slice(n_speech, len(raw))
    geo = measures(np.asarray(tracks.landmarks))
    return {
        "frames": len(raw), "speech_frames": n_speech, "present": float(np.mean(tracks.present)),
        "shapes_speech": np.nanmean(shapes[speech], axis=0), "shapes_listen": np.nanmean(shapes[listen], axis=0),
        "geometry": {k: float(np.nanmean(v)) for k, v in geo.items()},
        "aperture_r": _pearson(ap[speech], target[speech]),
        "listen_aperture_p95": float(np.nanpercentile(ap[listen], 95)),
        "seam": np.nanmean(np.asarray(rec.seam, dtype=np.float64), axis=0),
        "landmarks": np.asarray(tracks.landmarks),
        "crops": rec.crops,
    }


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def identity_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean stable-landmark distance (x100 / iod) between two renders' frames, after a similarity fit."""
    stable = list(lm.STABLE)
    out = []
    for pa, pb in zip(a, b):
        if not (np.isfinite(pa[stable]).all() and np.isfinite(pb[stable]).all()):
            continue
        mat = fit_similarity(pa[stable], pb[stable])
        iod = float(np.hypot(*(pb[263, :2] - pb[33, :2])))
        out.append(np.linalg.norm(apply_affine(mat, pa[stable]) - pb[stable, :2], axis=1).mean() / iod * 100)
    return float(np.mean(out)) if out else float("nan")


def crop_ssim(a: list[np.ndarray | None], b: list[np.ndarray | None]) -> float:
    vals = [structural_similarity(x, y, data_range=255) for x, y in zip(a, b) if x is not None and y is not None]
    return float(np.mean(vals)) if vals else float("nan")


def cached_face(source: Path, work: Path, sheet: dict[str, Any] | None) -> dict[str, Any]:
    """``run_face``'s result, kept under ``work`` (with the contact sheet's frames) so that a long run can be
    split over several invocations and resumed; a change of protocol makes it run again."""
    home = work / source.stem
    saved, frames = home / "emotion_result.json", home / "emotion_sheet.npz"
    if saved.is_file() and (sheet is None or frames.is_file()):
        result = json.loads(saved.read_text())
        if result.get("protocol") == _protocol_key():
            if sheet is not None:
                with np.load(frames) as z:
                    for name in EMOTIONS:
                        if f"{name}_0" in z:
                            sheet[name] = [z[f"{name}_0"], z[f"{name}_1"]]
            print(f"  {source.stem}: reused {saved}", file=sys.stderr, flush=True)
            return result
    result = run_face(source, work, sheet)
    result["protocol"] = _protocol_key()
    home.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps(result))
    if sheet is not None:
        np.savez_compressed(frames, **{f"{name}_{k}": im for name, pair in sheet.items()
                                       for k, im in enumerate(pair) if im is not None})
    return result


def _protocol_key() -> str:
    return f"{SENTENCE}|{LISTEN_S}|{INTENSITIES}|{REFERENCE_SEED}|{LISTEN_TRACK_EVERY}"


def run_face(source: Path, work: Path, sheet: dict[str, Any] | None) -> dict[str, Any]:
    bundle_dir = build(source, work)
    bundle = load_bundle(bundle_dir)
    renderer = Renderer(bundle)
    reference_renderer = Renderer(bundle, config=replace(renderer.config, seed=REFERENCE_SEED))
    pieces = speech_pieces(bundle)
    rec = Recorder(reference_renderer, None)
    n_speech, _ = render(reference_renderer, pieces, Emotion("neutral", 1.0), rec)
    rec.close()
    ref = summarise(reference_renderer, rec, n_speech)
    rows: dict[str, Any] = {}
    keep = (n_speech // 2, n_speech + int(4.0 * renderer.fps) // LISTEN_TRACK_EVERY)  # recorded frame numbers
    for name in EMOTIONS:
        for intensity in ((1.0,) if name == "neutral" else INTENSITIES):
            rec = Recorder(renderer, ref)
            t0 = time.perf_counter()
            render(renderer, pieces, Emotion(name, intensity), rec, keep=keep if sheet is not None else ())
            seconds = time.perf_counter() - t0
            rec.close()
            out = summarise(renderer, rec, n_speech)
            if sheet is not None and intensity == 1.0:
                sheet[name] = [rec.keep.get(k) for k in keep]
            rows[f"{name}@{intensity:g}"] = {
                "emotion": name, "intensity": intensity, "render_track_s": round(seconds, 1),
                "d_speech": (out["shapes_speech"] - ref["shapes_speech"]).tolist(),
                "d_listen": (out["shapes_listen"] - ref["shapes_listen"]).tolist(),
                "d_geometry": {k: out["geometry"][k] - ref["geometry"][k] for k in out["geometry"]},
                "aperture_r": out["aperture_r"], "aperture_r_drop": ref["aperture_r"] - out["aperture_r"],
                "listen_aperture_p95": out["listen_aperture_p95"],
                "identity": identity_distance(out["landmarks"], ref["landmarks"]),
                "seam_lower": float(out["seam"][0] / ref["seam"][0]),
                "seam_outline": float(out["seam"][1] / ref["seam"][1]),
                "lf_ssim": crop_ssim(out["crops"], ref["crops"]),
                "present": out["present"],
            }
            print(f"  {source.stem} {name}@{intensity:g}: {seconds:.0f} s", file=sys.stderr, flush=True)
    return {"face": source.stem, "kind": "photo" if source.suffix.lower() != ".mp4" else "video",
            "fps": renderer.fps, "reference_aperture_r": ref["aperture_r"], "renders": rows}


def expected_change(row: dict[str, Any], name: str) -> float:
    """Mean signed change of an emotion's expected blendshapes (speech and listening together)."""
    d = 0.5 * (np.asarray(row["d_speech"]) + np.asarray(row["d_listen"]))
    pairs = EXPECTED.get(name, [])
    return float(np.mean([s * d[BLENDSHAPE_INDEX[b]] for b, s in pairs])) if pairs else float("nan")


def action_change(row: dict[str, Any], name: str) -> float:
    """Mean change of an emotion's expected facial actions (``EXPECTED_ACTIONS``; speech and listening)."""
    d = 0.5 * (np.asarray(row["d_speech"]) + np.asarray(row["d_listen"]))

    def mean(names: tuple[str, ...]) -> float:
        return float(np.mean([d[BLENDSHAPE_INDEX[b]] for b in names])) if names else 0.0

    actions = EXPECTED_ACTIONS.get(name, ())
    return float(np.mean([mean(ACTIONS[a][0]) - mean(ACTIONS[a][1]) for a in actions])) if actions else float("nan")


def geometry_change(row: dict[str, Any], name: str) -> float:
    pairs = GEOMETRY.get(name, [])
    return float(np.mean([s * row["d_geometry"][k] for k, s in pairs])) if pairs else float("nan")


def features(row: dict[str, Any]) -> np.ndarray:
    return np.concatenate([np.asarray(row["d_speech"]), np.asarray(row["d_listen"])])


def accuracy(faces: list[dict[str, Any]], intensity: float) -> tuple[float, dict[str, float]]:
    """Nearest-centroid over blendshape changes: centroids from one half of the Faces (at 1.0), scored on
    the other half (at ``intensity``), and the other way round."""
    halves = [faces[0::2], faces[1::2]]
    hits: dict[str, list[bool]] = {e: [] for e in EMOTIONS}
    for train, test in ((halves[0], halves[1]), (halves[1], halves[0])):
        _score(train, test, intensity, hits)
    per = {e: float(np.mean(v)) if v else float("nan") for e, v in hits.items()}
    return float(np.mean([x for v in hits.values() for x in v])) if any(hits.values()) else float("nan"), per


def _score(train: list[dict[str, Any]], test: list[dict[str, Any]], intensity: float,
           hits: dict[str, list[bool]]) -> None:
    """Centroids (at 1.0) from ``train``, each emotion of ``test`` (at ``intensity``) classified: ``hits``."""
    if not train or not test:
        return
    names = list(EMOTIONS)
    matrix = np.stack([np.mean([features(f["renders"][f"{e}@1"]) for f in train], axis=0) for e in names])
    for f in test:
        for e in EMOTIONS:
            x = features(f["renders"][f"{e}@{1 if e == 'neutral' else intensity:g}"])
            hits[e].append(names[int(np.argmin(np.linalg.norm(matrix - x, axis=1)))] == e)


def held_out_accuracy(faces: list[dict[str, Any]]) -> float:
    """Centroids from the Faces the expressions were tuned on (``TUNED_ON``), scored on the others only."""
    train = [f for f in faces if f["face"] in TUNED_ON]
    test = [f for f in faces if f["face"] not in TUNED_ON]
    hits: dict[str, list[bool]] = {e: [] for e in EMOTIONS}
    _score(train, test, 1.0, hits)
    done = [x for v in hits.values() for x in v]
    return float(np.mean(done)) if done else float("nan")


def summary(faces: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for e in EMOTIONS:
        row: dict[str, Any] = {}
        for k in (0.5, 1.0):
            key = f"{e}@{1 if e == 'neutral' else k:g}"
            rs = [f["renders"][key] for f in faces]
            exp = np.array([expected_change(r, e) for r in rs])
            act = np.array([action_change(r, e) for r in rs])
            row[f"actions@{k:g}"] = float(np.nanmean(act)) if e != "neutral" else float("nan")
            row[f"actions_se@{k:g}"] = float(np.nanstd(act) / np.sqrt(max(1, len(act)))) if e != "neutral" else 0.0
            row[f"actions_faces_clear@{k:g}"] = int(np.sum(act >= CLEAR)) if e != "neutral" else 0
            geo = np.array([geometry_change(r, e) for r in rs])
            row[f"expected@{k:g}"] = float(np.nanmean(exp)) if e != "neutral" else float("nan")
            row[f"expected_se@{k:g}"] = float(np.nanstd(exp) / np.sqrt(max(1, len(exp)))) if e != "neutral" else 0.0
            row[f"geometry@{k:g}"] = float(np.nanmean(geo)) if e != "neutral" else float("nan")
            for m in ("aperture_r_drop", "identity", "seam_lower", "seam_outline", "lf_ssim", "listen_aperture_p95"):
                row[f"{m}@{k:g}"] = float(np.nanmean([r[m] for r in rs]))
        if e != "neutral":
            row["clear"] = bool(row["expected@1"] >= CLEAR and row["expected@1"] > 2 * row["expected_se@1"])
            row["monotonic"] = bool(row["expected@1"] > row["expected@0.5"] > 0)
            row["actions_clear"] = bool(row["actions@1"] >= CLEAR and row["actions@1"] > 2 * row["actions_se@1"])
            row["actions_monotonic"] = bool(row["actions@1"] > row["actions@0.5"] > 0)
            row["geometry_monotonic"] = bool(row["geometry@1"] > row["geometry@0.5"] > 0)
        out[e] = row
    return out


def prosody_table() -> dict[str, dict[str, float]]:
    """Per emotion: pitch level and range change (semitones), duration and loudness change, against the
    neutral sentence (re-synthesised by WORLD too, so that only the emotion differs)."""
    from facecraft.perform.speech import text_pieces
    from facecraft.speech.voice import shift_voice
    from facecraft.speech.voices import tts_for

    tts = tts_for(None, deterministic=True)
    rows: dict[str, dict[str, float]] = {}
    base: tuple[float, float, float, float] | None = None
    for name in EMOTIONS:
        pieces = list(text_pieces(SENTENCE, tts, emotion=None if name == "neutral" else Emotion(name, 1.0)))
        x = np.concatenate([p.samples for p in pieces])
        rate = pieces[0].sample_rate
        if name == "neutral":
            x = shift_voice(x, rate, semitones=0.01)
        level, spread, octave_errors = pitch_stats(x, rate)
        loud = float(20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2))))
        seconds = x.size / rate
        if base is None:
            base = (level, spread, seconds, loud)
        rows[name] = {"pitch_st": level - base[0], "range_st": spread - base[1],
                      "duration": seconds / base[2], "loudness_db": loud - base[3],
                      "octave_errors": octave_errors}
    return rows


def pitch_stats(samples: np.ndarray, rate: int) -> tuple[float, float, float]:
    """(median, interquartile range, share of frames an octave off) of a sentence's pitch, in semitones.
    Harvest puts about a quarter of the frames of Piper's breathy voice an octave below (or above) the
    pitch heard; left in, those frames made the interquartile range measure them rather than the
    intonation (it fell when the pitch was raised, as fewer frames were halved: excited and elated
    scored a narrower range than neutral). They are folded back into the median's octave first."""
    import pyworld

    from facecraft.speech.voice import F0_CEIL_HZ, F0_FLOOR_HZ, SEMITONE_REF_HZ

    f0, _ = pyworld.harvest(samples.astype(np.float64), rate, f0_floor=F0_FLOOR_HZ, f0_ceil=F0_CEIL_HZ,
                            frame_period=5.0)
    st = 12.0 * np.log2(f0[f0 > 0] / SEMITONE_REF_HZ)
    folded = st + 12.0 * np.round((np.median(st) - st) / 12.0)
    q25, q75 = np.percentile(folded, [25, 75])
    return float(np.median(folded)), float(q75 - q25), float(np.mean(folded != st))


def contact_sheet(frames: dict[str, list[np.ndarray | None]], path: Path, columns: int = 4) -> Path | None:
    """Every emotion on one Face: a speaking frame above a listening frame, cut to the face, ``columns``
    emotions to a row."""
    tiles = []
    for name in EMOTIONS:
        cells = [_face_tile(image, f"{name} ({what})")
                 for image, what in zip(frames.get(name) or [], ("speaking", "listening")) if image is not None]
        if len(cells) == 2:
            tiles.append(np.pad(np.vstack(cells), ((0, 6), (0, 6), (0, 0)), constant_values=255))
    if not tiles:
        return None
    blank = np.full_like(tiles[0], 255)
    rows = [np.hstack((tiles[i:i + columns] + [blank] * columns)[:columns]) for i in range(0, len(tiles), columns)]
    sheet = np.vstack(rows)
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {path}")
    return path


def _face_tile(image: np.ndarray, label: str, size: int = 300) -> np.ndarray:
    with FaceTracker(static_image_mode=True, max_faces=1) as tracker:
        faces = tracker.process(image)
    if faces:
        pts = faces[0].landmarks[:, :2]
        (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
        cx, cy, side = (x0 + x1) / 2, (y0 + y1) / 2, 1.25 * max(x1 - x0, y1 - y0)
        h, w = image.shape[:2]
        a, b = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
        image = image[b:int(min(h, b + side)), a:int(min(w, a + side))]
    tile = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    cv2.rectangle(tile, (0, size - 20), (size, size), (0, 0, 0), -1)
    cv2.putText(tile, label, (5, size - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return tile


def run_stills(source: Path, work: Path, count: int) -> dict[str, Any]:
    """The quick protocol (``--stills``): ``count`` real footage frames of the Face, spread over it, warped
    with every emotion's face expression (speaking, and listening) at 0.5 and 1.0 and tracked one by one,
    against the same frames unwarped. It measures the expression warp alone (no streaming render, no head
    style, no mouth model), at a fraction of the full protocol's cost, so that more Faces fit in one run."""
    from facecraft.engine.emotion import Expression, expression_of

    bundle = load_bundle(build(source, work))
    renderer = Renderer(bundle)
    tracks = renderer.tracks
    present = np.flatnonzero(np.asarray(tracks.present, dtype=bool))
    pick = present[np.linspace(0, len(present) - 1, count).astype(int)]
    frames = [(int(i), renderer.footage.get(int(i)), np.asarray(tracks.landmarks[i])) for i in pick]

    def tracked(name: str, intensity: float, speaking: bool) -> np.ndarray:
        exp = expression_of(Emotion(name, intensity), speaking=speaking)
        exp = Expression(exp.weights, np.zeros_like(exp.head))
        shapes = []
        with FaceTracker(static_image_mode=True, max_faces=1) as tracker:
            for i, image, points in frames:
                found = tracker.process(renderer.expressions.apply(image, points, exp, fps=renderer.fps, footage=i))
                shapes.append(found[0].blendshapes if found else np.full(N_BLENDSHAPES, np.nan))
        return np.nanmean(np.asarray(shapes, dtype=np.float64), axis=0)

    base = {speaking: tracked("neutral", 1.0, speaking) for speaking in (True, False)}
    rows = {}
    for name in EMOTIONS:
        for intensity in ((1.0,) if name == "neutral" else INTENSITIES):
            rows[f"{name}@{intensity:g}"] = {
                "emotion": name, "intensity": intensity,
                "d_speech": (tracked(name, intensity, True) - base[True]).tolist(),
                "d_listen": (tracked(name, intensity, False) - base[False]).tolist()}
    return {"face": source.stem, "kind": "photo" if source.suffix.lower() != ".mp4" else "video",
            "frames": count, "renders": rows}


def stills_main(sources: list[Path], work: Path, count: int, out: Path) -> int:
    """``--stills``: the quick protocol on every Face; expected changes, actions and the same classifier."""
    faces = []
    for source in sources:
        t0 = time.perf_counter()
        try:
            faces.append(run_stills(source, work, count))
        except Exception as exc:  # noqa: BLE001 - one Face failing must not lose the others
            faces.append({"face": source.stem, "error": f"{type(exc).__name__}: {exc}"})
        print(f"{source.name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    ok = [f for f in faces if "error" not in f]
    table: dict[str, Any] = {}
    for e in EMOTIONS:
        if e == "neutral":
            continue
        row: dict[str, Any] = {}
        for k in INTENSITIES:
            rs = [f["renders"][f"{e}@{k:g}"] for f in ok]
            for key, fn in (("expected", expected_change), ("actions", action_change)):
                vals = np.array([fn(r, e) for r in rs])
                row[f"{key}@{k:g}"] = float(np.nanmean(vals))
                row[f"{key}_se@{k:g}"] = float(np.nanstd(vals) / np.sqrt(max(1, len(vals))))
                row[f"{key}_faces_clear@{k:g}"] = int(np.sum(vals >= CLEAR))
        for key in ("expected", "actions"):
            row[f"{key}_clear"] = bool(row[f"{key}@1"] >= CLEAR and row[f"{key}@1"] > 2 * row[f"{key}_se@1"])
            row[f"{key}_monotonic"] = bool(row[f"{key}@1"] > row[f"{key}@0.5"] > 0)
        table[e] = row
    acc, per_emotion = accuracy(ok, 1.0) if len(ok) >= 2 else (float("nan"), {})
    acc_half, _ = accuracy(ok, 0.5) if len(ok) >= 2 else (float("nan"), {})
    acc_held_out = held_out_accuracy(ok)
    print(f"{'emotion':<11}{'expected@.5':>13}{'expected@1':>13}{'actions@.5':>13}{'actions@1':>13}{'accuracy':>10}")
    for e, row in table.items():
        print(f"{e:<11}{row['expected@0.5']:>13.3f}{row['expected@1']:>13.3f}{row['actions@0.5']:>13.3f}"
              f"{row['actions@1']:>13.3f}{per_emotion.get(e, float('nan')):>10.2f}")
    print(f"stills: {len(ok)} Faces, {count} frames each; emotion_accuracy {acc:.3f} (at 0.5: {acc_half:.3f}; "
          f"tuned-on centroids scored on the others alone: {acc_held_out:.3f})")
    write_result(out, {
        "bench": "emotion_stills", "machine": machine_info(),
        "protocol": {"frames_per_face": count, "intensities": INTENSITIES, "expected": EXPECTED,
                     "actions": ACTIONS, "expected_actions": EXPECTED_ACTIONS, "tuned_on": TUNED_ON, "clear": CLEAR,
                     "what": run_stills.__doc__},
        "inputs": [str(s) for s in sources], "emotion_accuracy": acc, "emotion_accuracy_per_emotion": per_emotion,
        "emotion_accuracy_at_0.5": acc_half, "emotion_accuracy_held_out": acc_held_out, "summary": table,
        "faces": faces,
    })
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", nargs="+", help="file names (stems) of the dev clips/photos to use (default: all)")
    parser.add_argument("--work", type=Path, help="keep the built Faces here and reuse them (default: a temp dir)")
    parser.add_argument("--out", type=Path, help="default: bench/results/emotion.json (emotion_stills.json with "
                        "--stills)")
    parser.add_argument("--stills", type=int, metavar="N", help="the quick protocol instead (run_stills): N footage "
                        "frames per Face, warped and tracked one by one")
    args = parser.parse_args(argv)
    results = REPO / "bench" / "results"
    args.out = args.out or results / ("emotion_stills.json" if args.stills else "emotion.json")
    logging.basicConfig(level=logging.WARNING)
    sources = default_faces()
    if args.faces:
        known = {p.stem: p for p in [*sources, *(_source(f) for f in MORE)]} | {p.name: p for p in sources}
        missing = [f for f in args.faces if f not in known]
        if missing:
            parser.error(f"unknown Faces {', '.join(missing)}; use {', '.join(sorted(known))}")
        sources = [known[f] for f in args.faces]
    if args.stills:
        with tempfile.TemporaryDirectory(prefix="emotion-") as tmp:
            return stills_main(sources, args.work or Path(tmp), args.stills, args.out)
    sheet_frames: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="emotion-") as tmp:
        work = args.work or Path(tmp)
        faces = []
        for source in sources:
            t0 = time.perf_counter()
            try:
                faces.append(cached_face(source, work, sheet_frames if source.stem == SHEET_FACE else None))
            except Exception as exc:  # noqa: BLE001 - one Face failing must not lose the others
                faces.append({"face": source.stem, "error": f"{type(exc).__name__}: {exc}"})
            print(f"{source.name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    ok = [f for f in faces if "error" not in f]
    table = summary(ok) if ok else {}
    acc, per_emotion = accuracy(ok, 1.0) if len(ok) >= 2 else (float("nan"), {})
    acc_half, _ = accuracy(ok, 0.5) if len(ok) >= 2 else (float("nan"), {})
    acc_held_out = held_out_accuracy(ok)
    cols = ("expected@0.5", "expected@1", "actions@0.5", "actions@1", "geometry@0.5", "geometry@1",
            "aperture_r_drop@1", "identity@1",
            "seam_lower@1", "seam_outline@1", "lf_ssim@1", "listen_aperture_p95@1")
    print(f"{'emotion':<11}" + "".join(f"{c:>13.13}" for c in cols) + f"{'accuracy':>10}")
    for e, row in table.items():
        print(f"{e:<11}" + "".join(f"{row[c]:>13.3f}" for c in cols) + f"{per_emotion.get(e, float('nan')):>10.2f}")
    emotions = [e for e in EMOTIONS if e != "neutral"]
    targets = {
        "every emotion's expected blendshapes rise clearly at 1.0": all(table[e]["clear"] for e in emotions) if table
        else False,
        "and more than at 0.5": all(table[e]["monotonic"] for e in emotions) if table else False,
        "every emotion's expected facial actions rise clearly at 1.0 (ACTIONS: both channels of an action)":
            all(table[e]["actions_clear"] for e in emotions) if table else False,
        "and more than at 0.5 (ACTIONS)": all(table[e]["actions_monotonic"] for e in emotions) if table else False,
        "emotion_accuracy >= 0.7": acc >= 0.7,
        "aperture r drop <= 0.03 (every emotion at 1.0)":
            all(table[e]["aperture_r_drop@1"] <= 0.03 for e in emotions) if table else False,
        "no seam increase (lower-face and outline ratios <= 1.05 at 1.0)":
            all(max(table[e]["seam_lower@1"], table[e]["seam_outline@1"]) <= 1.05 for e in emotions) if table
            else False,
    }
    print(f"emotion_accuracy {acc:.3f} (intensity 0.5 against 1.0 centroids: {acc_half:.3f}; centroids from the "
          f"{len(TUNED_ON)} Faces tuned on, scored on the others alone: {acc_held_out:.3f})")
    for name, met in targets.items():
        print(f"{'met' if met else 'NOT met':>8}  {name}")
    for e in emotions:
        if table and not table[e]["clear"]:
            print(f"          not clear: {e} (expected change {table[e]['expected@1']:.3f})")
        if table and not table[e]["actions_clear"]:
            print(f"          not clear (ACTIONS): {e} (change {table[e]['actions@1']:.3f})")
    prosody = prosody_table()
    print(f"{'prosody':<11}{'pitch st':>10}{'range st':>10}{'duration':>10}{'loud dB':>10}{'octave err':>11}")
    for e, row in prosody.items():
        print(f"{e:<11}{row['pitch_st']:>10.2f}{row['range_st']:>10.2f}{row['duration']:>10.2f}{row['loudness_db']:>10.1f}"
              f"{row['octave_errors']:>11.2f}")
    sheet = contact_sheet(sheet_frames, args.out.with_name("emotion_sheet.png")) if sheet_frames else None
    write_result(args.out, {
        "bench": "emotion",
        "machine": machine_info(),
        "protocol": {"sentence": SENTENCE, "listen_s": LISTEN_S, "intensities": INTENSITIES,
                     "reference": f"neutral with motion seed {REFERENCE_SEED}", "expected": EXPECTED,
                     "geometry": GEOMETRY, "clear": CLEAR,
                     "actions": ACTIONS, "expected_actions": EXPECTED_ACTIONS, "tuned_on": TUNED_ON,
                     "blendshapes": BLENDSHAPE_NAMES},
        "inputs": [str(s) for s in sources],
        "emotion_accuracy": acc, "emotion_accuracy_per_emotion": per_emotion, "emotion_accuracy_at_0.5": acc_half,
        "emotion_accuracy_held_out": acc_held_out,
        "summary": table, "targets": targets, "sheet": str(sheet) if sheet else None, "prosody": prosody,
        "faces": faces,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
