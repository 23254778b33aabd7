"""The speaker-independent lip-sync model: the shipped weights (hash-checked), the per-Face adaptation a
build makes, and the training code, on real footage and speech."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from facecraft import media, models, vision
from facecraft.engine import lipsync
from facecraft.errors import BundleError, ModelError
from facecraft.media.types import Frame
from tests.engine.fixtures import RANGE, SOURCE
from tests.utils import testdata_path


def test_the_shipped_general_model_loads_and_is_hash_checked(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    model = lipsync.general_model()
    assert model.weights.shape == (len(lipsync.OFFSETS_S) * model.basis.shape[0], 2)
    # the registry checks the file's hash before it is read
    assert models.measure(models.model_path(lipsync.GENERAL_MODEL))[0] == lipsync.general_sha256()
    folder = tmp_path / "models"
    shutil.copytree(models.MODELS_DIR, folder, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    monkeypatch.setattr(models, "MODELS_DIR", folder)
    monkeypatch.setattr(models, "_verified", {})
    damaged = folder / models.MODELS[lipsync.GENERAL_MODEL].path
    data = bytearray(damaged.read_bytes())
    data[200] ^= 0xFF
    damaged.write_bytes(bytes(data))
    lipsync.general_model.cache_clear()
    try:
        with pytest.raises(ModelError, match="lipsync_general"):
            lipsync.general_model()
    finally:
        lipsync.general_model.cache_clear()
    # a file trained on other encoder windows is refused with what to do
    other = tmp_path / "other.npz"
    lipsync.GeneralLipModel(**{**{k: getattr(model, k) for k in model.__dataclass_fields__},
                               "layout": np.array([50.0, 10, 10.0, 0.0])}).save(other)
    with pytest.raises(ModelError, match="retrain"):
        lipsync.GeneralLipModel.load(other)


@pytest.fixture(scope="module")
def held_out() -> tuple[np.ndarray, np.ndarray, float]:
    """The 6 s after the test Face's footage: audio and the real tracked aperture."""
    path = testdata_path(*SOURCE)
    start, end = RANGE[1], RANGE[1] + 6.0
    frames = list(media.iter_frames(path, start_s=start, end_s=end))
    fps = float(media.probe(path).video.fps)
    h, w = frames[0].image.shape[:2]
    tracks = vision.track_frames((Frame(i, i / fps, f.image) for i, f in enumerate(frames)), fps=fps,
                                 width=w, height=h)
    audio = media.read_audio(path, sample_rate=16000).samples
    a = int(start * 16000)
    return audio[a: a + int(len(frames) / fps * 16000)], np.asarray(tracks.aperture), fps


def _lip(renderer) -> lipsync.FaceLipModel:  # noqa: ANN001
    model = renderer.audio_model
    return model.lip if isinstance(model, lipsync.BlendedMouthModel) else model


def test_a_built_face_carries_its_adapted_model_and_follows_unseen_speech(  # noqa: ANN001
    renderer, held_out
) -> None:
    model = renderer.audio_model
    lip = _lip(renderer)
    assert isinstance(lip, lipsync.FaceLipModel)
    assert abs(lip.lag) <= lipsync.MAX_LAG and np.isfinite(lip.cv_r)
    params = renderer.bundle.manifest["engine"]["params"]["lipsync"]
    assert params["general_sha256"] == lipsync.general_sha256()
    # mixed with the Face's own log-mel model by the share cross-validation chose
    assert 0.0 <= params["blend"] <= 1.0 and params["blend"] == lip.blend
    assert isinstance(model, lipsync.BlendedMouthModel) == (lip.blend < 1.0)
    samples, aperture, fps = held_out
    pred = renderer.predict_mouth(samples, len(aperture), fps)
    if isinstance(model, lipsync.BlendedMouthModel):
        mine, own = (m.predict(samples, 16000, fps, len(aperture)) for m in (model.lip, model.own))
        assert np.allclose(pred, lip.blend * mine + (1 - lip.blend) * own)
    assert pred.shape == (len(aperture), 2) and np.isfinite(pred).all()
    ok = np.isfinite(aperture)
    assert np.corrcoef(pred[ok, 0], aperture[ok])[0, 1] > 0.4
    # in the Face's own units: between its closed and wide-open lips
    assert renderer.priors.closed - 0.05 < np.median(pred[:, 0]) < renderer.priors.open


def test_the_per_face_file_round_trips_and_a_damaged_one_is_a_clear_error(  # noqa: ANN001
    renderer, tmp_path: Path
) -> None:
    path = tmp_path / lipsync.FILENAME
    lip = _lip(renderer)
    lip.save(path)
    again = lipsync.FaceLipModel.load(path)
    assert again.lag == lip.lag and again.blend == lip.blend and np.allclose(again.weights, lip.weights)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(BundleError, match="damaged"):
        lipsync.FaceLipModel.load(path)


def test_training_learns_a_clip_and_finds_its_offset(renderer) -> None:  # noqa: ANN001
    """fit_general on real footage (the test Face's own): in-sample fit, and a shift of the lips by three
    frames is found and undone."""
    from facecraft.speech.encoder import encoder

    tracks = renderer.tracks
    samples = media.read_audio(renderer.bundle.path / "voice.wav", sample_rate=16000).samples
    full = media.read_audio(testdata_path(*SOURCE), sample_rate=16000).samples[: int(RANGE[1] * 16000)]
    assert samples.size  # the bundle keeps a clean voice clip; training reads the footage's own audio
    ok = np.asarray(tracks.present) & np.isfinite(tracks.aperture)
    ap, wd, _ = lipsync.normalise_targets(tracks.aperture, tracks.mouth_width, ok)
    y = np.column_stack([ap, wd])
    states = encoder().timeline(full)
    clip = lipsync.TrainingClip("obama", "obama", tracks.fps, states, y, ok)
    shifted_y, shifted_ok = lipsync.shifted(y, ok, -3)
    moved = lipsync.TrainingClip("obama-moved", "obama", tracks.fps, states, shifted_y, shifted_ok)
    model = lipsync.fit_general([clip], ridge=30.0)
    pred = model.predict_states(states, tracks.fps, len(tracks))
    assert np.corrcoef(pred[ok, 0], ap[ok])[0, 1] > 0.6
    assert lipsync.best_lag(pred[:, 0], moved.targets[:, 0], moved.ok) == 3


def test_a_clip_s_own_mean_opening_does_not_move_the_general_weights(renderer) -> None:  # noqa: ANN001
    """fit_general(within=True) fits within clips: the test Face's footage as two clips (its halves), one of them read
    as 0.4 more open throughout (another recording's or tracker's rest opening), learns the same weights
    as without that offset; pooled over the clips (``within=False``) the offset moves them."""
    from facecraft.speech.encoder import encoder

    tracks = renderer.tracks
    full = media.read_audio(testdata_path(*SOURCE), sample_rate=16000).samples[: int(RANGE[1] * 16000)]
    ok = np.asarray(tracks.present) & np.isfinite(tracks.aperture)
    ap, wd, _ = lipsync.normalise_targets(tracks.aperture, tracks.mouth_width, ok)
    y = np.column_stack([ap, wd])
    states = encoder().timeline(full)
    half = np.arange(len(y)) < len(y) // 2

    def clips(offset: float) -> list[lipsync.TrainingClip]:
        return [lipsync.TrainingClip("first", "a", tracks.fps, states, y, ok & half),
                lipsync.TrainingClip("second", "b", tracks.fps, states, y + [offset, 0.0], ok & ~half)]

    def weights(offset: float, within: bool) -> np.ndarray:
        model = lipsync.fit_general(clips(offset), ridge=300.0, within=within)
        return model.weights / model.x_scale[:, None]  # per unit of the raw features

    assert np.allclose(weights(0.4, True), weights(0.0, True), rtol=1e-3, atol=1e-5)
    pooled = np.abs(weights(0.4, False) - weights(0.0, False)).max()
    assert pooled > 10 * np.abs(weights(0.4, True) - weights(0.0, True)).max()
    model = lipsync.fit_general(clips(0.4), ridge=300.0, within=True)
    pred = model.predict_states(states, tracks.fps, len(tracks))
    assert np.corrcoef(pred[ok, 0], ap[ok])[0, 1] > 0.6
    # long clips count less per frame, so a few long recordings do not outweigh many short ones
    assert lipsync.clip_weight(300) == 1.0 and lipsync.clip_weight(1200) == 0.5


def test_a_stretch_of_a_stream_predicts_as_the_whole_stream(renderer, held_out) -> None:  # noqa: ANN001
    """The streaming renderer asks for a few frames at a time with only the audio around them held."""
    model = _lip(renderer)
    samples, aperture, fps = held_out
    whole = model.predict(samples, 16000, fps, len(aperture))
    f0, n = 61, 17
    a = max(0, int((f0 - model.past_frames) / fps * 16000))
    b = int((f0 + n + model.future_frames) / fps * 16000)
    part = model.predict(samples[a:b], 16000, fps, n, first=f0, offset=a)
    assert np.allclose(part, whole[f0: f0 + n], atol=1e-4)


def test_the_blend_with_the_face_s_own_model_is_chosen_by_cross_validation(renderer, held_out) -> None:  # noqa: ANN001
    """Two predictions with independent errors mix better than either; without the other, or on footage
    too short to trust its cross-validation, the lip-sync model stays alone."""
    from dataclasses import replace

    from facecraft.engine.audio_model import AudioMouthModel

    rng = np.random.default_rng(1)
    y = np.sin(np.linspace(0, 40, 600))
    mine, own = y + rng.normal(0, 0.6, y.size), y + rng.normal(0, 0.6, y.size)
    params = lipsync.AdaptParams()
    share, r = lipsync._choose_blend(mine, own, y, params)
    assert 0.2 <= share <= 0.8 and r > np.corrcoef(mine, y)[0, 1]
    assert lipsync._choose_blend(mine, None, y, params) == (1.0, pytest.approx(np.nan, nan_ok=True))
    assert lipsync._choose_blend(mine, y + rng.normal(0, 5.0, y.size), y, params)[0] >= 0.8
    # the renderer's model mixes the two by that share
    own_model = AudioMouthModel.unpack(renderer.db.audio_model)
    assert own_model is not None
    mixed = lipsync.BlendedMouthModel(replace(_lip(renderer), blend=0.3), own_model)
    samples, aperture, fps = held_out
    n = len(aperture)
    expected = 0.3 * _lip(renderer).predict(samples, 16000, fps, n) + 0.7 * own_model.predict(samples, 16000, fps, n)
    assert np.allclose(mixed.predict(samples, 16000, fps, n), expected)
    assert mixed.edge_frames == own_model.edge_frames and mixed.mouth_lead == _lip(renderer).mouth_lead


def test_short_footage_keeps_the_general_weights(renderer) -> None:  # noqa: ANN001
    """On a few seconds of footage the refit's cross-validation picks noise (leave-one-speaker-out on 8
    corpus clips of 3.5-7 s: aperture r 0.619 -> 0.669 without it): below ``min_refit_s`` the general
    weights stay, while the lag and the Face's range are still its own; with the limit lifted the same
    footage refits."""
    tracks = renderer.tracks
    params = lipsync.AdaptParams()
    assert len(tracks) / tracks.fps < params.min_refit_s
    lip = _lip(renderer)
    general = lipsync.current_general()
    assert lip.pull == np.inf
    assert np.allclose(lip.weights[:, 1], general.weights[:, 1], atol=1e-6)  # the width column is not stretched
    full = media.read_audio(testdata_path(*SOURCE), sample_rate=16000).samples[: int(RANGE[1] * 16000)]
    refit = lipsync.FaceLipModel.fit(full, 16000, tracks, params=lipsync.AdaptParams(min_refit_s=0.0,
                                                                                    pull_margin=-1.0))
    assert refit is not None and np.isfinite(refit.pull)
    assert not np.allclose(refit.weights[:, 1], general.weights[:, 1], atol=1e-6)


def test_a_built_face_stores_its_pause_habit_and_an_old_one_loads_with_the_default(  # noqa: ANN001
    renderer, tmp_path: Path
) -> None:
    """The test Face's footage (Obama, 8 s) keeps its lips apart in the pauses between words: the build
    measures that (``timeline.pause_habit``) into its lip-sync file, well above the default, and the renderer's
    timeline uses it, with its wide habit (``pause_open``, a high quantile of the same openings: the cap of
    short pauses inside speech). A file saved before the habit existed loads with the default (and one before
    the wide habit without it: the median stands in); a bad value is refused."""
    from facecraft.engine.timeline import DEFAULT_PAUSE_SHARE

    lip = _lip(renderer)
    params = renderer.bundle.manifest["engine"]["params"]["lipsync"]
    assert params["pause_share_measured"] is True
    assert lip.pause_share > 3 * DEFAULT_PAUSE_SHARE and params["pause_share"] == round(lip.pause_share, 3)
    assert renderer.priors.pause_share == lip.pause_share
    assert lip.pause_share < lip.pause_open <= 1.0 and params["pause_open"] == round(lip.pause_open, 3)
    assert renderer.priors.pause_open == lip.pause_open
    path = tmp_path / lipsync.FILENAME
    lip.save(path)
    assert lipsync.FaceLipModel.load(path).pause_share == lip.pause_share
    assert lipsync.FaceLipModel.load(path).pause_open == lip.pause_open
    with np.load(path) as data:
        no_wide = {k: data[k] for k in data.files if k != "pause_open"}
    np.savez(path, **no_wide)
    assert np.isnan(lipsync.FaceLipModel.load(path).pause_open)
    np.savez(path, **no_wide, pause_open=np.asarray(-0.5))
    with pytest.raises(BundleError, match="pause share"):
        lipsync.FaceLipModel.load(path)
    with np.load(path) as data:
        old = {k: data[k] for k in data.files if k not in ("pause_share", "pause_open")}
    np.savez(path, **old)
    assert lipsync.FaceLipModel.load(path).pause_share == DEFAULT_PAUSE_SHARE
    for bad in (float("nan"), -0.1, 5.0):
        np.savez(path, **old, pause_share=np.asarray(bad))
        with pytest.raises(BundleError, match="pause share") as err:
            lipsync.FaceLipModel.load(path)
        assert err.value.error_id == "bundle_invalid"


def test_a_speaker_who_seals_the_lips_in_pauses_measures_near_rest() -> None:
    """deepavsr_00016 (corpus) presses the lips together between words: its measured habit stays near the
    resting share (the Obama test Face's, above, is well above it)."""
    from facecraft.engine.config import EngineConfig
    from facecraft.engine.timeline import DEFAULT_PAUSE_SHARE, ShapePriors, pause_habit

    path = testdata_path("corpus", "deepavsr_00016.mp4")
    frames = list(media.iter_frames(path, end_s=8.0))
    fps = float(media.probe(path).video.fps)
    h, w = frames[0].image.shape[:2]
    tracks = vision.track_frames((Frame(i, i / fps, f.image) for i, f in enumerate(frames)), fps=fps,
                                 width=w, height=h)
    ap = np.asarray(tracks.aperture, np.float64)
    ok = ap[np.isfinite(ap)]
    closed, wide = float(np.percentile(ok, 5)), float(np.percentile(ok, 95))  # as ``mouthdb.shape_priors``
    priors = ShapePriors(closed=closed, open=max(wide, closed + 0.05), width_mid=0.5, width_spread=0.05)
    samples = media.read_audio(path, sample_rate=16000).samples[: int(len(frames) / fps * 16000)]
    habit = pause_habit(samples, 16000, ap, fps, priors, EngineConfig())
    assert habit is not None and habit < DEFAULT_PAUSE_SHARE


@pytest.mark.parametrize("frames", [300, 1500])  # fewer training frames than features, and more
def test_cross_validated_pulls_match_a_solve_per_pull_and_fold(frames: int) -> None:
    """The adaptation's cross-validation solves once per fold for every pull (on the smaller side of the
    design matrix): the predictions are those of ``_pulled_ridge`` refitted per pull and fold."""
    rng = np.random.default_rng(1)
    general = lipsync.general_model()
    dims = general.weights.shape[0]
    x = rng.standard_normal((frames, dims)) * np.linspace(2.0, 0.1, dims)
    y = np.column_stack([0.5 * x @ general.weights[:, 0] + rng.standard_normal(frames),
                         rng.standard_normal(frames)])
    ok = rng.random(frames) > 0.1
    params = lipsync.AdaptParams()
    fold = np.arange(frames) * params.folds // frames
    fast = lipsync._pull_predictions(x, y[:, 0], ok, fold, general.weights[:, 0].astype(np.float64), params)
    for pull, pred in zip(params.pulls, fast):
        expected = np.full(frames, np.nan)
        for k in range(params.folds):
            train, test = ok & (fold != k), ok & (fold == k)
            w, b = lipsync._pulled_ridge(x[train], y[train], general, pull)
            expected[test] = x[test] @ w[:, 0] + b[0]
        assert np.array_equal(np.isnan(pred), ~ok)
        assert np.allclose(pred[ok], expected[ok], rtol=0, atol=1e-9 * np.std(expected[ok]))
