"""Track the primary face over a whole video (or in one photo) into a :class:`Tracks`.

One pass over the frames: landmarks and blendshapes (``FaceTracker``), then the pixel features of
that frame. After the pass: zero-lag smoothing of the landmarks, then geometric features, boxes and
head pose from the smoothed landmarks (cheap, vectorised or a few µs per frame).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from facecraft.errors import MediaError
from facecraft.media import iter_frames, probe, scaled_size
from facecraft.media.types import Frame
from facecraft.vision.features import geometric_features, pixel_features
from facecraft.vision.pose import head_poses
from facecraft.vision.smoothing import smooth_landmarks
from facecraft.vision.tracker import FaceTracker
from facecraft.vision.types import N_BLENDSHAPES, N_LANDMARKS, FaceObservation, Tracks

__all__ = ["track_frames", "track_image", "track_video", "tracks_from_landmarks"]

log = logging.getLogger(__name__)


def track_frames(
    frames: Iterable[Frame],
    *,
    fps: float,
    width: int,
    height: int,
    progress: Callable[[int], None] | None = None,
    max_faces: int = 2,
    keep_raw: bool = False,
) -> Tracks:
    """Track faces in ``frames`` (upright RGB of ``width`` x ``height``); ``progress(n)`` after each frame.

    ``Tracks.extra["aperture_raw"]`` is the aperture before smoothing; with ``keep_raw`` the unsmoothed
    landmarks are kept too (``extra["landmarks_raw"]``, (N, 478, 3); off by default: it doubles the size
    of ``tracks.npz``).
    """
    with FaceTracker(static_image_mode=False, max_faces=max_faces) as tracker:
        tracks = _track(tracker, frames, fps=fps, width=width, height=height, progress=progress,
                        keep_raw=keep_raw)
    log.info("tracked %d frames: face in %d", len(tracks), int(tracks.present.sum()))
    return tracks


def track_image(image: np.ndarray, *, max_faces: int = 2) -> Tracks:
    """Track one photo (HxWx3 uint8 RGB) as a one-frame :class:`Tracks` (IMAGE mode: no tracking state)."""
    height, width = image.shape[:2]
    with FaceTracker(static_image_mode=True, max_faces=max_faces) as tracker:
        return _track(tracker, [Frame(index=0, time_s=0.0, image=image)], fps=1.0, width=width, height=height)


def _track(tracker: FaceTracker, frames: Iterable[Frame], *, fps: float, width: int, height: int,
           progress: Callable[[int], None] | None = None, keep_raw: bool = False) -> Tracks:
    """One pass: the tracker works on frame n in a worker thread while this thread takes frame n+1
    from ``frames`` (decoding it; in a build also encoding it), then the pixel features of frame n.
    MediaPipe and PyAV release the GIL, so on two cores the two overlap."""
    times: list[float] = []
    raw: list[np.ndarray] = []
    shapes: list[np.ndarray] = []
    matrices: list[np.ndarray] = []
    counts: list[int] = []
    pixels: list[tuple[float, float, float]] = []
    absent = FaceObservation(landmarks=np.full((N_LANDMARKS, 3), np.nan, np.float32), box=(0, 0, 0, 0),
                             score=0.0)

    def finish(frame: Frame, faces: list[FaceObservation]) -> None:
        counts.append(len(faces))
        times.append(frame.time_s)
        primary = faces[0] if faces and np.isfinite(faces[0].landmarks[0, 0]) else absent
        raw.append(primary.landmarks)
        shapes.append(primary.blendshapes)
        matrices.append(primary.matrix)
        if primary is absent:
            pixels.append((np.nan, np.nan, np.nan))
        else:
            feats = pixel_features(frame.image, primary.landmarks)
            pixels.append((feats.teeth, feats.sharpness, feats.luminance))
        if progress is not None:
            progress(len(times))

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracker") as worker:
        pending: tuple[Frame, Future[list[FaceObservation]]] | None = None
        for frame in frames:
            submitted = (frame, worker.submit(tracker.process, frame.image))
            if pending is not None:
                finish(pending[0], pending[1].result())
            pending = submitted
        if pending is not None:
            finish(pending[0], pending[1].result())
    landmarks = np.stack(raw) if raw else np.zeros((0, N_LANDMARKS, 3), np.float32)
    pix = np.asarray(pixels, dtype=np.float32).reshape(-1, 3)
    return tracks_from_landmarks(
        landmarks, fps=fps, width=width, height=height, times=np.asarray(times, np.float64),
        face_count=np.asarray(counts, np.int32), teeth=pix[:, 0], sharpness=pix[:, 1], luminance=pix[:, 2],
        blendshapes=np.stack(shapes) if shapes else np.zeros((0, N_BLENDSHAPES), np.float32),
        transform=np.stack(matrices) if matrices else np.zeros((0, 4, 4), np.float32),
        keep_raw=keep_raw,
    )


def tracks_from_landmarks(
    landmarks: np.ndarray,
    *,
    fps: float,
    width: int,
    height: int,
    times: np.ndarray,
    face_count: np.ndarray,
    teeth: np.ndarray,
    sharpness: np.ndarray,
    luminance: np.ndarray,
    blendshapes: np.ndarray | None = None,
    transform: np.ndarray | None = None,
    keep_raw: bool = False,
) -> Tracks:
    """Assemble :class:`Tracks` from raw per-frame landmarks (NaN where absent), pixel features and
    the landmarker's blendshapes and matrices (None: NaN)."""
    present = np.isfinite(landmarks[:, 0, 0]) if len(landmarks) else np.zeros(0, bool)
    smoothed = smooth_landmarks(landmarks, present, fps)
    geo = geometric_features(smoothed)
    raw_aperture = geometric_features(landmarks).aperture
    extra = {"aperture_raw": raw_aperture}
    if keep_raw:
        extra["landmarks_raw"] = landmarks.astype(np.float32)
    box = np.full((len(landmarks), 4), np.nan, np.float32)
    if present.any():
        pts = smoothed[present]
        box[present] = np.stack(
            [pts[..., 0].min(1), pts[..., 1].min(1), pts[..., 0].max(1), pts[..., 1].max(1)], axis=1
        )
    return Tracks(
        fps=float(fps), width=int(width), height=int(height), times=times, present=present,
        face_count=face_count, landmarks=smoothed, box=box, pose=head_poses(smoothed, width, height),
        aperture=geo.aperture, mouth_width=geo.mouth_width, eye_open=geo.eye_open, brow=geo.brow,
        teeth=teeth, sharpness=sharpness, luminance=luminance, blendshapes=blendshapes, transform=transform,
        extra=extra,
    )


def track_video(
    path: str | Path,
    *,
    max_side: int | None = None,
    progress: Callable[[int], None] | None = None,
    start_s: float = 0.0,
    end_s: float | None = None,
    keep_raw: bool = False,
) -> Tracks:
    """Decode ``path`` (long side ≤ ``max_side``) and track it; coordinates are of the decoded frames."""
    info = probe(path)
    if info.video is None:
        raise MediaError(f"{Path(path).name} has no video stream", error_id="video_format")
    width, height = scaled_size(info.video.width, info.video.height, max_side)
    frames = iter_frames(path, max_side=max_side, start_s=start_s, end_s=end_s)
    return track_frames(frames, fps=info.video.fps, width=width, height=height, progress=progress,
                        keep_raw=keep_raw)
