"""The motion walk on a real bundle's graph: real footage, state-aware, no short loops."""

from __future__ import annotations

import numpy as np

from facecraft.engine.config import EngineConfig
from facecraft.engine.motion import MotionWalker
from facecraft.faces.motion_graph import MotionGraphParams


def test_walk_plays_real_runs_for_any_length_without_short_loops(renderer) -> None:  # noqa: ANN001
    graph = renderer.graph
    cfg = EngineConfig()
    walker = MotionWalker(graph, cfg)
    steps = [walker.step(speaking=True) for _ in range(int(graph.fps * 30))]  # 30 s from 8 s of footage
    idx = np.array([s.index for s in steps])
    assert graph.present[idx].all()
    forward = np.mean(np.diff(idx) == 1)
    assert forward > 0.8, "mostly real footage played forward"
    jumps = np.flatnonzero(np.diff(idx) != 1)
    assert jumps.size >= 2
    gap = int(round(MotionGraphParams().min_jump_s * graph.fps))
    assert np.all(np.abs(idx[jumps + 1] - (idx[jumps] + 1)) >= gap), "no jump makes a short loop"
    faded = [s for s in steps if s.fade_index >= 0]
    assert faded and all(0 < s.fade_weight < 1 for s in faded)


def test_walk_is_deterministic(renderer) -> None:  # noqa: ANN001
    a = MotionWalker(renderer.graph, EngineConfig())
    b = MotionWalker(renderer.graph, EngineConfig())
    pattern = [bool((i // 40) % 2) for i in range(200)]
    assert [a.step(s) for s in pattern] == [b.step(s) for s in pattern]
