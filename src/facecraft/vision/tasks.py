"""MediaPipe Tasks for the tracker: the FaceLandmarker and the full-range FaceDetector, quietly.

Both load model files shipped with facecraft (``facecraft.models``, hash-checked). Three things the
Tasks API does that the tracker must not inherit:

- **Log lines on stderr.** The native library writes absl/TFLite lines ("Created TensorFlow Lite
  XNNPACK delegate", "Sparsity tensors may not yet be fully supported" 46 times for the sparse
  detector, "Feedback manager ...") straight to file descriptor 2; no environment variable or Python
  API silences them. Creating, the first calls and closing run with fd 2 captured: native lines go to
  this module's logger (DEBUG; errors at WARNING), anything else is written back to stderr. One line
  comes once per process at whichever inference first meets an unaligned input tensor ("Input tensor
  memory is not aligned", LiteRT), which can be any later frame of the landmarker: the first task of
  a process runs one full-range detection under capture, which always logs it, to use it up.
- **Smoothing in VIDEO mode.** The landmarker smooths landmarks with a One-Euro filter driven by the
  timestamps, which delays the mouth by 0.25-0.6 frame (measured against IMAGE mode on two speaking
  clips). The tracker smooths without lag afterwards (``vision.smoothing``), so each VIDEO-mode
  landmarker runs on its own clock that advances :data:`FRAME_SPACING_MS` per frame: at that spacing
  the filter passes landmarks through (measured lag ≤ 0.02 frame) while tracking between frames still
  works. It also makes the timestamps strictly increasing whatever the video's frame times are.
- **Stretching.** Both tasks resize the whole image to their detector's square input without keeping
  its aspect ratio, so faces in a portrait phone frame come out squashed and are missed (the legacy
  graphs letterboxed: on the 9:16 phone clip at 640 px the legacy mesh found the face in every frame,
  the landmarker in none). Non-square images are padded to a square (black, right or bottom) first;
  pixel coordinates are unchanged by that padding.
- **Unclosed tasks.** A task left to the garbage collector prints a TypeError at exit: close them.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from facecraft.errors import VisionError
from facecraft.models import model_path

__all__ = ["FRAME_SPACING_MS", "Detection", "Detector", "Landmarker", "Mesh", "native_log_captured"]

log = logging.getLogger(__name__)

FRAME_SPACING_MS = 1_000_000  # one VIDEO-mode frame every 1000 s of task time (see the module docstring)
_QUIET_CALLS = 2  # first calls of a task that may still log (absl's first line, LiteRT's alignment note)
_NATIVE_LINE = re.compile(r"^(?:[IWEF]\d{4} |[IWEF]\d{8} |INFO: |WARNING: |ERROR: |E\d{4})")
_NATIVE_ERROR = re.compile(r"^(?:[EF]\d{4}|ERROR: )")
_fd_lock = threading.Lock()
_SHORT_RANGE = "face_detector.tflite"  # the landmarker's own detector, inside face_landmarker.task

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels
Detection = tuple[Box, float]  # box and detector score


@contextmanager
def native_log_captured() -> Iterator[None]:
    """Capture what native code writes to file descriptor 2; MediaPipe's lines go to ``logging``."""
    with _fd_lock:
        sys.stderr.flush()
        saved = os.dup(2)
        with tempfile.TemporaryFile() as capture:
            os.dup2(capture.fileno(), 2)
            try:
                yield
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
                os.close(saved)
                capture.seek(0)
                text = capture.read().decode("utf-8", "replace")
                others = []
                for line in text.splitlines():
                    if _NATIVE_ERROR.match(line):
                        log.warning("mediapipe: %s", line)
                    elif _NATIVE_LINE.match(line):
                        log.debug("mediapipe: %s", line)
                    elif line:
                        others.append(line)
                if others:  # not MediaPipe's: whoever wrote it meant it for stderr
                    os.write(2, ("\n".join(others) + "\n").encode())


@dataclass
class Mesh:
    """One face from the landmarker, in the coordinates of the image it was given."""

    landmarks: np.ndarray  # (478, 3) float32 pixels of the image (z: relative depth at the same scale)
    blendshapes: np.ndarray  # (52,) float32 in 0..1, in BLENDSHAPE_NAMES order
    matrix: np.ndarray  # (4, 4) float32 facial transformation matrix (canonical face -> camera, cm)


def _tasks():  # noqa: ANN202 - the mediapipe.tasks vision module
    """Import MediaPipe's Tasks vision API (its import logs nothing; creating a task does)."""
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    return mp, BaseOptions, vision


def _square(image: np.ndarray) -> np.ndarray:
    """``image`` padded with black on the right or at the bottom to a square (itself when square)."""
    height, width = image.shape[:2]
    if height == width:
        return image
    side = max(height, width)
    canvas = np.zeros((side, side, 3), np.uint8)
    canvas[:height, :width] = image
    return canvas


_one_time_logs_done = False
_one_time_lock = threading.Lock()


def _use_up_one_time_logs() -> None:
    """Run one full-range detection under capture, once per process (see the module docstring)."""
    global _one_time_logs_done
    with _one_time_lock:
        if _one_time_logs_done:
            return
        _one_time_logs_done = True
        mp, base_options, vision = _tasks()
        options = vision.FaceDetectorOptions(
            base_options=base_options(model_asset_path=str(model_path("face_detector_full_range"))),
            running_mode=vision.RunningMode.IMAGE,
        )
        with native_log_captured():
            with vision.FaceDetector.create_from_options(options) as task:
                task.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.zeros((64, 64, 3), np.uint8)))


class _Task:
    """Common life cycle: create and close quietly, count calls, refuse use after close."""

    _task: object | None

    def __init__(self) -> None:
        self._calls = 0
        try:
            _use_up_one_time_logs()
        except (RuntimeError, ValueError) as exc:
            raise VisionError(f"cannot start MediaPipe: {exc}") from exc

    def _start(self, factory, options, what: str) -> None:  # noqa: ANN001 - a Tasks class and its options
        """Create the MediaPipe task (``factory.create_from_options``) with its log lines captured."""
        try:
            with native_log_captured():
                self._task = factory.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            raise VisionError(f"cannot start the {what}: {exc}") from exc

    def _run(self, call):  # noqa: ANN001, ANN202 - a closure over the task
        if self._task is None:
            raise VisionError("the face tracker is closed")
        self._calls += 1
        try:
            if self._calls <= _QUIET_CALLS:
                with native_log_captured():
                    return call(self._task)
            return call(self._task)
        except (RuntimeError, ValueError) as exc:
            raise VisionError(f"MediaPipe failed on a frame: {exc}") from exc

    def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            with native_log_captured():
                task.close()  # type: ignore[attr-defined]


class Landmarker(_Task):
    """FaceLandmarker: 478 landmarks, 52 blendshapes and the transformation matrix per face.

    ``video`` True: VIDEO mode (tracks between consecutive images, re-detects when it loses a face);
    False: IMAGE mode (every image on its own: photos).
    """

    def __init__(self, *, video: bool, num_faces: int, min_detection_confidence: float = 0.5,
                 min_presence_confidence: float = 0.5, min_tracking_confidence: float = 0.5) -> None:
        super().__init__()
        path = model_path("face_landmarker")
        mp, base_options, vision = _tasks()
        self._mp = mp
        self.video = video
        self._clock = 0
        options = vision.FaceLandmarkerOptions(
            base_options=base_options(model_asset_path=str(path)),
            running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE,
            num_faces=num_faces,
            min_face_detection_confidence=min_detection_confidence,
            min_face_presence_confidence=min_presence_confidence,
            min_tracking_confidence=min_tracking_confidence,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        self._start(vision.FaceLandmarker, options, f"face landmarker ({path.name})")

    def detect(self, image: np.ndarray) -> list[Mesh]:
        """Faces in a contiguous RGB uint8 image (consecutive frames in VIDEO mode)."""
        square = _square(image)
        side = square.shape[0]
        frame = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=square)
        if self.video:
            self._clock += FRAME_SPACING_MS
            stamp = self._clock
            result = self._run(lambda task: task.detect_for_video(frame, stamp))
        else:
            result = self._run(lambda task: task.detect(frame))
        return [
            Mesh(
                landmarks=np.array([(p.x, p.y, p.z) for p in points], dtype=np.float32) * side,
                blendshapes=np.array([c.score for c in shapes], dtype=np.float32),
                matrix=np.asarray(matrix, dtype=np.float32).reshape(4, 4),
            )
            for points, shapes, matrix in zip(result.face_landmarks, result.face_blendshapes,
                                              result.facial_transformation_matrixes, strict=True)
        ]


class Detector(_Task):
    """Face detector (IMAGE mode), full range by default: finds faces down to a few percent of the frame.

    The landmarker's own detector is short-range and misses faces smaller than about a fifth of the
    frame (a person filmed full-body by a phone); the full-range one sees a 128 px face in a 640 px
    frame. ``full_range=False`` runs that short-range detector (``face_detector.tflite`` inside
    ``face_landmarker.task``): a third of the cost (1.8 against 5.4 ms a 512 px frame), for faces of
    a size the landmarker itself would find.
    """

    def __init__(self, *, full_range: bool = True, min_detection_confidence: float = 0.5) -> None:
        super().__init__()
        mp, base_options, vision = _tasks()
        self._mp = mp
        if full_range:
            path = model_path("face_detector_full_range")
            base = base_options(model_asset_path=str(path))
            name = path.name
        else:
            with zipfile.ZipFile(model_path("face_landmarker")) as task:
                base = base_options(model_asset_buffer=task.read(_SHORT_RANGE))
            name = f"{_SHORT_RANGE} of face_landmarker.task"
        options = vision.FaceDetectorOptions(
            base_options=base, running_mode=vision.RunningMode.IMAGE,
            min_detection_confidence=min_detection_confidence,
        )
        self._start(vision.FaceDetector, options, f"face detector ({name})")

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Face boxes (pixels of ``image``, a contiguous RGB uint8 array) with their scores."""
        frame = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=_square(image))
        result = self._run(lambda task: task.detect(frame))
        found = []
        for det in result.detections:
            bb = det.bounding_box
            score = float(det.categories[0].score) if det.categories else 0.0
            found.append(((float(bb.origin_x), float(bb.origin_y), float(bb.origin_x + bb.width),
                           float(bb.origin_y + bb.height)), score))
        return found
