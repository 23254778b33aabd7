"""Smooth landmark-driven warps: a few points move, the skin around them follows, the background holds.

Displacements are given at control points: some move, the others are pins that hold their place.
The displacement field between them (``gaussian_field``) is a normalised Gaussian blend: each
control point's displacement weighted by its kernel, plus a zero-displacement background weight, so
the field never exceeds the displacements given and dies away from every control point. It is
sampled once on a grid in a face's own frame (``Field``); fields add and scale, so expressions made
of several moves are sums of precomputed fields.

``warp_image`` applies a field to one image: the field's frame is placed on the face by a
similarity, cut to zero beyond an ellipse (the face) with a smooth fall-off, optionally followed by a
head move (a small similarity blended by a feathered ellipse over the head and hair, the neck and
background staying). It is evaluated on a coarse grid of the region that moves, inverted by
fixed-point steps (``remap`` needs, for each output pixel, where it comes from), interpolated to
pixels and applied by one ``cv2.remap`` of that region only: the cost per frame is small and does
not grow with the image.

A mesh (``vision.mesh_warp``) moves every triangle exactly; a field suits moves that must look like
skin (brows, lids, cheeks, mouth corners) and keeps whatever touches touching: two points close
together move alike, so closed lips stay closed and a blink stays a blink.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facecraft.vision.warp import invert_affine

__all__ = ["Ellipse", "Field", "HeadMove", "gaussian_field", "warp_image", "warp_maps"]

INVERT_STEPS = 4  # fixed-point steps inverting a field: 2 leave strong brow raises doubled


@dataclass(frozen=True)
class Ellipse:
    """A feathered ellipse (pixels): weight 1 within ``inner`` times the axes, 0 beyond ``outer`` times."""

    centre: tuple[float, float]
    axes: tuple[float, float]  # semi-axes along the ellipse's own x and y
    angle: float = 0.0  # radians, of its x axis against the image's
    inner: float = 1.0
    outer: float = 1.3

    def radius(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Normalised elliptic radius (1 on the ellipse) of the points ``(x, y)``."""
        c, s = np.cos(self.angle), np.sin(self.angle)
        dx, dy = x - self.centre[0], y - self.centre[1]
        u = (c * dx + s * dy) / max(self.axes[0], 1e-6)
        v = (-s * dx + c * dy) / max(self.axes[1], 1e-6)
        return np.sqrt(u * u + v * v)

    def weight(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        t = np.clip((self.outer - self.radius(x, y)) / max(self.outer - self.inner, 1e-6), 0.0, 1.0)
        return (t * t * (3.0 - 2.0 * t)).astype(np.float32)

    def box(self) -> tuple[float, float, float, float]:
        """x0, y0, x1, y1 of the outer ellipse's bounding box."""
        c, s = np.cos(self.angle), np.sin(self.angle)
        a, b = self.axes[0] * self.outer, self.axes[1] * self.outer
        hw = float(np.hypot(a * c, b * s))
        hh = float(np.hypot(a * s, b * c))
        return self.centre[0] - hw, self.centre[1] - hh, self.centre[0] + hw, self.centre[1] + hh


@dataclass(frozen=True)
class Field:
    """A displacement field sampled on a regular grid: point ``(x0 + i*step, y0 + j*step)`` moves by
    ``(dx[j, i], dy[j, i])`` (same units as the grid). Zero outside the grid."""

    origin: tuple[float, float]
    step: float
    dx: np.ndarray  # (ny, nx) float32
    dy: np.ndarray

    def scaled(self, k: float) -> Field:
        return Field(self.origin, self.step, self.dx * np.float32(k), self.dy * np.float32(k))

    def __add__(self, other: Field) -> Field:
        if other.origin != self.origin or other.step != self.step or other.dx.shape != self.dx.shape:
            raise ValueError("fields on different grids cannot be added")
        return Field(self.origin, self.step, self.dx + other.dx, self.dy + other.dy)

    @property
    def peak(self) -> float:
        """Largest displacement anywhere."""
        return float(np.sqrt(self.dx**2 + self.dy**2).max()) if self.dx.size else 0.0

    def sample(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bilinear displacement at the points ``(x, y)`` (float32 arrays of any shape)."""
        u = ((x - np.float32(self.origin[0])) / np.float32(self.step)).astype(np.float32)
        v = ((y - np.float32(self.origin[1])) / np.float32(self.step)).astype(np.float32)
        shape = u.shape
        u2, v2 = u.reshape(1, -1), v.reshape(1, -1)
        dx = cv2.remap(self.dx, u2, v2, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        dy = cv2.remap(self.dy, u2, v2, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return dx.reshape(shape), dy.reshape(shape)


def gaussian_field(
    points: np.ndarray, moves: np.ndarray, sigma: np.ndarray, *, box: tuple[float, float, float, float],
    step: float, background: float = 0.05,
) -> Field:
    """The normalised Gaussian blend of control ``points`` (K, 2) moving by ``moves`` (K, 2) with kernel
    widths ``sigma`` (K,), sampled every ``step`` over ``box`` (x0, y0, x1, y1). ``background`` is the
    weight of "no move" against one kernel at its centre (0.05: a lone point moves 95 % of its move)."""
    x0, y0, x1, y1 = box
    nx = int(np.ceil((x1 - x0) / step)) + 1
    ny = int(np.ceil((y1 - y0) / step)) + 1
    gx, gy = np.meshgrid(x0 + np.arange(nx) * step, y0 + np.arange(ny) * step)
    q = np.column_stack([gx.ravel(), gy.ravel()])
    dx = np.zeros(len(q))
    dy = np.zeros(len(q))
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    mv = np.asarray(moves, dtype=np.float64).reshape(-1, 2)
    inv = -0.5 / np.maximum(np.asarray(sigma, dtype=np.float64).reshape(-1), 1e-9) ** 2
    for a in range(0, len(q), 4096):  # bounded memory
        d2 = ((q[a:a + 4096, None, :] - pts[None, :, :]) ** 2).sum(-1)
        w = np.exp(d2 * inv[None, :])
        total = w.sum(1) + background
        dx[a:a + 4096] = (w @ mv[:, 0]) / total
        dy[a:a + 4096] = (w @ mv[:, 1]) / total
    return Field((float(x0), float(y0)), float(step), dx.reshape(ny, nx).astype(np.float32),
                 dy.reshape(ny, nx).astype(np.float32))


@dataclass(frozen=True)
class HeadMove:
    """A similarity (2x3, pixels to pixels) applied to the head inside ``mask``; the rest stays."""

    matrix: np.ndarray
    mask: Ellipse


def warp_maps(
    shape: tuple[int, ...], field: Field | None, to_pixels: np.ndarray, support: Ellipse, *,
    head: HeadMove | None = None, grid_px: float = 6.0,
) -> tuple[tuple[int, int, int, int], np.ndarray, np.ndarray] | None:
    """The region that moves ``(x0, y0, x1, y1)`` and, for each of its pixels, where it comes from (x and
    y maps, float32, absolute); None when nothing moves. ``field`` is in the frame that ``to_pixels``
    (a 2x3 similarity) maps to the image's pixels; ``support`` (pixels) cuts it off."""
    if field is None and head is None:
        return None
    h, w = shape[:2]
    boxes = ([support.box()] if field is not None else []) + ([head.mask.box()] if head is not None else [])
    x0 = max(0, int(np.floor(min(b[0] for b in boxes))))
    y0 = max(0, int(np.floor(min(b[1] for b in boxes))))
    x1 = min(w, int(np.ceil(max(b[2] for b in boxes))) + 1)
    y1 = min(h, int(np.ceil(max(b[3] for b in boxes))) + 1)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    step = max(1.0, float(grid_px))
    nx = int(np.ceil((x1 - 1 - x0) / step)) + 1
    ny = int(np.ceil((y1 - 1 - y0) / step)) + 1
    gx, gy = np.meshgrid(x0 + np.arange(nx, dtype=np.float32) * np.float32(step),
                         y0 + np.arange(ny, dtype=np.float32) * np.float32(step))
    sx, sy = gx, gy
    if head is not None:  # the head move comes last: undo it first
        inv = invert_affine(np.asarray(head.matrix, dtype=np.float64))
        bx = inv[0, 0] * gx + inv[0, 1] * gy + inv[0, 2]
        by = inv[1, 0] * gx + inv[1, 1] * gy + inv[1, 2]
        m = head.mask.weight(gx, gy)
        sx = (gx + m * (bx - gx)).astype(np.float32)
        sy = (gy + m * (by - gy)).astype(np.float32)
    if field is not None:
        # the expression moves p to p + d(p); the source of q solves s + d(s) = q (fixed-point steps)
        back = invert_affine(np.asarray(to_pixels, dtype=np.float64))
        lin = np.asarray(to_pixels, dtype=np.float64)[:, :2]
        qx, qy = sx, sy
        ex, ey = qx, qy
        for _ in range(INVERT_STEPS):
            ux = (back[0, 0] * ex + back[0, 1] * ey + back[0, 2]).astype(np.float32)
            uy = (back[1, 0] * ex + back[1, 1] * ey + back[1, 2]).astype(np.float32)
            fx, fy = field.sample(ux, uy)
            fall = support.weight(ex, ey)
            dx = (lin[0, 0] * fx + lin[0, 1] * fy) * fall
            dy = (lin[1, 0] * fx + lin[1, 1] * fy) * fall
            ex, ey = (qx - dx).astype(np.float32), (qy - dy).astype(np.float32)
        sx, sy = ex, ey
    u = ((np.arange(x0, x1, dtype=np.float32) - x0) / np.float32(step))[None, :]
    v = ((np.arange(y0, y1, dtype=np.float32) - y0) / np.float32(step))[:, None]
    ux_full = np.ascontiguousarray(np.broadcast_to(u, (y1 - y0, x1 - x0)))
    vy_full = np.ascontiguousarray(np.broadcast_to(v, (y1 - y0, x1 - x0)))
    map_x = cv2.remap(np.ascontiguousarray(sx, dtype=np.float32), ux_full, vy_full, cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REPLICATE)
    map_y = cv2.remap(np.ascontiguousarray(sy, dtype=np.float32), ux_full, vy_full, cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REPLICATE)
    return (x0, y0, x1, y1), map_x, map_y


def warp_image(
    image: np.ndarray, field: Field | None, to_pixels: np.ndarray, support: Ellipse, *,
    head: HeadMove | None = None, grid_px: float = 6.0,
) -> np.ndarray:
    """``image`` with ``field`` applied inside ``support`` and the head moved by ``head`` (see
    ``warp_maps``); a new array, or ``image`` itself when nothing moves."""
    found = warp_maps(image.shape, field, to_pixels, support, head=head, grid_px=grid_px)
    if found is None:
        return image
    (x0, y0, x1, y1), map_x, map_y = found
    out = image.copy()
    out[y0:y1, x0:x1] = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out
