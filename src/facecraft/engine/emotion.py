"""Emotion: what each of the eleven emotions does to a face, and how a change of emotion unfolds in time.

An emotion is shown by a few facial actions (the components below, after FACS action units: inner
and outer brow raise, brow lowering, upper-lid raise and droop, lid tightening, cheek raise, smile,
frown, lip stretch, lip press, nose sneer, a one-sided smirk with the other corner drawn in, eyes down;
none of them opens the lips: a listening Face keeps its mouth closed whatever it feels, and a speaking one
opens it as the speech does), a head-motion style (how
much of the footage's own head motion shows, a lowered or raised head, a tilt, small nods while
listening) and, for choosing footage, the blendshapes that show it (``EmotionStyle.footage``).

A component is a set of landmark moves in the face's eye frame (x along the eye line from the
subject's right eye to the left one, y down, unit = inter-ocular distance), each with the width of
skin it carries; the points it names with no move are pins that hold their place (the lower lid
while the upper one rises, the lip centres while the corners move, so the lips' opening, and with
it the lip-sync, stays). ``AMPLITUDE`` sets how far each component goes, so that every emotion reads at a
glance on any Face (``bench/emotion.py`` measures it). ``engine.expression`` turns them into pixels.

``ExpressionSmoother`` moves the shown expression toward the wanted one with a smooth onset and
release (about 0.3 s from 10 % to 90 %, never a pop); each frame's ``Expression`` is the result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from facecraft.engine.cues import EMOTIONS, Emotion
from facecraft.vision.types import BLENDSHAPE_INDEX

__all__ = [
    "COMPONENTS",
    "AMPLITUDE",
    "HEAD_KEYS",
    "Move",
    "HeadStyle",
    "EmotionStyle",
    "STYLES",
    "Expression",
    "NEUTRAL_EXPRESSION",
    "component_moves",
    "expression_of",
    "footage_affinity",
    "ExpressionSmoother",
    "ONSET_S",
]

ONSET_S = 0.3  # 10 % -> 90 % of a change of emotion


@dataclass(frozen=True)
class Move:
    """Landmark ``index`` moves by ``(dx, dy)`` (eye-frame units) carrying skin ``sigma`` around it."""

    index: int
    dx: float
    dy: float
    sigma: float


# Mirror pairs (subject's right, subject's left) of the MediaPipe face mesh points used below.
_BROW_LOW = ((46, 276), (53, 283), (52, 282), (65, 295), (55, 285))  # outer -> inner
_BROW_HIGH = ((70, 300), (63, 293), (105, 334), (66, 296), (107, 336))
_FOREHEAD = ((68, 298), (104, 333), (69, 299), (108, 337))  # outer -> inner, above the brows
_UPPER_LID = ((246, 466), (161, 388), (160, 387), (159, 386), (158, 385), (157, 384), (173, 398))  # outer -> inner
_LOWER_LID = ((7, 249), (163, 390), (144, 373), (145, 374), (153, 380), (154, 381), (155, 382))
_CREASE = ((247, 467), (30, 260), (29, 259), (27, 257), (28, 258), (56, 286), (190, 414))
_UNDER_EYE = ((25, 255), (110, 339), (24, 254), (23, 253), (22, 252), (26, 256), (112, 341))
_CHEEK = ((118, 347), (119, 348), (50, 280), (101, 330), (36, 266), (205, 425), (117, 346), (100, 329))
_EYE_CORNERS = ((33, 263), (133, 362))
_IRIS = ((468, 473), (469, 474), (470, 475), (471, 476), (472, 477))
# Lips, from the corner toward the middle (the middle points themselves are 0, 17, 13, 14).
_CORNER = ((61, 291), (78, 308))
_OUTER_UPPER = ((185, 409), (40, 270), (39, 269), (37, 267))
_OUTER_LOWER = ((146, 375), (91, 321), (181, 405), (84, 314))
_INNER_UPPER = ((191, 415), (80, 310), (81, 311), (82, 312))
_INNER_LOWER = ((95, 324), (88, 318), (178, 402), (87, 317))
_LIP_MIDDLE = (0, 17, 13, 14)
_BESIDE_CORNER = ((57, 287), (43, 273), (106, 335), (186, 410), (212, 432))
_NASOLABIAL = ((216, 436), (92, 322), (206, 426), (207, 427), (165, 391), (203, 423))
_ALA = ((48, 278), (64, 294), (98, 327), (102, 331), (129, 358), (219, 439), (235, 455), (240, 460))
_NOSE_RIDGE = (168, 6, 197, 195, 5, 4, 1, 2)
_CHIN = (152, 175, 199, 200, 18)
# The face outline (vision.landmarks.FACE_OVAL): pinned, so nothing moves the silhouette.
_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148,
         176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)


def _sym(pairs: Sequence[tuple[int, int]], out: float, dy: float, sigma: float,
         profile: Sequence[float] | None = None, *, side: str = "both") -> list[Move]:
    """Moves of mirrored point pairs: ``out`` away from the face's midline (negative: toward it), ``dy``
    down; ``profile`` scales the move of each pair in order."""
    moves: list[Move] = []
    for k, (right, left) in enumerate(pairs):
        s = 1.0 if profile is None else float(profile[k])
        if side in ("both", "right"):
            moves.append(Move(right, -out * s, dy * s, sigma))
        if side in ("both", "left"):
            moves.append(Move(left, out * s, dy * s, sigma))
    return moves


def _pins(pairs: Sequence[tuple[int, int]] = (), singles: Sequence[int] = (), sigma: float = 0.04) -> list[Move]:
    return [Move(i, 0.0, 0.0, sigma) for pair in pairs for i in pair] + [Move(i, 0.0, 0.0, sigma) for i in singles]


_LIP_PROFILE = (0.7, 0.35, 0.12, 0.0)
_MOUTH_PINS = _pins(singles=_LIP_MIDDLE, sigma=0.03) + _pins(_EYE_CORNERS, sigma=0.05) \
    + _pins(singles=_NOSE_RIDGE + _CHIN, sigma=0.05)


def _corner_moves(out: float, dy: float, *, side: str = "both", beside: float = 0.9) -> list[Move]:
    """The mouth corners and the lips near them move by (out, dy); the skin beside the corners follows."""
    moves = _sym(_CORNER, out, dy, 0.045, (1.0, 0.9), side=side)
    for group in (_OUTER_UPPER, _OUTER_LOWER, _INNER_UPPER, _INNER_LOWER):
        moves += _sym(group, out, dy, 0.04, _LIP_PROFILE, side=side)
    moves += _sym(_BESIDE_CORNER, out * beside, dy * beside, 0.07, (1.0, 0.7, 0.3, 0.6, 0.6), side=side)
    return moves


_UPPER_FACE_PINS = _pins(_EYE_CORNERS, sigma=0.04) + _pins(singles=_NOSE_RIDGE[2:], sigma=0.06)
_LID_SHAPE = (0.35, 0.65, 0.9, 1.0, 0.9, 0.65, 0.3)

_COMPONENT_MOVES: dict[str, list[Move]] = {
    "brow_inner_up": _sym(_BROW_LOW, -0.004, -0.05, 0.06, (0.0, 0.15, 0.45, 0.85, 1.0))
    + _sym(_BROW_HIGH, -0.004, -0.05, 0.06, (0.05, 0.2, 0.5, 0.9, 1.0))
    + _sym(_FOREHEAD, 0.0, -0.03, 0.09, (0.0, 0.2, 0.6, 1.0))
    + _pins(_UPPER_LID, sigma=0.03) + _pins(singles=(9,), sigma=0.05) + _UPPER_FACE_PINS,
    "brow_outer_up": _sym(_BROW_LOW, 0.0, -0.055, 0.06, (0.9, 1.0, 0.85, 0.45, 0.25))
    + _sym(_BROW_HIGH, 0.0, -0.055, 0.06, (0.9, 1.0, 0.85, 0.45, 0.25))
    + _sym(_FOREHEAD, 0.0, -0.03, 0.09, (1.0, 0.9, 0.6, 0.3))
    + _pins(_UPPER_LID, sigma=0.03) + _UPPER_FACE_PINS,
    "brow_down": _sym(_BROW_LOW, -0.01, 0.04, 0.06, (0.55, 0.75, 0.9, 1.0, 1.1))
    + _sym(_BROW_HIGH, -0.012, 0.04, 0.06, (0.55, 0.75, 0.9, 1.0, 1.1))
    + _sym(_FOREHEAD, 0.0, 0.02, 0.09, (0.4, 0.6, 0.8, 1.0))
    + [Move(9, 0.0, 0.02, 0.05)] + _pins(_UPPER_LID, sigma=0.03) + _UPPER_FACE_PINS,
    "lid_raise": _sym(_UPPER_LID, 0.0, -0.026, 0.028, _LID_SHAPE)
    + _sym(_CREASE, 0.0, -0.014, 0.04, (0.3, 0.6, 0.9, 1.0, 0.9, 0.6, 0.3))
    + _pins(_LOWER_LID, sigma=0.025) + _UPPER_FACE_PINS,
    "lid_droop": _sym(_UPPER_LID, 0.0, 0.024, 0.028, _LID_SHAPE)
    + _sym(_CREASE, 0.0, 0.01, 0.04, (0.3, 0.6, 0.9, 1.0, 0.9, 0.6, 0.3))
    + _pins(_LOWER_LID, sigma=0.025) + _pins(_BROW_LOW, sigma=0.05) + _UPPER_FACE_PINS,
    "lid_tighten": _sym(_LOWER_LID, 0.0, -0.018, 0.028, (0.3, 0.6, 0.9, 1.0, 0.9, 0.6, 0.3))
    + _sym(_UNDER_EYE, 0.0, -0.012, 0.045, (0.4, 0.8, 1.0, 1.0, 0.8, 0.5, 0.3))
    + _sym(_UPPER_LID, 0.0, 0.006, 0.028, _LID_SHAPE)
    + _pins(_BROW_LOW, sigma=0.05) + _UPPER_FACE_PINS,
    "cheek_raise": _sym(_CHEEK, 0.004, -0.035, 0.09, (1.0, 0.9, 1.0, 0.8, 0.9, 0.8, 0.7, 0.6))
    + _sym(_UNDER_EYE, 0.0, -0.015, 0.05, (0.5, 0.8, 1.0, 1.0, 0.8, 0.5, 0.3))
    + _sym(_LOWER_LID, 0.0, -0.008, 0.028, (0.3, 0.6, 0.9, 1.0, 0.9, 0.6, 0.3))
    + _pins(_UPPER_LID, sigma=0.028) + _pins(singles=_LIP_MIDDLE, sigma=0.04)
    + _pins(singles=_NOSE_RIDGE, sigma=0.05) + _pins(_EYE_CORNERS, sigma=0.04),
    "smile": _corner_moves(0.036, -0.034)
    + _sym(_NASOLABIAL, 0.012, -0.02, 0.07, (1.0, 0.9, 0.6, 0.4, 0.3, 0.3)) + _MOUTH_PINS,
    "frown": _corner_moves(0.004, 0.036)
    + _sym(_NASOLABIAL, 0.0, 0.008, 0.07, (0.6, 0.6, 0.2, 0.1, 0.2, 0.1)) + _MOUTH_PINS,
    "stretch": _corner_moves(0.045, 0.026)
    + _sym(_NASOLABIAL, 0.012, 0.0, 0.07, (0.8, 0.8, 0.3, 0.2, 0.3, 0.2)) + _MOUTH_PINS,
    "press": _sym(_OUTER_UPPER, 0.0, 0.012, 0.02, (0.35, 0.6, 0.85, 1.0)) + [Move(0, 0.0, 0.012, 0.02)]
    + _sym(_OUTER_LOWER, 0.0, -0.014, 0.022, (0.35, 0.6, 0.85, 1.0)) + [Move(17, 0.0, -0.014, 0.022)]
    + _sym(_CORNER, -0.008, 0.0, 0.04) + _pins(_INNER_UPPER + _INNER_LOWER, singles=(13, 14), sigma=0.02)
    + _pins(singles=_NOSE_RIDGE + _CHIN, sigma=0.05),
    "sneer": _sym(_ALA, 0.008, -0.026, 0.04)
    + _sym(_OUTER_UPPER, 0.0, -0.016, 0.03, (0.45, 0.9, 1.0, 0.8)) + [Move(0, 0.0, -0.01, 0.03)]
    + _sym(_NASOLABIAL, 0.0, -0.018, 0.05, (0.5, 0.8, 1.0, 0.5, 1.0, 1.0))
    + _pins(_INNER_UPPER + _INNER_LOWER + _CORNER, singles=(13, 14), sigma=0.02)
    + _pins(singles=_NOSE_RIDGE[:5], sigma=0.04) + _pins(_EYE_CORNERS, sigma=0.05),
    "smirk": _corner_moves(0.034, -0.024, side="right")
    + _sym(_NASOLABIAL, 0.01, -0.014, 0.07, (1.0, 0.9, 0.5, 0.3, 0.3, 0.3), side="right")
    + _pins(_CORNER, sigma=0.04)[1::2] + _MOUTH_PINS,
    "corner_in": _sym(_CORNER, -0.014, 0.004, 0.04, (1.0, 0.9), side="left")
    + _sym(_BESIDE_CORNER, -0.01, 0.0, 0.06, (1.0, 0.7, 0.3, 0.6, 0.6), side="left") + _MOUTH_PINS,
    "gaze_down": _sym(_IRIS, 0.0, 0.016, 0.022)
    + _sym(_UPPER_LID, 0.0, 0.012, 0.026, _LID_SHAPE)
    + _sym(_LOWER_LID, 0.0, 0.004, 0.026, _LID_SHAPE) + _UPPER_FACE_PINS,
}
# How far each component goes at weight 1, on the moves above (those are the shapes): set so that every
# emotion reads at a glance on the dev Faces (bench/emotion.py's contact sheet) while the warp stays
# invertible (no fold, no doubled brow) and the lips' opening stays.
AMPLITUDE: dict[str, float] = {
    "brow_inner_up": 1.6, "brow_outer_up": 1.4, "brow_down": 2.2, "lid_raise": 1.5, "lid_droop": 1.5,
    "lid_tighten": 1.6, "cheek_raise": 1.6, "smile": 1.5, "frown": 1.8, "stretch": 1.7, "press": 1.8,
    "sneer": 2.0, "smirk": 2.0, "corner_in": 1.5, "gaze_down": 2.4,
}
for _name, _moves in _COMPONENT_MOVES.items():  # the outline holds for every component, where it does not move
    _gain = AMPLITUDE[_name]
    _moving = {m.index for m in _moves if m.dx or m.dy}
    _COMPONENT_MOVES[_name] = [Move(m.index, m.dx * _gain, m.dy * _gain, m.sigma) for m in _moves] \
        + [m for m in _pins(singles=_OVAL, sigma=0.08) if m.index not in _moving]
assert set(AMPLITUDE) == set(_COMPONENT_MOVES)

COMPONENTS: tuple[str, ...] = tuple(_COMPONENT_MOVES)


def component_moves(name: str) -> list[Move]:
    """The moves (and pins: moves of zero) of one component, at weight 1."""
    return list(_COMPONENT_MOVES[name])


HEAD_KEYS = ("gain", "drop", "tilt_deg", "lean", "nod")


@dataclass(frozen=True)
class HeadStyle:
    """How an emotion moves the head, on top of the footage's own motion.

    ``gain``: share of the footage's head motion (around its usual position) that shows (1: as filmed);
    ``drop``: the head lowered (positive) or raised, inter-ocular units; ``tilt_deg``: a sideways tilt
    (positive: toward the subject's right); ``lean``: the head toward (positive) or away from the camera,
    as a change of its size; ``nod``: small nods while listening, their depth in inter-ocular units.
    """

    gain: float = 1.0
    drop: float = 0.0
    tilt_deg: float = 0.0
    lean: float = 0.0
    nod: float = 0.0

    def vector(self) -> np.ndarray:
        """(gain - 1, drop, tilt_deg, lean, nod): zero for the footage as it is."""
        return np.array([self.gain - 1.0, self.drop, self.tilt_deg, self.lean, self.nod])


@dataclass(frozen=True)
class EmotionStyle:
    """An emotion at full intensity: component weights, head style, and the blendshapes that show it in
    footage (their weights score footage frames for selection)."""

    face: Mapping[str, float] = field(default_factory=dict)
    head: HeadStyle = HeadStyle()
    footage: Mapping[str, float] = field(default_factory=dict)


def _both(name: str, w: float = 1.0) -> dict[str, float]:
    return {f"{name}Left": w, f"{name}Right": w}


STYLES: dict[str, EmotionStyle] = {
    "neutral": EmotionStyle(),
    "angry": EmotionStyle(
        {"brow_down": 1.3, "lid_tighten": 1.0, "lid_raise": 0.25, "press": 1.4},
        HeadStyle(gain=1.15, drop=0.02),
        {**_both("browDown"), **_both("mouthPress"), **_both("eyeSquint", 0.5)}),
    "excited": EmotionStyle(
        {"brow_outer_up": 0.8, "brow_inner_up": 0.5, "lid_raise": 0.8, "smile": 0.85, "cheek_raise": 0.3},
        HeadStyle(gain=1.5, drop=-0.012),
        {**_both("mouthSmile"), **_both("eyeWide"), **_both("browOuterUp", 0.5)}),
    "elated": EmotionStyle(
        {"smile": 1.0, "cheek_raise": 1.0, "lid_tighten": 0.5, "brow_outer_up": 0.2},
        HeadStyle(gain=1.3, drop=-0.018),
        {**_both("mouthSmile"), **_both("cheekSquint")}),
    "content": EmotionStyle(
        {"smile": 0.45, "cheek_raise": 0.35, "lid_droop": 0.25},
        HeadStyle(gain=0.9, nod=0.03),
        {**_both("mouthSmile", 0.5)}),
    "sad": EmotionStyle(
        {"brow_inner_up": 1.3, "brow_down": 0.3, "frown": 1.5, "lid_droop": 0.8},
        HeadStyle(gain=0.7, drop=0.03, tilt_deg=1.5),
        {"browInnerUp": 1.0, **_both("mouthFrown")}),
    "dejected": EmotionStyle(
        {"brow_inner_up": 0.4, "frown": 1.1, "lid_droop": 1.2, "gaze_down": 1.0},
        HeadStyle(gain=0.45, drop=0.07, tilt_deg=2.0),
        {**_both("mouthFrown"), **_both("eyeLookDown"), **_both("eyeBlink", 0.3)}),
    "scared": EmotionStyle(
        {"brow_inner_up": 1.0, "brow_outer_up": 0.6, "brow_down": 0.35, "lid_raise": 1.2, "stretch": 1.4},
        HeadStyle(gain=0.6, drop=-0.02, lean=-0.01),
        {"browInnerUp": 1.0, **_both("eyeWide"), **_both("mouthStretch")}),
    "contempt": EmotionStyle(
        {"smirk": 1.0, "corner_in": 1.0, "press": 0.2, "lid_droop": 0.2},
        HeadStyle(drop=-0.015, tilt_deg=-2.0),
        {"mouthSmileRight": 1.0, "mouthDimpleRight": 1.0, "mouthSmileLeft": -0.5}),
    "disgusted": EmotionStyle(
        {"sneer": 1.3, "brow_down": 0.5, "frown": 0.35, "lid_tighten": 0.5, "cheek_raise": 0.25},
        HeadStyle(drop=-0.01, tilt_deg=1.0, lean=-0.01),
        {**_both("noseSneer"), **_both("mouthUpperUp"), **_both("browDown", 0.5)}),
    "surprised": EmotionStyle(
        {"brow_inner_up": 0.9, "brow_outer_up": 1.0, "lid_raise": 1.0},
        HeadStyle(drop=-0.025, lean=-0.01),
        {"browInnerUp": 1.0, **_both("browOuterUp"), **_both("eyeWide")}),
}
assert set(STYLES) == set(EMOTIONS)


@dataclass(frozen=True)
class Expression:
    """What one frame shows: a weight per component (``COMPONENTS`` order), the head style as
    ``HeadStyle.vector()``, and the frame's clock (for nods)."""

    weights: np.ndarray
    head: np.ndarray
    clock: int = 0

    @property
    def neutral(self) -> bool:
        return not (np.abs(self.weights).max(initial=0.0) > 1e-3 or np.abs(self.head).max(initial=0.0) > 1e-4)

    def weight(self, component: str) -> float:
        return float(self.weights[COMPONENTS.index(component)])


NEUTRAL_EXPRESSION = Expression(np.zeros(len(COMPONENTS)), np.zeros(len(HEAD_KEYS)))


def expression_of(emotion: Emotion, *, speaking: bool) -> Expression:
    """The expression ``emotion`` asks for at its intensity (nods only while listening)."""
    style = STYLES[emotion.name]
    k = float(emotion.intensity)
    weights = np.array([style.face.get(c, 0.0) * k for c in COMPONENTS])
    head = style.head.vector() * k
    if speaking:  # nods belong to listening
        head[HEAD_KEYS.index("nod")] = 0.0
    return Expression(weights, head)


class ExpressionSmoother:
    """The expression shown frame by frame: it follows the wanted one through two cascaded one-pole
    filters (a critically damped step, ``ONSET_S`` from 10 % to 90 %), so a change of emotion or of its
    intensity never pops. The first frame shows the wanted expression at once."""

    def __init__(self, fps: float, onset_s: float = ONSET_S) -> None:
        tau = max(onset_s, 1e-3) / 3.36  # a double pole rises 10 -> 90 % in 3.36 time constants
        self.alpha = float(1.0 - np.exp(-1.0 / (max(fps, 1.0) * tau)))
        self._stage1: np.ndarray | None = None
        self._stage2: np.ndarray | None = None
        self.clock = 0

    def step(self, emotion: Emotion, *, speaking: bool) -> Expression:
        target = expression_of(emotion, speaking=speaking)
        want = np.concatenate([target.weights, target.head])
        if self._stage1 is None or self._stage2 is None:
            self._stage1, self._stage2 = want.copy(), want.copy()
        else:
            self._stage1 += self.alpha * (want - self._stage1)
            self._stage2 += self.alpha * (self._stage1 - self._stage2)
        n = len(COMPONENTS)
        out = Expression(self._stage2[:n].copy(), self._stage2[n:].copy(), self.clock)
        self.clock += 1
        return out


def footage_affinity(blendshapes: np.ndarray | None) -> np.ndarray:
    """(len(EMOTIONS), N) how clearly each of N footage frames shows each emotion, 0..1, from its
    blendshapes (N, 52): the emotion's ``footage`` blendshapes against the Face's usual level, in units of
    their spread over the footage. Neutral, and frames without a face, score 0."""
    if blendshapes is None:
        return np.zeros((len(EMOTIONS), 0))
    b = np.asarray(blendshapes, dtype=np.float64)
    out = np.zeros((len(EMOTIONS), len(b)))
    if not len(b) or not np.isfinite(b).any():
        return out
    with np.errstate(all="ignore"):
        usual = np.nan_to_num(np.nanmedian(b, axis=0))
        spread = np.maximum(np.nan_to_num(np.nanpercentile(b, 95, axis=0) - np.nanpercentile(b, 5, axis=0)), 0.05)
    z = np.nan_to_num((b - usual) / spread)
    for e, name in enumerate(EMOTIONS):
        weights = STYLES[name].footage
        if not weights:
            continue
        cols = [BLENDSHAPE_INDEX[k] for k in weights]
        w = np.array(list(weights.values()))
        out[e] = np.clip(z[:, cols] @ w / np.abs(w).sum(), 0.0, 1.0)
    return out
