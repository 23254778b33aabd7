"""Head motion: a walk on the motion graph, one footage frame per output frame.

Plays real footage forward (listening footage while the Face listens, speaking footage while it
talks) and jumps only along the graph's good joins: when the current run ends, when the wanted
state changes, or now and then for variety. Footage shown recently is avoided so that no loop
becomes visible; a jump is softened by a short cross-fade with the run it leaves. A run that ends
with no acceptable join (short or restless footage has few) plays backwards instead: reversed head
motion is continuous, while a cut or a cross-fade to a distant pose shows the face twice; after
``max_reversals`` passes over one run the walk moves on to fresh footage up to twice the pose
limit away rather than rock on one run for ever. Jumps land only where the footage runs on for a
few frames (a one-frame pause between words would force another jump at once). A change of state
waits (up to ``switch_wait_s``) for footage of the wanted state whose head pose is close to the
current one. A state with less than ``min_state_s`` of footage would show as a rocking loop; the
other state's footage stands in for it (the renderer then closes the mouth of speaking footage
shown while listening). Where the footage's head size is known (inter-ocular distance), a jump across
a larger change of size than ``max_jump_scale`` counts as a pose gap too: the fade glides the head
between the two sizes, but over its few frames a large gap still shows as the head swelling or
shrinking, and its edges soften where the two sizes are blended. A preference per footage frame
(how clearly it shows the wanted emotion, see ``engine.emotion.footage_affinity``) makes joins into
such footage cheaper and entries likelier.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facecraft.engine.config import EngineConfig
from facecraft.engine.motion_graph import MotionGraph
from facecraft.vision.smoothing import runs

__all__ = ["MotionWalker", "MotionStep"]


@dataclass(frozen=True)
class MotionStep:
    index: int  # footage frame to show
    fade_index: int = -1  # footage frame of the run left behind (-1: none)
    fade_weight: float = 0.0  # its weight in the blend


class MotionWalker:
    def __init__(
        self, graph: MotionGraph, config: EngineConfig, pose: np.ndarray | None = None,
        scale: np.ndarray | None = None,
    ) -> None:
        """``pose`` (N, 3) yaw/pitch/roll of the footage, when known, vetoes jumps between distant poses;
        ``scale`` (N,) its head size (inter-ocular distance), when known, jumps between distant sizes."""
        self.graph = graph
        self.pose = None if pose is None else np.nan_to_num(np.asarray(pose, dtype=np.float64))
        self.log_scale: np.ndarray | None = None
        if scale is not None and self.pose is not None:
            size = np.asarray(scale, dtype=np.float64)
            ok = np.isfinite(size) & (size > 0)
            if ok.any():  # frames without a size take the median (no veto from them)
                self.log_scale = np.log(np.where(ok, size, np.median(size[ok])))
        self.config = config
        self.rng = np.random.default_rng(config.seed)
        n = len(graph)
        self.n = n
        self.valid = np.asarray(graph.present, dtype=bool)
        self.state = np.asarray(graph.state, dtype=np.int64)
        self.last_seen = np.full(n, -(10**9), dtype=np.int64)
        self.recent = int(round(config.recent_s * graph.fps))
        self.jump_p = 1.0 / max(1.0, config.jump_rate_s * graph.fps)
        self.t = 0
        self.direction = 1  # +1 plays the footage forward, -1 backward
        self.reversals = 0  # times the current run was turned around since the last jump
        self.mismatch = 0
        self.fade: list[tuple[int, float]] = []
        self.room = _runway(self.valid, self.state)
        self.min_room = config.crossfade + 4  # a jump lands where the footage runs on at least this long
        listening = self.valid & (self.state == 0)
        start = self.room * (listening if listening.any() else self.valid)
        self.cur = int(np.argmax(start)) - 1 if start.max() > 0 else -1  # before the longest listening run
        counts = [int((self.valid & (self.state == s)).sum()) for s in (0, 1)]
        enough = [c >= max(1.0, config.min_state_s * graph.fps) for c in counts]
        self.has_state = enough if any(enough) else [c > 0 for c in counts]
        self.switch_wait = max(1, int(round(config.switch_wait_s * graph.fps)))
        self.prefer: np.ndarray | None = None  # (N,) 0..1 preference per footage frame, for the next step

    def _close_pose(self, after: int, target: int) -> bool:
        """Whether jumping to ``target`` instead of showing ``after`` keeps the head within ``max_jump_deg``."""
        if self.pose is None:
            return True
        return bool(self._pose_gap(after, np.array([target]))[0] <= self.config.max_jump_deg)

    def _pose_gap(self, after: int, targets: np.ndarray) -> np.ndarray:
        """Largest head-rotation difference (degrees) between frame ``after`` and each of ``targets``; a
        difference of head size counts in the same units (``max_jump_scale`` of it as ``max_jump_deg``)."""
        assert self.pose is not None
        at = min(max(after, 0), self.n - 1)
        gap = np.abs(self.pose[targets] - self.pose[at]).max(axis=1)
        if self.log_scale is not None and self.config.max_jump_scale > 0:
            size_gap = np.abs(self.log_scale[targets] - self.log_scale[at])
            gap = np.maximum(gap, size_gap * (self.config.max_jump_deg / self.config.max_jump_scale))
        return gap

    def _entry(self, s: int, after: int) -> tuple[int, float]:
        """A footage frame of state ``s`` to cut to instead of showing ``after`` (with room to run on and
        not shown recently, where possible), and its head-pose gap: a random one within ``max_jump_deg``,
        else the closest."""
        pool = np.flatnonzero(self.valid & (self.state == s))
        roomy = pool[self.room[pool] >= self.min_room]
        pool = roomy if roomy.size else pool
        fresh = pool[(self.t - self.last_seen[pool]) > self.recent]
        pool = fresh if fresh.size else pool
        if self.pose is None:
            return int(pool[self.rng.integers(len(pool))]), 0.0
        gap = self._pose_gap(after, pool)
        close = np.flatnonzero(gap <= self.config.max_jump_deg)
        if close.size and self.prefer is not None:  # likelier where the footage shows the wanted emotion
            w = (0.2 + self.prefer[pool[close]]) ** 2
            k = int(close[self.rng.choice(len(close), p=w / w.sum())])
        else:
            k = int(close[self.rng.integers(len(close))]) if close.size else int(np.argmin(gap))
        return int(pool[k]), float(gap[k])

    def _usable(self, index: int, state: int | None = None) -> bool:
        """Whether footage frame ``index`` exists, has a face and (if given) is in ``state``."""
        return 0 <= index < self.n and bool(self.valid[index]) and (state is None or self.state[index] == state)

    def _arcs(self, s: int) -> tuple[np.ndarray, np.ndarray, bool]:
        """The graph's joins from the current frame into state ``s`` that land with room to run on, and
        their costs (only those into footage not shown recently, where there are any); and whether the
        joins kept lead into fresh footage."""
        if self.cur < 0:
            return np.zeros(0, int), np.zeros(0), False
        j = self.graph.jumps[self.cur, s]
        c = self.graph.costs[self.cur, s].astype(np.float64)
        keep = j >= 0
        j, c = j[keep], c[keep]
        roomy = self.room[j] >= self.min_room
        j, c = j[roomy], c[roomy]
        fresh = (self.t - self.last_seen[j]) > self.recent
        if fresh.any():
            j, c = j[fresh], c[fresh]
        if self.prefer is not None:
            c = c - self.config.emotion_walk * self.prefer[j]
        return j, c, bool(fresh.any())

    def _jump(self, target: int) -> None:
        fade = []
        for k in range(self.config.crossfade):
            old = self.cur + self.direction * (1 + k)
            if self._usable(old):
                fade.append((old, (self.config.crossfade - k) / (self.config.crossfade + 1)))
        self.fade = fade
        self.cur = target
        self.direction = 1
        self.reversals = 0

    def snapshot(self) -> tuple:
        """The walk's state now, for ``restore`` (a frame drawn and then not shown is undone)."""
        return (self.cur, self.direction, self.reversals, self.mismatch, self.t, list(self.fade), self.prefer,
                self.last_seen.copy(), self.rng.bit_generator.state)

    def restore(self, state: tuple) -> None:
        """Back to a ``snapshot``: the steps taken since it never happened."""
        (self.cur, self.direction, self.reversals, self.mismatch, self.t, fade, self.prefer, last_seen,
         self.rng.bit_generator.state) = state
        self.fade = list(fade)
        self.last_seen = last_seen.copy()

    def step(self, speaking: bool, prefer: np.ndarray | None = None) -> MotionStep:
        """Advance one output frame; ``speaking`` is the wanted state, ``prefer`` (N,) 0..1 the footage to
        prefer (None: no preference)."""
        self.prefer = prefer
        s = 1 if speaking else 0
        if not self.has_state[s]:
            s = 1 - s
        nxt = self.cur + self.direction
        cont = self._usable(nxt)
        right_state = cont and self.state[nxt] == s
        soon_ends = right_state and not self._usable(nxt + 3 * self.direction, s)
        arcs, costs, fresh = self._arcs(s)
        best = int(np.argmin(costs)) if costs.size else -1
        cfg = self.config
        fine = best >= 0 and costs[best] <= cfg.max_jump and self._close_pose(nxt, int(arcs[best]))
        run_ends = not right_state and self.mismatch == 0 and self._usable(self.cur - self.direction, s)
        waiting = not cont and self.mismatch < self.switch_wait and self._usable(self.cur - self.direction)
        entry = -1
        if (run_ends or waiting) and not (fine and fresh):
            # no acceptable join into fresh footage: play the run backwards, or after a few times over
            # it, move to fresh footage at a pose somewhat farther than a seamless join allows
            after = nxt if cont else self.cur
            target, gap = self._entry(s, after) if self.reversals >= cfg.max_reversals else (-1, np.inf)
            if target >= 0 and gap <= 2 * cfg.max_jump_deg and self.t - self.last_seen[target] > self.recent:
                entry = target
            else:
                self.direction = -self.direction
                self.reversals += 1
                nxt, cont = self.cur + self.direction, True
                right_state = bool(self.state[nxt] == s)
        if entry < 0 and cont and not right_state and not fine and self.mismatch >= cfg.crossfade + 5:
            # wrong state and no good join yet: after a few frames, any close pose will do
            target, gap = self._entry(s, nxt)
            if gap <= cfg.max_jump_deg or self.mismatch >= self.switch_wait:
                entry = target
        if entry >= 0:
            self._jump(entry)
            self.mismatch = 0
        elif best >= 0 and (
            (not cont)
            or (not right_state and fine)
            or (soon_ends and fine and fresh)
            or (right_state and fine and costs[best] <= cfg.good_jump and self.rng.random() < self.jump_p)
        ):
            self._jump(int(arcs[best]))
            self.mismatch = 0
        elif cont:
            self.cur = nxt
            self.mismatch = 0 if right_state else self.mismatch + 1
            self.fade = self.fade[1:]
        else:  # no arc at all: cut into footage of the wanted state, at the closest pose
            self._jump(self._entry(s, self.cur)[0])
        self.last_seen[self.cur] = self.t
        self.t += 1
        if self.fade:
            idx, w = self.fade[0]
            return MotionStep(self.cur, idx, w)
        return MotionStep(self.cur)


def _runway(valid: np.ndarray, state: np.ndarray) -> np.ndarray:
    """(N,) frames of footage from each frame on (itself included) that have a face and its state."""
    valid, state = np.asarray(valid, dtype=bool), np.asarray(state)
    room = np.zeros(len(valid), dtype=np.int64)
    for s in np.unique(state[valid]):
        for a, b in runs(valid & (state == s)):
            room[a:b] = np.arange(b - a, 0, -1)
    return room
