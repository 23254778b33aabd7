"""Typed values the vision layer hands to the layers above it.

Conventions: landmark coordinates are pixels of the analysed frame (x right, y down; z is
MediaPipe's relative depth scaled by frame width). Scale-free features (aperture, mouth width, brow
height) are divided by the inter-ocular distance (outer eye corners 33-263) so that they compare
across resolutions and distances.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

N_LANDMARKS = 478  # MediaPipe face mesh with iris refinement


@dataclass
class FaceObservation:
    """One face found in one image."""

    landmarks: np.ndarray  # (478, 3) float32, pixels
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels
    score: float  # detector confidence in [0, 1]


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
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.times.shape[0])

    @property
    def interocular(self) -> np.ndarray:
        """(N,) outer eye-corner distance in pixels."""
        return np.linalg.norm(self.landmarks[:, 33, :2] - self.landmarks[:, 263, :2], axis=1)

    def save(self, path: Path) -> None:
        """Write to ``.npz`` (the bundle's ``tracks.npz``)."""
        arrays = {
            name: getattr(self, name)
            for name in (
                "times", "present", "face_count", "landmarks", "box", "pose", "aperture",
                "mouth_width", "eye_open", "brow", "teeth", "sharpness", "luminance",
            )
        }
        arrays.update({f"extra__{k}": v for k, v in self.extra.items()})
        meta = np.array([self.fps, self.width, self.height], dtype=np.float64)
        np.savez_compressed(path, meta=meta, **arrays)

    @classmethod
    def load(cls, path: Path) -> Tracks:
        with np.load(path, allow_pickle=False) as data:
            fps, width, height = data["meta"].tolist()
            extra = {k[len("extra__"):]: data[k] for k in data.files if k.startswith("extra__")}
            fields = {k: data[k] for k in data.files if k != "meta" and not k.startswith("extra__")}
        return cls(fps=float(fps), width=int(width), height=int(height), extra=extra, **fields)
