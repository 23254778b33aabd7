"""Compositing: paste a chosen lower-face patch onto a base frame.

Both live in the same canonical patch frame (aligned on stable landmarks), so the paste is one
similarity back into the base frame. The mask is the union of the two lower-face polygons (the
pasted chin may sit lower or higher than the base's), grown past the jaw line and feathered; colour
and low-frequency shading are matched on the skin both show (lips excluded, they differ on purpose),
so light falling differently across the cheeks does not show as pale bands along the blend.

Given the frame's target aperture, the patch's jaw is first moved part of the way from the
footage's opening to the target (``jaw_follow``): a small database cannot offer every opening, and
the output then follows the speech more closely than the nearest real mouth would.

A patch reaches the frame through two resamplings (footage to patch at build, patch to frame here);
each softens teeth and lips. ``Compositor.calibrate`` measures on the Face's own footage how much
detail the pair loses around the lips and sets the unsharp gain that gives it back (0.1-0.3 on the
clips tried; the footage-source alternative, one resampling straight from the footage frame, kept
less detail on capped large faces and costs a decode per frame).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from facecraft.engine.config import EngineConfig
from facecraft.engine.mouthdb import MouthDB
from facecraft.vision import landmarks as lm
from facecraft.vision.color import SHADING_PX_PER_SIGMA, match_color, shading_offset
from facecraft.vision.masks import border_ramp, feather, feathered_mask, lower_face_polygon
from facecraft.vision.warp import (
    apply_affine,
    compose_affine,
    drop_jaw,
    fit_similarity,
    invert_affine,
    jaw_field,
    moved_jaw_points,
)

__all__ = ["Compositor", "BaseGeometry", "laplacian_variance"]

_MIN_SHIFT_PX = 0.25  # smaller jaw moves are not worth a resampling of the patch
_DETAIL_PAD = 0.5  # the bicubic box reaches this share of the mouth's width beyond both frames' lips
_DETAIL_RAMP_PX = 4.0  # bicubic fades into bilinear over this many pixels (no visible edge)
_RESTORE_SIGMA = 1.0  # patch pixels: the scale of detail two resamplings soften
_MAX_GAIN = 1.5  # the most detail is raised by (beyond, edges ring)
_RUN = 3  # consecutive database entries per calibration sample


class BaseGeometry:
    """Where the canonical patch frame sits in one base frame."""

    def __init__(self, to_patch: np.ndarray, landmarks: np.ndarray) -> None:
        self.to_patch = np.asarray(to_patch, dtype=np.float64)
        self.to_image = invert_affine(self.to_patch)
        self.points = apply_affine(self.to_patch, landmarks)  # base landmarks in patch pixels


class Compositor:
    """Pastes database mouths into frames. ``footage`` (footage frame by index), when given, lets
    ``calibrate`` measure the detail the patches' resamplings lose against the footage itself."""

    def __init__(
        self, db: MouthDB, config: EngineConfig, footage: Callable[[int], np.ndarray] | None = None
    ) -> None:
        self.db = db
        self.config = config
        self.footage = footage
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
        # shading is measured on the patch shrunk to SHADING_PX_PER_SIGMA pixels per sigma
        sigma_px = config.shading_sigma * self.w
        scale = min(1.0, SHADING_PX_PER_SIGMA / max(sigma_px, 1e-3))
        self.small = (max(1, int(round(self.w * scale))), max(1, int(round(self.h * scale))))
        self.small_scale = np.array([self.small[0] / self.w, self.small[1] / self.h])
        self.small_sigma = sigma_px * self.small_scale[0]
        self.small_taper = cv2.resize(self.taper, self.small, interpolation=cv2.INTER_AREA)
        self._smalls: dict[int, np.ndarray] = {}
        self.detail_gain = 0.0  # unsharp amount restoring the patch's resampled detail (``calibrate``)

    def geometry(self, landmarks: np.ndarray) -> BaseGeometry:
        """Geometry of a frame that is not in the footage (dub mode): fit on its stable landmarks."""
        to_units = fit_similarity(landmarks[list(lm.STABLE)], self.template)
        return BaseGeometry(compose_affine(self.canon, to_units), landmarks)

    def footage_geometry(self, index: int, landmarks: np.ndarray) -> BaseGeometry:
        return BaseGeometry(self.db.to_patch[index], landmarks)

    def _polygons(self, points: np.ndarray, base: BaseGeometry) -> tuple[np.ndarray, np.ndarray]:
        """Lower-face polygons (patch frame) of the patch (landmarks ``points``) and of the base frame
        (their chins differ when the jaw moves)."""
        grow = self.config.mask_grow
        return lower_face_polygon(points, grow=grow), lower_face_polygon(base.points, grow=grow)

    def _lower_faces(self, polygons: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Hard masks of the two lower-face ``polygons``."""
        shape = (self.h, self.w)
        return (feathered_mask(shape, [polygons[0]], feather_px=0), feathered_mask(shape, [polygons[1]], feather_px=0))

    def mask(self, mouth: int, base: BaseGeometry, aperture: float | None = None) -> np.ndarray:
        """The blend mask ``compose`` uses: the union of both lower faces, feathered, falling to zero at
        the patch border."""
        shift = self.jaw_shift(mouth, aperture) if aperture is not None else 0.0
        return self._blend_mask(*self._lower_faces(self._polygons(self._jaw_points(mouth, shift), base)))

    def _blend_mask(self, patch_face: np.ndarray, base_face: np.ndarray) -> np.ndarray:
        return feather(np.maximum(patch_face, base_face), self.feather) * self.taper

    def jaw_shift(self, mouth: int, aperture: float) -> float:
        """Pixels (patch frame) to move patch ``mouth``'s lower lip down toward the target ``aperture``:
        ``jaw_follow`` of the difference, opening by at most ``jaw_max_open``, closing by at most 80 %
        of the gap there is (lips do not pass through each other); 0 below a quarter pixel, not worth
        a change."""
        c = self.config
        if c.jaw_follow <= 0.0 or not np.isfinite(aperture):
            return 0.0
        shift = c.jaw_follow * (float(aperture) - float(self.db.features[mouth, 0])) * self.px_per_unit
        gap = max(float(self.gap_px[mouth]), 0.0)
        shift = float(np.clip(shift, -0.8 * gap, c.jaw_max_open * self.px_per_unit))
        return shift if abs(shift) >= _MIN_SHIFT_PX else 0.0

    def _jaw_points(self, mouth: int, shift: float) -> np.ndarray:
        return moved_jaw_points(self.db.points[mouth], shift)

    def compose(
        self, image: np.ndarray, mouth: int, base: BaseGeometry, aperture: float | None = None,
        opacity: float = 1.0,
    ) -> np.ndarray:
        """A copy of ``image`` with database patch ``mouth`` blended into its lower face, its jaw moved
        toward the target ``aperture`` (inter-ocular units) when one is given. ``opacity`` below 1 lets
        the frame's own mouth show through (a switch between the two fades instead of popping).

        The patch is resampled once: the jaw move and the similarity into the frame are one remap of
        the stored patch (each resampling softens teeth and lips), and only the frame's bounding box
        of the patch is touched. The shading match is measured on small copies and added as a smooth
        RGB offset in the same pass."""
        shift = self.jaw_shift(mouth, aperture) if aperture is not None else 0.0
        points = self._jaw_points(mouth, shift)
        polygons = self._polygons(points, base)
        patch_face, base_face = self._lower_faces(polygons)
        mask = self._blend_mask(patch_face, base_face)
        if opacity < 1.0:
            mask = mask * np.float32(max(opacity, 0.0))
        c = self.config
        patch = self.db.patches[mouth]
        offset = None
        if c.color_strength > 0 and c.local_shading:
            offset = self._shading(image, patch, mouth, shift, points, polygons, base)
        elif c.color_strength > 0:
            patch, _ = drop_jaw(patch, self.db.points[mouth], shift)
            shift = 0.0
            reference = cv2.warpAffine(image, base.to_patch, (self.w, self.h), flags=cv2.INTER_LINEAR,
                                       borderMode=cv2.BORDER_REPLICATE)
            patch = match_color(patch, reference, mask * (1.0 - self._lips((self.h, self.w), points, base)),
                                strength=c.color_strength)
        return self._paste(image, patch, mask, base, offset=offset,
                           jaw=(shift, self.db.points[mouth]) if shift else None, detail=points)

    def _lips(self, shape: tuple[int, int], points: np.ndarray, base: BaseGeometry, scale: np.ndarray | None = None
              ) -> np.ndarray:
        """Hard mask of both frames' outer lips (patch frame, or its copy shrunk by ``scale``)."""
        polys = [points[list(lm.LIPS_OUTER)], base.points[list(lm.LIPS_OUTER)]]
        if scale is not None:
            polys = [_to_small(p, scale) for p in polys]
        return feathered_mask(shape, polys, feather_px=0)

    def _shading(
        self, image: np.ndarray, patch: np.ndarray, mouth: int, shift: float, points: np.ndarray,
        polygons: tuple[np.ndarray, np.ndarray], base: BaseGeometry,
    ) -> np.ndarray | None:
        """RGB offset (small patch frame, ``self.small``) that gives the jaw-moved patch the base frame's
        light, measured on the skin both show (lips excluded, they differ on purpose)."""
        c, sc = self.config, self.small_scale
        src = self._small_patch(mouth)
        if shift:
            src, _ = drop_jaw(src, _to_small(self.db.points[mouth], sc), shift * float(sc[1]))
        # the base frame in the patch frame, sampled at twice the small scale and averaged down
        twice = (2 * self.small[0], 2 * self.small[1])
        to_twice = np.diag([2.0 * sc[0], 2.0 * sc[1]]) @ base.to_patch
        to_twice[:, 2] += sc - 0.5
        ref = cv2.warpAffine(image, to_twice, twice, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        ref = cv2.resize(ref, self.small, interpolation=cv2.INTER_AREA)
        shape = (self.small[1], self.small[0])
        faces = [_fill_small(shape, polygon, sc) for polygon in polygons]
        skin = np.minimum(*faces) * self.small_taper * (1.0 - self._lips(shape, points, base, sc))
        return shading_offset(src, ref, skin, sigma_px=self.small_sigma, strength=c.color_strength)

    def _small_patch(self, mouth: int) -> np.ndarray:
        """Database patch ``mouth`` shrunk to the shading scale (kept: the patches never change)."""
        small = self._smalls.get(mouth)
        if small is None:
            small = cv2.resize(self.db.patches[mouth], self.small, interpolation=cv2.INTER_AREA)
            self._smalls[mouth] = small
        return small

    def paste(self, image: np.ndarray, patch: np.ndarray, mask: np.ndarray, base: BaseGeometry) -> np.ndarray:
        """A copy of ``image`` with ``patch`` (patch frame) blended in through ``mask``."""
        return self._paste(image, patch, mask, base)

    def _paste(
        self, image: np.ndarray, patch: np.ndarray, mask: np.ndarray, base: BaseGeometry, *,
        offset: np.ndarray | None = None, jaw: tuple[float, np.ndarray] | None = None,
        detail: np.ndarray | None = None,
    ) -> np.ndarray:
        """``paste`` with a smooth RGB ``offset`` (small patch frame) added to the patch, the jaw move
        ``jaw`` (shift, patch landmarks) folded into the one resampling of the patch, and the patch
        resampled bicubically around the lips of ``detail`` (patch-frame landmarks of the pasted mouth;
        bilinearly elsewhere: skin has little detail to lose, and bicubic costs four times as much).
        The lips' detail is first raised by ``detail_gain`` (``calibrate``)."""
        out = image.copy()
        box = self._box(base, image.shape)
        if box is None:
            return out
        x0, y0, x1, y1 = box
        a = base.to_patch
        xs = np.arange(x0, x1, dtype=np.float32)[None, :]
        ys = np.arange(y0, y1, dtype=np.float32)[:, None]
        mx = (a[0, 0] * xs + a[0, 1] * ys + a[0, 2]).astype(np.float32)  # frame pixel -> patch pixel
        my = (a[1, 0] * xs + a[1, 1] * ys + a[1, 2]).astype(np.float32)
        src_y = my
        if jaw is not None:  # the jaw's move, sampled from its field on the patch grid
            shift, points = jaw
            field = jaw_field(points, shift, (self.h, self.w))
            src_y = my - cv2.remap(field, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        picture = patch
        if offset is not None:
            # the smooth shading offset is added in the patch frame, before the one resampling (it is
            # then read where the jaw's move takes each pixel from: within a fraction of its smoothing)
            picture = cv2.add(patch, cv2.resize(offset, (self.w, self.h), interpolation=cv2.INTER_LINEAR),
                              dtype=cv2.CV_8U)  # saturating, rounded
        if detail is not None and self.detail_gain > 0:
            picture = self._restored(picture if picture is not patch else patch.copy(), detail)
        warped = cv2.remap(picture, mx, src_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if detail is not None:  # bicubic where teeth and lips are (4x the cost of bilinear per pixel)
            dx0, dy0, dx1, dy1 = self._detail_box(detail, base, box)
            if dx1 > dx0 and dy1 > dy0:
                sub = (slice(dy0, dy1), slice(dx0, dx1))
                sharp = cv2.remap(picture, np.ascontiguousarray(mx[sub]), np.ascontiguousarray(src_y[sub]),
                                  cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
                ramp = border_ramp(dy1 - dy0, dx1 - dx0, _DETAIL_RAMP_PX)
                warped[sub] = cv2.blendLinear(sharp, np.ascontiguousarray(warped[sub]), ramp, 1.0 - ramp)
        alpha = cv2.remap(mask, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        out[y0:y1, x0:x1] = cv2.blendLinear(warped, np.ascontiguousarray(out[y0:y1, x0:x1]), alpha, 1.0 - alpha)
        return out

    def _restored(self, picture: np.ndarray, points: np.ndarray) -> np.ndarray:
        """``picture`` (patch frame) with the detail around the lips of ``points`` raised by ``detail_gain``
        (an unsharp mask of ``_RESTORE_SIGMA`` patch pixels): what the patch's two resamplings (footage to
        patch at build, patch to frame now) take, measured on the Face's own footage (``calibrate``)."""
        x0, y0, x1, y1 = self._lip_box(points)
        if x1 - x0 < 3 or y1 - y0 < 3:
            return picture
        region = np.ascontiguousarray(picture[y0:y1, x0:x1])
        soft = cv2.GaussianBlur(region, (0, 0), _RESTORE_SIGMA)
        picture[y0:y1, x0:x1] = cv2.addWeighted(region, 1.0 + self.detail_gain, soft, -self.detail_gain, 0.0)
        return picture

    def _lip_box(self, points: np.ndarray) -> tuple[int, int, int, int]:
        """Patch-frame box (x0, y0, x1, y1) around the lips of ``points`` grown by ``_DETAIL_PAD`` of their
        width, clipped to the patch."""
        lips = points[list(lm.LIPS_OUTER), :2]
        lo, hi = lips.min(0), lips.max(0)
        pad = _DETAIL_PAD * (hi[0] - lo[0])
        x0, y0 = np.floor(lo - pad).astype(int)
        x1, y1 = np.ceil(hi + pad).astype(int)
        return max(0, int(x0)), max(0, int(y0)), min(self.w, int(x1)), min(self.h, int(y1))

    def calibrate(self, samples: int = 12) -> float:
        """Set and return ``detail_gain``: the unsharp amount that gives patches, pasted back into their own
        footage frames (the build's resampling and the paste's), the mouth detail (variance of the
        Laplacian around the lips) the footage shows there. 0 without footage."""
        self.detail_gain = 0.0
        if self.footage is None or len(self.db) == 0:
            return 0.0
        # a few short runs (consecutive footage frames decode cheaply) spread over the database
        starts = np.linspace(0, max(len(self.db) - _RUN, 0), max(1, samples // _RUN)).round().astype(int)
        picks = np.unique(np.clip((starts[:, None] + np.arange(_RUN)[None, :]).ravel(), 0, len(self.db) - 1))
        real, soft, gained = [], [], []
        for m in picks:
            src = int(self.db.src_index[m])
            frame = self.footage(src)
            to_patch = np.asarray(self.db.to_patch[src], dtype=np.float64)
            base = BaseGeometry(to_patch, apply_affine(invert_affine(to_patch), self.db.points[m]))
            box = self._frame_lip_box(base, frame.shape)
            if box is None:
                continue
            x0, y0, x1, y1 = box
            real.append(laplacian_variance(frame[y0:y1, x0:x1]))
            soft.append(laplacian_variance(
                self._paste(frame, self.db.patches[m], self.taper, base, detail=base.points)[y0:y1, x0:x1]))
            self.detail_gain = 1.0
            gained.append(laplacian_variance(
                self._paste(frame, self.db.patches[m], self.taper, base, detail=base.points)[y0:y1, x0:x1]))
            self.detail_gain = 0.0
        if not real or np.mean(soft) <= 0:
            return 0.0
        # the variance grows about quadratically with the gain's share of the detail: solve on sqrt scale
        r, s0, s1 = (float(np.sqrt(np.mean(v))) for v in (real, soft, gained))
        gain = (r - s0) / max(s1 - s0, 1e-6) if s1 > s0 else 0.0
        self.detail_gain = float(np.clip(gain, 0.0, _MAX_GAIN))
        return self.detail_gain

    def _frame_lip_box(self, base: BaseGeometry, shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
        """Frame box of the lips of ``base`` grown by a quarter of their width (where the detail is judged)."""
        lips = apply_affine(base.to_image, base.points[list(lm.LIPS_OUTER), :2])
        lo, hi = lips.min(0), lips.max(0)
        pad = 0.25 * (hi[0] - lo[0])
        h, w = shape[:2]
        x0, y0 = np.floor(lo - pad).astype(int)
        x1, y1 = np.ceil(hi + pad).astype(int)
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        return None if x1 - x0 < 8 or y1 - y0 < 8 else (int(x0), int(y0), int(x1), int(y1))

    def _detail_box(
        self, points: np.ndarray, base: BaseGeometry, box: tuple[int, int, int, int]
    ) -> tuple[int, int, int, int]:
        """Box (x0, y0, x1, y1) relative to ``box`` around both frames' lips (patch ``points`` and the
        base's), grown by half the mouth's width on every side: teeth, lips and the inner mouth."""
        lips = np.vstack([points[list(lm.LIPS_OUTER), :2], base.points[list(lm.LIPS_OUTER), :2]])
        lo, hi = lips.min(0), lips.max(0)
        pad = _DETAIL_PAD * (hi[0] - lo[0])
        corners = np.array([[lo[0] - pad, lo[1] - pad], [hi[0] + pad, lo[1] - pad],
                            [lo[0] - pad, hi[1] + pad], [hi[0] + pad, hi[1] + pad]])
        pts = apply_affine(base.to_image, corners)
        x0, y0, x1, y1 = box
        fx0, fy0 = np.floor(pts.min(0)).astype(int)
        fx1, fy1 = np.ceil(pts.max(0)).astype(int)
        return (max(fx0, x0) - x0, max(fy0, y0) - y0, min(fx1, x1) - x0, min(fy1, y1) - y0)

    def _box(self, base: BaseGeometry, shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
        """The frame's pixel box (x0, y0, x1, y1) the patch covers, None when it falls outside."""
        corners = np.array([[0, 0], [self.w, 0], [0, self.h], [self.w, self.h]], dtype=np.float64)
        pts = apply_affine(base.to_image, corners)
        ih, iw = shape[:2]
        x0, y0 = np.floor(pts.min(0)).astype(int)
        x1, y1 = np.ceil(pts.max(0)).astype(int)
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(iw, x1), min(ih, y1)
        return None if x1 <= x0 or y1 <= y0 else (int(x0), int(y0), int(x1), int(y1))


def laplacian_variance(image: np.ndarray) -> float:
    """Variance of the Laplacian of ``image``'s grey level (RGB uint8): its edge detail."""
    return float(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


def _to_small(points: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Patch-frame points in the pixels of the patch shrunk by ``scale`` (x, y) (pixel centres kept)."""
    return (np.asarray(points, dtype=np.float64)[..., :2] + 0.5) * scale - 0.5


def _fill_small(shape: tuple[int, int], polygon: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Float mask of ``polygon`` (patch frame) drawn anti-aliased into the shrunk patch: the share of
    each small pixel it covers, as shrinking the full-size mask would give."""
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(_to_small(polygon, scale) * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    return mask.astype(np.float32) * np.float32(1.0 / 255.0)
