"""Warps, masks, colour transfer and the compositor on real footage of the test bundle."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facecraft.vision.color import match_color, match_shading
from facecraft.vision.masks import feathered_mask, lower_face_polygon, mask_edge
from facecraft.vision.warp import (
    apply_affine,
    compose_affine,
    drop_jaw,
    fit_similarity,
    invert_affine,
    normalise_shape,
)


def test_similarity_fit_recovers_a_known_transform() -> None:
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 100, (15, 2))
    angle, scale = 0.3, 1.7
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    mat = np.column_stack([rot, [12.0, -4.0]])
    dst = apply_affine(mat, src)
    fit = fit_similarity(src, dst)
    assert np.allclose(fit, mat, atol=1e-9)
    assert np.allclose(compose_affine(invert_affine(fit), fit)[:, :2], np.eye(2), atol=1e-9)


def test_lower_face_mask_is_feathered_and_covers_lips_and_chin(renderer) -> None:  # noqa: ANN001
    db = renderer.db
    pts = db.points[0]
    w, h = db.size
    mask = feathered_mask((h, w), [lower_face_polygon(pts, grow=0.06)], feather_px=4)
    assert mask.min() >= 0 and mask.max() <= 1
    for idx in (13, 14, 61, 291, 152):  # lips and chin inside the mask
        x, y = np.round(pts[idx]).astype(int)
        assert mask[min(y, h - 1), min(x, w - 1)] > 0.5
    assert mask_edge(mask).any()
    hard = feathered_mask((h, w), [lower_face_polygon(pts, grow=0.06)], feather_px=0)
    for idx in (2, 98, 327):  # the nose base stays the base frame's own: no doubled nostrils
        x, y = np.round(pts[idx]).astype(int)
        assert hard[min(y, h - 1), min(x, w - 1)] == 0
    shape = normalise_shape(renderer.tracks.landmarks[0])
    assert np.allclose(shape[263] - shape[33], [1.0, 0.0], atol=1e-6)


def test_colour_transfer_moves_statistics_toward_the_reference() -> None:
    rng = np.random.default_rng(2)
    src = rng.integers(60, 120, (40, 40, 3)).astype(np.uint8)
    ref = np.clip(src.astype(int) + [40, 20, 0], 0, 255).astype(np.uint8)
    out = match_color(src, ref, np.ones((40, 40), np.float32), strength=1.0)
    assert np.abs(out.mean((0, 1)) - ref.mean((0, 1))).max() < np.abs(src.mean((0, 1)) - ref.mean((0, 1))).max() / 3


def test_shading_match_follows_the_references_light_and_keeps_the_sources_detail() -> None:
    """Light falling off across the reference (a head turned to the lamp) is matched locally."""
    h, w = 60, 80
    yy, xx = np.mgrid[0:h, 0:w]
    detail = np.where((xx // 4 + yy // 4) % 2 == 0, 8, -8)  # fine texture the source must keep
    src = np.clip(120 + detail[..., None] + np.zeros(3), 0, 255).astype(np.uint8)
    ramp = 50.0 * xx / (w - 1) - 25.0  # reference: darker on the left, brighter on the right
    ref = np.clip(120 + ramp[..., None] + np.zeros(3), 0, 255).astype(np.uint8)
    weight = np.ones((h, w), np.float32)
    weight[20:40, 30:50] = 0.0  # a "mouth" the shading is not measured on
    out = match_shading(src, ref, weight, sigma_px=6.0).astype(float)
    col = out.mean((0, 2))
    ref_col = ref.astype(float).mean((0, 2))
    assert np.abs(col - ref_col)[8:-8].max() < 8, "the light ramp is followed across the patch"
    assert abs(out[30, 40].mean() - ref[30, 40].mean()) < 10, "and bridged over the unweighted middle"
    fine = out[..., 0] - cv2.GaussianBlur(out[..., 0], (0, 0), 3.0)
    assert np.std(fine[8:-8, 8:-8]) > 0.6 * np.std(detail), "the texture survives"
    assert np.array_equal(match_shading(src, ref, np.zeros((h, w), np.float32), sigma_px=6.0), src)


def test_pasting_a_frames_own_mouth_back_changes_almost_nothing(renderer) -> None:  # noqa: ANN001
    db = renderer.db
    k = len(db) // 2
    index = int(db.src_index[k])
    image = renderer.footage.get(index)
    geo = renderer.geometry(index)
    out = renderer.compositor.compose(image, k, geo)
    diff = np.abs(out.astype(np.int16) - image.astype(np.int16))
    assert diff.mean() < 1.5 and np.percentile(diff, 99) < 40
    other = int(np.argmax(np.abs(db.features[:, 0] - db.features[k, 0])))
    changed = renderer.compositor.compose(image, other, geo)
    assert np.abs(changed.astype(np.int16) - image.astype(np.int16)).mean() > diff.mean()



def test_opacity_blends_a_patch_with_the_frames_own_mouth(renderer) -> None:  # noqa: ANN001
    db, comp = renderer.db, renderer.compositor
    k = len(db) // 3
    index = int(db.src_index[len(db) - 1 - k])
    image, geo = renderer.footage.get(index), renderer.geometry(index)
    full = comp.compose(image, k, geo).astype(np.float32)
    half = comp.compose(image, k, geo, opacity=0.5).astype(np.float32)
    none = comp.compose(image, k, geo, opacity=0.0)
    assert np.array_equal(none, image)
    changed = np.abs(full - image) > 8
    assert changed.sum() > 100
    expected = (full + image.astype(np.float32)) / 2
    assert np.abs(half - expected)[changed].max() <= 1.5

def _mouth_points(upper: float, lower: float, chin: float = 150.0) -> np.ndarray:
    """A 478-point face whose mouth spans x 70..130 (centre 100), lips apart from ``upper`` to ``lower``."""
    pts = np.full((478, 2), -1000.0)
    for a, b in ((82, 87), (13, 14), (312, 317)):
        pts[a], pts[b] = (100.0, upper), (100.0, lower)
    pts[61], pts[291], pts[152] = (70.0, (upper + lower) / 2), (130.0, (upper + lower) / 2), (100.0, chin)
    return pts


def test_jaw_drop_moves_lower_lip_and_chin_and_leaves_the_rest() -> None:
    image = np.full((200, 200, 3), 200, np.uint8)
    image[112:114, 90:111] = 20  # a dark line on the lower lip
    image[95:97, 90:111] = 60  # and one on the upper lip
    pts = _mouth_points(100.0, 110.0)
    for shift in (6.0, -4.0):
        out, moved = drop_jaw(image, pts, shift)
        rows = np.flatnonzero(out[:, 100, 0] < 40)
        assert abs(rows.mean() - (112.5 + shift)) < 0.6, (shift, rows)
        assert np.array_equal(out[:98], image[:98]), "the upper lip stays"
        assert np.array_equal(out[191:], image[191:]), "below the chin the move has faded out"
        assert np.array_equal(out[:, :30], image[:, :30]), "and toward the cheeks"
        assert moved[14, 1] == pytest.approx(110.0 + shift) and moved[152, 1] == pytest.approx(150.0 + shift)
        assert moved[13, 1] == pytest.approx(100.0)
    same, kept = drop_jaw(image, pts, 0.0)
    assert same is image and np.array_equal(kept, pts)


def test_jaw_drop_on_a_thin_gap_never_folds_the_image() -> None:
    """Opening lips that nearly touch stretches the gap; no row is shown twice or upside down."""
    ramp = np.repeat(np.repeat(np.arange(200, dtype=np.uint8)[:, None], 200, axis=1)[..., None], 3, axis=2)
    out, _ = drop_jaw(ramp, _mouth_points(100.0, 101.0), 10.0)
    assert np.all(np.diff(out[:, 100, 0].astype(int)) >= 0)
    assert out[111, 100, 0] <= 103, "the lower lip's rows reach 10 px further down"


def _tracked_aperture(renderer, image: np.ndarray) -> float:  # noqa: ANN001
    from facecraft.media import Frame
    from facecraft.vision import track_frames

    h, w = image.shape[:2]
    tracks = track_frames([Frame(0, 0.0, image)], fps=renderer.fps, width=w, height=h)
    assert tracks.present[0]
    return float(tracks.aperture[0])


def test_a_target_aperture_opens_or_closes_the_tracked_mouth(renderer) -> None:  # noqa: ANN001
    """The tracker, run on the composite, sees the jaw move part of the way toward the target."""
    db, comp = renderer.db, renderer.compositor
    ap = db.features[:, 0]
    mid = int(np.argmin(np.abs(ap - np.percentile(ap, 75))))  # a patch with the lips well apart
    index = int(db.src_index[mid])
    image, geo = renderer.footage.get(index), renderer.geometry(index)
    span = renderer.priors.open - renderer.priors.closed
    as_is = _tracked_aperture(renderer, comp.compose(image, mid, geo))
    wider = _tracked_aperture(renderer, comp.compose(image, mid, geo, float(ap[mid] + span)))
    narrower = _tracked_aperture(renderer, comp.compose(image, mid, geo, float(renderer.priors.closed)))
    assert narrower < as_is - 0.1 * span and wider > as_is + 0.1 * span, (narrower, as_is, wider, span)
    assert comp.jaw_shift(mid, float("nan")) == 0.0
    assert comp.jaw_shift(mid, -1.0) >= -0.8 * comp.gap_px[mid], "lips never pass through each other"


def test_one_pass_compose_matches_the_step_by_step_pipeline_and_keeps_the_mouth_sharp(renderer) -> None:  # noqa: ANN001
    """The compositor folds the jaw move, the shading match and the paste into one resampling of the
    patch; the result is what moving the jaw, matching the shading and pasting one after the other
    gives (each step on its own, as the vision helpers do them), and the mouth is no softer."""
    db, comp, c = renderer.db, renderer.compositor, renderer.config
    ap = db.features[:, 0]
    k = int(np.argmin(np.abs(ap - np.percentile(ap, 60))))
    index = int(db.src_index[(k + len(db) // 2) % len(db)])
    image, geo = renderer.footage.get(index), renderer.geometry(index)
    target = float(ap[k] + 0.5 * (renderer.priors.open - renderer.priors.closed))
    shift = comp.jaw_shift(k, target)
    assert shift != 0.0
    fast = comp.compose(image, k, geo, target)

    patch, points = drop_jaw(db.patches[k], db.points[k], shift)
    faces = comp._lower_faces(comp._polygons(points, geo))
    mask = comp._blend_mask(*faces)
    reference = cv2.warpAffine(image, geo.to_patch, (comp.w, comp.h), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
    skin = np.minimum(*faces) * comp.taper * (1.0 - comp._lips((comp.h, comp.w), points, geo))
    patch = match_shading(patch, reference, skin, sigma_px=c.shading_sigma * comp.w, strength=c.color_strength)
    slow = comp.paste(image, patch, mask, geo)

    x0, y0, x1, y1 = comp._box(geo, image.shape)
    diff = np.abs(fast.astype(np.int16) - slow.astype(np.int16))[y0:y1, x0:x1]
    assert diff.mean() < 1.5 and np.percentile(diff, 99) < 16, (diff.mean(), np.percentile(diff, 99))
    lips = apply_affine(geo.to_image, points[[61, 291, 0, 17]])
    (mx0, my0), (mx1, my1) = np.floor(lips.min(0)).astype(int), np.ceil(lips.max(0)).astype(int)

    def sharpness(img: np.ndarray) -> float:
        grey = cv2.cvtColor(img[my0:my1, mx0:mx1], cv2.COLOR_RGB2GRAY)
        return float(cv2.Laplacian(grey, cv2.CV_64F).var())

    assert sharpness(fast) >= 0.97 * sharpness(slow), (sharpness(fast), sharpness(slow))


def test_shading_offset_is_empty_without_weight_and_follows_a_uniform_change() -> None:
    from facecraft.vision.color import shading_offset

    src = np.full((20, 30, 3), 100, np.uint8)
    ref = np.full((20, 30, 3), 110, np.uint8)
    assert shading_offset(src, ref, np.zeros((20, 30), np.float32), sigma_px=3.0) is None
    assert shading_offset(src, ref, np.ones((20, 30), np.float32), sigma_px=3.0, strength=0.0) is None
    offset = shading_offset(src, ref, np.ones((20, 30), np.float32), sigma_px=3.0)
    assert offset.shape == (20, 30, 3) and np.allclose(offset, 10.0, atol=0.6)
    half = shading_offset(src, ref, np.ones((20, 30), np.float32), sigma_px=3.0, strength=0.5)
    assert np.allclose(half, 5.0, atol=0.6)


def test_calibrated_detail_gain_restores_the_footages_own_mouth_detail(renderer) -> None:  # noqa: ANN001
    """A patch pasted back into its own footage frame has lost detail to two resamplings (footage to patch,
    patch to frame); the calibrated gain gives back about what the footage shows, without overshooting."""
    db, comp = renderer.db, renderer.compositor
    gain = comp.calibrate()
    assert 0.0 < gain <= 1.5, gain
    errors = {}
    for label, g in (("without", 0.0), ("with", gain)):
        comp.detail_gain = g
        ratios = []
        for k in np.linspace(0, len(db) - 1, 8).round().astype(int):
            index = int(db.src_index[k])
            image, geo = renderer.footage.get(index), renderer.geometry(index)
            box = comp._frame_lip_box(geo, image.shape)
            out = comp.compose(image, int(k), geo)
            ratios.append(_lip_detail(out, box) / _lip_detail(image, box))
        errors[label] = float(np.mean(ratios))
    comp.detail_gain = gain
    assert errors["without"] < 0.95, errors
    assert abs(errors["with"] - 1.0) < abs(errors["without"] - 1.0), errors
    assert errors["with"] < 1.25, errors


def _lip_detail(image: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """Variance of the Laplacian in ``box`` (x0, y0, x1, y1) of ``image``."""
    x0, y0, x1, y1 = box
    grey = cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())
