"""Head motion: a walk on the motion graph, one footage frame per output frame.

Plays real footage forward (listening footage while the Face listens, speaking footage while it
talks) and jumps only along the graph's good joins: when the current run ends, when the wanted
state changes, or now and then for variety. Footage shown recently is avoided so that no loop
becomes visible; a jump is softened by a short cross-fade with the run it leaves. A run that ends
with no acceptable join (short or restless footage has few) plays backwards instead: reversed head
motion is continuous, while a cut or a cross-fade to a distant pose shows the face twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facecraft.engine.config import EngineConfig
from facecraft.faces.motion_graph import MotionGraph

__all__ = ["MotionWalker", "MotionStep"]


@dataclass(frozen=True)
class MotionStep:
    index: int  # footage frame to show
    fade_index: int = -1  # footage frame of the run left behind (-1: none)
    fade_weight: float = 0.0  # its weight in the blend


class MotionWalker:
    def __init__(self, graph: MotionGraph, config: EngineConfig, pose: np.ndarray | None = None) -> None:
        """``pose`` (N, 3) yaw/pitch/roll of the footage, when known, vetoes jumps between distant poses."""
        self.graph = graph
        self.pose = None if pose is None else np.nan_to_num(np.asarray(pose, dtype=np.float64))
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
        self.mismatch = 0
        self.fade: list[tuple[int, float]] = []
        listening = np.flatnonzero(self.valid & (self.state == 0))
        pool = listening if listening.size else np.flatnonzero(self.valid)
        self.cur = int(pool[0]) - 1 if pool.size else -1
        self.has_state = [bool((self.valid & (self.state == s)).any()) for s in (0, 1)]

    def _close_pose(self, after: int, target: int) -> bool:
        """Whether jumping to ``target`` instead of showing ``after`` keeps the head within ``max_jump_deg``."""
        if self.pose is None:
            return True
        ref = self.pose[min(max(after, 0), self.n - 1)]
        return bool(np.abs(self.pose[target] - ref).max() <= self.config.max_jump_deg)

    def _usable(self, index: int, state: int | None = None) -> bool:
        """Whether footage frame ``index`` exists, has a face and (if given) is in ``state``."""
        return 0 <= index < self.n and bool(self.valid[index]) and (state is None or self.state[index] == state)

    def _arcs(self, s: int) -> tuple[np.ndarray, np.ndarray]:
        if self.cur < 0:
            return np.zeros(0, int), np.zeros(0)
        j = self.graph.jumps[self.cur, s]
        c = self.graph.costs[self.cur, s].astype(np.float64)
        keep = j >= 0
        j, c = j[keep], c[keep]
        fresh = (self.t - self.last_seen[j]) > self.recent
        if fresh.any():
            j, c = j[fresh], c[fresh]
        return j, c

    def _jump(self, target: int) -> None:
        fade = []
        for k in range(self.config.crossfade):
            old = self.cur + self.direction * (1 + k)
            if self._usable(old):
                fade.append((old, (self.config.crossfade - k) / (self.config.crossfade + 1)))
        self.fade = fade
        self.cur = target
        self.direction = 1

    def step(self, speaking: bool) -> MotionStep:
        """Advance one output frame; ``speaking`` is the wanted state."""
        s = 1 if speaking else 0
        if not self.has_state[s]:
            s = 1 - s
        nxt = self.cur + self.direction
        cont = self._usable(nxt)
        right_state = cont and self.state[nxt] == s
        soon_ends = right_state and not self._usable(nxt + 3 * self.direction, s)
        arcs, costs = self._arcs(s)
        best = int(np.argmin(costs)) if costs.size else -1
        cfg = self.config
        fine = best >= 0 and costs[best] <= cfg.max_jump and self._close_pose(nxt, int(arcs[best]))
        run_ends = not right_state and self.mismatch == 0
        if run_ends and not fine and self._usable(self.cur - self.direction, s):
            self.direction = -self.direction  # no acceptable join: play the run backwards
            nxt, cont, right_state = self.cur + self.direction, True, True
        if best >= 0 and (
            (not cont)
            or (not right_state and (fine or self.mismatch >= 8))
            or (soon_ends and fine)
            or (right_state and fine and costs[best] <= cfg.good_jump and self.rng.random() < self.jump_p)
        ):
            self._jump(int(arcs[best]))
            self.mismatch = 0
        elif cont:
            self.cur = nxt
            self.mismatch = 0 if right_state else self.mismatch + 1
            self.fade = self.fade[1:]
        else:  # no arc at all: cut to the start of a fresh run of the wanted state
            pool = np.flatnonzero(self.valid & (self.state == s))
            fresh = pool[(self.t - self.last_seen[pool]) > self.recent]
            choice = fresh if fresh.size else pool
            self._jump(int(choice[self.rng.integers(len(choice))]))
        self.last_seen[self.cur] = self.t
        self.t += 1
        if self.fade:
            idx, w = self.fade[0]
            return MotionStep(self.cur, idx, w)
        return MotionStep(self.cur)
