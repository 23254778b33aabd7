"""Emotions on the face: the wanted blendshapes move, changes are smooth, the background and the listening
mouth stay put. The same real footage frames are warped with and without an emotion, then tracked with the
blendshape tracker, so the difference is the emotion's alone."""

from __future__ import annotations

import numpy as np
import pytest

from facecraft.engine.cues import EMOTIONS, Emotion
from facecraft.engine.emotion import (
    COMPONENTS,
    NEUTRAL_EXPRESSION,
    ONSET_S,
    STYLES,
    ExpressionSmoother,
    component_moves,
    expression_of,
    footage_affinity,
)
from facecraft.vision.types import BLENDSHAPE_INDEX, N_BLENDSHAPES

FRAMES = 16  # footage frames the direction tests warp and track


def test_every_emotion_has_a_style_and_components_name_real_points() -> None:
    assert set(STYLES) == set(EMOTIONS)
    for name in COMPONENTS:
        moves = component_moves(name)
        assert moves and all(0 <= m.index < 478 and m.sigma > 0 for m in moves)
        assert any(abs(m.dx) + abs(m.dy) > 0 for m in moves), name
    for name in EMOTIONS:
        exp = expression_of(Emotion(name, 1.0), speaking=True)
        assert exp.neutral == (name == "neutral"), name
    # contempt is one-sided: its smirk raises one mouth corner only, the other is drawn in, not raised
    smirk = {m.index: (m.dx, m.dy) for m in component_moves("smirk")}
    assert smirk[61][1] < 0 and smirk.get(291, (0.0, 0.0)) == (0.0, 0.0)
    drawn_in = {m.index: (m.dx, m.dy) for m in component_moves("corner_in")}
    assert drawn_in[291][0] < 0 and drawn_in[291][1] >= 0 and drawn_in.get(61, (0.0, 0.0)) == (0.0, 0.0)
    # no component opens the lips: their middle points are pinned or move together (a listening Face's mouth
    # stays closed, a speaking one opens as the speech does)
    for name in COMPONENTS:
        moves = {m.index: (m.dx, m.dy) for m in component_moves(name)}
        assert moves.get(13, (0.0, 0.0)) == moves.get(14, (0.0, 0.0)), name
    # intensity scales the expression, nods only while listening
    half = expression_of(Emotion("content", 0.5), speaking=False)
    full = expression_of(Emotion("content", 1.0), speaking=False)
    assert np.allclose(half.weights * 2, full.weights) and full.head[-1] > 0
    assert expression_of(Emotion("content", 1.0), speaking=True).head[-1] == 0


def test_smoother_onset_takes_about_0_3_s_and_never_overshoots() -> None:
    fps = 25.0
    smoother = ExpressionSmoother(fps)
    assert smoother.step(Emotion("neutral"), speaking=True).neutral  # the first frame: at once
    target = expression_of(Emotion("elated", 1.0), speaking=True).weights
    k = COMPONENTS.index("smile")
    shown = [smoother.step(Emotion("elated", 1.0), speaking=True).weight("smile") / target[k] for _ in range(50)]
    t10 = next(i for i, v in enumerate(shown) if v >= 0.1)
    t90 = next(i for i, v in enumerate(shown) if v >= 0.9)
    assert abs((t90 - t10) / fps - ONSET_S) <= 2 / fps
    assert max(shown) <= 1.0 + 1e-9 and shown[-1] > 0.99
    assert max(np.diff([0.0, *shown])) < 0.2  # no frame jumps a fifth of the way
    # the release back to neutral is as smooth
    back = [smoother.step(Emotion("neutral"), speaking=True).weight("smile") / target[k] for _ in range(50)]
    assert max(-np.diff([shown[-1], *back])) < 0.2 and back[-1] < 0.01


def test_footage_affinity_scores_the_footage_that_shows_an_emotion() -> None:
    rng = np.random.default_rng(0)
    shapes = rng.uniform(0.0, 0.1, (200, N_BLENDSHAPES)).astype(np.float32)
    smiling = np.arange(150, 200)
    for name in ("mouthSmileLeft", "mouthSmileRight", "cheekSquintLeft", "cheekSquintRight"):
        shapes[smiling, BLENDSHAPE_INDEX[name]] += 0.6
    shapes[5] = np.nan  # a frame without a face
    aff = footage_affinity(shapes)
    elated, sad = EMOTIONS.index("elated"), EMOTIONS.index("sad")
    assert aff.shape == (len(EMOTIONS), 200) and np.isfinite(aff).all()
    assert aff[elated, smiling].mean() > 0.8 > 0.1 > aff[elated, :150].mean()
    assert aff[sad, smiling].mean() < 0.2 and not aff[EMOTIONS.index("neutral")].any() and aff[:, 5].max() == 0


# --- on a real Face -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def footage(renderer):  # noqa: ANN001, ANN201
    """FRAMES real footage frames of the test Face with their landmarks (frames with a face, spread out)."""
    tracks = renderer.tracks
    present = np.flatnonzero(np.asarray(tracks.present, dtype=bool))
    pick = present[np.linspace(0, len(present) - 1, FRAMES).astype(int)]
    return [(int(i), renderer.footage.get(int(i)), np.asarray(tracks.landmarks[i])) for i in pick]


def _warped(renderer, footage, emotion: Emotion | None, speaking: bool = True):  # noqa: ANN001, ANN202
    exp = NEUTRAL_EXPRESSION if emotion is None else expression_of(emotion, speaking=speaking)
    return [renderer.expressions.apply(img, lms, exp, fps=renderer.fps, footage=i) for i, img, lms in footage]


def _tracked(images: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(blendshapes (N, 52), landmarks (N, 478, 3)) of each image, tracked as a video."""
    from facecraft.vision.tracker import FaceTracker

    shapes, points = [], []
    with FaceTracker(static_image_mode=True, max_faces=1) as tracker:
        for image in images:
            faces = tracker.process(image)
            assert faces, "the tracker lost the face"
            shapes.append(faces[0].blendshapes)
            points.append(faces[0].landmarks)
    return np.asarray(shapes, dtype=np.float64), np.asarray(points, dtype=np.float64)


def _mean(shapes: np.ndarray, *names: str) -> float:
    return float(shapes[:, [BLENDSHAPE_INDEX[n] for n in names]].mean()) if names else 0.0


# Facial actions as the blendshape tracker reports them: the blendshapes that show an action, and those of
# the opposite action (a raised brow shows as browDown falling where the brows rest above zero, as
# browInnerUp rising where browDown already rests at zero): an action's change is the first's less the second's.
ACTIONS = {
    "smile": (("mouthSmileLeft", "mouthSmileRight"), ("mouthFrownLeft", "mouthFrownRight")),
    "corners_down": (("mouthFrownLeft", "mouthFrownRight"), ("mouthSmileLeft", "mouthSmileRight")),
    "brows_down": (("browDownLeft", "browDownRight"), ("browInnerUp", "browOuterUpLeft", "browOuterUpRight")),
    "brows_up": (("browInnerUp", "browOuterUpLeft", "browOuterUpRight"), ("browDownLeft", "browDownRight")),
    "lids_down": (("eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft", "eyeLookDownRight"),
                  ("eyeWideLeft", "eyeWideRight", "eyeLookUpLeft", "eyeLookUpRight")),
    "lips_stretched": (("mouthStretchLeft", "mouthStretchRight"), ()),
    "one_corner": (("mouthSmileRight",), ("mouthSmileLeft",)),
}


def _action(shapes: np.ndarray, action: str) -> float:
    up, down = ACTIONS[action]
    return _mean(shapes, *up) - _mean(shapes, *down)


@pytest.fixture(scope="module")
def neutral_tracked(renderer, footage):  # noqa: ANN001, ANN201
    return _tracked(_warped(renderer, footage, None))


@pytest.mark.parametrize(("emotion", "action"), [
    ("elated", "smile"),
    ("content", "smile"),
    ("excited", "smile"),
    ("angry", "brows_down"),
    ("disgusted", "brows_down"),
    ("surprised", "brows_up"),
    ("scared", "brows_up"),
    ("scared", "lips_stretched"),
    ("sad", "corners_down"),
    ("sad", "brows_up"),  # the inner brows
    ("dejected", "corners_down"),
    ("dejected", "lids_down"),
    ("contempt", "one_corner"),
])
def test_an_emotion_moves_the_tracked_blendshapes_its_way(renderer, footage, neutral_tracked, emotion,
                                                          action) -> None:  # noqa: ANN001
    base = _action(neutral_tracked[0], action)
    half = _action(_tracked(_warped(renderer, footage, Emotion(emotion, 0.5)))[0], action)
    full = _action(_tracked(_warped(renderer, footage, Emotion(emotion, 1.0)))[0], action)
    assert full - base > 0.03, (base, half, full)
    assert full - base > half - base, (base, half, full)


def test_content_elated_and_excited_differ_in_smile_and_brows(renderer, footage, neutral_tracked) -> None:  # noqa: ANN001
    """The three happy emotions are told apart: content smiles least, elated most (with the cheeks up and the
    lids tight), excited raises the brows."""
    shapes = {e: _tracked(_warped(renderer, footage, Emotion(e, 1.0)))[0] for e in ("content", "elated", "excited")}
    smile = {e: _action(x, "smile") for e, x in shapes.items()}
    brows = {e: _action(x, "brows_up") for e, x in shapes.items()}
    assert smile["content"] < smile["elated"] - 0.05, smile
    assert brows["excited"] > brows["elated"] + 0.05, brows


def test_disgust_raises_the_upper_lip_in_the_tracked_landmarks(renderer, footage, neutral_tracked) -> None:  # noqa: ANN001
    """The sneer lifts the upper lip and the nostrils (the tracker's landmarks, in the eye frame; its blendshape
    regressor hardly reports noseSneer)."""
    from facecraft.vision.warp import normalise_shape

    def height(points: np.ndarray, index: int) -> float:  # below the eye line, inter-ocular units
        return float(np.mean([normalise_shape(p)[index, 1] for p in points]))

    moved = _tracked(_warped(renderer, footage, Emotion("disgusted", 1.0)))[1]
    for index in (0, 2):  # the upper lip's middle, the nose's bottom
        assert height(moved, index) < height(neutral_tracked[1], index) - 0.01, \
            (index, height(moved, index), height(neutral_tracked[1], index))


def test_the_background_and_the_silhouette_stay_put(renderer, footage) -> None:  # noqa: ANN001
    """Only the face (and, for a head style, the head) moves: far from the face every pixel is the same,
    and the tracked face outline barely moves."""
    from facecraft.vision import landmarks as lm

    for i, image, lms in footage[:4]:
        for name in ("disgusted", "scared"):
            exp = expression_of(Emotion(name, 1.0), speaking=True)
            face_only = type(exp)(exp.weights, np.zeros_like(exp.head))
            out = renderer.expressions.apply(image, lms, face_only, fps=renderer.fps, footage=i)
            changed = np.abs(out.astype(np.int16) - image.astype(np.int16)).max(axis=2) > 0
            assert changed.any(), name
            ys, xs = np.nonzero(changed)
            pts = lms[:, :2]
            (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
            pad = 0.15 * (x1 - x0)  # the warp fades out at the outline (and, for a lowered jaw, just below)
            assert xs.min() >= x0 - pad and xs.max() <= x1 + pad and ys.min() >= y0 - pad and ys.max() <= y1 + pad
    base = _tracked([img for _, img, _ in footage[:6]])[1]
    moved = _tracked(_warped(renderer, footage[:6], Emotion("disgusted", 1.0)))[1]
    oval = list(lm.FACE_OVAL)
    iod = np.linalg.norm(base[:, 263, :2] - base[:, 33, :2], axis=1)
    drift = np.linalg.norm(moved[:, oval, :2] - base[:, oval, :2], axis=2).mean(1) / iod
    # MediaPipe regresses the outline from the whole face: it shifts a little when the features inside move
    assert drift.max() < 0.05, drift


def test_a_change_of_emotion_never_jumps_more_than_the_footage_moves(renderer, footage) -> None:  # noqa: ANN001
    """One still frame shown while the emotion switches neutral -> elated -> sad: no frame differs from the
    one before by more than consecutive footage frames differ (the footage's own motion)."""
    i, image, lms = footage[len(footage) // 2]
    smoother = ExpressionSmoother(renderer.fps)
    wanted = [Emotion("neutral")] * 5 + [Emotion("elated", 1.0)] * 15 + [Emotion("sad", 1.0)] * 15 \
        + [Emotion("surprised", 1.0)] * 15 + [Emotion("contempt", 1.0)] * 15
    frames = [renderer.expressions.apply(image, lms, smoother.step(e, speaking=True), fps=renderer.fps, footage=i)
              for e in wanted]
    jumps = [float(np.abs(b.astype(np.float32) - a.astype(np.float32)).mean()) for a, b in zip(frames, frames[1:])]
    own = [float(np.abs(renderer.footage.get(k + 1).astype(np.float32) - renderer.footage.get(k).astype(np.float32))
                 .mean()) for k in range(i, i + 12)]
    assert max(jumps) > 0  # it did change
    assert max(jumps) <= np.median(own), (max(jumps), own)


def test_listening_with_an_emotion_keeps_the_mouth_closed(renderer) -> None:  # noqa: ANN001
    """The streaming renderer listening for 3 s with each mouth-moving emotion: the tracked lip opening is no
    wider than while listening neutrally (plus tracker noise)."""
    from facecraft.engine import StreamingRenderer

    def listening(emotion: Emotion) -> np.ndarray:
        stream = StreamingRenderer(renderer)
        stream.set_emotion(emotion)
        images = [stream.next_frame().image for _ in range(int(3 * renderer.fps))]
        points = _tracked(images[::3])[1]
        iod = np.linalg.norm(points[:, 263, :2] - points[:, 33, :2], axis=1)
        return np.linalg.norm(points[:, 13, :2] - points[:, 14, :2], axis=1) / iod

    neutral = listening(Emotion("neutral"))
    for name in ("scared", "surprised", "elated", "angry", "disgusted", "contempt", "sad"):
        opening = listening(Emotion(name, 1.0))
        assert np.percentile(opening, 90) <= np.percentile(neutral, 90) + 0.03, (name, opening, neutral)
