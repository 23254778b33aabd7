"""The Tasks tracker's landmarks agree with the legacy face mesh's (MediaPipe 0.10.21) on the dev clips.

The legacy landmarks were recorded once into ``data/legacy_landmarks.npz`` (see
``data/record_legacy_landmarks.py``): the raw landmarks (before smoothing) of every 6th of the first
60 frames of each dev clip decoded at 512 px, and of four photos. Measured: mean distance 1.4-1.8% of
the inter-ocular distance per clip (the phone clip's 33 px eye distance included), 0.9-1.8% on photos.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facecraft.media import iter_frames, read_image
from facecraft.vision import FaceTracker
from tests.utils import testdata_path as recording  # aliased: pytest would collect test*

FIXTURE = Path(__file__).parent / "data" / "legacy_landmarks.npz"
with np.load(FIXTURE) as _data:
    LEGACY = {k: _data[k] for k in _data.files}
FRAMES, STEP, MAX_SIDE = (int(v) for v in LEGACY["meta"])
CLIPS = sorted(k.split("__", 1)[1] for k in LEGACY if k.startswith("clip__"))
PHOTOS = sorted(k.split("__", 1)[1] for k in LEGACY if k.startswith("photo__"))


def _distance(new: np.ndarray, old: np.ndarray) -> np.ndarray:
    """Per-frame mean point distance over the 478 points, as a share of the inter-ocular distance."""
    iod = np.linalg.norm(old[:, 33, :2] - old[:, 263, :2], axis=1)
    return np.linalg.norm(new[..., :2] - old[..., :2], axis=2).mean(axis=1) / iod


@pytest.mark.parametrize("clip", CLIPS)
def test_landmarks_agree_with_the_legacy_tracker_on_dev_clips(clip: str) -> None:
    old = LEGACY[f"clip__{clip}"]
    kept = []
    with FaceTracker() as tracker:
        for n, frame in enumerate(iter_frames(recording("video", clip), max_side=MAX_SIDE)):
            if n >= FRAMES:
                break
            faces = tracker.process(frame.image)
            if n % STEP == 0:
                assert faces and np.isfinite(faces[0].landmarks).all(), n
                kept.append(faces[0].landmarks)
    distance = _distance(np.stack(kept), old)
    assert distance.mean() < 0.02, distance
    assert distance.max() < 0.04, distance


@pytest.mark.parametrize("photo", PHOTOS)
def test_landmarks_agree_with_the_legacy_tracker_on_photos(photo: str) -> None:
    with FaceTracker(static_image_mode=True) as tracker:
        new = tracker.process(read_image(recording("photo", photo)))[0].landmarks
    assert _distance(new[None], LEGACY[f"photo__{photo}"][None])[0] < 0.02
