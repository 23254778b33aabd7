"""The per-Face audio-to-mouth model: it learns the recording's own lag, round-trips, rejects old layouts."""

from __future__ import annotations

import numpy as np
import pytest

from facecraft import media
from facecraft.engine.audio_model import AudioModelParams, AudioMouthModel, audio_features
from facecraft.engine.config import EngineConfig
from facecraft.engine.timeline import ShapePriors, build_timeline
from facecraft.errors import BundleError
from facecraft.vision.types import Tracks
from tests.utils import testdata_path as data_path

FPS = 25.0
LEAD = 2  # frames the synthetic mouth moves before the sound


def _tracks(aperture: np.ndarray, width: np.ndarray) -> Tracks:
    n = len(aperture)
    nan = np.full(n, np.nan)
    return Tracks(fps=FPS, width=64, height=64, times=np.arange(n) / FPS, present=np.ones(n, bool),
                  face_count=np.ones(n, int), landmarks=np.full((n, 478, 3), np.nan, np.float32),
                  box=np.full((n, 4), np.nan), pose=np.zeros((n, 3)), aperture=aperture, mouth_width=width,
                  eye_open=nan, brow=nan, teeth=nan, sharpness=nan, luminance=nan)


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return media.read_audio(data_path("speech", "whisper_jfk.flac"), sample_rate=16000).samples


def _synthetic_mouth(samples: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A mouth that opens with the loudness of the speech LEAD frames later."""
    energy = audio_features(samples, 16000, FPS, n)[:, -1]
    loud = np.clip((energy - np.percentile(energy, 20)) / np.ptp(energy), 0.0, None)
    later = np.concatenate([loud[LEAD:], np.repeat(loud[-1:], LEAD)])
    return 0.02 + 0.3 * later, 0.5 - 0.1 * later


def test_model_learns_the_lag_and_predicts_held_out_speech(speech: np.ndarray) -> None:
    n = int(len(speech) / 16000 * FPS)
    aperture, width = _synthetic_mouth(speech, n)
    split = int(0.7 * n)
    train = speech[: int(split / FPS * 16000)]
    model = AudioMouthModel.fit(train, 16000, _tracks(aperture[:split], width[:split]))
    assert model is not None
    assert model.mouth_lead == LEAD, "the footage's own A/V offset is found"
    assert model.lag <= 0, "the mouth leads the sound: the model reads later audio"
    pred = model.predict(speech, 16000, FPS, n)
    assert pred.shape == (n, 2)
    held = slice(split, n)
    assert np.corrcoef(pred[held, 0], aperture[held])[0, 1] > 0.7
    assert np.corrcoef(pred[held, 1], width[held])[0, 1] > 0.7


def test_predictions_keep_the_mouths_range_of_motion(speech: np.ndarray) -> None:
    """Ridge shrinks uncertain predictions toward the mean; the gain restores the lips' own spread."""
    n = int(len(speech) / 16000 * FPS)
    aperture, width = _synthetic_mouth(speech, n)
    rng = np.random.default_rng(3)
    noisy = aperture + rng.normal(0.0, 0.6 * aperture.std(), n)  # much of the motion is not in the audio
    split = int(0.7 * n)
    train = speech[: int(split / FPS * 16000)]
    tracks = _tracks(noisy[:split], width[:split])
    model = AudioMouthModel.fit(train, 16000, tracks)
    plain = AudioMouthModel.fit(train, 16000, tracks, params=AudioModelParams(max_gain=1.0))
    assert model is not None and plain is not None
    held = slice(split, n)
    pred, shrunk = model.predict(speech, 16000, FPS, n)[held, 0], plain.predict(speech, 16000, FPS, n)[held, 0]
    assert pred.std() > 1.15 * shrunk.std(), "the gain stretches the predictions"
    assert pred.std() <= 2.0 * shrunk.std() + 1e-9, "by at most max_gain"
    assert np.corrcoef(pred, shrunk)[0, 1] > 0.999, "stretching keeps the timing"
    assert abs(np.median(pred) - np.median(shrunk)) < 0.5 * shrunk.std(), "around the same centre"


def test_model_round_trips_and_rejects_an_old_layout(speech: np.ndarray) -> None:
    n = int(len(speech) / 16000 * FPS)
    aperture, width = _synthetic_mouth(speech, n)
    model = AudioMouthModel.fit(speech, 16000, _tracks(aperture, width))
    assert model is not None
    again = AudioMouthModel.unpack(model.pack())
    assert again is not None and again.lag == model.lag and again.context == model.context
    np.testing.assert_allclose(again.predict(speech, 16000, FPS, n), model.predict(speech, 16000, FPS, n),
                               rtol=1e-3, atol=1e-3)
    assert AudioMouthModel.unpack(np.zeros(0, np.float32)) is None
    old = np.ones(3 * 24 * 9 + 1, np.float32)  # the first layout: mean, scale, weights, bias
    with pytest.raises(BundleError) as err:
        AudioMouthModel.unpack(old)
    assert err.value.error_id == "bundle_invalid"


def test_short_gaps_do_not_close_the_mouth_but_pauses_do() -> None:
    rng = np.random.default_rng(1)
    rate, n = 16000, 50
    samples = (0.2 * rng.standard_normal(2 * rate)).astype(np.float32)
    samples[int(0.60 * rate): int(0.68 * rate)] = 0.0  # an 80 ms gap: speech goes on
    samples[int(1.2 * rate): int(1.6 * rate)] = 0.0  # a 400 ms pause: the lips close
    priors = ShapePriors(closed=0.02, open=0.40, width_mid=0.55, width_spread=0.05)
    predicted = np.full((n, 2), 0.3)
    tl = build_timeline(samples, rate, fps=FPS, n_frames=n, phones=None, priors=priors, config=EngineConfig(),
                        predicted=predicted, trust_phones=False)
    t = (np.arange(n) + 0.5) / FPS
    assert not tl.closed[(t > 0.6) & (t < 0.68)].any()
    assert tl.closed[(t > 1.3) & (t < 1.5)].all()
    assert np.all(tl.aperture[(t > 1.3) & (t < 1.5)] <= priors.aperture(np.array([0.12]))[0] + 1e-9)
    assert np.allclose(tl.aperture[(t > 0.2) & (t < 0.5)], 0.3)


@pytest.mark.parametrize("rows", [300, 900])  # fewer rows than features, and more
def test_the_ridge_predictions_for_every_regularisation_match_the_svd(rows: int) -> None:
    """Cross-validation asks one eigendecomposition per fold for every ridge value: the predictions are
    those of the thin SVD of the training rows (and of a solve per ridge value)."""
    from facecraft.engine.audio_model import _ridge_basis

    rng = np.random.default_rng(2)
    dims = 450
    xc = rng.standard_normal((rows, dims)) * np.linspace(3.0, 0.01, dims)
    xc -= xc.mean(0)
    xt = rng.standard_normal((50, dims))
    yc = rng.standard_normal(rows)
    yc -= yc.mean()
    proj, eig, coef = _ridge_basis(xc, xt, yc)
    u, sv, vt = np.linalg.svd(xc, full_matrices=False)
    for lam in (1.0, 30.0, 1000.0):
        fast = proj @ (coef / (eig + lam))
        svd = (xt @ vt.T) @ (sv / (sv**2 + lam) * (u.T @ yc))
        solve = xt @ np.linalg.solve(xc.T @ xc + lam * np.eye(dims), xc.T @ yc)
        assert np.allclose(fast, svd, rtol=0, atol=1e-9 * np.abs(svd).max())
        assert np.allclose(fast, solve, rtol=0, atol=1e-8 * np.abs(svd).max())
