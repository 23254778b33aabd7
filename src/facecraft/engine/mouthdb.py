"""The mouth database (bundle file ``mouths.npz``): every usable footage frame's lower face, normalised.

Each tracked footage frame is aligned by a similarity on the stable landmarks (nose bridge, eye
corners, forehead) to one canonical template, and its lower face is cropped from that canonical
frame. Because the alignment ignores the mouth and jaw, the crop keeps the real lip and chin motion;
any two crops can be swapped. Each crop carries the lip-shape features the engine selects on
(aperture, width, chin drop, a few PCA coefficients of the lip outline), the viseme heard in the
footage's own speech at that moment, and the speaking/listening state.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facecraft.engine.audio_model import AudioMouthModel
from facecraft.engine.timeline import ShapePriors
from facecraft.errors import BundleError
from facecraft.media.types import Frame
from facecraft.speech.types import Phone
from facecraft.speech.visemes import VISEMES, phone_to_viseme
from facecraft.vision import landmarks as lm
from facecraft.vision.masks import LOWER_FACE
from facecraft.vision.types import Tracks
from facecraft.vision.warp import apply_affine, compose_affine, fit_similarity, normalise_shape

__all__ = [
    "MouthDB",
    "MouthDBParams",
    "build_mouth_db",
    "shape_priors",
    "frame_visemes",
    "lip_points",
    "FILENAME",
    "N_PCA",
    "mouth_thumb",
]

log = logging.getLogger(__name__)

FILENAME = "mouths.npz"
N_PCA = 4
THUMB = (12, 10)  # (w, h) of the grey mouth thumbnail used for pixel continuity


@dataclass(frozen=True)
class MouthDBParams:
    max_scale: float = 128.0  # patch pixels per inter-ocular distance, at most (less blurs large faces)
    min_scale: float = 40.0
    margin: float = 0.15  # inter-ocular units around the lower-face box


def lip_points() -> list[int]:
    """Indices of the lip outline (outer then inner) used for shape features."""
    return list(dict.fromkeys(list(lm.LIPS_OUTER) + list(lm.LIPS_INNER)))


@dataclass
class MouthDB:
    """Loaded mouth database. ``to_patch`` maps footage pixels to patch pixels for every footage frame."""

    patches: np.ndarray  # (M, h, w, 3) uint8
    src_index: np.ndarray  # (M,) footage frame of each patch
    points: np.ndarray  # (M, 478, 2) float32, landmarks in patch pixels
    features: np.ndarray  # (M, 3 + N_PCA) aperture, width, chin, PCA of the lip outline (iod units)
    viseme: np.ndarray  # (M,) uint8 index into VISEMES
    state: np.ndarray  # (M,) uint8: 0 listening, 1 speaking
    pose: np.ndarray  # (M, 3) yaw, pitch, roll
    thumbs: np.ndarray  # (M, THUMB h*w) float32 grey mouth thumbnails, 0..1
    to_patch: np.ndarray  # (N, 2, 3) float32, NaN where the face is absent
    template: np.ndarray  # (len(STABLE), 2) canonical stable points (iod units)
    canon: np.ndarray  # (2, 3) canonical units -> patch pixels
    pca_mean: np.ndarray
    pca_basis: np.ndarray  # (N_PCA, 2 * n_lip_points)
    audio_model: np.ndarray  # AudioMouthModel.pack() (engine.audio_model); empty when the footage had no speech

    @property
    def size(self) -> tuple[int, int]:
        """Patch (width, height)."""
        return int(self.patches.shape[2]), int(self.patches.shape[1])

    def __len__(self) -> int:
        return int(self.src_index.shape[0])

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            **{name: getattr(self, name) for name in self.__dataclass_fields__},
        )

    @classmethod
    def load(cls, path: Path) -> MouthDB:
        try:
            with np.load(path, allow_pickle=False) as data:
                fields = {name: data[name] for name in cls.__dataclass_fields__}
        except (OSError, KeyError, ValueError) as exc:
            raise BundleError(f"mouth database {Path(path).name} is missing or damaged: {exc}") from exc
        return cls(**fields)


def shape_priors(db: MouthDB) -> ShapePriors:
    """The Face's closed and wide-open apertures and its range of mouth widths (no pause habit: that is
    measured on the footage's audio, ``timeline.pause_habit``, and stored with the lip-sync model)."""
    ap = db.features[:, 0].astype(np.float64)
    wd = db.features[:, 1].astype(np.float64)
    speaking = db.state == 1
    open_ap = float(np.percentile(ap[speaking] if speaking.sum() >= 10 else ap, 95))
    closed = float(np.percentile(ap, 5))
    spread = float(np.percentile(wd, 90) - np.percentile(wd, 10)) / 2
    return ShapePriors(closed=closed, open=max(open_ap, closed + 0.05), width_mid=float(np.median(wd)),
                       width_spread=max(spread, 0.01))


def frame_visemes(phones: list[Phone], n_frames: int, fps: float) -> np.ndarray:
    """Viseme index (into VISEMES) heard at the centre of each frame; silence where no phone covers it."""
    out = np.zeros(n_frames, dtype=np.uint8)
    if not phones or n_frames == 0:
        return out
    centres = (np.arange(n_frames) + 0.5) / fps
    starts = np.array([p.start for p in phones])
    ends = np.array([p.end for p in phones])
    codes = np.array([VISEMES.index(phone_to_viseme(p.symbol)) for p in phones], dtype=np.uint8)
    k = np.searchsorted(starts, centres, side="right") - 1
    ok = (k >= 0) & (centres < ends[np.clip(k, 0, None)])
    out[ok] = codes[k[ok]]
    return out


def _canonical_frames(
    tracks: Tracks, params: MouthDBParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]:
    """Stable-point template, per-frame footage->unit similarities, the units->patch map, patch (w, h)."""
    present = np.flatnonzero(np.asarray(tracks.present, dtype=bool))
    stable = list(lm.STABLE)
    shapes = np.stack([normalise_shape(tracks.landmarks[i]) for i in present])
    template = np.median(shapes[:, stable], axis=0)
    n = len(tracks)
    to_units = np.full((n, 2, 3), np.nan)
    for i in present:
        to_units[i] = fit_similarity(tracks.landmarks[i, stable], template)
    region = list(LOWER_FACE) + lip_points() + list(lm.JAW)
    pts = np.concatenate([apply_affine(to_units[i], tracks.landmarks[i, region]) for i in present])
    lo = np.percentile(pts, 0.5, axis=0) - params.margin
    hi = np.percentile(pts, 99.5, axis=0) + params.margin
    iod = float(np.nanmedian(tracks.interocular[present]))
    scale = float(np.clip(iod, params.min_scale, params.max_scale))
    canon = np.array([[scale, 0.0, -scale * lo[0]], [0.0, scale, -scale * lo[1]]])
    size = np.ceil((hi - lo) * scale).astype(int)
    return template, to_units, canon, (int(size[0]), int(size[1]))


def build_mouth_db(
    frames: Iterable[Frame],
    tracks: Tracks,
    *,
    phones: list[Phone],
    state: np.ndarray,
    audio_model: AudioMouthModel | None = None,
    params: MouthDBParams | None = None,
) -> MouthDB:
    """Crop and describe the lower face of every tracked frame of ``frames`` (the footage, in order);
    ``audio_model`` (fitted on the same footage, see ``engine.audio_model``) is stored with them."""
    params = params or MouthDBParams()
    present = np.asarray(tracks.present, dtype=bool)
    if not present.any():
        raise BundleError("no tracked face in the footage: cannot build the mouth database")
    template, to_units, canon, (w, h) = _canonical_frames(tracks, params)
    n = len(tracks)
    to_patch = np.full((n, 2, 3), np.nan, dtype=np.float32)
    visemes = frame_visemes(phones, n, tracks.fps)
    # the patches are warped straight into one array (a list of 150 kB patches stacked at the end cost a
    # second of fresh memory on 20 s of 512x512 footage)
    count = int(present[:n].sum())
    patches = np.empty((count, h, w, 3), np.uint8)
    points = np.empty((count, tracks.landmarks.shape[1], 2), np.float32)
    thumbs = np.empty((count, THUMB[0] * THUMB[1]), np.float32)
    index: list[int] = []
    for frame in frames:
        i = frame.index
        if i >= n or not present[i] or len(index) == count:
            continue
        m = len(index)
        mat = compose_affine(canon, to_units[i])
        to_patch[i] = mat
        cv2.warpAffine(frame.image, mat, (w, h), dst=patches[m], flags=cv2.INTER_CUBIC,
                       borderMode=cv2.BORDER_REPLICATE)
        points[m] = apply_affine(mat, tracks.landmarks[i])
        thumbs[m] = mouth_thumb(patches[m], points[m])
        index.append(i)
    if not index:
        raise BundleError("the footage decoded no frame with a tracked face")
    idx = np.array(index, dtype=np.int32)
    pts_all = points[: len(idx)]
    features, pca_mean, pca_basis = _shape_features(tracks, idx, pts_all, canon[0, 0])
    db = MouthDB(
        patches=patches[: len(idx)],
        src_index=idx,
        points=pts_all,
        features=features,
        viseme=visemes[idx],
        state=np.asarray(state, dtype=np.uint8)[idx] if len(state) == n else np.zeros(len(idx), np.uint8),
        pose=np.asarray(tracks.pose, dtype=np.float32)[idx],
        thumbs=thumbs[: len(idx)],
        to_patch=to_patch,
        template=template.astype(np.float32),
        canon=canon.astype(np.float32),
        pca_mean=pca_mean,
        pca_basis=pca_basis,
        audio_model=audio_model.pack() if audio_model is not None else np.zeros(0, np.float32),
    )
    log.info("mouth database: %d patches of %dx%d", len(db), w, h)
    return db


def mouth_thumb(patch: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Small grey picture of the mouth (lips bounding box, padded), for pixel-continuity join costs."""
    lips = pts[lip_points()]
    x0, y0 = lips.min(0)
    x1, y1 = lips.max(0)
    pad = 0.25 * (x1 - x0)
    h, w = patch.shape[:2]
    xa, xb = int(max(0, x0 - pad)), int(min(w, x1 + pad + 1))
    ya, yb = int(max(0, y0 - pad)), int(min(h, y1 + pad + 1))
    grey = cv2.cvtColor(patch[ya:yb, xa:xb], cv2.COLOR_RGB2GRAY)
    small = cv2.resize(grey, THUMB, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    return (small - small.mean()).ravel()


def _shape_features(
    tracks: Tracks, idx: np.ndarray, pts: np.ndarray, scale: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Aperture, width, chin drop and PCA of the lip outline, all in inter-ocular units."""
    lips = pts[:, lip_points()] / scale
    flat = (lips - lips.mean(1, keepdims=True)).reshape(len(idx), -1)
    mean = flat.mean(0)
    centred = flat - mean
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    basis = vt[:N_PCA]
    if basis.shape[0] < N_PCA:
        basis = np.vstack([basis, np.zeros((N_PCA - basis.shape[0], basis.shape[1]))])
    coeffs = centred @ basis.T
    aperture = np.nan_to_num(np.asarray(tracks.aperture, dtype=np.float64)[idx])
    width = np.nan_to_num(np.asarray(tracks.mouth_width, dtype=np.float64)[idx])
    chin = pts[:, 152, 1] / scale
    chin = chin - np.median(chin)
    feats = np.column_stack([aperture, width, chin, coeffs]).astype(np.float32)
    return feats, mean.astype(np.float32), basis.astype(np.float32)
