"""Mesh warps: the pixels follow the points, and nothing outside the anchors moves."""

from __future__ import annotations

import numpy as np

from facecraft.vision.mesh_warp import MeshWarp


def _scene() -> tuple[np.ndarray, np.ndarray]:
    """A textured image and a mesh: a 5x5 grid of points inside a ring of fixed anchors."""
    rng = np.random.default_rng(3)
    image = (rng.random((120, 160, 3)) * 255).astype(np.uint8)
    xs, ys = np.meshgrid(np.linspace(50, 110, 5), np.linspace(30, 90, 5))
    inner = np.column_stack([xs.ravel(), ys.ravel()])
    ring = np.array([[30, 10], [80, 10], [130, 10], [130, 60], [130, 110], [80, 110], [30, 110], [30, 60]], float)
    return image, np.vstack([inner, ring])


def test_points_left_in_place_leave_the_image_as_it_was() -> None:
    image, points = _scene()
    mesh = MeshWarp(image, points, points)
    out = image.copy()
    moved = mesh.moved(points)
    assert not moved.any()
    mesh.warp_into(out, points, np.ones(len(points), dtype=bool))
    assert np.abs(out.astype(int) - image.astype(int)).max() <= 1


def test_a_moved_point_carries_its_pixels_and_the_anchors_hold() -> None:
    image, points = _scene()
    target = points.copy()
    centre = 12  # the middle of the 5x5 grid, at (80, 60)
    target[centre] += (4.0, 0.0)
    mesh = MeshWarp(image, points, points)
    out = image.copy()
    moved = mesh.moved(target)
    assert moved.sum() == 1 and moved[centre]
    mesh.warp_into(out, target, moved)
    assert np.abs(out[60, 84].astype(int) - image[60, 80].astype(int)).max() <= 2  # carried along
    assert (out[:25] == image[:25]).all() and (out[:, :45] == image[:, :45]).all()  # beyond the moved triangles
