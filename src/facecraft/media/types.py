"""Typed values the media layer hands to the layers above it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class VideoStreamInfo:
    codec: str  # PyAV codec name: "h264", "hevc", "mpeg4", "vp8", "vp9", "mpeg1video", ...
    width: int  # display size, after rotation
    height: int
    fps: float
    frame_count: int  # from the container, or estimated from duration * fps
    rotation: int  # degrees clockwise needed to display upright: 0, 90, 180, 270
    pix_fmt: str | None
    bit_rate: int | None


@dataclass(frozen=True)
class AudioStreamInfo:
    codec: str
    sample_rate: int
    channels: int
    duration_s: float | None


@dataclass(frozen=True)
class MediaInfo:
    path: Path
    container: str  # PyAV format name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    size_bytes: int
    duration_s: float
    video: VideoStreamInfo | None
    audio: AudioStreamInfo | None


@dataclass
class Frame:
    """One decoded video frame, upright (rotation applied), RGB uint8 HxWx3."""

    index: int
    time_s: float
    image: np.ndarray


@dataclass
class Audio:
    """PCM audio as float32 in [-1, 1]; shape (n,) when mono, (n, channels) otherwise."""

    samples: np.ndarray
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return float(len(self.samples)) / float(self.sample_rate) if self.sample_rate else 0.0
