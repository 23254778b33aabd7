"""Mouth unit selection: Viterbi over mouth-database candidates, one per output frame.

Target cost: distance to the timeline's lip-shape targets (aperture, width), a strong penalty for
lips wider than the target where they must be closed, and its mirror for sealed lips where the
target has them apart (a seal reads as a p/b/m), a small penalty when the footage's own viseme
label differs, head-pose difference to the base frame (a patch from a turned head looks wrong on a
frontal one), and the distance of the patch's lips from where the Face's lips sit for the base
frame's pose and the target shape (a per-Face linear fit over the database; it keeps the lips from
jumping up or down against the nose). Join cost: zero when the candidate is the next footage
frame after the previous choice (real motion runs are reused), otherwise lip-shape and pixel distance
to that natural successor plus a jump penalty. Decoding runs in fixed blocks with a fixed look-ahead,
so batch and streaming renders make the same choices.
"""

from __future__ import annotations

import numpy as np

from facecraft.engine.config import EngineConfig
from facecraft.engine.mouthdb import MouthDB, lip_points
from facecraft.engine.timeline import Timeline

__all__ = ["MouthSelector"]

_PAIR_TABLE_MAX = 2000  # entries (a minute of footage is 1500 at 25 fps): the table is 16 MB at most


class MouthSelector:
    def __init__(
        self, db: MouthDB, config: EngineConfig, *, closed_aperture: float, sealed_aperture: float | None = None
    ) -> None:
        """``closed_aperture``: the Face's closed lips (``ShapePriors.closed``): where lips must be closed,
        no patch may open wider than this or the target. ``sealed_aperture``: below this a patch's lips read
        as sealed (``ShapePriors.closed_limit``; None: no seal penalty)."""
        self.config = config
        self.feat = db.features.astype(np.float64)
        self.thumbs = db.thumbs.astype(np.float64)
        self.viseme = db.viseme.astype(np.int64)
        self.pose = db.pose.astype(np.float64)
        m = len(db)
        src = db.src_index
        has_next = np.zeros(m, dtype=bool)
        has_next[:-1] = src[1:] == src[:-1] + 1
        self.has_next = has_next
        self.succ = np.where(has_next, np.arange(m) + 1, np.arange(m))
        self.closed_ap = float(closed_aperture)
        self.sealed_ap = float(sealed_aperture) if sealed_aperture is not None else None
        # the join cost of every pair of entries, computed once (a Viterbi step asks for ~25 x 25 of them,
        # twenty times per block); a very large database computes them per step instead
        self._pair_cost: np.ndarray | None = None
        if m <= _PAIR_TABLE_MAX:
            self._pair_cost = self._pair_costs(np.arange(m), np.arange(m)).astype(np.float32)
        # where the lips sit (patch frame, iod units) given head pose and mouth shape: a patch whose lips
        # sit elsewhere than that for the base frame's pose looks shifted
        self.lip_centre = db.points[:, lip_points()].astype(np.float64).mean(1) / float(db.canon[0, 0])
        design = self._centre_design(np.nan_to_num(self.pose), self.feat[:, 0], self.feat[:, 1])
        self.centre_coef = np.linalg.lstsq(design, self.lip_centre, rcond=None)[0]
        # (len(EMOTIONS), M) how clearly each patch's footage shows each emotion (engine.emotion), when set
        self.emotion_affinity: np.ndarray | None = None

    @staticmethod
    def _centre_design(pose: np.ndarray, aperture: np.ndarray, width: np.ndarray) -> np.ndarray:
        return np.column_stack([np.ones(len(pose)), pose[:, :3], aperture, width])

    def target_costs(self, tl: Timeline, frames: slice, base_pose: np.ndarray | None) -> np.ndarray:
        """(T, M) target cost of every database entry for the timeline frames ``frames``."""
        c = self.config
        ap = tl.aperture[frames][:, None]
        wd = tl.width[frames][:, None]
        vis = tl.viseme[frames][:, None]
        closed = tl.closed[frames][:, None]
        cost = c.w_aperture * (self.feat[None, :, 0] - ap) ** 2
        cost += c.w_width * (self.feat[None, :, 1] - wd) ** 2
        cost += c.w_viseme * (self.viseme[None, :] != vis)
        over = np.maximum(self.feat[None, :, 0] - np.maximum(ap, self.closed_ap), 0.0)
        cost += np.where(closed, c.w_closed * over**2, 0.0)
        if self.sealed_ap is not None and c.w_sealed > 0:
            # a sealed patch where the target has the lips apart: its shortfall counts again. Without it, in
            # a small database the pose and lip-position terms outweighed the plain aperture error and the
            # lips sealed on an open vowel, up to 6 frames before the p/b/m that follows (the text path)
            apart = ~closed & (ap > self.sealed_ap)
            short = np.maximum(ap - self.feat[None, :, 0], 0.0)
            sealed = self.feat[None, :, 0] < self.sealed_ap
            cost += np.where(apart & sealed, c.w_sealed * short**2, 0.0)
        if base_pose is not None:
            base_pose = np.nan_to_num(np.asarray(base_pose, dtype=np.float64))
            diff = np.abs(self.pose[None, :, :2] - base_pose[:, None, :2])
            cost += c.w_pose * np.nan_to_num(diff, nan=0.0).sum(-1)
            if c.w_lip_position > 0:
                design = self._centre_design(base_pose, tl.aperture[frames], tl.width[frames])
                want = design @ self.centre_coef
                cost += c.w_lip_position * _sqdist(want, self.lip_centre)
        if self.emotion_affinity is not None and tl.emotion is not None and tl.intensity is not None:
            # patches whose footage already shows the emotion, where the lip shape allows
            k = tl.intensity[frames][:, None] * c.w_emotion
            cost += k * (1.0 - self.emotion_affinity[tl.emotion[frames]])
        return cost

    def _pair_costs(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(len(a), len(b)) cost of showing entry ``b[j]`` where ``a[i]`` would have continued."""
        c = self.config
        shape = _sqdist(self.feat[a], self.feat[b])
        pix = _sqdist(self.thumbs[a], self.thumbs[b]) * (100.0 / self.thumbs.shape[1])
        return c.w_join_shape * shape + c.w_join_pixels * pix + c.jump_penalty

    def _join(self, prev: np.ndarray, cand: np.ndarray) -> np.ndarray:
        """(len(prev), len(cand)) join cost."""
        succ = self.succ[prev]
        if self._pair_cost is not None:
            join = self._pair_cost[np.ix_(succ, cand)].astype(np.float64)
        else:
            join = self._pair_costs(succ, cand)
        cont = (cand[None, :] == succ[:, None]) & self.has_next[prev][:, None]
        return np.where(cont, 0.0, join)

    def decode(self, costs: np.ndarray, prev: int | None) -> np.ndarray:
        """Best database index per row of ``costs`` (T, M), continuing from ``prev`` (or free)."""
        t_len = costs.shape[0]
        if t_len == 0:
            return np.zeros(0, dtype=np.int64)
        k = min(self.config.candidates, costs.shape[1])
        cands: list[np.ndarray] = []
        for t in range(t_len):
            top = np.argpartition(costs[t], k - 1)[:k]
            extra = self.succ[cands[-1]] if cands else (self.succ[[prev]] if prev is not None else np.zeros(0, int))
            cands.append(np.unique(np.concatenate([top, extra])))
        score = costs[0, cands[0]].copy()
        if prev is not None:
            score += self._join(np.array([prev]), cands[0])[0]
        back: list[np.ndarray] = []
        for t in range(1, t_len):
            total = score[:, None] + self._join(cands[t - 1], cands[t])
            arg = total.argmin(0)
            back.append(arg)
            score = total[arg, np.arange(len(cands[t]))] + costs[t, cands[t]]
        best = int(score.argmin())
        path = [best]
        for t in range(t_len - 2, -1, -1):
            best = int(back[t][best])
            path.append(best)
        path.reverse()
        return np.array([cands[t][j] for t, j in enumerate(path)], dtype=np.int64)


def _sqdist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise squared Euclidean distances between the rows of ``a`` and ``b``."""
    return np.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T, 0.0)
