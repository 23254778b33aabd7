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
    "AudioModelParams",
    "audio_features",
    "rms_envelope",
    "mouth_lead",
]

if TYPE_CHECKING:
    from facecraft.faces.build import BuildContext

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
MODEL_VERSION = 2  # layout of the packed audio model (see AudioMouthModel.pack)
MODEL_OUTPUTS = 2  # aperture, mouth width
HEAD = 10  # numbers before the arrays in a packed model


@dataclass(frozen=True)
class AudioModelParams:
    """How the per-Face audio-to-mouth model is learned (at build time, on the footage)."""

    context: int = 6  # frames of log-mel context on each side of the predicted frame
    delta_context: int = 2  # frames of context for the log-mel deltas
    sub_windows: int = 3  # spectra averaged per video frame (covers the whole frame, not its centre)
    lag_spread: int = 1  # lags tried: the footage's own A/V offset (loudness cross-correlation) +- this
    ridges: tuple[float, ...] = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)  # regularisation tried
    folds: int = 5  # contiguous cross-validation folds for choosing the lag and the ridge
    max_offset: int = 6  # most frames the lips may be found to lead or lag the sound (beyond: unclear)
    max_gain: float = 2.0  # most the predictions are stretched to the footage's own range of motion


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


def audio_features(
    samples: np.ndarray, sample_rate: int, fps: float, n: int, sub_windows: int = 3
) -> np.ndarray:
    """(n, N_MELS + 1) log-mel spectra and log energy per video frame (16 kHz, 32 ms windows).

    Each frame's spectrum is the mean of ``sub_windows`` windows spread over the frame's duration.
    """
    if sample_rate != 16000:
        raise ValueError("audio_features expects 16 kHz audio")
    win = 512
    hop = sample_rate / fps
    x = np.pad(np.asarray(samples, dtype=np.float64).reshape(-1), (win, win + int(n * hop) + win))
    power = np.zeros((n, _BANK.shape[0]))
    taper = np.hanning(win)[None, :]
    for k in range(sub_windows):
        centres = (np.arange(n) * hop + (k + 0.5) / sub_windows * hop).astype(np.int64) + win
        idx = centres[:, None] + np.arange(-win // 2, win // 2)[None, :]
        power += (np.abs(np.fft.rfft(x[idx] * taper, axis=1)) ** 2) @ _BANK.T
    power /= sub_windows
    return np.concatenate([np.log(power + 1e-8), np.log(power.sum(1, keepdims=True) + 1e-8)], axis=1)


def _stack(values: np.ndarray, context: int) -> np.ndarray:
    """Rows t-context..t+context side by side (edges repeated)."""
    n = len(values)
    padded = np.pad(values, ((context, context), (0, 0)), mode="edge")
    return np.concatenate([padded[k: k + n] for k in range(2 * context + 1)], axis=1)


def _shift(x: np.ndarray, lag: int) -> np.ndarray:
    """Row t of the result is row t - lag of ``x`` (edges repeated)."""
    idx = np.clip(np.arange(len(x)) - lag, 0, len(x) - 1)
    return x[idx]


def _ridge(x: np.ndarray, y: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray]:
    ym = y.mean(0)
    w = np.linalg.solve(x.T @ x + lam * np.eye(x.shape[1]), x.T @ (y - ym))
    return w, ym


@dataclass(frozen=True)
class AudioMouthModel:
    """Ridge regression from the Face's own speech to its lip aperture and mouth width.

    Learned at build time on the footage, where sound and tracked lips are known together; it
    gives the renderer the speaker's own timing and amount of opening, which recognised phones
    (noisy without a transcript) do not. Features: log-mel spectra and log energy per frame,
    standardised on the footage, stacked over +-``context`` frames, plus their deltas. The
    audio-video lag is the recording's own offset (the lead of the tracked aperture over the
    loudness at their best cross-correlation), refined by +-``lag_spread`` frames together with the
    ridge by cross-validation on the footage. Ridge predictions vary less than the lips do (the
    model is shrunk toward the mean where it is unsure), which reads as mumbling and lets mouth
    selection settle on half-open mouths; the weights are therefore scaled so that the
    cross-validated predictions span the footage's own range of aperture (see ``max_gain``).
    """

    context: int
    delta_context: int
    sub_windows: int
    lag: int  # the prediction for frame t reads the features of frame t - lag
    mean: np.ndarray  # (F,) per-frame feature mean
    scale: np.ndarray  # (F,)
    x_mean: np.ndarray  # (D,) design-matrix mean
    x_scale: np.ndarray  # (D,)
    weights: np.ndarray  # (D, outputs)
    bias: np.ndarray  # (outputs,)
    cv_r: float = float("nan")  # cross-validated aperture correlation on the footage
    mouth_lead: int = 0  # frames the footage's lips move before its sound (loudness cross-correlation)

    @property
    def future_frames(self) -> int:
        """How many frames of later audio one prediction reads (streaming look-ahead must cover it)."""
        return max(self.context, self.delta_context + 1) - min(self.lag, 0)

    @staticmethod
    def _design(
        base: np.ndarray, mean: np.ndarray, scale: np.ndarray, context: int, delta_context: int
    ) -> np.ndarray:
        z = (base - mean) / scale
        delta = np.gradient(z, axis=0) if len(z) > 1 else np.zeros_like(z)
        return np.concatenate([_stack(z, context), _stack(delta, delta_context)], axis=1)

    def predict(self, samples: np.ndarray, sample_rate: int, fps: float, n: int) -> np.ndarray:
        """(n, outputs) predicted aperture and mouth width per frame."""
        if n == 0:
            return np.zeros((0, MODEL_OUTPUTS))
        base = audio_features(samples, sample_rate, fps, n, self.sub_windows)
        x = self._design(base, self.mean, self.scale, self.context, self.delta_context)
        x = (x - self.x_mean) / self.x_scale
        return _shift(x, self.lag) @ self.weights + self.bias

    def pack(self) -> np.ndarray:
        head = [MODEL_VERSION, self.context, self.delta_context, self.sub_windows, self.lag,
                self.mean.size, self.x_mean.size, self.bias.size, self.cv_r, self.mouth_lead]
        return np.concatenate([head, self.mean, self.scale, self.x_mean, self.x_scale,
                               self.weights.ravel(), self.bias]).astype(np.float32)

    @classmethod
    def unpack(cls, packed: np.ndarray) -> AudioMouthModel | None:
        """The model from ``pack()``; None for an empty array; BundleError for another layout."""
        if packed.size == 0:
            return None
        p = packed.astype(np.float64)
        if p.size < HEAD or int(p[0]) != MODEL_VERSION:
            raise BundleError("the Face's audio-to-mouth model is from an older engine; rebuild the Face",
                              error_id="bundle_invalid")
        ctx, dctx, sub, lag, nf, nd, no = (int(v) for v in p[1:8])
        sizes = [nf, nf, nd, nd, nd * no, no]
        if p.size != HEAD + sum(sizes) or nd != nf * (2 * ctx + 1) + nf * (2 * dctx + 1):
            raise BundleError("the Face's audio-to-mouth model is damaged; rebuild the Face",
                              error_id="bundle_invalid")
        parts = np.split(p[HEAD:], np.cumsum(sizes)[:-1])
        return cls(context=ctx, delta_context=dctx, sub_windows=sub, lag=lag, mean=parts[0], scale=parts[1],
                   x_mean=parts[2], x_scale=parts[3], weights=parts[4].reshape(nd, no), bias=parts[5],
                   cv_r=float(p[8]), mouth_lead=int(p[9]))

    @classmethod
    def fit(
        cls, samples: np.ndarray, sample_rate: int, tracks: Tracks, params: AudioModelParams | None = None,
    ) -> AudioMouthModel | None:
        """Learn from the footage's audio and its tracked aperture and mouth width (NaN where unknown);
        lag and ridge are chosen on the aperture."""
        params = params or AudioModelParams()
        n = len(tracks)
        targets = np.column_stack([np.asarray(tracks.aperture, dtype=np.float64),
                                   np.asarray(tracks.mouth_width, dtype=np.float64)])
        ok = np.asarray(tracks.present, dtype=bool) & np.isfinite(targets).all(1)
        if samples is None or ok.sum() < max(2 * tracks.fps, 4 * params.folds) or np.std(targets[ok, 0]) == 0:
            return None
        base = audio_features(samples, sample_rate, tracks.fps, n, params.sub_windows)
        mean, scale = base.mean(0), base.std(0) + 1e-6
        x = cls._design(base, mean, scale, params.context, params.delta_context)
        x_mean, x_scale = x[ok].mean(0), x[ok].std(0) + 1e-6
        x = (x - x_mean) / x_scale
        offset = _av_offset(samples, sample_rate, tracks, params.max_offset)
        lags = tuple(range(-offset - params.lag_spread, -offset + params.lag_spread + 1))
        lag, lam, cv_r, cv_pred = _choose_lag_ridge(x, targets[:, 0], ok, lags, params)
        weights, bias = _ridge(_shift(x, lag)[ok], targets[ok], lam)
        gain = _range_gain(targets[:, 0], cv_pred, ok, params.max_gain)
        weights = weights * gain
        lead = max(offset, 0)
        log.info("audio-to-mouth model: lag %+d frames, ridge %g, cross-validated r %.2f, gain %.2f, lips lead "
                 "by %d frames", lag, lam, cv_r, gain, lead)
        return cls(context=params.context, delta_context=params.delta_context, sub_windows=params.sub_windows,
                   lag=lag, mean=mean, scale=scale, x_mean=x_mean, x_scale=x_scale, weights=weights,
                   bias=bias, cv_r=cv_r, mouth_lead=lead)


def rms_envelope(samples: np.ndarray, sample_rate: int, fps: float, n: int) -> np.ndarray:
    """(n,) RMS level of each video frame's own stretch of audio (0 past the end)."""
    hop = sample_rate / fps
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    env = np.zeros(n)
    for i in range(n):
        seg = x[int(i * hop): int((i + 1) * hop)]
        env[i] = np.sqrt(np.mean(seg**2)) if seg.size else 0.0
    return env


def mouth_lead(aperture: np.ndarray, envelope: np.ndarray, max_frames: int) -> int:
    """Frames by which the mouth aperture leads the audio loudness (negative: lags), searched within
    +-max_frames: the lead at which ``aperture[t]`` best matches ``envelope[t + lead]``. NaN (untracked
    frames) in either count as their mean, so two tracked apertures can be compared too."""
    n = len(envelope)
    a = np.asarray(aperture, dtype=np.float64)
    a = np.nan_to_num(a - np.nanmean(a))
    e = np.asarray(envelope, dtype=np.float64)
    e = np.nan_to_num(e - np.nanmean(e))
    best, best_v = 0, -np.inf
    for lead in range(-max_frames, max_frames + 1):
        v = np.dot(a[: n - lead], e[lead:]) if lead >= 0 else np.dot(a[-lead:], e[: n + lead])
        if v > best_v:
            best, best_v = lead, v
    return int(best)


def _av_offset(samples: np.ndarray, sample_rate: int, tracks: Tracks, max_offset: int) -> int:
    """The footage's own mouth lead (see ``mouth_lead``); 0 when unclear (at the edge of the search)."""
    env = rms_envelope(samples, sample_rate, tracks.fps, len(tracks))
    lead = mouth_lead(tracks.aperture, env, max_offset)
    return lead if abs(lead) < max_offset else 0


def _range_gain(y: np.ndarray, cv_pred: np.ndarray, ok: np.ndarray, max_gain: float) -> float:
    """Factor that gives the cross-validated predictions the spread of the targets (1 ..``max_gain``)."""
    good = ok & np.isfinite(cv_pred) & np.isfinite(y)
    if good.sum() < 3 or np.std(cv_pred[good]) <= 0:
        return 1.0
    return float(np.clip(np.std(y[good]) / np.std(cv_pred[good]), 1.0, max_gain))


def _choose_lag_ridge(
    x: np.ndarray, y: np.ndarray, ok: np.ndarray, lags: tuple[int, ...], params: AudioModelParams
) -> tuple[int, float, float, np.ndarray]:
    """The (lag, ridge) with the best cross-validated correlation on contiguous folds, that correlation,
    and the cross-validated predictions it was measured on (NaN where there are none).

    One SVD per (lag, fold) serves every ridge value.
    """
    n = len(y)
    fold = np.arange(n) * params.folds // n
    ridges = np.asarray(params.ridges, dtype=np.float64)
    best = (lags[len(lags) // 2], float(ridges[len(ridges) // 2]), -np.inf)
    best_pred = np.full(n, np.nan)
    for lag in lags:
        xs = _shift(x, lag)
        pred = np.full((len(ridges), n), np.nan)
        for k in range(params.folds):
            train, test = ok & (fold != k), ok & (fold == k)
            if train.sum() < 2 or not test.any():
                continue
            xm, ym = xs[train].mean(0), y[train].mean()
            u, sv, vt = np.linalg.svd(xs[train] - xm, full_matrices=False)
            uy = u.T @ (y[train] - ym)
            proj = (xs[test] - xm) @ vt.T  # (test, rank)
            for j, lam in enumerate(ridges):
                pred[j, test] = proj @ (sv / (sv**2 + lam) * uy) + ym
        for j, lam in enumerate(ridges):
            good = ok & np.isfinite(pred[j])
            if good.sum() < 3 or np.std(pred[j, good]) == 0:
                continue
            r = float(np.corrcoef(pred[j, good], y[good])[0, 1])
            if r > best[2]:
                best = (lag, float(lam), r)
                best_pred = pred[j].copy()
    return (*best, best_pred) if np.isfinite(best[2]) else (best[0], best[1], float("nan"), best_pred)


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
        patch = cv2.warpAffine(frame.image, mat, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
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
    known = ctx.phones is not None
    phones = ctx.phones if known else footage_phones(ctx.samples, ctx.sample_rate)
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
        "phones_source": "known" if known else "recognised",
        "audio_model": bool(db.audio_model.size),
    }
