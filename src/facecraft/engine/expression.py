"""Expressions in pixels: warp a rendered frame of a Face toward an ``engine.emotion.Expression``.

Each component's landmark moves (``engine.emotion``) become a displacement field over the Face's own
resting shape (the median of its tracked landmarks in the eye frame), computed once per Face and
component (``vision.field_warp.gaussian_field``). A frame's expression is the weighted sum of those
fields, placed on the frame's face by a similarity fitted on its stable landmarks and cut off inside
the face outline, so the silhouette, the neck and the background never move. The head style is a
small similarity of the head (face and hair, feathered into the neck): the footage's own head motion
around the Face's usual position scaled by ``gain``, a lowered or raised head, a tilt, a lean, and
nods while listening.

Where the frame already shows part of a component (its footage smiles, its brows are up), the warp
adds only the rest: each component reads the blendshapes that measure it (``READOUTS``) on the
frame's footage, against the Face's usual level. The cost per frame is a few small interpolations
and one remap of the face's box (``bench/render_speed.py`` measures it).
"""

from __future__ import annotations

import logging

import numpy as np

from facecraft.engine.emotion import AMPLITUDE, COMPONENTS, HEAD_KEYS, Expression, component_moves
from facecraft.vision import landmarks as lm
from facecraft.vision.field_warp import Ellipse, Field, HeadMove, gaussian_field, warp_image
from facecraft.vision.types import BLENDSHAPE_INDEX, Tracks
from facecraft.vision.warp import apply_affine, fit_similarity, normalise_shape

__all__ = ["ExpressionRenderer", "READOUTS"]

log = logging.getLogger(__name__)

FIELD_STEP = 0.02  # eye-frame units between samples of a component's field
GRID_PX = 0.035  # inter-ocular units between samples of a frame's field (then interpolated to pixels)
MAX_DEVIATION = 0.25  # the head's distance from its usual place that ``gain`` scales, at most (iod units)
NOD_PERIOD_S = 3.2
NOD_LENGTH_S = 0.9

# Blendshapes that measure each component in footage, and the change of their mean that a component at
# weight 1 and amplitude 1 makes (``bench/emotion.py`` measures these on rendered Faces; a component's
# ``AMPLITUDE`` scales it): footage that already shows that much of a component gets none of its warp.
READOUTS: dict[str, tuple[tuple[str, ...], float]] = {
    "brow_inner_up": (("browInnerUp",), 0.25),
    "brow_outer_up": (("browOuterUpLeft", "browOuterUpRight"), 0.25),
    "brow_down": (("browDownLeft", "browDownRight"), 0.25),
    "lid_raise": (("eyeWideLeft", "eyeWideRight"), 0.15),
    "lid_tighten": (("eyeSquintLeft", "eyeSquintRight"), 0.15),
    "cheek_raise": (("cheekSquintLeft", "cheekSquintRight"), 0.1),
    "smile": (("mouthSmileLeft", "mouthSmileRight"), 0.3),
    "frown": (("mouthFrownLeft", "mouthFrownRight"), 0.15),
    "stretch": (("mouthStretchLeft", "mouthStretchRight"), 0.15),
    "press": (("mouthPressLeft", "mouthPressRight"), 0.15),
    "sneer": (("noseSneerLeft", "noseSneerRight"), 0.15),
}


def _rest_shape(tracks: Tracks) -> np.ndarray:
    """(478, 2) the Face's median landmarks in the eye frame (its face at rest)."""
    present = np.flatnonzero(np.asarray(tracks.present, dtype=bool))
    if not present.size:
        raise ValueError("the Face has no tracked frame")
    pick = present[np.linspace(0, present.size - 1, min(present.size, 400)).astype(int)]
    shapes = np.stack([normalise_shape(tracks.landmarks[i]) for i in pick])
    return np.nanmedian(shapes, axis=0)


class ExpressionRenderer:
    """One Face's expressions: ``apply(image, landmarks, expression)`` warps a frame."""

    def __init__(self, tracks: Tracks) -> None:
        self.rest = _rest_shape(tracks)
        oval = self.rest[list(lm.FACE_OVAL)]
        lo, hi = oval.min(0), oval.max(0)
        self.centre = (lo + hi) / 2
        self.axes = (hi - lo) / 2
        margin = 0.1
        self.box = (float(lo[0] - margin), float(lo[1] - margin), float(hi[0] + margin), float(hi[1] + margin))
        self._fields: dict[str, Field] = {}
        self.stable = list(lm.STABLE)
        # the usual head position (stable-point centroid, pixels) and angle, for the head style's gain
        present = np.asarray(tracks.present, dtype=bool)
        pts = np.asarray(tracks.landmarks, dtype=np.float64)[present][:, self.stable, :2]
        self.usual_centre = np.nanmedian(pts.mean(1), axis=0) if len(pts) else np.zeros(2)
        eyes = np.asarray(tracks.landmarks, dtype=np.float64)[present][:, list(lm.EYE_OUTER_CORNERS), :2]
        vec = eyes[:, 1] - eyes[:, 0]
        self.usual_angle = float(np.nanmedian(np.arctan2(vec[:, 1], vec[:, 0]))) if len(vec) else 0.0
        # blendshape levels of the footage: per frame, and the Face's usual level per component
        self._readout = np.zeros((len(tracks), len(COMPONENTS)), np.float32)
        self._usual = np.zeros(len(COMPONENTS), np.float32)
        shapes = np.asarray(tracks.blendshapes, dtype=np.float32) if tracks.blendshapes is not None else None
        if shapes is not None and present.any() and np.isfinite(shapes[present]).any():
            for k, name in enumerate(COMPONENTS):
                if name in READOUTS:
                    level = shapes[:, [BLENDSHAPE_INDEX[b] for b in READOUTS[name][0]]].mean(1)
                    ok = np.isfinite(level)
                    self._readout[:, k] = np.where(ok, level, 0.0)
                    self._usual[k] = float(np.median(level[ok & present])) if (ok & present).any() else 0.0
            self._readout[~np.isfinite(shapes).all(1)] = self._usual
        self._full = np.array([READOUTS[c][1] * AMPLITUDE[c] if c in READOUTS else np.inf for c in COMPONENTS])

    # --- fields --------------------------------------------------------------------------------------

    def field(self, component: str) -> Field:
        """The displacement field of one component at weight 1, over the Face's rest shape (cached)."""
        cached = self._fields.get(component)
        if cached is None:
            moves = component_moves(component)
            points = self.rest[[m.index for m in moves]]
            cached = gaussian_field(points, np.array([[m.dx, m.dy] for m in moves]), np.array([m.sigma for m in moves]),
                                    box=self.box, step=FIELD_STEP)
            self._fields[component] = cached
        return cached

    def _sum_field(self, weights: np.ndarray) -> Field | None:
        total: Field | None = None
        for k, w in enumerate(weights):
            if abs(w) < 1e-3:
                continue
            part = self.field(COMPONENTS[k]).scaled(float(w))
            total = part if total is None else total + part
        return total

    def compensated(self, weights: np.ndarray, footage: int | None) -> np.ndarray:
        """``weights`` less what footage frame ``footage`` already shows of each component."""
        if footage is None or not (0 <= footage < len(self._readout)):
            return weights.copy()
        shown = self._readout[footage] - self._usual
        done = np.clip(shown / self._full, 0.0, None)
        return np.where(weights > 0, np.maximum(weights - done, 0.0), weights)

    # --- frames --------------------------------------------------------------------------------------

    def placement(self, landmarks: np.ndarray) -> np.ndarray:
        """The similarity (2x3) taking the eye frame of the rest shape onto the frame's face."""
        return fit_similarity(self.rest[self.stable], np.asarray(landmarks, dtype=np.float64)[self.stable, :2])

    def support(self, to_pixels: np.ndarray) -> Ellipse:
        """Where the face may move: inside its outline, fading out just before it."""
        scale = float(np.hypot(*to_pixels[:, 0]))
        angle = float(np.arctan2(to_pixels[1, 0], to_pixels[0, 0]))
        centre = apply_affine(to_pixels, self.centre[None])[0]
        return Ellipse((float(centre[0]), float(centre[1])), (float(self.axes[0] * scale), float(self.axes[1] * scale)),
                       angle, inner=0.8, outer=1.0)

    def head_move(self, to_pixels: np.ndarray, landmarks: np.ndarray, head: np.ndarray, clock: int,
                  fps: float) -> HeadMove | None:
        """The head style of one frame as a similarity of the head, or None for the footage as it is."""
        gain_1, drop, tilt, lean, nod = (float(head[HEAD_KEYS.index(k)]) for k in HEAD_KEYS)
        if nod:
            phase = (clock / max(fps, 1.0)) % NOD_PERIOD_S
            drop += nod * (np.sin(np.pi * phase / NOD_LENGTH_S) ** 2 if phase < NOD_LENGTH_S else 0.0)
        if max(abs(gain_1), abs(drop), abs(tilt), abs(lean)) < 1e-4:
            return None
        scale = float(np.hypot(*to_pixels[:, 0]))
        down = to_pixels[:, 1] / max(scale, 1e-6)  # the face's own "down" in pixels (unit vector)
        pivot = apply_affine(to_pixels, np.array([[0.0, 1.9]]))[0]  # the neck, below the chin
        mat = np.eye(3)
        if gain_1:
            centre = np.asarray(landmarks, dtype=np.float64)[self.stable, :2].mean(0)
            dev = centre - self.usual_centre
            dist = float(np.hypot(*dev))
            if dist > MAX_DEVIATION * scale:
                dev *= MAX_DEVIATION * scale / dist
            eyes = np.asarray(landmarks, dtype=np.float64)[list(lm.EYE_OUTER_CORNERS), :2]
            angle = float(np.arctan2(*(eyes[1] - eyes[0])[::-1])) - self.usual_angle
            angle = float(np.clip(angle, -0.2, 0.2))
            mat = _about(centre, gain_1 * angle, 1.0) @ mat
            mat = _shift(gain_1 * dev) @ mat
        if tilt or lean:
            mat = _about(pivot, np.radians(tilt), 1.0 + lean) @ mat
        if drop:
            mat = _shift(drop * scale * down) @ mat
        mask_centre = apply_affine(to_pixels, np.array([[self.centre[0], self.centre[1] - 0.15]]))[0]
        angle = float(np.arctan2(to_pixels[1, 0], to_pixels[0, 0]))
        mask = Ellipse((float(mask_centre[0]), float(mask_centre[1])),
                       (float(self.axes[0] * 1.3 * scale), float(self.axes[1] * 1.3 * scale)), angle,
                       inner=0.85, outer=1.25)
        return HeadMove(mat[:2], mask)

    def apply(self, image: np.ndarray, landmarks: np.ndarray, expression: Expression, *, fps: float,
              footage: int | None = None, mouth_footage: int | None = None) -> np.ndarray:
        """``image`` (a frame whose face has ``landmarks``, pixels) showing ``expression``. ``footage``
        and ``mouth_footage`` are the footage frames its upper face and its mouth come from, when known
        (what they already show is not added again)."""
        if expression.neutral or not np.isfinite(np.asarray(landmarks)[self.stable, :2]).all():
            return image
        weights = self.compensated(expression.weights, footage)
        if mouth_footage is not None and mouth_footage != footage:
            mouth = self.compensated(expression.weights, mouth_footage)
            for name in ("smile", "frown", "stretch", "press", "sneer", "smirk", "corner_in"):
                k = COMPONENTS.index(name)
                weights[k] = mouth[k]
        to_pixels = self.placement(landmarks)
        field = self._sum_field(weights)
        head = self.head_move(to_pixels, landmarks, expression.head, expression.clock, fps)
        if field is None and head is None:
            return image
        grid = max(2.0, GRID_PX * float(np.hypot(*to_pixels[:, 0])))
        return warp_image(image, field, to_pixels, self.support(to_pixels), head=head, grid_px=grid)


def _about(pivot: np.ndarray, angle: float, scale: float) -> np.ndarray:
    """3x3 rotation by ``angle`` (radians) and scaling about ``pivot``."""
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    m = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    m[:2, 2] = pivot - m[:2, :2] @ pivot
    return m


def _shift(d: np.ndarray) -> np.ndarray:
    m = np.eye(3)
    m[:2, 2] = d
    return m
