"""Whole-frame statistics for the cut and lighting checks, gathered while frames stream past.

Face tracking sees only the face; an edit (a cut to another shot) shows up first as a jump of the
whole picture. Each frame is reduced to a 64x64 grey thumbnail, so the meter costs well under a
millisecond per frame and can ride along the decode pass that feeds the tracker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

__all__ = ["SceneMeter", "SceneStats"]

_THUMB = 64
_BINS = 32


@dataclass
class SceneStats:
    """Per-frame values, aligned on the frame index (the first frame has zero change)."""

    times: np.ndarray  # (N,) seconds
    hist_distance: np.ndarray  # (N,) half L1 distance of grey histograms to the previous frame, 0..1
    pixel_change: np.ndarray  # (N,) mean absolute grey change to the previous frame, 0..255


@dataclass
class SceneMeter:
    """Feed frames with :meth:`add`, read :meth:`stats` at the end."""

    _times: list[float] = field(default_factory=list)
    _hist: list[float] = field(default_factory=list)
    _change: list[float] = field(default_factory=list)
    _prev: np.ndarray | None = None
    _prev_hist: np.ndarray | None = None

    def add(self, time_s: float, image_rgb: np.ndarray) -> None:
        grey = cv2.cvtColor(cv2.resize(image_rgb, (_THUMB, _THUMB), interpolation=cv2.INTER_AREA),
                            cv2.COLOR_RGB2GRAY).astype(np.float32)
        hist = np.histogram(grey, bins=_BINS, range=(0, 256))[0].astype(np.float32) / grey.size
        if self._prev is None or self._prev_hist is None:
            dist, change = 0.0, 0.0
        else:
            dist = 0.5 * float(np.abs(hist - self._prev_hist).sum())
            change = float(np.abs(grey - self._prev).mean())
        self._times.append(float(time_s))
        self._hist.append(dist)
        self._change.append(change)
        self._prev, self._prev_hist = grey, hist

    def stats(self) -> SceneStats:
        return SceneStats(
            times=np.asarray(self._times, dtype=np.float64),
            hist_distance=np.asarray(self._hist, dtype=np.float32),
            pixel_change=np.asarray(self._change, dtype=np.float32),
        )
