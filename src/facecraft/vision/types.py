"""Typed values the vision layer hands to the layers above it.

Conventions: landmark coordinates are pixels of the analysed frame (x right, y down; z is
MediaPipe's relative depth scaled by the width of the image the landmarker saw). Scale-free features
(aperture, mouth width, brow height) are divided by the inter-ocular distance (outer eye corners
33-263) so that they compare across resolutions and distances. Blendshapes are the landmarker's 52
ARKit-style coefficients in 0..1; "Left"/"Right" are the subject's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facecraft.errors import VisionError

N_LANDMARKS = 478  # MediaPipe face landmarks: 468 mesh points + 10 iris points
# The FaceLandmarker's blendshape categories, in its output order (index 0 is its "neutral" score).
BLENDSHAPE_NAMES: tuple[str, ...] = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft",
    "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight",
    "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight",
    "jawForward", "jawLeft", "jawOpen", "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight",
    "mouthFrownLeft", "mouthFrownRight", "mouthFunnel", "mouthLeft", "mouthLowerDownLeft",
    "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight", "mouthPucker", "mouthRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft",
    "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight",
)
N_BLENDSHAPES = len(BLENDSHAPE_NAMES)  # 52
BLENDSHAPE_INDEX: dict[str, int] = {name: i for i, name in enumerate(BLENDSHAPE_NAMES)}
# Version of the tracking data in tracks.npz: 2 = MediaPipe Tasks landmarks with blendshapes and
# transformation matrices (1, without a version field, was the legacy face mesh).
TRACKS_VERSION = 2


def _nan(*shape: int) -> np.ndarray:
    return np.full(shape, np.nan, np.float32)


@dataclass
class FaceObservation:
    """One face found in one image."""

    landmarks: np.ndarray  # (478, 3) float32, pixels
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels
    score: float  # detector confidence in [0, 1]
    blendshapes: np.ndarray = field(default_factory=lambda: _nan(N_BLENDSHAPES))  # (52,) float32
    # (4, 4) float32 facial transformation matrix (canonical face model -> camera of the image the
    # landmarker saw: the crop for a small face, whose translation is then relative to that crop).
    matrix: np.ndarray = field(default_factory=lambda: _nan(4, 4))


@dataclass
class Tracks:
    """Per-frame tracking of the primary face over a video (N frames).

    Arrays are aligned on the frame index. Where the primary face is absent (``present`` False)
    landmark and feature values are NaN.
    """

    fps: float
    width: int
    height: int
    times: np.ndarray  # (N,) seconds
    present: np.ndarray  # (N,) bool: primary face tracked
    face_count: np.ndarray  # (N,) int: faces detected in the frame
    landmarks: np.ndarray  # (N, 478, 3) float32, smoothed
    box: np.ndarray  # (N, 4) x0, y0, x1, y1
    pose: np.ndarray  # (N, 3) yaw, pitch, roll in degrees (0,0,0 = facing the camera)
    aperture: np.ndarray  # (N,) inner-lip opening / inter-ocular distance
    mouth_width: np.ndarray  # (N,) mouth corner distance / inter-ocular distance
    eye_open: np.ndarray  # (N,) mean eyelid opening / eye width (blink when low)
    brow: np.ndarray  # (N,) brow-to-eye height / inter-ocular distance
    teeth: np.ndarray  # (N,) share of bright, low-saturation pixels inside the inner lip, 0..1
    sharpness: np.ndarray  # (N,) variance of the Laplacian on the face crop (grey, 0..255 scale)
    luminance: np.ndarray  # (N,) mean luma of the face crop, 0..255
    blendshapes: np.ndarray | None = None  # (N, 52) float32, BLENDSHAPE_NAMES order; None → all NaN
    transform: np.ndarray | None = None  # (N, 4, 4) float32 facial transformation matrices; None → NaN
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self)
        if self.blendshapes is None:
            self.blendshapes = _nan(n, N_BLENDSHAPES)
        if self.transform is None:
            self.transform = _nan(n, 4, 4)

    def __len__(self) -> int:
        return int(self.times.shape[0])

    @property
    def interocular(self) -> np.ndarray:
        """(N,) outer eye-corner distance in pixels."""
        return np.linalg.norm(self.landmarks[:, 33, :2] - self.landmarks[:, 263, :2], axis=1)

    def blendshape(self, name: str) -> np.ndarray:
        """(N,) one blendshape by name (e.g. ``"jawOpen"``); NaN where the face is absent."""
        if name not in BLENDSHAPE_INDEX:
            raise KeyError(f"unknown blendshape {name!r}")
        assert self.blendshapes is not None
        return self.blendshapes[:, BLENDSHAPE_INDEX[name]]

    def save(self, path: Path) -> None:
        """Write to ``.npz`` (the bundle's ``tracks.npz``), with :data:`TRACKS_VERSION`."""
        arrays = {name: getattr(self, name) for name in _SAVED}
        arrays.update({f"extra__{k}": v for k, v in self.extra.items()})
        meta = np.array([self.fps, self.width, self.height, TRACKS_VERSION], dtype=np.float64)
        np.savez_compressed(path, meta=meta, **arrays)

    @classmethod
    def load(cls, path: Path) -> Tracks:
        """Read a ``tracks.npz``; VisionError ``tracks_version`` when another tracker version wrote it."""
        with np.load(path, allow_pickle=False) as data:
            meta = data["meta"].tolist()
            version = int(meta[3]) if len(meta) > 3 else 1
            if version != TRACKS_VERSION:
                raise VisionError(f"{Path(path).name} holds tracking version {version}; this version of "
                                  f"facecraft reads version {TRACKS_VERSION}", error_id="tracks_version")
            fps, width, height = meta[:3]
            extra = {k[len("extra__"):]: data[k] for k in data.files if k.startswith("extra__")}
            fields = {k: data[k] for k in _SAVED}
        return cls(fps=float(fps), width=int(width), height=int(height), extra=extra, **fields)


_SAVED = ("times", "present", "face_count", "landmarks", "box", "pose", "aperture", "mouth_width", "eye_open",
          "brow", "teeth", "sharpness", "luminance", "blendshapes", "transform")
