"""Compositing: paste a chosen lower-face patch onto a base frame.

Both live in the same canonical patch frame (aligned on stable landmarks), so the paste is one
similarity back into the base frame. The mask is the union of the two lower-face polygons (the
pasted chin may sit lower or higher than the base's), grown past the jaw line and feathered; colour
and low-frequency shading are matched on the skin both show (lips excluded, they differ on purpose),
so light falling differently across the cheeks does not show as pale bands along the blend.

Given the frame's target aperture, the patch's jaw is first moved part of the way from the
footage's opening to the target (``jaw_follow``): a small database cannot offer every opening, and
the output then follows the speech more closely than the nearest real mouth would.
"""

from __future__ import annotations

import cv2
import numpy as np

from facecraft.engine.config import EngineConfig
from facecraft.engine.mouthdb import MouthDB
from facecraft.vision import landmarks as lm
from facecraft.vision.color import match_color, match_shading
from facecraft.vision.masks import feather, feathered_mask, lower_face_polygon
from facecraft.vision.warp import apply_affine, compose_affine, drop_jaw, fit_similarity, invert_affine

__all__ = ["Compositor", "BaseGeometry"]

_MIN_SHIFT_PX = 0.25  # smaller jaw moves are not worth a resampling of the patch


class BaseGeometry:
    """Where the canonical patch frame sits in one base frame."""

    def __init__(self, to_patch: np.ndarray, landmarks: np.ndarray) -> None:
        self.to_patch = np.asarray(to_patch, dtype=np.float64)
        self.points = apply_affine(self.to_patch, landmarks)  # base landmarks in patch pixels


class Compositor:
    def __init__(self, db: MouthDB, config: EngineConfig) -> None:
        self.db = db
        self.config = config
        self.w, self.h = db.size
        self.feather = max(1.5, config.feather * self.w)
        self.canon = db.canon.astype(np.float64)
        self.template = db.template.astype(np.float64)
        # the mask falls to zero before the patch border, so the patch's own edge never shows
        ramp = max(2.0, self.feather)
        ys = np.minimum(np.arange(self.h), np.arange(self.h)[::-1]) / ramp
        xs = np.minimum(np.arange(self.w), np.arange(self.w)[::-1]) / ramp
        self.taper = np.clip(np.minimum(ys[:, None], xs[None, :]), 0.0, 1.0).astype(np.float32)
        # the inner-lip gap of every patch in pixels, and pixels per inter-ocular unit (the aperture's)
        pts = db.points.astype(np.float64)
        self.gap_px = np.mean([pts[:, b, 1] - pts[:, a, 1] for a, b in lm.INNER_LIP_PAIRS], axis=0)
        self.px_per_unit = float(self.canon[0, 0])

    def geometry(self, landmarks: np.ndarray) -> BaseGeometry:
        """Geometry of a frame that is not in the footage (dub mode): fit on its stable landmarks."""
        to_units = fit_similarity(landmarks[list(lm.STABLE)], self.template)
        return BaseGeometry(compose_affine(self.canon, to_units), landmarks)

    def footage_geometry(self, index: int, landmarks: np.ndarray) -> BaseGeometry:
        return BaseGeometry(self.db.to_patch[index], landmarks)

    def _lower_faces(self, points: np.ndarray, base: BaseGeometry) -> tuple[np.ndarray, np.ndarray]:
        """Hard lower-face masks of the patch (landmarks ``points``) and of the base frame (their chins
        differ when the jaw moves)."""
        grow = self.config.mask_grow
        shape = (self.h, self.w)
        return (feathered_mask(shape, [lower_face_polygon(points, grow=grow)], feather_px=0),
                feathered_mask(shape, [lower_face_polygon(base.points, grow=grow)], feather_px=0))

    def mask(self, mouth: int, base: BaseGeometry, aperture: float | None = None) -> np.ndarray:
        """The blend mask ``compose`` uses: the union of both lower faces, feathered, falling to zero at
        the patch border."""
        return self._blend_mask(*self._lower_faces(self._jawed(mouth, aperture)[1], base))

    def _blend_mask(self, patch_face: np.ndarray, base_face: np.ndarray) -> np.ndarray:
        return feather(np.maximum(patch_face, base_face), self.feather) * self.taper

    def jaw_shift(self, mouth: int, aperture: float) -> float:
        """Pixels (patch frame) to move patch ``mouth``'s lower lip down toward the target ``aperture``:
        ``jaw_follow`` of the difference, opening by at most ``jaw_max_open``, closing by at most 80 %
        of the gap there is (lips do not pass through each other)."""
        c = self.config
        if c.jaw_follow <= 0.0 or not np.isfinite(aperture):
            return 0.0
        shift = c.jaw_follow * (float(aperture) - float(self.db.features[mouth, 0])) * self.px_per_unit
        gap = max(float(self.gap_px[mouth]), 0.0)
        return float(np.clip(shift, -0.8 * gap, c.jaw_max_open * self.px_per_unit))

    def _jawed(self, mouth: int, aperture: float | None) -> tuple[np.ndarray, np.ndarray]:
        """Patch ``mouth`` and its landmarks, the jaw moved toward ``aperture`` when one is given."""
        shift = self.jaw_shift(mouth, aperture) if aperture is not None else 0.0
        if abs(shift) >= _MIN_SHIFT_PX:
            return drop_jaw(self.db.patches[mouth], self.db.points[mouth], shift)
        return self.db.patches[mouth], self.db.points[mouth]

    def compose(
        self, image: np.ndarray, mouth: int, base: BaseGeometry, aperture: float | None = None,
        opacity: float = 1.0,
    ) -> np.ndarray:
        """A copy of ``image`` with database patch ``mouth`` blended into its lower face, its jaw moved
        toward the target ``aperture`` (inter-ocular units) when one is given. ``opacity`` below 1 lets
        the frame's own mouth show through (a switch between the two fades instead of popping)."""
        patch, points = self._jawed(mouth, aperture)
        patch_face, base_face = self._lower_faces(points, base)
        mask = self._blend_mask(patch_face, base_face)
        if opacity < 1.0:
            mask = mask * np.float32(max(opacity, 0.0))
        c = self.config
        if c.color_strength > 0:
            reference = cv2.warpAffine(image, base.to_patch, (self.w, self.h), flags=cv2.INTER_LINEAR,
                                       borderMode=cv2.BORDER_REPLICATE)
            lips = feathered_mask((self.h, self.w), [points[list(lm.LIPS_OUTER)], base.points[list(lm.LIPS_OUTER)]],
                                  feather_px=0)
            if c.local_shading:
                skin = np.minimum(patch_face, base_face) * self.taper * (1.0 - lips)  # skin both frames show
                patch = match_shading(patch, reference, skin, sigma_px=c.shading_sigma * self.w,
                                      strength=c.color_strength)
            else:
                patch = match_color(patch, reference, mask * (1.0 - lips), strength=c.color_strength)
        return self.paste(image, patch, mask, base)

    def paste(self, image: np.ndarray, patch: np.ndarray, mask: np.ndarray, base: BaseGeometry) -> np.ndarray:
        inv = invert_affine(base.to_patch)
        corners = np.array([[0, 0], [self.w, 0], [0, self.h], [self.w, self.h]], dtype=np.float64)
        pts = apply_affine(inv, corners)
        ih, iw = image.shape[:2]
        x0, y0 = np.floor(pts.min(0)).astype(int)
        x1, y1 = np.ceil(pts.max(0)).astype(int)
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(iw, x1), min(ih, y1)
        out = image.copy()
        if x1 <= x0 or y1 <= y0:
            return out
        shift = inv.copy()
        shift[:, 2] -= (x0, y0)
        size = (x1 - x0, y1 - y0)
        warped = cv2.warpAffine(patch, shift, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
        alpha = cv2.warpAffine(mask, shift, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                               borderValue=0)[..., None]
        roi = out[y0:y1, x0:x1].astype(np.float32)
        out[y0:y1, x0:x1] = (alpha * warped + (1.0 - alpha) * roi + 0.5).astype(np.uint8)
        return out
