"""The named index sets agree with MediaPipe's own face-mesh connection sets."""

from __future__ import annotations

import mediapipe as mp

from facecraft.vision import landmarks as lm

FM = mp.solutions.face_mesh


def _points(connections: frozenset[tuple[int, int]]) -> set[int]:
    return {i for edge in connections for i in edge}


def test_sets_match_mediapipe() -> None:
    assert set(lm.LIPS_OUTER) | set(lm.LIPS_INNER) == _points(FM.FACEMESH_LIPS)
    assert set(lm.LEFT_EYE) == _points(FM.FACEMESH_LEFT_EYE)
    assert set(lm.RIGHT_EYE) == _points(FM.FACEMESH_RIGHT_EYE)
    assert set(lm.LEFT_BROW) == _points(FM.FACEMESH_LEFT_EYEBROW)
    assert set(lm.RIGHT_BROW) == _points(FM.FACEMESH_RIGHT_EYEBROW)
    assert set(lm.FACE_OVAL) == _points(FM.FACEMESH_FACE_OVAL)
    assert set(lm.LEFT_IRIS) == _points(FM.FACEMESH_LEFT_IRIS) | {473}
    assert set(lm.RIGHT_IRIS) == _points(FM.FACEMESH_RIGHT_IRIS) | {468}


def test_rings_follow_the_connections() -> None:
    """Consecutive ring points are joined by a mesh edge, so the rings draw as polygons."""
    for ring, connections in ((lm.LIPS_OUTER, FM.FACEMESH_LIPS), (lm.LIPS_INNER, FM.FACEMESH_LIPS),
                              (lm.FACE_OVAL, FM.FACEMESH_FACE_OVAL), (lm.LEFT_EYE, FM.FACEMESH_LEFT_EYE),
                              (lm.RIGHT_EYE, FM.FACEMESH_RIGHT_EYE)):
        edges = {frozenset(e) for e in connections}
        for a, b in zip(ring, ring[1:] + ring[:1], strict=True):
            assert frozenset((a, b)) in edges, (a, b)


def test_stable_points_do_not_overlap_the_moving_ones() -> None:
    assert not set(lm.STABLE) & set(lm.LIPS_OUTER + lm.LIPS_INNER)
    assert set(lm.JAW) <= set(lm.FACE_OVAL)
    assert set(lm.MOUTH_CORNERS) <= set(lm.LIPS_OUTER)
    assert all(0 <= i < 478 for i in lm.MOBILE + lm.STABLE)
