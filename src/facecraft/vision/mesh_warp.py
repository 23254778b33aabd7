"""Mesh warps of a face image: move its landmarks, and the pixels follow.

A face's 468 mesh points plus a ring of fixed anchors outside the face oval are triangulated once;
moving the points to new positions warps each triangle of the image by its own affine map
(piecewise-affine), so the face changes shape while everything beyond the ring stays put. The photo
Face builder uses it to give a still photo its mouth shapes and blinks; emotion uses it to move
brows, lids, mouth corners and cheeks. ``head_mask``/``head_motion`` move the whole head by a small
similarity inside a feathered head mask (the background stays where it is).
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import Delaunay

from facecraft.vision import landmarks as lm
from facecraft.vision.warp import apply_affine, invert_affine

__all__ = ["MeshWarp", "anchor_ring", "head_mask", "head_motion", "MESH_POINTS"]

MESH_POINTS = 468  # the face mesh proper (the iris points are left out of the warp)
_RING_SCALE = 1.3  # the anchors sit this far out from the face oval's centre


def anchor_ring(units: np.ndarray, from_units: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Pixel positions of fixed anchors outside the face oval (``units``: mesh points in a face frame,
    ``from_units`` its map back to pixels), clipped to the image: the warp ends inside them."""
    oval = units[list(lm.FACE_OVAL)]
    centre = oval.mean(0)
    ring = centre + (oval - centre) * _RING_SCALE
    h, w = shape[:2]
    return np.clip(apply_affine(from_units, ring), 0, [w - 1, h - 1])


class MeshWarp:
    """Piecewise-affine warp of ``image`` from ``source`` points (mesh points and anchors, pixels).

    ``reference`` (same layout) is the shape to triangulate on: choose one with the mouth and eyes
    open, so that no triangle spans the lips or the lids in any shape the points later take.
    """

    def __init__(self, image: np.ndarray, source: np.ndarray, reference: np.ndarray) -> None:
        self.image = image
        self.source = np.asarray(source, dtype=np.float64)
        self.tris = Delaunay(np.asarray(reference, dtype=np.float64)).simplices.astype(np.int32)
        h, w = image.shape[:2]
        x0, y0 = np.floor(self.source.min(0)).astype(int)
        x1, y1 = np.ceil(self.source.max(0)).astype(int)
        self.roi = (max(0, x0), max(0, y0), min(w, x1 + 1), min(h, y1 + 1))
        gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        rx0, ry0, rx1, ry1 = self.roi
        self._roi_grid = (gx[ry0:ry1, rx0:rx1].copy(), gy[ry0:ry1, rx0:rx1].copy())

    def moved(self, target: np.ndarray, tolerance_px: float = 0.05) -> np.ndarray:
        """(N,) whether each point of ``target`` lies away from its source position."""
        return np.abs(np.asarray(target) - self.source).max(1) > tolerance_px

    def warp_into(self, out: np.ndarray, target: np.ndarray, moved: np.ndarray) -> None:
        """Write into ``out`` (same size as the image) the image warped so that its points land on
        ``target``; only triangles with a ``moved`` corner are redrawn, inside the mesh's box."""
        rx0, ry0, rx1, ry1 = self.roi
        tris = self.tris[moved[self.tris].any(1)]
        d = target[tris]  # (T, 3, 2)
        s = self.source[tris]
        area = ((d[:, 1, 0] - d[:, 0, 0]) * (d[:, 2, 1] - d[:, 0, 1])
                - (d[:, 2, 0] - d[:, 0, 0]) * (d[:, 1, 1] - d[:, 0, 1]))
        ok = np.abs(area) > 1e-3
        tris, d, s = tris[ok], d[ok], s[ok]
        if not len(tris):
            return
        ones = np.ones((len(tris), 3, 1))
        dh = np.concatenate([d, ones], axis=2)  # (T, 3, 3)
        mats = np.linalg.solve(dh, s)  # (T, 3, 2): [x y 1] @ M = source
        labels = np.zeros((ry1 - ry0, rx1 - rx0), np.uint16)
        off = np.array([rx0, ry0])
        for k, poly in enumerate(np.round(d - off).astype(np.int32)):
            cv2.fillConvexPoly(labels, poly, k + 1)
        inside = labels > 0
        if not inside.any():
            return
        gx, gy = self._roi_grid
        m = mats[labels[inside].astype(np.int64) - 1]  # (P, 3, 2)
        px, py = gx[inside], gy[inside]
        mapx, mapy = gx.copy(), gy.copy()
        mapx[inside] = px * m[:, 0, 0] + py * m[:, 1, 0] + m[:, 2, 0]
        mapy[inside] = px * m[:, 0, 1] + py * m[:, 1, 1] + m[:, 2, 1]
        out[ry0:ry1, rx0:rx1] = cv2.remap(self.image, mapx, mapy, cv2.INTER_LINEAR,
                                          borderMode=cv2.BORDER_REPLICATE)


def head_mask(landmarks: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Float mask, 1 on the head (face, hair, ears), feathered into the neck and background."""
    h, w = shape[:2]
    oval = landmarks[list(lm.FACE_OVAL), :2]
    (x0, y0), (x1, y1) = oval.min(0), oval.max(0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 - 0.08 * (y1 - y0)
    axes = (int(0.5 * (x1 - x0) * 1.35), int(0.5 * (y1 - y0) * 1.4))
    mask = np.zeros((h, w), np.float32)
    cv2.ellipse(mask, (int(cx), int(cy)), axes, 0, 0, 360, 1.0, -1)
    return cv2.GaussianBlur(mask, (0, 0), max(2.0, 0.25 * (x1 - x0)))


def head_motion(
    image: np.ndarray, mask: np.ndarray, grid: tuple[np.ndarray, np.ndarray], pivot: np.ndarray,
    angle_deg: float, shift_px: np.ndarray, scale: float,
) -> np.ndarray:
    """``image`` with the head (``mask``) rotated by ``angle_deg`` and scaled about ``pivot`` and shifted by
    ``shift_px``, blended into the still background; ``grid`` is the image's pixel grid (x, y)."""
    t = np.radians(angle_deg)
    c, s = np.cos(t) * scale, np.sin(t) * scale
    fwd = np.array([[c, -s, 0.0], [s, c, 0.0]])
    fwd[:, 2] = pivot - fwd[:, :2] @ pivot + shift_px
    inv = invert_affine(fwd)
    gx, gy = grid
    bx = (inv[0, 0] * gx + inv[0, 1] * gy + inv[0, 2]).astype(np.float32)
    by = (inv[1, 0] * gx + inv[1, 1] * gy + inv[1, 2]).astype(np.float32)
    mapx = gx + mask * (bx - gx)
    mapy = gy + mask * (by - gy)
    return cv2.remap(image, mapx, mapy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
