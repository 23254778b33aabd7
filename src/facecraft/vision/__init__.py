"""facecraft.vision: face finding and tracking (MediaPipe Tasks FaceLandmarker: 478 points and 52
blendshapes), pose and features.

``vision.warp``, ``vision.masks`` and ``vision.color`` (image operations for the engine) live here too
but are not re-exported: import them directly.
"""

from facecraft.vision import features, landmarks
from facecraft.vision.pose import head_pose, head_poses
from facecraft.vision.smoothing import smooth_landmarks, zero_lag_smooth
from facecraft.vision.track import track_frames, track_image, track_video, tracks_from_landmarks
from facecraft.vision.tracker import FaceTracker
from facecraft.vision.types import (
    BLENDSHAPE_NAMES,
    N_BLENDSHAPES,
    N_LANDMARKS,
    TRACKS_VERSION,
    FaceObservation,
    Tracks,
)

__all__ = [
    "BLENDSHAPE_NAMES",
    "N_BLENDSHAPES",
    "N_LANDMARKS",
    "TRACKS_VERSION",
    "FaceObservation",
    "FaceTracker",
    "Tracks",
    "features",
    "head_pose",
    "head_poses",
    "landmarks",
    "smooth_landmarks",
    "track_frames",
    "track_image",
    "track_video",
    "tracks_from_landmarks",
    "zero_lag_smooth",
]
