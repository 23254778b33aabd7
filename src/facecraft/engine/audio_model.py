"""The per-Face audio-to-mouth model: the Face's own speech -> its lip aperture and mouth width per frame.

An engine build artefact (stored packed inside the mouth database, ``mouths.npz``): fitted once at
build time on the footage, where sound and tracked lips are known together (``AudioMouthModel.fit``),
then asked per output frame by the renderer's timeline (``AudioMouthModel.predict``). A replacement
(e.g. a speaker-independent model adapted per Face) keeps these two calls, ``pack``/``unpack`` and
``future_frames`` (how far ahead of a frame it reads).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from facecraft.audio import RATE, frame_rms
from facecraft.errors import BundleError
from facecraft.vision.types import Tracks

__all__ = [
    "AudioMouthModel",
    "AudioModelParams",
    "audio_features",
    "rms_envelope",
    "mouth_lead",
    "N_MELS",
]

log = logging.getLogger(__name__)

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


_BANK = _mel_bank(512, RATE)


def audio_features(
    samples: np.ndarray, sample_rate: int, fps: float, n: int, sub_windows: int = 3, *, first: int = 0,
    offset: int = 0,
) -> np.ndarray:
    """(n, N_MELS + 1) log-mel spectra and log energy of video frames ``first`` .. ``first + n - 1``
    (16 kHz, 32 ms windows); ``samples[0]`` is sample ``offset`` of the stream (zeros beyond its end).

    Each frame's spectrum is the mean of ``sub_windows`` windows spread over the frame's duration.
    """
    if sample_rate != RATE:
        raise ValueError(f"audio_features expects {RATE} Hz audio")
    win = 512
    hop = sample_rate / fps
    frames = np.arange(first, first + n)
    starts = [(frames * hop + (k + 0.5) / sub_windows * hop).astype(np.int64) - offset + win
              for k in range(sub_windows)]
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    reach = max((int(c.max()) for c in starts), default=0) + win // 2 + 1
    x = np.pad(x, (win, max(0, reach - win - x.size)))
    power = np.zeros((n, _BANK.shape[0]))
    taper = np.hanning(win)[None, :]
    for centres in starts:
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
    # the cross-validated aperture predictions on the footage (build time only, not stored: the lip-sync
    # model's blend with this one is chosen on them)
    cv_pred: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def future_frames(self) -> int:
        """How many frames of later audio one prediction reads (streaming look-ahead must cover it)."""
        return max(self.context, self.delta_context + 1) - min(self.lag, 0)

    @property
    def reach_frames(self) -> int:
        """Frames of audio either side of a frame that its prediction may read."""
        return self.context + self.delta_context + 1 + abs(self.lag)

    @property
    def edge_frames(self) -> int:
        """Frames at each edge of a predicted stretch that may differ from the whole stream's (the features
        are normalised and differenced over the stretch given)."""
        return self.reach_frames

    @staticmethod
    def _design(
        base: np.ndarray, mean: np.ndarray, scale: np.ndarray, context: int, delta_context: int
    ) -> np.ndarray:
        z = (base - mean) / scale
        delta = np.gradient(z, axis=0) if len(z) > 1 else np.zeros_like(z)
        return np.concatenate([_stack(z, context), _stack(delta, delta_context)], axis=1)

    def predict(
        self, samples: np.ndarray, sample_rate: int, fps: float, n: int, *, first: int = 0, offset: int = 0
    ) -> np.ndarray:
        """(n, outputs) predicted aperture and mouth width of frames ``first`` .. ``first + n - 1``
        (``samples[0]`` is sample ``offset``: see ``audio_features``). A stretch of a longer stream
        gives the whole stream's predictions ``future_frames`` (and as many past frames) from its edges."""
        if n == 0:
            return np.zeros((0, MODEL_OUTPUTS))
        base = audio_features(samples, sample_rate, fps, n, self.sub_windows, first=first, offset=offset)
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
                   bias=bias, cv_r=cv_r, mouth_lead=lead, cv_pred=cv_pred)


def rms_envelope(samples: np.ndarray, sample_rate: int, fps: float, n: int) -> np.ndarray:
    """(n,) RMS level of each video frame's own stretch of audio (0 past the end)."""
    hop = sample_rate / fps
    edges = (np.arange(n + 1) * hop).astype(np.int64)
    return frame_rms(samples, edges[:-1], edges[1:])


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


def _ridge_basis(xc: np.ndarray, xt: np.ndarray, yc: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``proj``, ``eig``, ``coef`` such that ``proj @ (coef / (eig + lam))`` predicts the rows ``xt`` by ridge
    regression of ``yc`` on ``xc`` (both centred) for any ``lam``: the eigendecomposition of ``xc xc'`` when
    there are fewer rows than columns, else of ``xc' xc``. The same predictions as the thin SVD of ``xc``
    (to 1e-12), for less (15 per build; per fold of 450 features: 0.07 s against 0.10 s at 400 rows, against
    0.21 s at 1400)."""
    if len(xc) <= xc.shape[1]:  # w = xc' (xc xc' + lam I)^-1 yc
        eig, q = np.linalg.eigh(xc @ xc.T)
        return (xt @ xc.T) @ q, np.maximum(eig, 0.0), q.T @ yc
    eig, v = np.linalg.eigh(xc.T @ xc)  # w = (xc' xc + lam I)^-1 xc' yc
    return xt @ v, np.maximum(eig, 0.0), v.T @ (xc.T @ yc)


def _choose_lag_ridge(
    x: np.ndarray, y: np.ndarray, ok: np.ndarray, lags: tuple[int, ...], params: AudioModelParams
) -> tuple[int, float, float, np.ndarray]:
    """The (lag, ridge) with the best cross-validated correlation on contiguous folds, that correlation,
    and the cross-validated predictions it was measured on (NaN where there are none).

    One eigendecomposition per (lag, fold) serves every ridge value (``_ridge_basis``).
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
            proj, eig, coef = _ridge_basis(xs[train] - xm, xs[test] - xm, y[train] - ym)
            for j, lam in enumerate(ridges):
                pred[j, test] = proj @ (coef / (eig + lam)) + ym
        for j, lam in enumerate(ridges):
            good = ok & np.isfinite(pred[j])
            if good.sum() < 3 or np.std(pred[j, good]) == 0:
                continue
            r = float(np.corrcoef(pred[j, good], y[good])[0, 1])
            if r > best[2]:
                best = (lag, float(lam), r)
                best_pred = pred[j].copy()
    return (*best, best_pred) if np.isfinite(best[2]) else (best[0], best[1], float("nan"), best_pred)
