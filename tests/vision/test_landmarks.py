"""The named index sets agree with MediaPipe's own face-landmark connection sets (Tasks API)."""

from __future__ import annotations

from mediapipe.tasks.python.vision import FaceLandmarksConnections

from facecraft.vision import landmarks as lm

FM = FaceLandmarksConnections


def _edges(connections: list) -> set[tuple[int, int]]:
    return {(c.start, c.end) for c in connections}


def _points(connections: list) -> set[int]:
    return {i for edge in _edges(connections) for i in edge}


def test_sets_match_mediapipe() -> None:
    assert set(lm.LIPS_OUTER) | set(lm.LIPS_INNER) == _points(FM.FACE_LANDMARKS_LIPS)
    assert set(lm.LEFT_EYE) == _points(FM.FACE_LANDMARKS_LEFT_EYE)
    assert set(lm.RIGHT_EYE) == _points(FM.FACE_LANDMARKS_RIGHT_EYE)
    assert set(lm.LEFT_BROW) == _points(FM.FACE_LANDMARKS_LEFT_EYEBROW)
    assert set(lm.RIGHT_BROW) == _points(FM.FACE_LANDMARKS_RIGHT_EYEBROW)
    assert set(lm.FACE_OVAL) == _points(FM.FACE_LANDMARKS_FACE_OVAL)
    assert set(lm.LEFT_IRIS) == _points(FM.FACE_LANDMARKS_LEFT_IRIS) | {473}
    assert set(lm.RIGHT_IRIS) == _points(FM.FACE_LANDMARKS_RIGHT_IRIS) | {468}


def test_rings_follow_the_connections() -> None:
    """Consecutive ring points are joined by a mesh edge, so the rings draw as polygons."""
    for ring, connections in ((lm.LIPS_OUTER, FM.FACE_LANDMARKS_LIPS),
                              (lm.LIPS_INNER, FM.FACE_LANDMARKS_LIPS),
                              (lm.FACE_OVAL, FM.FACE_LANDMARKS_FACE_OVAL),
                              (lm.LEFT_EYE, FM.FACE_LANDMARKS_LEFT_EYE),
                              (lm.RIGHT_EYE, FM.FACE_LANDMARKS_RIGHT_EYE)):
        edges = {frozenset(e) for e in _edges(connections)}
        for a, b in zip(ring, ring[1:] + ring[:1], strict=True):
            assert frozenset((a, b)) in edges, (a, b)


def test_stable_points_do_not_overlap_the_moving_ones() -> None:
    assert not set(lm.STABLE) & set(lm.LIPS_OUTER + lm.LIPS_INNER)
    assert set(lm.JAW) <= set(lm.FACE_OVAL)
    assert set(lm.MOUTH_CORNERS) <= set(lm.LIPS_OUTER)
    assert all(0 <= i < 478 for i in lm.MOBILE + lm.STABLE)
