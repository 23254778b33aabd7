"""Record the legacy tracker's landmarks (``mp.solutions.face_mesh``, MediaPipe 0.10.21) as a fixture.

Run once, with a checkout and venv from before issue 12 (MediaPipe 0.10.21 cannot be installed beside
the current pins), e.g. ``/work/main/.venv/bin/python tests/vision/data/record_legacy_landmarks.py``.
It writes ``legacy_landmarks.npz``: for each dev clip the raw landmarks (``FaceTracker.process``,
before smoothing) of every ``STEP``-th of the first ``FRAMES`` frames decoded at ``MAX_SIDE``, and for
each photo the landmarks in photo mode. ``tests/vision/test_legacy_agreement.py`` compares the
current tracker with them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import mediapipe as mp
import numpy as np

from facecraft.media import iter_frames, read_image
from facecraft.vision import FaceTracker

HERE = Path(__file__).resolve().parent
TESTDATA = HERE.parents[2].parent / "shared" / "testdata"
CLIPS = ("edtalk_uncrop_Obama.mp4", "latentsync_demo3_vertical_hevc.mp4", "mimictalk_German_20s.mp4",
         "sadtalker_WDA_KatieHill_000.mp4", "styletalk_Obama_clip2_muxed.mp4", "videoretalking_face_2.mp4")
PHOTOS = ("face_recognition_biden2.jpg", "real3dportrait_Macron.png", "edtalk_leijun.png", "hallo_reference_6.jpg")
FRAMES, STEP, MAX_SIDE = 60, 6, 512


def main() -> None:
    assert mp.__version__ == "0.10.21", "record with the legacy tracker (MediaPipe 0.10.21)"
    arrays: dict[str, np.ndarray] = {}
    for clip in CLIPS:
        kept = []
        with FaceTracker() as tracker:
            for n, frame in enumerate(iter_frames(TESTDATA / "video" / clip, max_side=MAX_SIDE)):
                if n >= FRAMES:
                    break
                faces = tracker.process(frame.image)
                if n % STEP == 0:
                    kept.append(faces[0].landmarks if faces else np.full((478, 3), np.nan, np.float32))
        arrays[f"clip__{clip}"] = np.stack(kept).astype(np.float32)
    for photo in PHOTOS:
        with FaceTracker(static_image_mode=True) as tracker:
            arrays[f"photo__{photo}"] = tracker.process(read_image(TESTDATA / "photo" / photo))[0].landmarks
    arrays["meta"] = np.array([FRAMES, STEP, MAX_SIDE])
    np.savez_compressed(HERE / "legacy_landmarks.npz", **arrays)
    print({k: v.shape for k, v in arrays.items()}, file=sys.stderr)


if __name__ == "__main__":
    main()
