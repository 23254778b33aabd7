"""FaceTracker on photos, blank images, several faces and small faces."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facecraft.errors import VisionError
from facecraft.media import iter_frames, read_image
from facecraft.vision import FaceTracker, head_pose
from facecraft.vision.tasks import Landmarker
from tests.utils import testdata_path as recording  # aliased: pytest would collect test*

PHOTOS = ["face_recognition_biden2.jpg", "real3dportrait_Macron.png", "edtalk_leijun.png",
          "hallo_reference_6.jpg"]


@pytest.mark.parametrize("name", PHOTOS)
def test_one_face_per_photo(name: str) -> None:
    image = read_image(recording("photo", name))
    with FaceTracker(static_image_mode=True) as tracker:
        faces = tracker.process(image)
    assert len(faces) == 1
    face = faces[0]
    assert face.landmarks.shape == (478, 3) and face.landmarks.dtype == np.float32
    height, width = image.shape[:2]
    x0, y0, x1, y1 = face.box
    assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
    assert (y1 - y0) > 0.2 * height
    # Iris centres (468, 473) sit inside their eyes, between the eye corners.
    assert face.landmarks[33, 0] < face.landmarks[468, 0] < face.landmarks[133, 0]
    assert face.landmarks[362, 0] < face.landmarks[473, 0] < face.landmarks[263, 0]


def test_macron_photo_is_frontal() -> None:
    image = read_image(recording("photo", "real3dportrait_Macron.png"))
    with FaceTracker(static_image_mode=True) as tracker:
        face = tracker.process(image)[0]
    (yaw, pitch, roll), _ = head_pose(face.landmarks, image.shape[1], image.shape[0])
    assert abs(yaw) < 12 and abs(pitch) < 15 and abs(roll) < 8


def test_no_face() -> None:
    with FaceTracker(static_image_mode=True) as tracker:
        assert tracker.process(np.full((240, 320, 3), 127, np.uint8)) == []
        noise = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
        assert tracker.process(noise) == []


def test_bad_image_raises_vision_error() -> None:
    with FaceTracker() as tracker, pytest.raises(VisionError):
        tracker.process(np.zeros((10, 10), np.uint8))
    tracker.close()  # closing twice is harmless
    with pytest.raises(VisionError):
        tracker.process(np.zeros((10, 10, 3), np.uint8))


def test_small_face_in_a_photo_then_a_normal_photo() -> None:
    """Static mode: the small-face crop of one photo must not leak into the next one."""
    biden = read_image(recording("photo", "face_recognition_biden2.jpg"))
    canvas = np.full((1080, 1920, 3), 200, np.uint8)
    canvas[700:850, 1500:1650] = cv2.resize(biden, (150, 150), interpolation=cv2.INTER_AREA)
    macron = read_image(recording("photo", "real3dportrait_Macron.png"))
    with FaceTracker(static_image_mode=True) as tracker:
        small = tracker.process(canvas)
        big = tracker.process(macron)
    assert len(small) == 1 and 1500 <= small[0].box[0] < small[0].box[2] <= 1650
    assert len(big) == 1 and big[0].box[3] - big[0].box[1] > 200


def test_two_photos_side_by_side_give_two_faces_largest_first() -> None:
    big = read_image(recording("photo", "real3dportrait_Macron.png"))
    small = cv2.resize(read_image(recording("photo", "edtalk_leijun.png")), (384, 384))
    canvas = np.zeros((512, 900, 3), np.uint8)
    canvas[:, :512] = big
    canvas[64:448, 512:896] = small
    with FaceTracker(static_image_mode=True) as tracker:
        faces = tracker.process(canvas)
    assert len(faces) == 2
    assert faces[0].box[2] < 512 < faces[1].box[0]  # the larger (Macron, on the left) is primary


def test_small_face_found_through_the_detector_crop() -> None:
    """A 100 px clip pasted into a 1280x720 frame: the mesh alone misses it, the fallback finds it."""
    frames = []
    for frame in iter_frames(recording("video", "styletalk_Obama_clip2.mp4"), end_s=1.0):
        canvas = np.full((720, 1280, 3), 90, np.uint8)
        canvas[300:400, 700:800] = cv2.resize(frame.image, (100, 100), interpolation=cv2.INTER_AREA)
        frames.append(canvas)
    landmarker = Landmarker(video=False, num_faces=1)
    try:
        assert landmarker.detect(frames[0]) == []  # the landmarker's own (short-range) detector misses it
    finally:
        landmarker.close()
    with FaceTracker() as tracker:
        results = [tracker.process(image) for image in frames]
    assert all(len(faces) == 1 for faces in results)
    for faces in results:
        lm = faces[0].landmarks
        assert np.isfinite(lm).all()
        assert 700 <= lm[:, 0].min() and lm[:, 0].max() <= 800
        assert 300 <= lm[:, 1].min() and lm[:, 1].max() <= 400


def test_primary_face_stays_the_same_when_sizes_are_close() -> None:
    """Two faces of near-equal size: the primary keeps following the one chosen first."""
    left = list(iter_frames(recording("video", "styletalk_Obama_clip2.mp4"), end_s=0.5))
    right = list(iter_frames(recording("video", "mimictalk_German_20s.mp4"), end_s=0.5, max_side=256))
    with FaceTracker() as tracker:
        centres = []
        for a, b in zip(left, right):
            faces = tracker.process(np.hstack([a.image, b.image]))
            assert len(faces) == 2
            centres.append((faces[0].box[0] + faces[0].box[2]) / 2)
    sides = {c < 256 for c in centres}
    assert len(sides) == 1


def test_two_small_faces_are_both_counted() -> None:
    """Small-face path: the primary is meshed in its crop, the other counts with a detector box."""
    frames = []
    for frame in iter_frames(recording("video", "styletalk_Obama_clip2.mp4"), end_s=0.5):
        canvas = np.full((720, 1280, 3), 90, np.uint8)
        canvas[300:420, 200:320] = cv2.resize(frame.image, (120, 120), interpolation=cv2.INTER_AREA)
        canvas[300:400, 900:1000] = cv2.resize(frame.image, (100, 100), interpolation=cv2.INTER_AREA)
        frames.append(canvas)
    with FaceTracker() as tracker:
        results = [tracker.process(image) for image in frames]
    assert np.mean([len(faces) == 2 for faces in results]) > 0.9
    for faces in results:
        assert np.isfinite(faces[0].landmarks).all() and faces[0].box[2] < 320  # primary: the larger
