"""Per-image face finding: MediaPipe Tasks FaceLandmarker (478 points, 52 blendshapes), with a
detector fallback for small faces.

For video the landmarker runs in VIDEO mode for one face: it tracks landmarks between frames and only
re-detects when it loses the face. (Asked for two faces, it re-detects every frame while it sees one
and takes its region from the detection instead of the tracked landmarks: slower, and 7% of the
inter-ocular distance off the legacy mesh on the small phone face instead of 1.8%.) Other people are
looked for separately every few frames, with a face detector.
Photos use IMAGE mode with up to ``max_faces`` faces.

The landmarker's built-in detector is short-range and misses faces smaller than about a fifth of the
frame (a person filmed full-body by a phone), so when it finds nothing we run the full-range face
detector and the landmarker on an enlarged crop around the face, then keep following that crop from
the landmarks of the previous frame so later frames stay cheap.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from facecraft.errors import VisionError
from facecraft.vision.tasks import Box, Detection, Detector, Landmarker, Mesh
from facecraft.vision.types import N_BLENDSHAPES, N_LANDMARKS, FaceObservation

__all__ = ["FaceTracker"]

log = logging.getLogger(__name__)

_CROP_SCALE = 2.2  # crop side / face size: room for motion and for the mesh's own detector
_MIN_CROP = 96  # pixels
# While following a small face, look for other faces (second-person check) every this many frames.
_OTHERS_EVERY = 5
# Lowest full-range detector score kept. The Tasks FaceDetector reports candidates the legacy
# solution graph never did (same model file; on the phone clip's tiles hands and curtains scored
# 0.5-0.55 and counted as a second person), while real faces score 0.78-0.97 in both.
_DETECTOR_MIN_SCORE = 0.6
# A box beside a small primary face counts as another person only when the landmarker's own detector
# scores the face in the box's crop at least this: on the phone clip hands reach 0.6-0.7 there, real
# faces (two pasted 100-120 px faces) pass at 0.9.
_VERIFY_MIN_SCORE = 0.8


@dataclass
class _Crop:
    x0: int
    y0: int
    x1: int
    y1: int


def _square_crop(cx: float, cy: float, side: float, width: int, height: int) -> _Crop:
    side = max(side, _MIN_CROP)
    x0 = int(round(cx - side / 2))
    y0 = int(round(cy - side / 2))
    x0 = min(max(0, x0), max(0, width - int(side)))
    y0 = min(max(0, y0), max(0, height - int(side)))
    return _Crop(x0, y0, min(width, x0 + int(side)), min(height, y0 + int(side)))


def _box(points: np.ndarray) -> Box:
    return (float(points[:, 0].min()), float(points[:, 1].min()), float(points[:, 0].max()),
            float(points[:, 1].max()))


def _area(box: Box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def _same_face(a: Box, b: Box) -> bool:
    """Detector and mesh boxes of one face differ in extent; one's centre lies inside the other."""

    def inside(p: Box, q: Box) -> bool:
        cx, cy = (p[0] + p[2]) / 2, (p[1] + p[3]) / 2
        return q[0] <= cx <= q[2] and q[1] <= cy <= q[3]

    return inside(a, b) or inside(b, a)


class FaceTracker:
    """Find faces in successive images; the primary face (largest, or nearest the previous one) first.

    ``static_image_mode=True`` treats every image independently (photos: IMAGE mode); otherwise images
    are consecutive video frames (VIDEO mode). Call :meth:`close` (or use ``with``) to free the
    MediaPipe tasks.

    A face the full-range detector sees but the landmarker cannot fit comes back with NaN landmarks
    (it counts for the second-person check, it cannot be tracked). The landmarker exposes no per-face
    confidence, so landmarked faces have ``score`` 1.0; detector-only faces carry the detector's.
    """

    def __init__(self, *, static_image_mode: bool = False, max_faces: int = 2,
                 min_detection_confidence: float = 0.5) -> None:
        self.static_image_mode = static_image_mode
        self.max_faces = max_faces
        self._min_conf = min_detection_confidence
        self._mesh: Landmarker | None = Landmarker(
            video=not static_image_mode, num_faces=max_faces if static_image_mode else 1,
            min_detection_confidence=min_detection_confidence,
        )
        self._crop_mesh: Landmarker | None = None
        self._verifier: Landmarker | None = None  # IMAGE mode: is a detector box a face?
        self._detector: Detector | None = None
        self._near_detector: Detector | None = None  # short range: other people beside a large face
        self._crop: _Crop | None = None  # set while following a small face
        self._previous: Box | None = None
        self._others: list[FaceObservation] = []  # detector-only faces found beside the primary one
        self._since_others = 0

    # -- lazily built helpers (built at the first frame that needs them) ----------------------
    def _get_detector(self) -> Detector:
        if self._detector is None:
            self._detector = Detector(min_detection_confidence=max(self._min_conf, _DETECTOR_MIN_SCORE))
        return self._detector

    def _get_near_detector(self) -> Detector:
        if self._near_detector is None:
            self._near_detector = Detector(full_range=False, min_detection_confidence=self._min_conf)
        return self._near_detector

    def _get_crop_mesh(self) -> Landmarker:
        if self._crop_mesh is None:
            self._crop_mesh = Landmarker(video=not self.static_image_mode, num_faces=1,
                                         min_detection_confidence=0.3)
        return self._crop_mesh

    def _get_verifier(self) -> Landmarker:
        if self._verifier is None:
            self._verifier = Landmarker(video=False, num_faces=1, min_detection_confidence=_VERIFY_MIN_SCORE)
        return self._verifier

    # -- public -----------------------------------------------------------------------------
    def process(self, image_rgb: np.ndarray) -> list[FaceObservation]:
        """Faces in ``image_rgb`` (HxWx3 uint8 RGB), primary first; empty when there is none."""
        image = np.asarray(image_rgb)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise VisionError(f"expected an RGB uint8 image, got {image.dtype} {image.shape}")
        image = np.ascontiguousarray(image)
        if self.static_image_mode:
            self._crop = self._previous = None  # photos are unrelated: no state carries over
            self._others, self._since_others = [], 0
        faces = [] if self._crop is not None else self._mesh_full(image)
        if not faces:
            faces = self._small_faces(image)
        elif not self.static_image_mode:
            if self._previous is None:
                self._since_others = _OTHERS_EVERY  # a new face: look for others now
            faces = [faces[0], *self._other_faces(image, faces[0], small=False)]
        faces = self._order(faces)
        self._previous = faces[0].box if faces else None
        return faces

    def close(self) -> None:
        """Free the MediaPipe tasks (safe to call twice)."""
        for task in (self._mesh, self._crop_mesh, self._verifier, self._detector, self._near_detector):
            if task is not None:
                task.close()
        self._mesh = self._crop_mesh = self._verifier = self._detector = self._near_detector = None

    def __enter__(self) -> FaceTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------------
    def _mesh_full(self, image: np.ndarray) -> list[FaceObservation]:
        if self._mesh is None:
            raise VisionError("the face tracker is closed")
        return [_observation(mesh, 0, 0) for mesh in self._mesh.detect(image)]

    def _mesh_crop(self, image: np.ndarray, crop: _Crop) -> FaceObservation | None:
        patch = np.ascontiguousarray(image[crop.y0:crop.y1, crop.x0:crop.x1])
        if patch.shape[0] < 16 or patch.shape[1] < 16:
            return None
        meshes = self._get_crop_mesh().detect(patch)
        if not meshes:
            return None
        return _observation(meshes[0], crop.x0, crop.y0)

    def _detect(self, image: np.ndarray) -> list[Detection]:
        """Full-range face detection; when the whole frame gives nothing, look again in tiles.

        The model sees the frame shrunk to 192x192 and often returns nothing when several small
        faces share the frame; square tiles make the faces bigger for it.
        """
        found = self._detect_in(image, 0, 0)
        if not found:
            for x0, y0, side in _tiles(image.shape[1], image.shape[0]):
                for box, score in self._detect_in(image[y0:y0 + side, x0:x0 + side], x0, y0):
                    if not any(_same_face(box, other) for other, _ in found):
                        found.append((box, score))
        found.sort(key=lambda d: -_area(d[0]))
        return found[: self.max_faces]

    def _detect_in(self, image: np.ndarray, x0: int, y0: int) -> list[Detection]:
        found = self._get_detector().detect(np.ascontiguousarray(image))
        return [((box[0] + x0, box[1] + y0, box[2] + x0, box[3] + y0), score) for box, score in found]

    def _small_faces(self, image: np.ndarray) -> list[FaceObservation]:
        """Mesh on a crop around a small face: the previous crop, else the largest detection."""
        height, width = image.shape[:2]
        primary = self._mesh_crop(image, self._crop) if self._crop is not None else None
        detections = None
        if primary is None:
            detections = self._detect(image)
            if not detections:
                self._crop, self._others = None, []
                return []
            box, _ = max(detections, key=lambda d: _area(d[0]))
            side = max(box[2] - box[0], box[3] - box[1]) * _CROP_SCALE
            crop = _square_crop((box[0] + box[2]) / 2, (box[1] + box[3]) / 2, side, width, height)
            primary = self._mesh_crop(image, crop)
            if primary is None:
                # Seen by the detector but not meshed: reported for counting only.
                self._crop, self._others = None, []
                return [_box_only(b, score) for b, score in detections]
            self._since_others = _OTHERS_EVERY  # a new face: look for others now
        x0, y0, x1, y1 = primary.box
        side = max(x1 - x0, y1 - y0) * _CROP_SCALE
        self._crop = _square_crop((x0 + x1) / 2, (y0 + y1) / 2, side, width, height)
        return [primary, *self._other_faces(image, primary)]

    def _other_faces(self, image: np.ndarray, primary: FaceObservation, *, small: bool = True
                     ) -> list[FaceObservation]:
        """Faces besides the primary one (detector boxes); a box counts only when the landmarker finds
        a face in it.

        Beside a small primary face (``small``) other faces are small too: the full-range detector,
        which tends to report only the strongest of several faces, looks again with a square around
        the primary filled with grey, and in tiles when the whole frame shows nothing. Beside a face
        the landmarker found by itself, its short-range detector looks (as the legacy face mesh did
        for its second face). Runs every ``_OTHERS_EVERY`` frames in video mode (the answer is
        reused in between), every time for photos.
        """
        if self.max_faces < 2:
            return []
        self._since_others += 1
        if not self.static_image_mode and self._since_others < _OTHERS_EVERY:
            return self._others
        self._since_others = 0
        if small:
            height, width = image.shape[:2]
            x0, y0, x1, y1 = primary.box
            side = max(x1 - x0, y1 - y0) * _CROP_SCALE
            blank = _square_crop((x0 + x1) / 2, (y0 + y1) / 2, side, width, height)
            masked = image.copy()
            masked[blank.y0:blank.y1, blank.x0:blank.x1] = 127
            candidates = self._detect(masked)
        else:
            candidates = self._get_near_detector().detect(image)
        found = [(box, score) for box, score in candidates
                 if not _same_face(box, primary.box) and self._is_face(image, box)]
        self._others = [_box_only(box, score) for box, score in found][: self.max_faces - 1]
        return self._others

    def _is_face(self, image: np.ndarray, box: Box) -> bool:
        """Whether the landmarker finds a face in a crop around a detector box.

        The full-range detector also fires on hands and folds of cloth (0.6-0.77 on the phone clip,
        most often in the tiles); in a crop around it, a person's face, even a small one, is found
        with a high score by the landmarker's short-range detector and gets landmarks.
        """
        height, width = image.shape[:2]
        side = max(box[2] - box[0], box[3] - box[1]) * _CROP_SCALE
        crop = _square_crop((box[0] + box[2]) / 2, (box[1] + box[3]) / 2, side, width, height)
        patch = np.ascontiguousarray(image[crop.y0:crop.y1, crop.x0:crop.x1])
        return patch.shape[0] >= 16 and patch.shape[1] >= 16 and bool(self._get_verifier().detect(patch))

    def _order(self, faces: list[FaceObservation]) -> list[FaceObservation]:
        """Meshed faces before box-only ones; primary = nearest the previous primary, else largest."""
        if len(faces) < 2:
            return faces
        meshed = [f for f in faces if not np.isnan(f.landmarks[0, 0])]
        boxes = [f for f in faces if np.isnan(f.landmarks[0, 0])]
        prev = self._previous
        if prev is not None and not self.static_image_mode:
            cx, cy = (prev[0] + prev[2]) / 2, (prev[1] + prev[3]) / 2
            size = max(prev[2] - prev[0], prev[3] - prev[1], 1.0)

            def key(f: FaceObservation) -> tuple[float, float]:
                dist = np.hypot((f.box[0] + f.box[2]) / 2 - cx, (f.box[1] + f.box[3]) / 2 - cy)
                return (0.0 if dist < 0.5 * size else 1.0, -_area(f.box))

            meshed.sort(key=key)
        else:
            meshed.sort(key=lambda f: -_area(f.box))
        return meshed + boxes


def _observation(mesh: Mesh, x0: int, y0: int) -> FaceObservation:
    """A landmarker face of an image placed at (x0, y0) of the frame, in pixels of the frame."""
    points = mesh.landmarks
    if points.shape != (N_LANDMARKS, 3) or mesh.blendshapes.shape != (N_BLENDSHAPES,):
        raise VisionError(f"the face landmarker returned {points.shape[0]} points and "
                          f"{mesh.blendshapes.shape[0]} blendshapes, "
                          f"expected {N_LANDMARKS} and {N_BLENDSHAPES}")
    points[:, 0] += x0
    points[:, 1] += y0
    return FaceObservation(landmarks=points, box=_box(points), score=1.0, blendshapes=mesh.blendshapes,
                           matrix=mesh.matrix)


def _tiles(width: int, height: int) -> list[tuple[int, int, int]]:
    """Overlapping square windows (x0, y0, side) covering the frame, for a second detection pass."""
    long_side, short_side = max(width, height), min(width, height)
    side = short_side if long_side >= 1.3 * short_side else int(0.6 * long_side)
    if side < 64:
        return []

    def starts(length: int) -> list[int]:
        count = max(1, int(np.ceil((length - side) / (0.75 * side))) + 1) if length > side else 1
        return sorted({int(round(v)) for v in np.linspace(0, length - side, count)})

    return [(x, y, side) for y in starts(height) for x in starts(width)]


def _box_only(box: Box, score: float) -> FaceObservation:
    """A face the detector saw but the mesh did not fit (landmarks NaN): counts, cannot be tracked."""
    return FaceObservation(landmarks=np.full((N_LANDMARKS, 3), np.nan, np.float32), box=box, score=score)
