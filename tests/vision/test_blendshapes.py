"""The landmarker's blendshapes on real footage: the jaw follows the measured mouth, smiles score higher."""

from __future__ import annotations

import numpy as np
import pytest

from facecraft.media import read_image
from facecraft.vision import BLENDSHAPE_NAMES, Tracks, track_image
from tests.utils import testdata_path as recording  # aliased: pytest would collect test*


def _r(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


@pytest.mark.parametrize("clip", ["grid_tracks", "obama_tracks"])
def test_jaw_open_follows_the_measured_aperture(clip: str, request: pytest.FixtureRequest) -> None:
    """jawOpen against the inner-lip aperture of the landmarks, over every frame of a speaking clip.
    (GRID s2: r 0.87; Obama 30 s: r 0.82. With mouthClose taken off, lips parted over a still jaw
    count too: 0.95 and 0.90.)"""
    tracks: Tracks = request.getfixturevalue(clip)
    ok = tracks.present
    jaw, close = tracks.blendshape("jawOpen")[ok], tracks.blendshape("mouthClose")[ok]
    assert _r(jaw, tracks.aperture[ok]) > 0.8
    assert _r(jaw - close, tracks.aperture[ok]) > 0.85


def test_blendshapes_are_stored_per_frame(obama_tracks: Tracks) -> None:
    n = len(obama_tracks)
    assert obama_tracks.blendshapes.shape == (n, len(BLENDSHAPE_NAMES)) == (n, 52)
    assert obama_tracks.blendshapes.dtype == np.float32 and obama_tracks.transform.shape == (n, 4, 4)
    shapes = obama_tracks.blendshapes[obama_tracks.present]
    assert np.all((shapes >= 0) & (shapes <= 1))
    # eyes blink: eyeBlink* spikes well above their median on a few frames
    blink = obama_tracks.blendshape("eyeBlinkLeft")[obama_tracks.present]
    assert np.percentile(blink, 99) > 2 * np.median(blink)


def _smile(photo: str) -> float:
    tracks = track_image(read_image(recording("photo", photo)))
    assert tracks.present[0]
    return float(tracks.blendshape("mouthSmileLeft")[0] + tracks.blendshape("mouthSmileRight")[0]) / 2


def test_a_smiling_photo_scores_higher_mouth_smile_than_a_neutral_one() -> None:
    neutral = _smile("real3dportrait_Macron.png")  # 0.03
    assert _smile("face_recognition_biden2.jpg") > neutral + 0.5  # broad smile: 0.97
    assert _smile("edtalk_leijun.png") > neutral + 0.2  # slight smile: 0.43
    assert neutral < 0.15
