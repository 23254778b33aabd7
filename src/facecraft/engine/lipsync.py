"""Speaker-independent audio -> mouth: a model trained across many people, adapted to each Face.

The general model maps Whisper encoder states (``speech.encoder``, speaker-independent by training)
around each video frame to the lip opening and mouth width in *normalised* units: aperture as a share
of the speaker's own closed-to-open range, width as a z-score of the speaker's own widths. It is
trained by ``scripts/train_lipsync.py`` on many people (``../shared/testdata``) and ships as
``models/lipsync_general.npz`` (``facecraft.models``: hash-checked at load). Ridge regression on a PCA
of the states read at a few fixed offsets in time, so it is independent of the frame rate.

At build time the Face adapts it (``FaceLipModel.fit``): its footage's audio and tracked lips refit the
weights by ridge regression pulled toward the general weights (the pull chosen by cross-validation
on the footage: a short or unclear clip stays close to the general model), its own audio-to-lips lag
is found, and the normalised outputs are mapped to the Face's own aperture and width range. The
result is a small per-Face file (``lipsync.npz``) with a ``predict(samples, fps, n)`` that gives
aperture and width per frame in the Face's inter-ocular units, like ``engine.audio_model.AudioMouthModel``
(the Face's own log-mel model, which a Face without usable speech keeps). A prediction for a frame reads
the audio from ``past_frames`` before it to ``future_frames`` after it (the encoder's windows and the
offsets), so a stretch of a stream predicts as the whole stream does.
"""

from __future__ import annotations

import logging
import math
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from facecraft.audio import RATE
from facecraft.engine.timeline import DEFAULT_PAUSE_SHARE, MAX_PAUSE_SHARE
from facecraft.errors import BundleError
from facecraft.speech import encoder as enc
from facecraft.vision.types import Tracks

if TYPE_CHECKING:
    from facecraft.engine.audio_model import AudioMouthModel
    from facecraft.speech.encoder import WhisperEncoder

__all__ = [
    "GeneralLipModel",
    "FaceLipModel",
    "BlendedMouthModel",
    "general_model",
    "general_sha256",
    "FILENAME",
    "OFFSETS_S",
    "normalise_targets",
    "design",
]

log = logging.getLogger(__name__)

FILENAME = "lipsync.npz"  # the per-Face file in a bundle
GENERAL_MODEL = "lipsync_general"  # its name in facecraft.models
# encoder states read at these offsets (seconds) from each frame's centre
OFFSETS_S = (-0.16, -0.12, -0.08, -0.04, 0.0, 0.04, 0.08, 0.12, 0.16)
STATE_RATE = enc.STATE_RATE
FACE_VERSION = 2
_MAX_FPS = 30.0  # the highest footage rate (faces.build), for reaches counted in frames


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


def _sample_states(states: np.ndarray, times: np.ndarray, k0: int = 0) -> np.ndarray:
    """States (50 Hz, state k centred at (k + 0.5) / 50 s; ``states[0]`` is state ``k0``) linearly
    interpolated at ``times`` (seconds)."""
    if len(states) == 0:
        return np.zeros((len(times), states.shape[1] if states.ndim == 2 else 0), np.float32)
    pos = np.clip(times * STATE_RATE - 0.5 - k0, 0, len(states) - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(states) - 1)
    w = (pos - lo)[:, None]
    return (1 - w) * states[lo] + w * states[hi]


def design(states: np.ndarray, fps: float, n: int, mean: np.ndarray, scale: np.ndarray,
           basis: np.ndarray, *, first: int = 0, k0: int = 0) -> np.ndarray:
    """(n, len(OFFSETS_S) * P) design matrix of frames ``first`` .. ``first + n - 1``: the standardised,
    PCA-projected states (``states[0]`` is state ``k0``) at each offset."""
    z = (states - mean) / scale @ basis.T if len(states) else np.zeros((0, basis.shape[0]))
    centres = (np.arange(first, first + n) + 0.5) / fps
    return np.concatenate([_sample_states(z, centres + off, k0) for off in OFFSETS_S], axis=1)


def state_span(fps: float, first: int, n: int) -> tuple[int, int]:
    """States ``[k0, k1)`` that ``design`` reads for frames ``first`` .. ``first + n - 1``."""
    t0 = (first + 0.5) / fps + min(OFFSETS_S)
    t1 = (first + n - 0.5) / fps + max(OFFSETS_S)
    return max(0, int(math.floor(t0 * STATE_RATE - 0.5))), int(math.floor(t1 * STATE_RATE - 0.5)) + 2


def frame_design(encoder: WhisperEncoder, samples: np.ndarray, fps: float, n: int, mean: np.ndarray,
                 scale: np.ndarray, basis: np.ndarray, *, first: int = 0, offset: int = 0) -> np.ndarray:
    """``design`` of frames ``first`` .. ``first + n - 1`` of a stream whose audio from sample ``offset`` on
    is ``samples``: only the states those frames read are encoded."""
    k0, k1 = state_span(fps, first, n)
    states = encoder.states(samples, k0, k1 - k0, offset=offset)
    return design(states, fps, n, mean, scale, basis, first=first, k0=k0)


def _layout_error(found: np.ndarray) -> str | None:
    want = np.asarray(enc.LAYOUT, dtype=np.float64)
    if found.shape != want.shape or not np.allclose(found, want):
        return (f"was trained on encoder windows {found.tolist()}, the engine reads {want.tolist()}")
    return None


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
    layout: np.ndarray = field(default_factory=lambda: np.asarray(enc.LAYOUT, dtype=np.float64))  # windows trained on

    def features(self, states: np.ndarray, fps: float, n: int) -> np.ndarray:
        x = design(states, fps, n, self.mean, self.scale, self.basis)
        return (x - self.x_mean) / self.x_scale

    def predict_states(self, states: np.ndarray, fps: float, n: int) -> np.ndarray:
        return self.features(states, fps, n) @ self.weights + self.bias

    def save(self, path: Path) -> None:
        np.savez(path, **{k: np.asarray(getattr(self, k)) for k in self.__dataclass_fields__})

    @classmethod
    def load(cls, path: Path) -> GeneralLipModel:
        """The model in ``path`` (the shipped one: ``general_model()``, which checks its hash first)."""
        from facecraft.errors import ModelError

        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                fields: dict[str, Any] = {k: data[k] for k in cls.__dataclass_fields__}
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            raise ModelError(f"the general lip-sync model {path.name} is damaged or missing: {exc}") from exc
        fields["lag_frames"] = float(fields["lag_frames"])
        problem = _layout_error(np.asarray(fields["layout"], dtype=np.float64))
        if problem:
            raise ModelError(f"the general lip-sync model {path.name} {problem}; retrain it "
                             "(scripts/train_lipsync.py)")
        return cls(**fields)


@lru_cache(maxsize=1)
def general_model() -> GeneralLipModel:
    """The shipped general model, hash-checked (``facecraft.models``)."""
    from facecraft.models import model_path

    return GeneralLipModel.load(model_path(GENERAL_MODEL))


def general_sha256() -> str:
    """The recorded sha256 of the shipped general model (a built Face notes which one it adapted)."""
    from facecraft.models import MODELS

    return MODELS[GENERAL_MODEL].sha256


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


# leave-one-speaker-out over 31 clips (scripts/train_lipsync.py --loso; r of a model that never saw the
# speaker, at each clip's best lag; in brackets on each clip's last 30 % at the lag its first 70 % shows):
# 48 dims, ridge 300: 0.615 (0.595); 96 / 1000: 0.665 (0.631); 128 / 1000: 0.677 (0.643); 128 / 3000:
# 0.682 (0.649); 128 / 8000: 0.684 (0.652); 192 / 3000: 0.674 (0.631): more dims fit the training
# speakers, not new ones. Wider offsets (13 over +-0.24 s) and smoothing the output did not help.
# scripts/train_lipsync.py --loso (PCA refitted per fold): r at lag 0 0.456 -> 0.525, at the best lag
# 0.610 -> 0.683, width r 0.483 -> 0.576 (48 / 300 -> 128 / 8000).
# Brief 21d screening (31 clips, each scored by a model that never saw its speaker; "tune" = the 18 clips
# outside bench/results/fidelity_loso_subset.json, r at the best lag / on the last 30 % at the first 70 %'s
# lag; PCA and lags fixed across folds): pooled ridge 0.680 / 0.641; wider or asymmetric offsets (-0.28..
# +0.16, -0.16..+0.28, +-0.24 s) 0.678-0.681 / 0.637-0.642; 64 dims 0.654 / 0.633; smoothing the output
# (20-60 ms) 0.661-0.680 / 0.618-0.632; random Fourier or ReLU features (512) beside the linear ones
# 0.659-0.681 / 0.621-0.640; fitted within clips (per-clip centring) 0.685 / 0.676, and with clips weighted
# by 1/sqrt(length) 0.690 / 0.686 (the 13 subset clips: 0.692 / 0.656 -> 0.700 / 0.649). That last one
# (``within``) on bench/fidelity.py --loso, 13 clips (bench/results/fidelity_loso_subset_within_21d.json,
# load ~12): aperture r 0.575 -> 0.574 (dev 0.595 -> 0.586, corpus 0.566 -> 0.569; 7 clips up, 6 down),
# plan r 0.584 -> 0.592: no gain once the Face adapts (it refits the bias, lag and gain on its footage), so
# the shipped model stays pooled. A one-hidden-layer tanh MLP (32 units on the first 32 PCA dims per offset,
# beside the linear weights; scipy L-BFGS, 150 steps, screened as above): 0.680 / 0.650 (L2 100), 0.680 / 0.642
# (L2 1000); subset 0.696 / 0.663: +0.01 at most, not worth a new per-Face format. Nothing here reached a
# prediction r near the ~0.70+ that 0.65 rendered needs.
N_PCA = 128
RIDGE = 8000.0
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


def clip_weight(n: int) -> float:
    """Weight of a clip's frames in ``fit_general``: 1/sqrt of its length (300 frames: 1), so a few long
    recordings do not outweigh many short ones (the model is for new people, not for the longest ones)."""
    return 1.0 / math.sqrt(max(n, 1) / 300.0)


def fit_general(data: list[TrainingClip], *, n_pca: int = N_PCA, ridge: float = RIDGE,
                align: bool = True, within: bool = False) -> GeneralLipModel:
    """Ridge regression over every clip of ``data``. With ``align`` each clip's own audio-video offset is
    estimated from a first fit and removed before the second (recordings differ by several frames; the
    model should learn the lips' timing, not one recording's). With ``within`` the regression is fitted
    within clips: features and targets centred per clip and each clip weighted by ``clip_weight`` (a clip's
    mean opening is its recording's and tracker's, not its speech's; a Face refits the bias anyway). It
    predicts held-out speakers better but renders no better (see the notes above ``N_PCA``), so the shipped
    model is pooled."""
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
        y_mean = y.mean(0)
        dim = len(x_mean)
        gram, cross = ridge * np.eye(dim), np.zeros((dim, y.shape[1]))
        for xi, (yi, ok) in zip(xs, rows):
            xc, yc = (xi[ok] - x_mean) / x_scale, yi[ok]
            if within:
                q = clip_weight(len(yc))
                xc, yc = xc - xc.mean(0), yc - yc.mean(0)
            else:
                q, yc = 1.0, yc - y_mean
            gram += q * (xc.T @ xc)
            cross += q * (xc.T @ yc)
        w = np.linalg.solve(gram, cross)
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
    blends: tuple[float, ...] = tuple(np.round(np.linspace(0.0, 1.0, 11), 2))  # shares tried (see ``blend``)
    # footage shorter than this keeps this model alone: the Face's own model is fitted on the footage only
    # and on a few seconds its cross-validation overstates it (measured over 25 clips, model level: with
    # the blend, builds of 3.5-10 s lost 0.04 aperture r on average, builds of 14-42 s gained 0.05)
    min_blend_s: float = 10.0
    # footage shorter than this keeps the general weights (pull inf; lag, range and blend are still its own):
    # the refit's cross-validation on a few seconds picks noise. Leave-one-speaker-out on 8 corpus clips of
    # 3.5-7 s of footage (scored on their last 30 %), aperture r 0.619 -> 0.669, none lower; on dfrf_french
    # (35 s) the refit gains (0.760 -> 0.792), so long footage keeps it
    min_refit_s: float = 10.0


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
    # share of the aperture and width from this model; the rest from the Face's own log-mel model
    # (``engine.audio_model``), chosen by cross-validation on the footage (``BlendedMouthModel``)
    blend: float = 1.0
    # the Face's lips in the pauses between its words, share of closed..open of its mouth database
    # (``timeline.pause_habit``, measured at build); a model saved without it: the engine's default
    pause_share: float = DEFAULT_PAUSE_SHARE
    # the wide habit (``EngineConfig.pause_open_quantile`` of those openings), the cap in short pauses inside
    # speech; NaN: not measured (older bundles, too few pause frames): ``pause_share`` stands in
    pause_open: float = float("nan")

    @property
    def mouth_lead(self) -> int:
        """Frames the Face's lips move before its sound (0 when they do not)."""
        return max(-self.lag, 0)

    @property
    def future_frames(self) -> int:
        """Frames of later audio one prediction reads (at up to 30 fps; the streaming look-ahead should
        cover it, or frames planned before that audio arrives differ from the batch render's)."""
        return math.ceil((enc.future_s() + max(OFFSETS_S)) * _MAX_FPS) + max(-self.lag, 0) + 1

    @property
    def past_frames(self) -> int:
        """Frames of earlier audio one prediction reads (at up to 30 fps)."""
        return math.ceil((enc.past_s() - min(OFFSETS_S)) * _MAX_FPS) + max(self.lag, 0) + 1

    @property
    def reach_frames(self) -> int:
        """Frames of audio either side of a frame that its prediction may read."""
        return max(self.future_frames, self.past_frames)

    @property
    def edge_frames(self) -> int:
        """Frames at each edge of a predicted stretch that may differ from the whole stream's: none, the
        states of any frame are those of the whole stream given its audio."""
        return 0

    def predict(self, samples: np.ndarray, sample_rate: int, fps: float, n: int, *, first: int = 0,
                offset: int = 0) -> np.ndarray:
        """(n, 2) aperture and mouth width (inter-ocular units) of frames ``first`` .. ``first + n - 1`` of a
        stream whose 16 kHz audio from sample ``offset`` on is ``samples`` (hold ``reach_frames`` of audio
        around the frames: audio not held reads as silence)."""
        if sample_rate != RATE:
            raise ValueError("FaceLipModel.predict expects 16 kHz audio")
        if n == 0:
            return np.zeros((0, 2))
        # frame t shows the lips of the audio of frame t - lag; before the stream's start, its first frame's
        src = np.maximum(np.arange(first, first + n) - self.lag, 0)
        lo, hi = int(src[0]), int(src[-1]) + 1
        x = frame_design(enc.encoder(), samples, fps, hi - lo, self.mean, self.scale, self.basis, first=lo,
                         offset=offset)
        x = (x[src - lo] - self.x_mean) / self.x_scale
        out = x @ self.weights + self.bias
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
                optional = ("blend", "pause_share", "pause_open")  # absent from older bundles: their defaults
                fields = {k: data[k] for k in cls.__dataclass_fields__ if k not in optional or k in data}
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            raise BundleError(f"the Face's lip-sync model {Path(path).name} is damaged: {exc}",
                              error_id="bundle_invalid") from exc
        for k in ("closed", "span", "width_mean", "width_std", "cv_r", "pull", "blend", "pause_share", "pause_open"):
            if k not in fields:
                continue
            fields[k] = float(fields[k])
        share = fields.get("pause_share", DEFAULT_PAUSE_SHARE)
        wide = fields.get("pause_open", float("nan"))
        if not 0.0 <= share <= MAX_PAUSE_SHARE or not (np.isnan(wide) or 0.0 <= wide <= MAX_PAUSE_SHARE):
            raise BundleError(f"the Face's lip-sync model {Path(path).name} holds a pause share of {share} "
                              f"(wide {wide}; expected 0..{MAX_PAUSE_SHARE}); rebuild the Face",
                              error_id="bundle_invalid")
        fields["lag"] = int(fields["lag"])
        return cls(**fields)

    @classmethod
    def fit(cls, samples: np.ndarray, sample_rate: int, tracks: Tracks,
            general: GeneralLipModel | None = None, params: AdaptParams | None = None,
            own_cv: np.ndarray | None = None, states: np.ndarray | None = None) -> FaceLipModel | None:
        """Adapt ``general`` (default: the shipped one) to the footage's audio and tracked lips; None when the
        footage has too little tracked speech to learn from. ``own_cv``: the Face's own log-mel model's
        cross-validated aperture predictions on the same frames (``AudioMouthModel.cv_pred``): the share
        of each in the render (``blend``) is the one whose mix of the two predicts the footage best.
        ``states``: the encoder states of ``samples`` (``WhisperEncoder.timeline``) when already computed
        (a build computes them while the footage is tracked)."""
        if sample_rate != RATE:
            raise ValueError("FaceLipModel.fit expects 16 kHz audio")
        params = params or AdaptParams()
        general = general or current_general()
        n = len(tracks)
        ok = np.asarray(tracks.present, bool) & np.isfinite(tracks.aperture) & np.isfinite(tracks.mouth_width)
        if samples is None or ok.sum() < max(2 * tracks.fps, 4 * params.folds):
            return None
        ap, wd, stats = normalise_targets(tracks.aperture, tracks.mouth_width, ok)
        y = np.column_stack([ap, wd])
        x = general.features(enc.encoder().timeline(samples) if states is None else states, tracks.fps, n)
        g = x @ general.weights + general.bias
        lag = _choose_lag(g[:, 0], ap, ok, params)
        ys, oks = shifted(y, ok, lag)  # frame t's lips are frame t + lag's targets
        short = n / tracks.fps < params.min_refit_s
        pull, cv_r, cv_pred = _choose_pull(x, ys, oks, general, replace(params, pulls=(np.inf,)) if short else params)
        weights, bias = _pulled_ridge(x[oks], ys[oks], general, pull)
        good = oks & np.isfinite(cv_pred)
        gain = 1.0
        if good.sum() > 3 and np.std(cv_pred[good]) > 0:
            gain = float(np.clip(np.std(ys[good, 0]) / np.std(cv_pred[good]), 1.0, params.max_gain))
        weights = weights * np.array([gain, 1.0])
        bias = bias.copy()  # stretched about the footage's mean aperture, which stays where it was
        bias[0] += float(np.mean(ys[oks, 0]) - np.mean(x[oks] @ weights[:, 0] + bias[0]))
        # this model's cross-validated apertures, in the Face's units, on the frames whose lips they predict
        mine = np.full(n, np.nan)
        frames = np.arange(n) - lag
        inside = (frames >= 0) & (frames < n)
        mine[np.flatnonzero(inside)] = stats["closed"] + stats["span"] * cv_pred[frames[inside]]
        own = own_cv if n / tracks.fps >= params.min_blend_s else None
        blend, blend_r = _choose_blend(mine, own, np.where(ok, tracks.aperture, np.nan), params)
        log.info("lip-sync model adapted: lag %+d frames, pull %g, cross-validated r %.2f, gain %.2f, share %.1f "
                 "(with the Face's own model: r %.2f)", lag, pull, cv_r, gain, blend, blend_r)
        # fitted: the lips of frame t + lag on the audio of frame t, so frame t reads the audio of t - lag
        return cls(mean=general.mean, scale=general.scale, basis=general.basis, x_mean=general.x_mean,
                   x_scale=general.x_scale, weights=weights.astype(np.float32), bias=bias.astype(np.float32),
                   lag=lag, closed=stats["closed"], span=stats["span"], width_mean=stats["width_mean"],
                   width_std=stats["width_std"], cv_r=cv_r, pull=pull, blend=blend)


def _choose_blend(mine: np.ndarray, own: np.ndarray | None, y: np.ndarray,
                  params: AdaptParams) -> tuple[float, float]:
    """The share of ``mine`` in a mix with ``own`` (both cross-validated predictions of ``y``) that
    correlates best with ``y``, and that correlation (1.0 and NaN without ``own``)."""
    if own is None or len(own) != len(mine):
        return 1.0, float("nan")
    good = np.isfinite(mine) & np.isfinite(own) & np.isfinite(y)
    if good.sum() < 10 or np.std(y[good]) == 0:
        return 1.0, float("nan")
    best, best_r = 1.0, -np.inf
    for share in sorted(params.blends, reverse=True):  # ties keep the speaker-independent model
        mix = share * mine[good] + (1 - share) * own[good]
        if np.std(mix) == 0:
            continue
        r = float(np.corrcoef(mix, y[good])[0, 1])
        if r > best_r + 1e-9:
            best, best_r = float(share), r
    return best, best_r


@dataclass(frozen=True)
class BlendedMouthModel:
    """A Face's lip-sync model mixed with its own log-mel model by the share chosen at build time
    (``FaceLipModel.blend``); the renderer's audio model where that share is below 1."""

    lip: FaceLipModel
    own: AudioMouthModel

    @property
    def share(self) -> float:
        return self.lip.blend

    @property
    def mouth_lead(self) -> int:
        return self.lip.mouth_lead

    @property
    def future_frames(self) -> int:
        return max(self.lip.future_frames, self.own.future_frames)

    @property
    def reach_frames(self) -> int:
        return max(self.lip.reach_frames, self.own.reach_frames)

    @property
    def edge_frames(self) -> int:
        return max(self.lip.edge_frames, self.own.edge_frames)

    def predict(self, samples: np.ndarray, sample_rate: int, fps: float, n: int, *, first: int = 0,
                offset: int = 0) -> np.ndarray:
        """As ``FaceLipModel.predict``: the two models' predictions mixed."""
        a = self.lip.predict(samples, sample_rate, fps, n, first=first, offset=offset)
        if self.share >= 1.0:
            return a
        b = self.own.predict(samples, sample_rate, fps, n, first=first, offset=offset)
        return self.share * a + (1.0 - self.share) * b[:, : a.shape[1]]


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
    preds = _pull_predictions(x, y[:, 0], ok, fold, general.weights[:, 0].astype(np.float64), params)
    best: tuple[float, float, np.ndarray | None] = (np.inf, -np.inf, None)
    for pull, pred in zip(params.pulls, preds):
        good = ok & np.isfinite(pred)
        if good.sum() < 10 or np.std(pred[good]) == 0:
            continue
        r = float(np.corrcoef(pred[good], y[good, 0])[0, 1])
        margin = params.pull_margin if np.isfinite(pull) and best[2] is not None else 0.0
        if r > best[1] + margin:
            best = (pull, r, pred)
    return best[0], best[1], best[2] if best[2] is not None else np.full(n, np.nan)


def _pull_predictions(x: np.ndarray, y: np.ndarray, ok: np.ndarray, fold: np.ndarray, w0: np.ndarray,
                      params: AdaptParams) -> list[np.ndarray]:
    """Per pull of ``params.pulls``, the cross-validated predictions of ``y`` by ``_pulled_ridge``'s weights
    (NaN where a frame has none), computed once per fold for every pull, on the smaller side: with fewer
    training frames m than features, (X'X + pull I)^-1 X'r = X'(XX' + pull I)^-1 r needs m x m solves;
    else one Gram matrix per fold. The same predictions (to 1e-13) as a D x D solve and Gram matrix per
    pull and fold (D = 1152; 20 s of footage: 2 s of a build)."""
    n = len(y)
    preds = [np.full(n, np.nan) for _ in params.pulls]
    finite = [j for j, pull in enumerate(params.pulls) if np.isfinite(pull)]
    for k in range(params.folds):
        train, test = ok & (fold != k), ok & (fold == k)
        if train.sum() < 10 or not test.any():
            continue
        xt = x[train]
        xm, ym = xt.mean(0), float(y[train].mean())
        xc, xs = xt - xm, x[test] - xm
        resid = (y[train] - ym) - xc @ w0
        base = xs @ w0 + ym  # the general weights, the bias refit (pull inf)
        for pred in preds:
            pred[test] = base
        if not finite:
            continue
        dual = len(xc) <= xc.shape[1]
        gram = xc @ xc.T if dual else xc.T @ xc
        rhs = resid if dual else xc.T @ resid
        reach = xs @ xc.T if dual else xs  # test rows against what the solve gives
        eye = np.eye(len(gram))
        for j in finite:
            preds[j][test] += reach @ np.linalg.solve(gram + params.pulls[j] * eye, rhs)
    return preds
