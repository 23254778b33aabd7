"""The motion walk on a real bundle's graph: real footage, state-aware, no short loops."""

from __future__ import annotations

import numpy as np

from facecraft.engine.config import EngineConfig
from facecraft.engine.motion import MotionWalker
from facecraft.faces.motion_graph import MotionGraph, MotionGraphParams


def test_walk_plays_real_runs_for_any_length_without_short_loops(renderer) -> None:  # noqa: ANN001
    graph = renderer.graph
    walker = MotionWalker(graph, EngineConfig(), pose=renderer.tracks.pose)
    steps = [walker.step(speaking=True) for _ in range(int(graph.fps * 30))]  # 30 s from 8 s of footage
    idx = np.array([s.index for s in steps])
    assert graph.present[idx].all()
    step = np.diff(idx)
    assert np.mean(np.abs(step) == 1) > 0.9, "real footage played continuously (forward, or back at a run's end)"
    assert np.mean(step == 1) > 0.4, "forward playback keeps a fair share"
    speaking = np.flatnonzero(graph.present & (graph.state == 1))
    assert np.isin(speaking, idx).mean() > 0.7, "the walk covers most of the speaking footage, it does not stick"
    jumps = np.flatnonzero(np.abs(step) != 1)
    gap = int(round(MotionGraphParams().min_jump_s * graph.fps))
    assert np.all(np.abs(idx[jumps + 1] - (idx[jumps] + 1)) >= gap), "no jump makes a short loop"


def test_state_changes_jump_with_a_cross_fade(renderer) -> None:  # noqa: ANN001
    walker = MotionWalker(renderer.graph, EngineConfig(), pose=renderer.tracks.pose)
    pattern = [bool((i // 60) % 2) for i in range(600)]
    steps = [walker.step(s) for s in pattern]
    state = renderer.graph.state[[s.index for s in steps]]
    assert np.mean(state == np.array(pattern)) > 0.85, "speaking footage while speaking, listening while not"
    faded = [s for s in steps if s.fade_index >= 0]
    assert faded and all(0 < s.fade_weight < 1 for s in faded)


def test_walk_is_deterministic(renderer) -> None:  # noqa: ANN001
    a = MotionWalker(renderer.graph, EngineConfig())
    b = MotionWalker(renderer.graph, EngineConfig())
    pattern = [bool((i // 40) % 2) for i in range(200)]
    assert [a.step(s) for s in pattern] == [b.step(s) for s in pattern]


def test_a_run_with_no_seamless_join_plays_backwards_instead_of_cutting() -> None:
    """Restless footage: every join lands on a head 15 degrees away, so the walk ping-pongs instead."""
    n, k = 60, 4
    jumps = np.full((n, 2, k), -1, dtype=np.int32)
    costs = np.full((n, 2, k), np.inf, dtype=np.float32)
    for i in range(n):
        jumps[i, 1] = [(i + 30 + j) % n for j in range(k)]
        costs[i, 1] = 3.9  # acceptable by the graph's own (relative) cost
    graph = MotionGraph(fps=25.0, state=np.ones(n, np.uint8), present=np.ones(n, bool), jumps=jumps,
                        costs=costs, eye_open=np.ones(n, np.float32))
    pose = np.column_stack([np.zeros(n), 0.5 * np.arange(n), np.zeros(n)])  # the head tilts 0.5 deg a frame
    walker = MotionWalker(graph, EngineConfig(), pose=pose)
    idx = np.array([walker.step(speaking=True).index for _ in range(300)])
    assert np.all(np.abs(np.diff(idx)) == 1), "no cut: forward to the end of the run, then back"
    assert idx.min() == 0 and idx.max() == n - 1
    assert (np.diff(idx) == -1).any() and (np.diff(idx) == 1).any()
