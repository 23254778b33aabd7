"""Speaker-independent audio -> mouth: a model trained across many people, adapted to each Face.

The general model maps Whisper encoder states (``speech.encoder``, speaker-independent by training)
around each video frame to the lip opening and mouth width in *normalised* units: aperture as a share
of the speaker's own closed-to-open range, width as a z-score of the speaker's own widths. It is
trained by ``scripts/train_lipsync.py`` on many people (``../shared/testdata``) and ships as
``models/lipsync_general.npz`` (hash-checked at load). Ridge regression on a PCA of the states read
at a few fixed offsets in time, so it is independent of the frame rate.

At build time the Face adapts it (``FaceLipModel.fit``): its footage's audio and tracked lips refit the
weights by ridge regression pulled toward the general weights (the pull chosen by cross-validation
on the footage: a short or unclear clip stays close to the general model), its own audio-to-lips lag
is found, and the normalised outputs are mapped to the Face's own aperture and width range. The
result is a small per-Face file (``lipsync.npz``) with a ``predict(samples, fps, n)`` that gives
aperture and width per frame in the Face's inter-ocular units, like ``faces.mouthdb.AudioMouthModel``.
"""

from __future__ import annotations

import hashlib
import logging
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from facecraft.errors import BundleError
from facecraft.vision.types import Tracks

__all__ = [
    "GeneralLipModel",
    "FaceLipModel",
    "general_model",
    "GENERAL_FILE",
    "GENERAL_SHA256",
    "FILENAME",
    "OFFSETS_S",
    "normalise_targets",
    "design",
]

log = logging.getLogger(__name__)

FILENAME = "lipsync.npz"  # the per-Face file in a bundle
GENERAL_FILE = Path(__file__).resolve().parents[1] / "models" / "lipsync_general.npz"
# written by scripts/train_lipsync.py together with the file
GENERAL_SHA256 = "3df905ee48fba82a95267c0730aac41267fd5d61080d97f6da2ad54b9312123f"
# encoder states read at these offsets (seconds) from each frame's centre
OFFSETS_S = (-0.16, -0.12, -0.08, -0.04, 0.0, 0.04, 0.08, 0.12, 0.16)
STATE_RATE = 50.0
FACE_VERSION = 1


def normalise_targets(
    aperture: np.ndarray, width: np.ndarray, ok: np.ndarray
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Aperture as a share of the speaker's 5th..95th percentile range, width as its z-score; and the
    statistics to undo it."""
    ap, wd = np.asarray(aperture, np.float64), np.asarray(width, np.float64)
    lo, hi = np.percentile(ap[ok], [5, 95])
    span = max(hi - lo, 1e-3)
    wm, ws = float(np.mean(wd[ok])), float(np.std(wd[ok]) + 1e-4)
    stats = {"closed": float(lo), "span": float(span), "width_mean": wm, "width_std": ws}
    return (ap - lo) / span, (wd - wm) / ws, stats


def _sample_states(states: np.ndarray, times: np.ndarray) -> np.ndarray:
    """States (50 Hz, state k centred at (k + 0.5) / 50 s) linearly interpolated at ``times`` (seconds)."""
    if len(states) == 0:
        return np.zeros((len(times), states.shape[1] if states.ndim == 2 else 0), np.float32)
    pos = np.clip(times * STATE_RATE - 0.5, 0, len(states) - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(states) - 1)
    w = (pos - lo)[:, None]
    return (1 - w) * states[lo] + w * states[hi]


def design(states: np.ndarray, fps: float, n: int, mean: np.ndarray, scale: np.ndarray,
           basis: np.ndarray) -> np.ndarray:
    """(n, len(OFFSETS_S) * P) design matrix: the standardised, PCA-projected states at each offset."""
    z = (states - mean) / scale @ basis.T if len(states) else np.zeros((0, basis.shape[0]))
    centres = (np.arange(n) + 0.5) / fps
    return np.concatenate([_sample_states(z, centres + off) for off in OFFSETS_S], axis=1)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class GeneralLipModel:
    """The speaker-independent model (see module doc). Outputs: normalised aperture, normalised width."""

    mean: np.ndarray  # (DIM,) encoder-state mean
    scale: np.ndarray  # (DIM,)
    basis: np.ndarray  # (P, DIM) PCA basis
    x_mean: np.ndarray  # (D,)
    x_scale: np.ndarray  # (D,)
    weights: np.ndarray  # (D, 2)
    bias: np.ndarray  # (2,)
    lag_frames: float = 0.0  # median training lag (informative)

    def features(self, states: np.ndarray, fps: float, n: int) -> np.ndarray:
        x = design(states, fps, n, self.mean, self.scale, self.basis)
        return (x - self.x_mean) / self.x_scale

    def predict_states(self, states: np.ndarray, fps: float, n: int) -> np.ndarray:
        return self.features(states, fps, n) @ self.weights + self.bias

    def save(self, path: Path) -> None:
        np.savez(path, **{k: np.asarray(getattr(self, k)) for k in self.__dataclass_fields__})

    @classmethod
    def load(cls, path: Path, sha256: str | None = None) -> GeneralLipModel:
        path = Path(path)
        if not path.is_file():
            raise BundleError(f"the general lip-sync model {path.name} is missing; "
                              "run scripts/train_lipsync.py")
        if sha256:
            found = _sha256(path)
            if found != sha256:
                raise BundleError(f"the general lip-sync model {path.name} has sha256 {found}, "
                                  f"expected {sha256}")
        try:
            with np.load(path, allow_pickle=False) as data:
                fields = {k: data[k] for k in cls.__dataclass_fields__}
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            raise BundleError(f"the general lip-sync model {path.name} is damaged: {exc}") from exc
        fields["lag_frames"] = float(fields["lag_frames"])
        return cls(**fields)


@lru_cache(maxsize=1)
def general_model() -> GeneralLipModel:
    """The shipped general model, hash-checked."""
    return GeneralLipModel.load(GENERAL_FILE, GENERAL_SHA256 or None)


_override: list[GeneralLipModel] = []


@contextmanager
def general_override(model: GeneralLipModel | None) -> Iterator[None]:
    """Builds inside use ``model`` instead of the shipped one (the leave-one-speaker-out benchmark trains
    one per held-out speaker); None changes nothing."""
    if model is None:
        yield
        return
    _override.append(model)
    try:
        yield
    finally:
        _override.pop()


def current_general() -> GeneralLipModel:
    """The general model a build adapts: an override, else the shipped one."""
    return _override[-1] if _override else general_model()


# --- training (scripts/train_lipsync.py; the benchmark's leave-one-speaker-out folds) ---------------


@dataclass
class TrainingClip:
    """One clip of one speaker: its encoder states and normalised lip targets."""

    name: str
    speaker: str
    fps: float
    states: np.ndarray  # (T, DIM) encoder states at 50 Hz
    targets: np.ndarray  # (n, 2) normalised aperture and width (NaN where untracked)
    ok: np.ndarray  # (n,) bool

    @property
    def n(self) -> int:
        return len(self.targets)


N_PCA = 48
RIDGE = 300.0
MAX_LAG = 6  # frames a recording's lips may be offset from its sound


def shifted(y: np.ndarray, ok: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Targets of frame t taken from frame t + lag (the lips lead the sound by ``lag``), and where valid."""
    n = len(y)
    idx = np.arange(n) + lag
    valid = (idx >= 0) & (idx < n)
    ys = np.full_like(y, np.nan, dtype=np.float64)
    oks = np.zeros(n, bool)
    ys[valid] = y[idx[valid]]
    oks[valid] = ok[idx[valid]]
    return ys, oks


def best_lag(pred: np.ndarray, y: np.ndarray, ok: np.ndarray, max_lag: int = MAX_LAG) -> int:
    """The shift of the targets (see ``shifted``) that correlates best with ``pred``."""
    best, best_r = 0, -np.inf
    for lag in range(-max_lag, max_lag + 1):
        ys, oks = shifted(y, ok, lag)
        if oks.sum() < 10 or np.std(ys[oks]) == 0 or np.std(pred[oks]) == 0:
            continue
        r = np.corrcoef(pred[oks], ys[oks])[0, 1]
        if r > best_r:
            best, best_r = lag, r
    return best


def fit_general(data: list[TrainingClip], *, n_pca: int = N_PCA, ridge: float = RIDGE,
                align: bool = True) -> GeneralLipModel:
    """Ridge regression over every clip of ``data``. With ``align`` each clip's own audio-video offset is
    estimated from a first fit and removed before the second (recordings differ by several frames; the
    model should learn the lips' timing, not one recording's)."""
    allstates = np.concatenate([d.states for d in data])
    mean, scale = allstates.mean(0), allstates.std(0) + 1e-4
    z = (allstates - mean) / scale
    rng = np.random.default_rng(0)
    sample = z[rng.choice(len(z), size=min(len(z), 20000), replace=False)]
    _, _, vt = np.linalg.svd(sample - sample.mean(0), full_matrices=False)
    basis = vt[: min(n_pca, vt.shape[0])]
    xs = [design(d.states, d.fps, d.n, mean, scale, basis) for d in data]
    lags = [0] * len(data)
    for rnd in range(2 if align else 1):
        rows = [shifted(d.targets, d.ok, lag) for d, lag in zip(data, lags)]
        x = np.concatenate([xi[ok] for xi, (_, ok) in zip(xs, rows)])
        y = np.concatenate([yi[ok] for yi, ok in rows])
        x_mean, x_scale = x.mean(0), x.std(0) + 1e-6
        xz = (x - x_mean) / x_scale
        y_mean = y.mean(0)
        w = np.linalg.solve(xz.T @ xz + ridge * np.eye(xz.shape[1]), xz.T @ (y - y_mean))
        if rnd == 0 and align:
            lags = [best_lag(((xi - x_mean) / x_scale @ w)[:, 0], d.targets[:, 0], d.ok)
                    for xi, d in zip(xs, data)]
            log.info("clip lags: %s", dict(zip([d.name for d in data], lags)))
    return GeneralLipModel(mean=mean.astype(np.float32), scale=scale.astype(np.float32),
                           basis=basis.astype(np.float32), x_mean=x_mean.astype(np.float32),
                           x_scale=x_scale.astype(np.float32), weights=w.astype(np.float32),
                           bias=y_mean.astype(np.float32), lag_frames=float(np.median(lags)))


# --- the per-Face adaptation (a build step) ----------------------------------------------------------


@dataclass(frozen=True)
class AdaptParams:
    pulls: tuple[float, ...] = (np.inf, 10000.0, 3000.0, 1000.0, 300.0)  # ridge toward the general weights
    pull_margin: float = 0.03  # cross-validated r a refit must gain over the general weights to be used
    folds: int = 4  # contiguous cross-validation folds on the footage
    max_lag: int = MAX_LAG
    lag_cost: float = 0.01  # correlation a frame of lag must win by (short footage: noisy lags stay near 0)
    max_gain: float = 2.0  # most the predictions are stretched to the footage's own spread


@dataclass(frozen=True)
class FaceLipModel:
    """The general model adapted to one Face; ``predict`` gives aperture and width in the Face's units."""

    mean: np.ndarray
    scale: np.ndarray
    basis: np.ndarray
    x_mean: np.ndarray
    x_scale: np.ndarray
    weights: np.ndarray  # (D, 2) adapted weights, gain included
    bias: np.ndarray  # (2,)
    lag: int  # the prediction for frame t reads the audio of frame t - lag (negative: the lips lead)
    closed: float  # the Face's aperture at share 0 (5th percentile)
    span: float  # its 5th..95th percentile range
    width_mean: float
    width_std: float
    cv_r: float = float("nan")  # cross-validated aperture correlation on the footage
    pull: float = float("inf")  # the chosen pull toward the general weights (inf: the general model as is)

    @property
    def mouth_lead(self) -> int:
        """Frames the Face's lips move before its sound (0 when they do not)."""
        return max(-self.lag, 0)

    @property
    def future_frames(self) -> int:
        """Frames of later audio one prediction reads (the streaming look-ahead must cover it)."""
        return int(np.ceil(max(OFFSETS_S) * 30)) + max(-self.lag, 0) + 1  # at up to 30 fps

    def _x(self, samples: np.ndarray, fps: float, n: int) -> np.ndarray:
        from facecraft.speech.encoder import encoder

        states = encoder().timeline(samples)
        x = design(states, fps, n, self.mean, self.scale, self.basis)
        return (x - self.x_mean) / self.x_scale

    def predict(self, samples: np.ndarray, sample_rate: int, fps: float, n: int) -> np.ndarray:
        """(n, 2) aperture and mouth width (inter-ocular units) for 16 kHz ``samples``."""
        if sample_rate != 16000:
            raise ValueError("FaceLipModel.predict expects 16 kHz audio")
        if n == 0:
            return np.zeros((0, 2))
        x = self._x(samples, fps, n)
        idx = np.clip(np.arange(n) - self.lag, 0, n - 1)
        out = x[idx] @ self.weights + self.bias
        return np.column_stack([self.closed + self.span * out[:, 0],
                                self.width_mean + self.width_std * out[:, 1]])

    def save(self, path: Path) -> None:
        np.savez(path, version=np.array(FACE_VERSION),
                 **{k: np.asarray(getattr(self, k)) for k in self.__dataclass_fields__})

    @classmethod
    def load(cls, path: Path) -> FaceLipModel:
        try:
            with np.load(path, allow_pickle=False) as data:
                if int(data["version"]) != FACE_VERSION:
                    raise BundleError("the Face's lip-sync model is from another engine version; "
                                      "rebuild the Face",
                                      error_id="bundle_invalid")
                fields = {k: data[k] for k in cls.__dataclass_fields__}
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            raise BundleError(f"the Face's lip-sync model {Path(path).name} is damaged: {exc}",
                              error_id="bundle_invalid") from exc
        for k in ("closed", "span", "width_mean", "width_std", "cv_r", "pull"):
            fields[k] = float(fields[k])
        fields["lag"] = int(fields["lag"])
        return cls(**fields)

    @classmethod
    def fit(cls, samples: np.ndarray, sample_rate: int, tracks: Tracks,
            general: GeneralLipModel | None = None, params: AdaptParams | None = None) -> FaceLipModel | None:
        """Adapt ``general`` (default: the shipped one) to the footage's audio and tracked lips; None when the
        footage has too little tracked speech to learn from."""
        from facecraft.speech.encoder import encoder

        if sample_rate != 16000:
            raise ValueError("FaceLipModel.fit expects 16 kHz audio")
        params = params or AdaptParams()
        general = general or current_general()
        n = len(tracks)
        ok = np.asarray(tracks.present, bool) & np.isfinite(tracks.aperture) & np.isfinite(tracks.mouth_width)
        if samples is None or ok.sum() < max(2 * tracks.fps, 4 * params.folds):
            return None
        ap, wd, stats = normalise_targets(tracks.aperture, tracks.mouth_width, ok)
        y = np.column_stack([ap, wd])
        x = general.features(encoder().timeline(samples), tracks.fps, n)
        g = x @ general.weights + general.bias
        lag = _choose_lag(g[:, 0], ap, ok, params)
        ys, oks = shifted(y, ok, lag)  # frame t's lips are frame t + lag's targets
        pull, cv_r, cv_pred = _choose_pull(x, ys, oks, general, params)
        weights, bias = _pulled_ridge(x[oks], ys[oks], general, pull)
        good = oks & np.isfinite(cv_pred)
        gain = 1.0
        if good.sum() > 3 and np.std(cv_pred[good]) > 0:
            gain = float(np.clip(np.std(ys[good, 0]) / np.std(cv_pred[good]), 1.0, params.max_gain))
        weights = weights * np.array([gain, 1.0])
        bias = bias.copy()  # stretched about the footage's mean aperture, which stays where it was
        bias[0] += float(np.mean(ys[oks, 0]) - np.mean(x[oks] @ weights[:, 0] + bias[0]))
        log.info("lip-sync model adapted: lag %+d frames, pull %g, cross-validated r %.2f, gain %.2f",
                 lag, pull, cv_r, gain)
        # fitted: the lips of frame t + lag on the audio of frame t, so frame t reads the audio of t - lag
        return cls(mean=general.mean, scale=general.scale, basis=general.basis, x_mean=general.x_mean,
                   x_scale=general.x_scale, weights=weights.astype(np.float32), bias=bias.astype(np.float32),
                   lag=lag, closed=stats["closed"], span=stats["span"], width_mean=stats["width_mean"],
                   width_std=stats["width_std"], cv_r=cv_r, pull=pull)


def _choose_lag(pred: np.ndarray, y: np.ndarray, ok: np.ndarray, params: AdaptParams) -> int:
    best, best_score = 0, -np.inf
    for lag in range(-params.max_lag, params.max_lag + 1):
        ys, oks = shifted(y, ok, lag)
        if oks.sum() < 10 or np.std(ys[oks]) == 0 or np.std(pred[oks]) == 0:
            continue
        score = np.corrcoef(pred[oks], ys[oks])[0, 1] - params.lag_cost * abs(lag)
        if score > best_score:
            best, best_score = lag, score
    return best


def _pulled_ridge(
    x: np.ndarray, y: np.ndarray, general: GeneralLipModel, pull: float
) -> tuple[np.ndarray, np.ndarray]:
    """Weights minimising |x w + b - y|^2 + pull |w - w_general|^2 (``pull`` inf: the general weights with
    the bias refit)."""
    w0 = general.weights.astype(np.float64)
    if not np.isfinite(pull):
        return w0, (y - x @ w0).mean(0)
    xm, ym = x.mean(0), y.mean(0)
    xc = x - xm
    resid = (y - ym) - xc @ w0
    dw = np.linalg.solve(xc.T @ xc + pull * np.eye(x.shape[1]), xc.T @ resid)
    w = w0 + dw
    return w, ym - xm @ w


def _choose_pull(x: np.ndarray, y: np.ndarray, ok: np.ndarray, general: GeneralLipModel,
                 params: AdaptParams) -> tuple[float, float, np.ndarray]:
    """The pull with the best cross-validated aperture correlation on contiguous folds (a refit must beat
    the general weights, tried first, by ``pull_margin``: on a short clip it mostly fits noise), that
    correlation and its cross-validated predictions."""
    n = len(y)
    fold = np.arange(n) * params.folds // n
    best: tuple[float, float, np.ndarray | None] = (np.inf, -np.inf, None)
    for pull in params.pulls:
        pred = np.full(n, np.nan)
        for k in range(params.folds):
            train, test = ok & (fold != k), ok & (fold == k)
            if train.sum() < 10 or not test.any():
                continue
            w, b = _pulled_ridge(x[train], y[train], general, pull)
            pred[test] = x[test] @ w[:, 0] + b[0]
        good = ok & np.isfinite(pred)
        if good.sum() < 10 or np.std(pred[good]) == 0:
            continue
        r = float(np.corrcoef(pred[good], y[good, 0])[0, 1])
        margin = params.pull_margin if np.isfinite(pull) and best[2] is not None else 0.0
        if r > best[1] + margin:
            best = (pull, r, pred)
    return best[0], best[1], best[2] if best[2] is not None else np.full(n, np.nan)


def step_lipsync(ctx) -> None:  # noqa: ANN001 - faces.build.BuildContext (imported there, not here)
    """Build step: adapt the general lip-sync model to the footage and write ``lipsync.npz``."""
    voiced = ctx.samples is not None and bool(ctx.analysis is not None and ctx.analysis.speaking)
    model = FaceLipModel.fit(ctx.samples, ctx.sample_rate, ctx.tracks) if voiced else None
    params = ctx.manifest.setdefault("engine", {}).setdefault("params", {})
    if model is None:
        params["lipsync"] = {"file": None}
        return
    model.save(ctx.work_dir / FILENAME)
    params["lipsync"] = {"file": FILENAME, "lag_frames": model.lag, "pull": model.pull,
                         "cv_r": round(model.cv_r, 3), "general_sha256": GENERAL_SHA256}
