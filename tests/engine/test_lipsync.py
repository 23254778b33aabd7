"""The speaker-independent lip-sync model: the shipped weights (hash-checked), the per-Face adaptation a
build makes, and the training code, on real footage and speech."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from facecraft import media, vision
from facecraft.errors import BundleError
from facecraft.faces import lipsync
from facecraft.media.types import Frame
from tests.engine.fixtures import RANGE, SOURCE
from tests.utils import testdata_path


def test_the_shipped_general_model_loads_and_is_hash_checked(tmp_path: Path) -> None:
    model = lipsync.general_model()
    assert model.weights.shape == (len(lipsync.OFFSETS_S) * model.basis.shape[0], 2)
    damaged = tmp_path / "general.npz"
    shutil.copy(lipsync.GENERAL_FILE, damaged)
    with open(damaged, "r+b") as fh:
        fh.seek(200)
        byte = fh.read(1)
        fh.seek(200)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(BundleError, match="sha256"):
        lipsync.GeneralLipModel.load(damaged, lipsync.GENERAL_SHA256)
    with pytest.raises(BundleError, match="missing"):
        lipsync.GeneralLipModel.load(tmp_path / "none.npz", lipsync.GENERAL_SHA256)


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


def test_a_built_face_carries_its_adapted_model_and_follows_unseen_speech(  # noqa: ANN001
    renderer, held_out
) -> None:
    model = renderer.audio_model
    assert isinstance(model, lipsync.FaceLipModel)
    assert abs(model.lag) <= lipsync.MAX_LAG and np.isfinite(model.cv_r)
    assert renderer.bundle.manifest["engine"]["params"]["lipsync"]["general_sha256"] == lipsync.GENERAL_SHA256
    samples, aperture, fps = held_out
    pred = renderer.predict_mouth(samples, len(aperture), fps)
    assert pred.shape == (len(aperture), 2) and np.isfinite(pred).all()
    ok = np.isfinite(aperture)
    assert np.corrcoef(pred[ok, 0], aperture[ok])[0, 1] > 0.4
    # in the Face's own units: between its closed and wide-open lips
    assert renderer.priors.closed - 0.05 < np.median(pred[:, 0]) < renderer.priors.open


def test_the_per_face_file_round_trips_and_a_damaged_one_is_a_clear_error(  # noqa: ANN001
    renderer, tmp_path: Path
) -> None:
    path = tmp_path / lipsync.FILENAME
    renderer.audio_model.save(path)
    again = lipsync.FaceLipModel.load(path)
    assert again.lag == renderer.audio_model.lag and np.allclose(again.weights, renderer.audio_model.weights)
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
