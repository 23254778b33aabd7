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
from typing import TYPE_CHECKING

import cv2
import numpy as np

from facecraft.errors import BundleError, SpeechError
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
    "frame_visemes",
    "lip_points",
    "FILENAME",
    "N_PCA",
    "step_mouths",
    "AudioMouthModel",
    "audio_features",
]

if TYPE_CHECKING:
    from facecraft.faces.build import BuildContext

log = logging.getLogger(__name__)

FILENAME = "mouths.npz"
N_PCA = 4
THUMB = (12, 10)  # (w, h) of the grey mouth thumbnail used for pixel continuity


@dataclass(frozen=True)
class MouthDBParams:
    max_scale: float = 96.0  # patch pixels per inter-ocular distance, at most
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
    audio_model: np.ndarray  # AudioMouthModel.pack(); empty when the footage had no usable speech

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


N_MELS = 24
CONTEXT = 4  # frames of audio context on each side of the predicted frame
RIDGE = 100.0


def _mel_bank(n_fft: int, rate: int, n: int = N_MELS) -> np.ndarray:
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    imel = lambda m: 700.0 * (10 ** (m / 2595.0) - 1.0)  # noqa: E731
    edges = np.floor((n_fft + 1) * imel(np.linspace(mel(80.0), mel(7600.0), n + 2)) / rate).astype(int)
    bank = np.zeros((n, n_fft // 2 + 1))
    for i in range(n):
        a, b, c = edges[i], edges[i + 1], edges[i + 2]
        bank[i, a:b] = (np.arange(a, b) - a) / max(1, b - a)
        bank[i, b:c] = (c - np.arange(b, c)) / max(1, c - b)
    return bank


_BANK = _mel_bank(512, 16000)


def audio_features(samples: np.ndarray, sample_rate: int, fps: float, n: int) -> np.ndarray:
    """Log-mel spectra (16 kHz, 32 ms windows) centred on each video frame, with +-CONTEXT frames stacked."""
    if sample_rate != 16000:
        raise ValueError("audio_features expects 16 kHz audio")
    win = 512
    hop = sample_rate / fps
    x = np.pad(np.asarray(samples, dtype=np.float64).reshape(-1), (win, win + int(n * hop) + win))
    centres = ((np.arange(n) + 0.5) * hop).astype(np.int64) + win
    idx = centres[:, None] + np.arange(-win // 2, win // 2)[None, :]
    frames = x[idx] * np.hanning(win)[None, :]
    spec = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    mel = np.log(spec @ _BANK.T + 1e-8)
    padded = np.pad(mel, ((CONTEXT, CONTEXT), (0, 0)), mode="edge")
    return np.concatenate([padded[k: k + n] for k in range(2 * CONTEXT + 1)], axis=1)


@dataclass(frozen=True)
class AudioMouthModel:
    """Ridge regression from the Face's own speech (log-mel with context) to its lip aperture.

    Learned at build time on the footage, where sound and tracked lips are known together; it
    gives the renderer the speaker's own timing and amount of opening, which recognised phones
    (noisy without a transcript) do not.
    """

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float

    def predict(self, samples: np.ndarray, sample_rate: int, fps: float, n: int) -> np.ndarray:
        z = (audio_features(samples, sample_rate, fps, n) - self.mean) / self.scale
        return z @ self.weights + self.bias

    def pack(self) -> np.ndarray:
        return np.concatenate([self.mean, self.scale, self.weights, [self.bias]]).astype(np.float32)

    @classmethod
    def unpack(cls, packed: np.ndarray) -> AudioMouthModel | None:
        if packed.size == 0:
            return None
        d = (packed.size - 1) // 3
        p = packed.astype(np.float64)
        return cls(mean=p[:d], scale=p[d:2 * d], weights=p[2 * d:3 * d], bias=float(p[-1]))

    @classmethod
    def fit(cls, samples: np.ndarray, sample_rate: int, tracks: Tracks) -> AudioMouthModel | None:
        present = np.asarray(tracks.present, dtype=bool) & np.isfinite(tracks.aperture)
        if samples is None or present.sum() < 2 * tracks.fps:
            return None
        x = audio_features(samples, sample_rate, tracks.fps, len(tracks))[present]
        y = np.asarray(tracks.aperture, dtype=np.float64)[present]
        mean, scale = x.mean(0), x.std(0) + 1e-6
        z = (x - mean) / scale
        weights = np.linalg.solve(z.T @ z + RIDGE * np.eye(z.shape[1]), z.T @ (y - y.mean()))
        return cls(mean=mean, scale=scale, weights=weights, bias=float(y.mean()))


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
    samples: np.ndarray | None = None,
    sample_rate: int = 16000,
    params: MouthDBParams | None = None,
) -> MouthDB:
    """Crop and describe the lower face of every tracked frame of ``frames`` (the footage, in order)."""
    params = params or MouthDBParams()
    present = np.asarray(tracks.present, dtype=bool)
    if not present.any():
        raise BundleError("no tracked face in the footage: cannot build the mouth database")
    template, to_units, canon, (w, h) = _canonical_frames(tracks, params)
    n = len(tracks)
    to_patch = np.full((n, 2, 3), np.nan, dtype=np.float32)
    visemes = frame_visemes(phones, n, tracks.fps)
    patches, index, points, thumbs = [], [], [], []
    for frame in frames:
        i = frame.index
        if i >= n or not present[i]:
            continue
        mat = compose_affine(canon, to_units[i])
        to_patch[i] = mat
        patch = cv2.warpAffine(frame.image, mat, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        pts = apply_affine(mat, tracks.landmarks[i]).astype(np.float32)
        patches.append(patch)
        index.append(i)
        points.append(pts)
        thumbs.append(mouth_thumb(patch, pts))
    if not index:
        raise BundleError("the footage decoded no frame with a tracked face")
    idx = np.array(index, dtype=np.int32)
    pts_all = np.stack(points)
    features, pca_mean, pca_basis = _shape_features(tracks, idx, pts_all, canon[0, 0])
    model = AudioMouthModel.fit(samples, sample_rate, tracks) if samples is not None else None
    db = MouthDB(
        patches=np.stack(patches),
        src_index=idx,
        points=pts_all,
        features=features,
        viseme=visemes[idx],
        state=np.asarray(state, dtype=np.uint8)[idx] if len(state) == n else np.zeros(len(idx), np.uint8),
        pose=np.asarray(tracks.pose, dtype=np.float32)[idx],
        thumbs=np.stack(thumbs),
        to_patch=to_patch,
        template=template.astype(np.float32),
        canon=canon.astype(np.float32),
        pca_mean=pca_mean,
        pca_basis=pca_basis,
        audio_model=model.pack() if model is not None else np.zeros(0, np.float32),
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


def footage_phones(samples: np.ndarray | None, sample_rate: int) -> list[Phone]:
    """Phones of the footage's own speech (no transcript: recognised, or phone-loop decoded)."""
    from facecraft.speech.align import align_audio

    if samples is None or len(samples) < sample_rate // 2:
        return []
    try:
        return list(align_audio(samples, sample_rate).phones)
    except SpeechError as exc:
        log.warning("footage speech could not be aligned (%s): mouths get no viseme labels", exc.message)
        return []


def step_mouths(ctx: BuildContext) -> None:
    """Build step: write ``mouths.npz`` from the staged footage, tracks, audio and analysis."""
    from facecraft.media import iter_frames

    assert ctx.tracks is not None and ctx.footage_path is not None
    phones = footage_phones(ctx.samples, ctx.sample_rate)
    ctx.step_progress(0.3)
    n = max(1, len(ctx.tracks))
    state = ctx.analysis.state if ctx.analysis is not None else np.zeros(n, np.uint8)

    def frames() -> Iterable[Frame]:
        for frame in iter_frames(ctx.footage_path):
            if frame.index % 50 == 0:
                ctx.step_progress(0.3 + 0.7 * frame.index / n)
            yield frame

    voiced = ctx.samples is not None and bool(ctx.analysis is not None and ctx.analysis.speaking)
    db = build_mouth_db(frames(), ctx.tracks, phones=phones, state=state,
                        samples=ctx.samples if voiced else None, sample_rate=ctx.sample_rate)
    db.save(ctx.work_dir / FILENAME)
    counts = np.bincount(db.viseme, minlength=len(VISEMES))
    ctx.manifest.setdefault("engine", {}).setdefault("params", {})["mouths"] = {
        "file": FILENAME,
        "patches": len(db),
        "patch_size": list(db.size),
        "viseme_coverage": {v: int(c) for v, c in zip(VISEMES, counts)},
        "phones": len(phones),
        "audio_model": bool(db.audio_model.size),
    }
