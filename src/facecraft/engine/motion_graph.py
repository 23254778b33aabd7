"""The motion graph (bundle file ``motion.npz``): where the footage may jump without a visible cut.

Video textures (Schödl et al., 2000): playing frame i then frame j looks continuous when j resembles
i + 1. Each footage frame gets a small descriptor (head pose, head position and scale in the frame,
eye opening, a grey thumbnail of the upper face in canonical alignment); the cost of the jump i -> j
is the descriptor distance between i + 1 and j, averaged over a short window so that motion
direction matches too. Only the best ``k`` jumps per frame are kept, per target state, and jumps that
land too close to where they start (short loops) are forbidden.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facecraft.errors import BundleError
from facecraft.media.types import Frame
from facecraft.vision.landmarks import EYE_OUTER_CORNERS
from facecraft.vision.types import Tracks
from facecraft.vision.warp import eye_frame

__all__ = ["Descriptors", "MotionGraph", "MotionGraphParams", "build_motion_graph", "FILENAME"]

log = logging.getLogger(__name__)

FILENAME = "motion.npz"


@dataclass(frozen=True)
class MotionGraphParams:
    k: int = 8  # jumps kept per frame and target state
    min_jump_s: float = 1.0  # |j - (i + 1)| below this is a loop, not a jump
    window: int = 2  # frames compared on each side of the join
    thumb: tuple[int, int] = (16, 12)  # upper-face thumbnail (w, h)


@dataclass
class MotionGraph:
    """Allowed jumps. ``jumps[i, s]`` lists target frames in state ``s`` best first (-1: none)."""

    fps: float
    state: np.ndarray  # (N,) uint8: 0 listening, 1 speaking
    present: np.ndarray  # (N,) bool
    jumps: np.ndarray  # (N, 2, k) int32
    costs: np.ndarray  # (N, 2, k) float32, in units of the median frame-to-next-frame distance
    eye_open: np.ndarray  # (N,) float32, for blink-aware choices

    def __len__(self) -> int:
        return int(self.state.shape[0])

    def save(self, path: Path) -> None:
        np.savez(path, fps=np.array(self.fps), state=self.state, present=self.present, jumps=self.jumps,
                 costs=self.costs, eye_open=self.eye_open)

    @classmethod
    def load(cls, path: Path) -> MotionGraph:
        try:
            with np.load(path, allow_pickle=False) as data:
                return cls(fps=float(data["fps"]), state=data["state"], present=data["present"],
                           jumps=data["jumps"], costs=data["costs"], eye_open=data["eye_open"])
        except (OSError, KeyError, ValueError) as exc:
            raise BundleError(f"motion graph {Path(path).name} is missing or damaged: {exc}") from exc


class Descriptors:
    """The frame descriptors of the footage, gathered one decoded frame at a time (``add``), so that the
    pass that decodes the footage for the mouth database gathers them too (one decode of it, not two)."""

    def __init__(self, tracks: Tracks, params: MotionGraphParams | None = None) -> None:
        params = params or MotionGraphParams()
        self._tracks = tracks
        self._thumb = params.thumb
        n = len(tracks)
        tw, th = params.thumb
        self.values = np.full((n, 7 + tw * th), np.nan, dtype=np.float32)  # NaN rows: no face (or no frame)
        self._present = np.asarray(tracks.present, dtype=bool)
        self._iod = np.nanmedian(tracks.interocular[self._present]) if self._present.any() else 1.0
        # canonical upper face: x in [-0.9, 0.9], y in [-0.7, 0.6] iod units -> thumbnail pixels
        sx, sy = tw / 1.8, th / 1.3
        self._to_thumb = np.array([[sx, 0, 0.9 * sx], [0, sy, 0.7 * sy]])

    def add(self, frame: Frame) -> None:
        """Describe one footage frame (frames without a tracked face are left out)."""
        tracks, i = self._tracks, frame.index
        if i >= len(tracks) or not self._present[i]:
            return
        lmk = tracks.landmarks[i]
        ef = eye_frame(lmk)
        to_thumb = self._to_thumb
        mat = to_thumb[:, :2] @ ef[:, :2]
        full = np.column_stack([mat, to_thumb[:, :2] @ ef[:, 2] + to_thumb[:, 2]])
        grey = cv2.cvtColor(frame.image, cv2.COLOR_RGB2GRAY)
        small = cv2.warpAffine(grey, full, self._thumb, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        small = small.astype(np.float32) / 255.0
        mid = (lmk[EYE_OUTER_CORNERS[0], :2] + lmk[EYE_OUTER_CORNERS[1], :2]) / 2
        desc = self.values
        desc[i, :3] = np.asarray(tracks.pose[i], dtype=np.float32) / 4.0  # 4 degrees ~ one unit
        desc[i, 3:5] = mid / self._iod * 8.0  # an eighth of the iod ~ one unit
        desc[i, 5] = np.log(tracks.interocular[i] / self._iod) * 20.0
        desc[i, 6] = float(np.nan_to_num(tracks.eye_open[i])) * 6.0
        desc[i, 7:] = (small - small.mean()).ravel() * 3.0


def _descriptors(frames: Iterable[Frame], tracks: Tracks, params: MotionGraphParams) -> np.ndarray:
    """One row per footage frame: pose, position, scale, eye opening, upper-face thumbnail (NaN: no face)."""
    meter = Descriptors(tracks, params)
    for frame in frames:
        meter.add(frame)
    return meter.values


def build_motion_graph(
    frames: Iterable[Frame] | Descriptors, tracks: Tracks, *, state: np.ndarray,
    params: MotionGraphParams | None = None
) -> MotionGraph:
    """Jump costs between all footage frames, keeping the best ``k`` per frame and target state.
    ``frames``: the footage's frames, or their ``Descriptors`` gathered already (with the same ``params``)."""
    params = params or MotionGraphParams()
    n = len(tracks)
    present = np.asarray(tracks.present, dtype=bool)
    if not present.any():
        raise BundleError("no tracked face in the footage: cannot build the motion graph")
    state = np.asarray(state, dtype=np.uint8) if len(state) == n else np.zeros(n, np.uint8)
    desc = frames.values if isinstance(frames, Descriptors) else _descriptors(frames, tracks, params)
    ok = ~np.isnan(desc).any(1)
    filled = np.where(ok[:, None], desc, 0.0).astype(np.float64)
    sq = (filled**2).sum(1)
    dist = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * filled @ filled.T, 0.0))
    dist[~ok, :] = np.inf
    dist[:, ~ok] = np.inf
    step = np.array([dist[i, i + 1] for i in range(n - 1) if ok[i] and ok[i + 1]])
    unit = float(np.median(step)) if step.size and np.median(step) > 0 else 1.0
    # cost(i -> j) = mean over w of dist(i + 1 + w, j + w), w in [-window, window] (dynamics preserved)
    cost = np.full((n, n), np.inf)
    shifted = np.full((n, n), np.inf)
    shifted[: n - 1, :] = dist[1:, :]  # row i holds dist(i + 1, .)
    acc = np.zeros((n, n))
    count = np.zeros((n, n))
    for w in range(-params.window, params.window + 1):
        part = np.full((n, n), np.inf)
        rs = slice(max(0, -w), min(n, n - w))
        rd = slice(max(0, w), min(n, n + w))
        part[rs, rs] = shifted[rd, rd]
        finite = np.isfinite(part)
        acc[finite] += part[finite]
        count[finite] += 1
    valid = count > 0
    cost[valid] = acc[valid] / count[valid]
    cost[:, ~ok] = np.inf
    cost[~ok, :] = np.inf
    gap = max(2, int(round(params.min_jump_s * tracks.fps)))
    idx = np.arange(n)
    too_close = np.abs(idx[None, :] - (idx[:, None] + 1)) < gap
    cost[too_close] = np.inf
    cost /= unit
    k = params.k
    jumps = np.full((n, 2, k), -1, dtype=np.int32)
    costs = np.full((n, 2, k), np.inf, dtype=np.float32)
    for s in (0, 1):
        cs = np.where((state == s)[None, :], cost, np.inf)
        order = np.argsort(cs, axis=1)[:, :k]
        vals = np.take_along_axis(cs, order, axis=1)
        good = np.isfinite(vals)
        jumps[:, s] = np.where(good, order, -1)
        costs[:, s] = vals
    log.info("motion graph: %d frames, median best jump cost %.2f", n,
             float(np.nanmedian(np.where(np.isfinite(costs[:, :, 0]), costs[:, :, 0], np.nan))))
    return MotionGraph(fps=float(tracks.fps), state=state, present=ok, jumps=jumps, costs=costs,
                       eye_open=np.nan_to_num(np.asarray(tracks.eye_open, dtype=np.float32)))
