"""The motion walk on a real bundle's graph: real footage, state-aware, no short loops."""

from __future__ import annotations

import numpy as np

from facecraft.engine.config import EngineConfig
from facecraft.engine.motion import MotionWalker
from facecraft.engine.motion_graph import MotionGraph, MotionGraphParams


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
    # the test bundle has little listening footage (0.4-1.4 s, depending on the tracker's mouth motion):
    # below the default min_state_s, so allow what it has here
    graph = renderer.graph
    listening_s = np.sum(graph.present & (graph.state == 0)) / graph.fps
    assert listening_s > 0.3
    cfg = EngineConfig(min_state_s=0.9 * listening_s)
    walker = MotionWalker(renderer.graph, cfg, pose=renderer.tracks.pose)
    pattern = [bool((i // 60) % 2) for i in range(600)]
    steps = [walker.step(s) for s in pattern]
    idx = np.array([s.index for s in steps])
    state = renderer.graph.state[idx]
    assert np.mean(state == np.array(pattern)) > 0.8, "speaking footage while speaking, listening while not"
    faded = [s for s in steps if s.fade_index >= 0]
    assert faded and all(0 < s.fade_weight < 1 for s in faded)
    pose = np.nan_to_num(renderer.tracks.pose)
    jumps = np.flatnonzero(np.abs(np.diff(idx)) > 1)
    gap = np.abs(pose[idx[jumps + 1]] - pose[idx[jumps]]).max(axis=1)
    # within max_jump_deg, except where no footage of the wanted state is that close (then the closest)
    assert np.mean(gap <= cfg.max_jump_deg) >= 0.75 and gap.max() <= 2 * cfg.max_jump_deg, gap


def test_scarce_listening_footage_is_stood_in_for_by_speaking_footage(renderer) -> None:  # noqa: ANN001
    graph = renderer.graph
    listening_s = np.sum(graph.present & (graph.state == 0)) / graph.fps
    assert 0 < listening_s < EngineConfig().min_state_s
    walker = MotionWalker(graph, EngineConfig(), pose=renderer.tracks.pose)
    idx = np.array([walker.step(speaking=False).index for _ in range(int(graph.fps * 10))])
    assert np.all(graph.state[idx[1:]] == 1), "no rocking loop over the few listening frames"
    assert np.mean(np.abs(np.diff(idx)) == 1) > 0.9


def _two_state_graph(listening_pitch: float) -> tuple[MotionGraph, np.ndarray]:
    """Speaking frames 0..79 (the head pitches 0.5 deg a frame), listening frames 80..139 held at
    ``listening_pitch``; every speaking frame has graph-acceptable joins into the listening footage."""
    n, k, split = 140, 4, 80
    state = np.r_[np.ones(split), np.zeros(n - split)].astype(np.uint8)
    jumps = np.full((n, 2, k), -1, dtype=np.int32)
    costs = np.full((n, 2, k), np.inf, dtype=np.float32)
    for i in range(split):
        jumps[i, 0] = [split + 10 + j for j in range(k)]
        costs[i, 0] = 3.9
    pitch = np.r_[0.5 * np.arange(split), np.full(n - split, listening_pitch)]
    pose = np.column_stack([np.zeros(n), pitch, np.zeros(n)])
    graph = MotionGraph(fps=25.0, state=state, present=np.ones(n, bool), jumps=jumps, costs=costs,
                        eye_open=np.ones(n, np.float32))
    return graph, pose


def _switch(graph: MotionGraph, pose: np.ndarray, config: EngineConfig) -> tuple[int, float]:
    """Frames from the wish to listen to listening footage, and the head turn at that switch."""
    walker = MotionWalker(graph, config, pose=pose)
    idx = [walker.step(speaking=True).index for _ in range(40)]
    assert graph.state[idx[-1]] == 1
    for t in range(200):
        idx.append(walker.step(speaking=False).index)
        if graph.state[idx[-1]] == 0:
            return t, float(np.abs(pose[idx[-1]] - pose[idx[-2]]).max())
    raise AssertionError("never switched to listening footage")


def test_a_state_change_waits_for_a_close_head_pose() -> None:
    graph, pose = _two_state_graph(listening_pitch=30.0)
    cfg = EngineConfig(switch_wait_s=8.0)
    _, gap = _switch(graph, pose, cfg)
    # measured from the frame shown before the jump: one frame's own head motion (0.5 deg) on top
    assert gap <= cfg.max_jump_deg + 0.5, "the joins the graph offers turn the head; the walk waits for a pose near 30"


def test_a_state_change_with_no_close_pose_waits_a_bounded_time_then_takes_the_closest() -> None:
    graph, pose = _two_state_graph(listening_pitch=60.0)  # farther than any speaking pose
    cfg = EngineConfig()
    wait, _ = _switch(graph, pose, cfg)
    assert wait <= cfg.switch_wait_s * graph.fps + 1


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


def _graph(state: np.ndarray, present: np.ndarray, arcs: dict[int, list[int]] | None = None) -> MotionGraph:
    n, k = len(state), 4
    jumps = np.full((n, 2, k), -1, dtype=np.int32)
    costs = np.full((n, 2, k), np.inf, dtype=np.float32)
    for i, targets in (arcs or {}).items():
        for j, t in enumerate(targets[:k]):
            jumps[i, state[t], j] = t
            costs[i, state[t], j] = 1.0 + 0.1 * j
    return MotionGraph(fps=25.0, state=state.astype(np.uint8), present=present, jumps=jumps, costs=costs,
                       eye_open=np.ones(n, np.float32))


def test_jumps_land_where_the_footage_runs_on() -> None:
    """A one-frame listening run (a pause between words) is the cheapest join: landing there would
    force another jump at once, the head flickering between two places every other frame."""
    state = np.r_[0, np.ones(59), np.zeros(30), np.ones(10)].astype(np.uint8)  # listening: 0 and 60..89
    arcs = {i: [0, 62, 63, 64] for i in range(60, 90)}
    arcs[0] = [85, 86, 87, 88]
    graph = _graph(state, np.ones(len(state), bool), arcs)
    walker = MotionWalker(graph, EngineConfig(), pose=np.zeros((len(state), 3)))
    idx = np.array([walker.step(speaking=False).index for _ in range(300)])
    assert 0 not in idx
    jumps = np.flatnonzero(np.abs(np.diff(idx)) != 1)
    assert np.all(np.diff(jumps) > 1), "no footage frame shown for a single frame between two jumps"


def test_a_run_with_no_close_join_is_left_for_fresh_footage_after_a_few_passes() -> None:
    """Two runs of speaking footage 8 degrees apart and no seamless join: the walk ping-pongs a run a
    couple of times, then moves to the other one instead of rocking on one run for ever."""
    n = 100
    present = np.ones(n, bool)
    present[40] = False
    pitch = np.where(np.arange(n) < 40, 0.0, 8.0) + 0.2 * np.sin(np.arange(n) / 3)
    pose = np.column_stack([np.zeros(n), pitch, np.zeros(n)])
    cfg = EngineConfig()
    walker = MotionWalker(_graph(np.ones(n, np.uint8), present), cfg, pose=pose)
    idx = np.array([walker.step(speaking=True).index for _ in range(600)])
    assert (idx < 40).any() and (idx > 40).any(), "both runs are shown"
    jumps = np.flatnonzero(np.abs(np.diff(idx)) != 1)
    assert 0 < len(jumps) < 20
    assert np.abs(pitch[idx[jumps + 1]] - pitch[idx[jumps]]).max() <= 2 * cfg.max_jump_deg


def test_a_join_across_a_change_of_head_size_is_refused_like_a_distant_pose() -> None:
    """Same head pose everywhere, but the head grows 0.5 % a frame (the camera zooms): every join lands
    on a head 15 % larger or smaller. Given the size, the walk plays back and forth instead of cutting;
    without it, it cuts (the size gap alone makes the difference)."""
    n, k = 60, 4
    jumps = np.full((n, 2, k), -1, dtype=np.int32)
    costs = np.full((n, 2, k), np.inf, dtype=np.float32)
    for i in range(n):
        jumps[i, 1] = [(i + 30 + j) % n for j in range(k)]
        costs[i, 1] = 1.0
    graph = MotionGraph(fps=25.0, state=np.ones(n, np.uint8), present=np.ones(n, bool), jumps=jumps,
                        costs=costs, eye_open=np.ones(n, np.float32))
    pose = np.zeros((n, 3))
    size = 60.0 * np.exp(0.005 * np.arange(n))
    walker = MotionWalker(graph, EngineConfig(), pose=pose, scale=size)
    idx = np.array([walker.step(speaking=True).index for _ in range(300)])
    assert np.all(np.abs(np.diff(idx)) == 1), "no cut across the size gap: forward, then back"
    blind = MotionWalker(graph, EngineConfig(), pose=pose)
    idx = np.array([blind.step(speaking=True).index for _ in range(300)])
    assert (np.abs(np.diff(idx)) > 1).any(), "without the size the same graph cuts"


def test_jumps_on_real_footage_keep_the_head_size(renderer) -> None:  # noqa: ANN001
    graph, tracks = renderer.graph, renderer.tracks
    cfg = EngineConfig()
    size = np.log(np.asarray(tracks.interocular, dtype=np.float64))
    walker = MotionWalker(graph, cfg, pose=tracks.pose, scale=tracks.interocular)
    idx = np.array([walker.step(speaking=bool((i // 75) % 2)).index for i in range(int(graph.fps * 30))])
    jumps = np.flatnonzero(np.abs(np.diff(idx)) > 1)
    assert jumps.size, "the walk jumps now and then"
    gap = np.abs(size[idx[jumps + 1]] - size[idx[jumps]])
    # within max_jump_scale, except where nothing of the wanted state is that close (then up to twice)
    assert np.mean(gap <= cfg.max_jump_scale) >= 0.75 and gap.max() <= 2 * cfg.max_jump_scale + 0.01, gap


def test_the_graph_a_build_gathers_in_the_mouth_pass_is_the_graph_of_its_footage(bundle_dir) -> None:  # noqa: ANN001
    """A build decodes its footage once after encoding it: the motion graph's descriptors are gathered in
    the mouth database's pass. The graph it wrote is the one built from a fresh decode of the footage."""
    from facecraft import media
    from facecraft.engine.motion_graph import build_motion_graph
    from facecraft.faces.bundle import load_bundle

    bundle = load_bundle(bundle_dir)
    written = MotionGraph.load(bundle_dir / "motion.npz")
    fresh = build_motion_graph(media.iter_frames(bundle.footage_path), bundle.tracks, state=written.state)
    assert np.array_equal(written.jumps, fresh.jumps) and np.array_equal(written.present, fresh.present)
    assert np.array_equal(written.costs, fresh.costs)
