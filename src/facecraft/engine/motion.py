"""Head motion: a walk on the motion graph, one footage frame per output frame.

Plays real footage forward (listening footage while the Face listens, speaking footage while it
talks) and jumps only along the graph's good joins: when the current run ends, when the wanted
state changes, or now and then for variety. Footage shown recently is avoided so that no loop
becomes visible; a jump is softened by a short cross-fade with the run it leaves.
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
    def __init__(self, graph: MotionGraph, config: EngineConfig) -> None:
        self.graph = graph
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
        self.mismatch = 0
        self.fade: list[tuple[int, float]] = []
        listening = np.flatnonzero(self.valid & (self.state == 0))
        pool = listening if listening.size else np.flatnonzero(self.valid)
        self.cur = int(pool[0]) - 1 if pool.size else -1
        self.has_state = [bool((self.valid & (self.state == s)).any()) for s in (0, 1)]

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
            old = self.cur + 1 + k
            if old < self.n and self.valid[old]:
                fade.append((old, (self.config.crossfade - k) / (self.config.crossfade + 1)))
        self.fade = fade
        self.cur = target

    def step(self, speaking: bool) -> MotionStep:
        """Advance one output frame; ``speaking`` is the wanted state."""
        s = 1 if speaking else 0
        if not self.has_state[s]:
            s = 1 - s
        nxt = self.cur + 1
        cont = 0 <= nxt < self.n and self.valid[nxt]
        right_state = cont and self.state[nxt] == s
        soon_ends = right_state and not (
            nxt + 3 < self.n and self.valid[nxt + 3] and self.state[nxt + 3] == s
        )
        arcs, costs = self._arcs(s)
        best = int(np.argmin(costs)) if costs.size else -1
        cfg = self.config
        if best >= 0 and (
            (not cont)
            or (not right_state and (costs[best] <= cfg.max_jump or self.mismatch >= 8))
            or (soon_ends and costs[best] <= cfg.max_jump)
            or (right_state and costs[best] <= cfg.good_jump and self.rng.random() < self.jump_p)
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
