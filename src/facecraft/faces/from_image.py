"""Build a Face from one photo: synthesise training footage from it, then run the normal build steps.

A photo has no motion, no mouth shapes and no voice. We make them, classically and on the CPU:

* **Speech**: the chosen stock voice (``speech.voices``) reads a short passage that covers every viseme.
  Its audio becomes the Face's voice clip, and its phone timings drive the mouth.
* **Mouth**: per frame the viseme's expected lip shape (``speech.visemes.VISEME_SHAPES``: opening,
  width, rounding, closure) moves the photo's lip, jaw and chin landmarks; a piecewise-affine warp
  over the face mesh (Delaunay on a mouth-open reference, so no triangle spans the lips) carries the
  pixels along, and the inner-lip region gets a mouth interior that follows the opening: a dark cavity,
  the tongue on the floor of an open mouth, upper teeth (separate incisors) and, wider open, lower
  teeth, coloured from the photo's own lips and teeth.
* **Eyes and head**: blinks warp the upper lids down onto the lower ones; a slow, smooth similarity
  (small rotation, shift and scale about the neck) moves the head inside a feathered head mask, so
  the background stays where it is.

The footage is a speaking part (the passage) followed by a listening part (lips closed). It goes
through the same steps as a training video (``faces.build``: tracking and re-encoding, thumbnail,
mouth database, motion graph), with the speaking/listening states and the phones known rather than
guessed from audio. The bundle's report is the photo's upload checks; its manifest records the
source kind ``image`` and the stock voice.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from facecraft import __version__
from facecraft.audio import frame_rms
from facecraft.engine.mouthdb import frame_visemes
from facecraft.errors import InputError, VisionError
from facecraft.faces import bundle as fb
from facecraft.faces.analyze import analyze, segments
from facecraft.faces.artefacts import step_motion, step_mouths
from facecraft.faces.build import (
    VOICE_RATE,
    BuildContext,
    BuildStep,
    ChecksFailed,
    StepTime,
    run_build,
    step_footage,
    step_thumbnail,
    step_voice,
)
from facecraft.faces.checks import check_image
from facecraft.faces.types import CheckReport
from facecraft.media.types import Frame, MediaInfo, VideoStreamInfo
from facecraft.speech.types import Phone, Segment
from facecraft.speech.visemes import VISEME_SHAPES, VISEMES, phone_to_viseme
from facecraft.speech.voices import DEFAULT_VOICE_ID, StockVoice, get_voice, voice_available
from facecraft.vision import landmarks as lm
from facecraft.vision.mesh_warp import MESH_POINTS, MeshWarp, anchor_ring, head_mask, head_motion
from facecraft.vision.types import N_LANDMARKS
from facecraft.vision.warp import apply_affine, eye_frame, invert_affine

__all__ = [
    "DEFAULT_VOICE_NAME",
    "SCRIPT",
    "PhotoParams",
    "resolve_voice",
    "reframe",
    "FaceSynth",
    "build_face_from_image",
]

log = logging.getLogger(__name__)

# A photo Face speaks with a stock voice (``speech.voices``), the default unless the request names one.
DEFAULT_VOICE_NAME = DEFAULT_VOICE_ID

# Read by the stock voice in the speaking part: every one of the 15 visemes, several times.
SCRIPT = (
    "Hi there, it's good to see you. Maybe we could talk about food, the weather, or your favourite shows. "
    "Think of a question, then ask me anything you wish, and I will do my very best to help."
)

FPS = 25.0
MAX_SIDE = 720  # long side of the synthesised footage
A_MAX = 0.28  # inner-lip opening (inter-ocular units) of the widest viseme ("aa")


@dataclass(frozen=True)
class PhotoParams:
    """Knobs of the synthesis (times in seconds; distances in inter-ocular units, angles in degrees)."""

    lead_s: float = 0.4  # lips closed before the speech starts
    listening_s: float = 9.0  # closed-lip listening part after the speech
    head_angle_deg: float = 1.6
    head_shift_iod: float = 0.035
    head_scale: float = 0.008
    speaking_motion: float = 1.4  # motion amplitude while speaking, relative to listening
    blink_every_s: tuple[float, float] = (2.2, 4.8)
    seed: int = 7


def resolve_voice(voice: str | None) -> StockVoice:
    """The stock voice an API/CLI voice name (id or alias) means; InputError listing the voices for an
    unknown one, or naming what is missing for one this machine cannot speak with."""
    chosen = get_voice(voice)
    if not voice_available(chosen):
        raise InputError(f"the voice {chosen.voice_id} needs Debian's flite, which is not installed here "
                         "(scripts/system_deps.sh installs it)")
    return chosen


# --- the photo ------------------------------------------------------------------------------


def _track_one(image: np.ndarray) -> np.ndarray | None:
    """Landmarks (478, 3) of the primary face in a still image, or None."""
    from facecraft import vision

    tracks = vision.track_image(image)
    if not len(tracks) or not bool(tracks.present[0]):
        return None
    return np.asarray(tracks.landmarks[0], dtype=np.float64)


def reframe(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Auto-fix: a square head-and-shoulders framing around the face.

    The face (its oval) should take about 45% of the side, never more than 60%; the square is cut
    from the photo where it fits (slid to stay inside it) and padded with a wide blur of the
    photo's edge colours only where the photo is too small for it.
    """
    oval = landmarks[list(lm.FACE_OVAL), :2]
    (x0, y0), (x1, y1) = oval.min(0), oval.max(0)
    face_h = max(y1 - y0, 1.0)
    h, w = image.shape[:2]
    side = int(round(max(min(face_h / 0.45, min(h, w)), face_h / 0.6)))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 + 0.08 * side
    left, top = int(round(cx - side / 2)), int(round(cy - side / 2))
    if side <= w:
        left = min(max(left, 0), w - side)
    if side <= h:
        top = min(max(top, 0), h - side)
    pad = max(0, -left, -top, left + side - w, top + side - h)
    if pad:
        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        # The edge colours, smeared wide, read as an out-of-focus background.
        blurred = cv2.GaussianBlur(image, (0, 0), max(3.0, side / 10))
        mask = np.ones(image.shape[:2], np.float32)
        mask[pad:pad + h, pad:pad + w] = 0.0
        mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, side / 100))[..., None]
        image = (image * (1 - mask) + blurred * mask).astype(np.uint8)
    return np.ascontiguousarray(image[top + pad: top + pad + side, left + pad: left + pad + side])


def _fit_size(image: np.ndarray) -> np.ndarray:
    """At most MAX_SIDE on the long side, even dimensions (the footage is yuv420p)."""
    h, w = image.shape[:2]
    scale = min(1.0, MAX_SIDE / max(h, w))
    if scale < 1.0:
        size = (int(round(w * scale)), int(round(h * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    h, w = image.shape[:2]
    return np.ascontiguousarray(image[: h & ~1, : w & ~1])


# --- the face model -------------------------------------------------------------------------

# Upper/lower eyelid points, paired from the outer corner to the inner one.
_RIGHT_UPPER = (246, 161, 160, 159, 158, 157, 173)
_RIGHT_LOWER = (7, 163, 144, 145, 153, 154, 155)
_LEFT_UPPER = (466, 388, 387, 386, 385, 384, 398)
_LEFT_LOWER = (249, 390, 373, 374, 380, 381, 382)
_UPPER_INNER = (191, 80, 81, 82, 13, 312, 311, 310, 415)
_LOWER_INNER = (95, 88, 178, 87, 14, 317, 402, 318, 324)
_UPPER_OUTER = (185, 40, 39, 37, 0, 267, 269, 270, 409)
_LOWER_OUTER = (146, 91, 181, 84, 17, 314, 405, 321, 375)
_CORNERS = (61, 291, 78, 308)


# Teeth seen from the front, from the midline outward (inter-ocular units; an adult's is ~63 mm): the
# widths of the central and lateral incisors, the canine, a premolar.
_UPPER_TEETH = (0.135, 0.105, 0.12, 0.11)
_LOWER_TEETH = (0.085, 0.09, 0.11, 0.11)


def _tooth_profile(dx: np.ndarray, iod: float, widths: tuple[float, ...]) -> dict[str, np.ndarray]:
    """Per column ``dx`` pixels from the mouth's midline: ``gap`` (1 on the line between two teeth, falling
    to 0 within about a pixel) and ``length`` (1 at a tooth's middle, less toward its sides and for the
    teeth further out), for teeth of ``widths``."""
    d = np.abs(np.asarray(dx, dtype=np.float64)) / max(iod, 1.0)
    edges = np.concatenate([[0.0], np.cumsum(widths)])
    k = np.clip(np.searchsorted(edges, d, side="right") - 1, 0, len(widths) - 1)
    left, right = edges[k], edges[k + 1]
    within = np.clip((d - left) / (right - left), 0, 1)
    dist_px = np.minimum(d - left, right - d) * iod  # to the nearest gap (the midline is one)
    gap = np.exp(-(dist_px / max(0.6, 0.006 * iod)) ** 2)
    length = (1.0 - 0.35 * (2.0 * within - 1.0) ** 4) * (1.0 - 0.12 * k)
    return {"gap": gap.astype(np.float32), "length": length.astype(np.float32)}


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


@dataclass
class MouthPose:
    """One frame's face shape: viseme shape (0..1 as in VISEME_SHAPES), blink closure, head motion."""

    aperture: float = 0.0
    width: float = 0.5
    rounding: float = 0.0
    closure: bool = True
    teeth: float = 0.0
    blink: float = 0.0
    angle_deg: float = 0.0
    shift: tuple[float, float] = (0.0, 0.0)  # inter-ocular units
    scale: float = 1.0


@dataclass
class FaceSynth:
    """Renders frames of one photo for given MouthPoses (see the module doc)."""

    image: np.ndarray  # RGB uint8
    landmarks: np.ndarray  # (478, 3) pixels

    def __post_init__(self) -> None:
        pts = np.asarray(self.landmarks[:MESH_POINTS, :2], dtype=np.float64)
        self.to_units = eye_frame(self.landmarks)
        self.from_units = invert_affine(self.to_units)
        self.iod = float(np.hypot(*(pts[263] - pts[33])))
        self.units = apply_affine(self.to_units, pts)  # (468, 2) in the eye frame
        u = self.units
        self.mouth_c = u[list(lm.LIPS_INNER)].mean(0)
        self.half_w = float(abs(u[291, 0] - u[61, 0]) / 2) or 0.2
        self.a0 = float(np.mean([u[b, 1] - u[a, 1] for a, b in lm.INNER_LIP_PAIRS]))
        self.y_nose = float(u[2, 1])
        self.y_chin = float(u[152, 1])
        self.x_jaw = float(abs(u[454, 0] - u[234, 0]) / 2) or 0.7
        # Anchors: a ring outside the face oval that never moves, so the warp ends inside it.
        self.anchor_px = anchor_ring(u, self.from_units, self.image.shape)
        # Triangulate on a mouth-open, eyes-open reference so no triangle spans the lips or the lids.
        ref = self._target_units(MouthPose(aperture=0.8, width=0.55, closure=False))
        ref_px = np.vstack([apply_affine(self.from_units, ref), self.anchor_px])
        self.mesh = MeshWarp(self.image, np.vstack([pts, self.anchor_px]), ref_px)
        self.teeth_rgb, self.cavity_rgb = self._mouth_colours()
        self.tongue_rgb = np.clip(self._lip_mean() * np.array([0.85, 0.58, 0.58]), 40, 230).astype(np.float32)
        self.head_mask = head_mask(self.landmarks, self.image.shape)
        h, w = self.image.shape[:2]
        gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        self._grid = (gx, gy)

    # - landmarks -

    def _target_units(self, pose: MouthPose) -> np.ndarray:
        """The 468 mesh points (eye-frame units) moved to ``pose``'s mouth and eyelids."""
        u = self.units.copy()
        x, y = u[:, 0], u[:, 1]
        xc, ym = self.mouth_c
        hw = self.half_w
        opening = (0.0 if pose.closure else pose.aperture * A_MAX)
        d = opening - self.a0  # change of the inner-lip opening
        jaw = 0.8 * d
        # Vertical: lower lip, chin and jaw drop (a rotation about the ears: less toward the jaw angle).
        below = _smoothstep((y - ym + 0.02) / 0.12)
        side = np.clip(1.0 - 0.75 * (np.abs(x - xc) / self.x_jaw) ** 2, 0.15, 1.0)
        dy = jaw * below * side
        bump = np.cos(np.pi / 2 * np.clip(np.abs(x - xc) / max(hw, 1e-3), 0, 1))
        lower = list(_LOWER_INNER) + list(_LOWER_OUTER)
        upper = list(_UPPER_INNER) + list(_UPPER_OUTER)
        dy[lower] = jaw * (0.35 + 0.65 * bump[lower])
        # Upper lip rises a little between the nose and the mouth.
        above = _smoothstep((y - self.y_nose) / max(ym - self.y_nose, 1e-3)) * (y <= ym)
        dy += np.where(y <= ym, -0.2 * d * above * bump, 0.0)
        dy[upper] = -0.2 * d * bump[upper]
        dy[list(_CORNERS)] = 0.3 * jaw
        # Horizontal: spread or round the lips about the mouth centre, fading into the cheeks.
        sx = 1.0 + 0.45 * (pose.width - 0.55) - 0.10 * pose.rounding
        near = np.exp(-(np.maximum(np.abs(x - xc) - hw, 0) / 0.18) ** 2
                      - (np.maximum(np.abs(y - ym) - 0.12, 0) / 0.15) ** 2)
        lips = list(lm.LIPS_INNER) + list(lm.LIPS_OUTER)
        near[lips] = 1.0
        dx = (sx - 1.0) * (x - xc) * near
        # Rounding pushes the lip middles out (a pout); closure presses the lips together.
        pout = 0.025 * pose.rounding - (0.012 if pose.closure and pose.aperture == 0 else 0.0)
        dy[list(_UPPER_OUTER)] -= pout * bump[list(_UPPER_OUTER)]
        dy[list(_LOWER_OUTER)] += pout * bump[list(_LOWER_OUTER)]
        u[:, 0] += dx
        u[:, 1] += dy
        # Blink: the lids meet a little above the lower lid.
        if pose.blink > 0:
            for up, lo in ((_RIGHT_UPPER, _RIGHT_LOWER), (_LEFT_UPPER, _LEFT_LOWER)):
                a, b = u[list(up)], u[list(lo)]
                meet = b + 0.25 * (a - b)
                u[list(up)] = a + pose.blink * (meet - a)
                u[list(lo)] = b + pose.blink * 0.8 * (meet - b)
        return u

    # - colours -

    def _lip_mean(self) -> np.ndarray:
        """The lips' mean RGB in the photo."""
        h, w = self.image.shape[:2]
        pts = self.landmarks[:, :2]
        lips = np.zeros((h, w), np.uint8)
        cv2.fillPoly(lips, [np.round(pts[list(lm.LIPS_OUTER)]).astype(np.int32)], 1)
        cv2.fillPoly(lips, [np.round(pts[list(lm.LIPS_INNER)]).astype(np.int32)], 0)
        rgb = self.image[lips.astype(bool)].reshape(-1, 3).astype(np.float64)
        return rgb.mean(0) if rgb.size else np.array([150.0, 90.0, 90.0])

    def _mouth_colours(self) -> tuple[np.ndarray, np.ndarray]:
        """Teeth and cavity colours from the photo: the lips' and skin's colour, brightened or darkened."""
        h, w = self.image.shape[:2]
        pts = self.landmarks[:, :2]
        lips = np.zeros((h, w), np.uint8)
        cv2.fillPoly(lips, [np.round(pts[list(lm.LIPS_OUTER)]).astype(np.int32)], 1)
        cv2.fillPoly(lips, [np.round(pts[list(lm.LIPS_INNER)]).astype(np.int32)], 0)
        lip_rgb = self.image[lips.astype(bool)].reshape(-1, 3).astype(np.float64)
        lip_mean = lip_rgb.mean(0) if lip_rgb.size else np.array([150.0, 90.0, 90.0])
        inner = np.zeros((h, w), np.uint8)
        cv2.fillPoly(inner, [np.round(pts[list(lm.LIPS_INNER)]).astype(np.int32)], 1)
        inside = self.image[inner.astype(bool)].reshape(-1, 3).astype(np.float64)
        luma = float(np.clip((lip_mean @ [0.299, 0.587, 0.114]) / 120.0, 0.6, 1.3))
        teeth = np.array([236.0, 230.0, 218.0]) * min(1.0, 0.75 + 0.25 * luma)
        if inside.size >= 30:  # the photo shows some teeth: take their colour from it
            grey = inside @ [0.299, 0.587, 0.114]
            bright = inside[grey >= np.percentile(grey, 80)]
            if bright.size and float(bright.mean()) > 140:
                teeth = 0.5 * teeth + 0.5 * np.clip(bright.mean(0) * 1.08, 0, 255)
        teeth = 0.9 * teeth + 0.1 * lip_mean
        cavity = np.clip(lip_mean * 0.55, 30, 130)
        return teeth.astype(np.float32), cavity.astype(np.float32)

    # - rendering -

    def render(self, pose: MouthPose) -> np.ndarray:
        target_u = self._target_units(pose)
        dst = np.vstack([apply_affine(self.from_units, target_u), self.anchor_px])
        out = self.image.copy()
        moved = self.mesh.moved(dst)
        if moved.any():
            self.mesh.warp_into(out, dst, moved)
            self._mouth_interior(out, dst, pose)
        if pose.angle_deg or pose.shift != (0.0, 0.0) or pose.scale != 1.0:
            out = self._head_motion(out, pose)
        return out

    def _mouth_interior(self, out: np.ndarray, dst: np.ndarray, pose: MouthPose) -> None:
        """Paint the opened inner-lip region for ``pose``: a dark cavity (deeper when rounded), the tongue's
        back on the floor of an open mouth, the upper teeth (each incisor with its own edge, longer where
        the viseme shows them, hidden by rounded lips) and from a third of the widest opening the lower
        teeth: every opening shows its own interior, not one strip of teeth."""
        inner = dst[list(lm.LIPS_INNER)]
        opening = float(np.mean([dst[b, 1] - dst[a, 1] for a, b in lm.INNER_LIP_PAIRS]))
        if opening < 1.0:
            return
        (x0, y0), (x1, y1) = np.floor(inner.min(0)).astype(int) - 3, np.ceil(inner.max(0)).astype(int) + 3
        h, w = out.shape[:2]
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 - x0 < 3 or y1 - y0 < 3:
            return
        off = np.array([x0, y0])
        mask = np.zeros((y1 - y0, x1 - x0), np.float32)
        cv2.fillPoly(mask, [np.round((inner - off) * 4).astype(np.int32)], 1.0, lineType=cv2.LINE_AA, shift=2)
        mask = cv2.GaussianBlur(mask, (3, 3), 0.8)
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        xc = float(inner[:, 0].mean())
        hw = max(float(inner[:, 0].max() - inner[:, 0].min()) / 2, 1.0)
        # Upper inner-lip contour as a function of x: where the teeth hang from.
        up = dst[list(_UPPER_INNER) + [78, 308]]
        order = np.argsort(up[:, 0])
        top = np.interp(xx[0], up[order, 0], up[order, 1]).astype(np.float32)[None, :]
        lo = dst[list(_LOWER_INNER) + [78, 308]]
        order = np.argsort(lo[:, 0])
        bottom = np.interp(xx[0], lo[order, 0], lo[order, 1]).astype(np.float32)[None, :]
        gap = np.maximum(bottom - top, 1.0)
        depth = np.clip((yy - top) / gap, 0, 1)
        edge = (np.abs(xx - xc) / hw) ** 2
        shade = (0.7 + 0.3 * np.clip(edge, 0, 1)) * (1.0 - 0.3 * np.sin(np.pi * depth))
        share = float(np.clip(opening / (A_MAX * self.iod), 0.0, 1.0))  # of the widest opening
        rounding = float(np.clip(pose.rounding, 0.0, 1.0))
        # a rounded mouth is a deeper, darker hole; an open one lets light onto its floor
        shade = shade * (1.0 - 0.35 * rounding * (1.0 - np.clip(edge, 0, 1)))
        fill = self.cavity_rgb[None, None, :] * shade[..., None]
        dx = xx[0] - xc
        # the tongue's back rises from the floor of an open, unrounded mouth (a dome, lit from the front)
        tongue_h = gap * (0.2 + 0.25 * share) * (1.0 - rounding) * float(share > 0.3)
        if float(tongue_h.max()) > 1.0:
            dome = np.sqrt(np.clip(1.0 - (dx / (0.85 * hw)) ** 2, 0.0, 1.0))[None, :]
            tongue_top = bottom - tongue_h * dome
            tongue_a = np.clip((yy - tongue_top) / 1.5 + 0.5, 0, 1) * (dome > 0)
            lit = 0.6 + 0.3 * np.clip((yy - tongue_top) / np.maximum(tongue_h, 1.0), 0, 1)
            tongue = self.tongue_rgb[None, None, :] * lit[..., None]
            fill = fill * (1 - tongue_a[..., None]) + tongue * tongue_a[..., None]
        # upper teeth hang from the upper lip: longer the more the viseme shows them, hidden by rounded lips;
        # each incisor's edge is its own (gaps between the teeth, the centrals longest)
        tooth = _tooth_profile(dx, self.iod, _UPPER_TEETH)
        band = min(0.45 * opening, 0.1 * self.iod) * (0.6 + 0.4 * max(pose.teeth, 0.3)) * (1.0 - 0.45 * rounding)
        reach = top + band * (0.8 + 0.2 * tooth["length"])[None, :]
        sideways = np.clip(1.0 - (0.8 + 0.7 * rounding) * edge, 0, 1)
        teeth_a = np.clip((reach - yy) / 1.2 + 0.5, 0, 1) * sideways
        teeth = self.teeth_rgb[None, None, :] * (1.0 - 0.2 * np.clip(edge, 0, 1))[..., None]
        teeth = teeth * (0.9 + 0.1 * np.clip((reach - yy) / max(band, 1.0), 0, 1))[..., None]
        teeth = teeth * (1.0 - 0.15 * tooth["gap"])[None, :, None]
        # lower teeth: from a third of the widest opening on, rising with it, dimmer (in the upper lip's shadow)
        lower_share = float(np.clip((share - 0.3) / 0.5, 0, 1)) * (1.0 - rounding)
        if lower_share > 0:
            low = _tooth_profile(dx, self.iod, _LOWER_TEETH)
            lband = band * 0.55 * lower_share
            rise = bottom - lband * (0.8 + 0.2 * low["length"])[None, :]
            low_a = np.clip((yy - rise) / 1.2 + 0.5, 0, 1) * np.clip(1.0 - 1.2 * edge, 0, 1) * 0.85
            low_rgb = self.teeth_rgb[None, None, :] * 0.78 * (1.0 - 0.15 * low["gap"])[None, :, None]
            fill = fill * (1 - low_a[..., None]) + low_rgb * low_a[..., None]
        fill = fill * (1 - teeth_a[..., None]) + teeth * teeth_a[..., None]
        region = out[y0:y1, x0:x1].astype(np.float32)
        a = mask[..., None]
        out[y0:y1, x0:x1] = np.clip(region * (1 - a) + fill * a, 0, 255).astype(np.uint8)

    def _head_motion(self, image: np.ndarray, pose: MouthPose) -> np.ndarray:
        """Move the head by a small similarity about the neck, blended into the still background."""
        pivot = self.landmarks[152, :2] + np.array([0.0, 0.35 * self.iod])
        shift = np.asarray(pose.shift) * self.iod
        return head_motion(image, self.head_mask, self._grid, pivot, pose.angle_deg, shift, pose.scale)


# --- the plan: what each frame shows ------------------------------------------------------------


@dataclass
class Plan:
    poses: list[MouthPose]
    state: np.ndarray  # (N,) 0 listening, 1 speaking
    phones: list[Phone]  # on the footage clock
    samples: np.ndarray  # (N / fps * RATE,) float32, the speech on the footage clock
    speech: list[Segment]


def _smooth_noise(rng: np.random.Generator, n: int, fps: float) -> np.ndarray:
    """Smooth zero-mean motion in [-1, 1]: three slow sinusoids with random frequencies and phases."""
    t = np.arange(n) / fps
    out = np.zeros(n)
    for amp, lo, hi in ((1.0, 0.06, 0.16), (0.5, 0.16, 0.35), (0.25, 0.35, 0.7)):
        out += amp * np.sin(2 * np.pi * rng.uniform(lo, hi) * t + rng.uniform(0, 2 * np.pi))
    return out / 1.75


def _loudness_gain(speech: np.ndarray, lead_s: float, n: int) -> np.ndarray:
    """Per-frame opening gain, 0.6..1.1, from the speech's loudness (dB below its loud frames)."""
    hop = VOICE_RATE / FPS
    a = ((np.arange(n) / FPS - lead_s) * VOICE_RATE).astype(np.int64)
    rms = 1e-6 + frame_rms(speech, np.maximum(0, a), np.maximum(0, (a + hop).astype(np.int64)))
    db = 20 * np.log10(rms)
    voiced = db > -60.0
    if not voiced.any():
        return np.ones(n)
    loud = float(np.percentile(db[voiced], 95))
    return np.clip(1.1 + (db - loud) / 40.0, 0.6, 1.1)


def make_plan(samples: np.ndarray, sample_rate: int, phones: list[Phone], params: PhotoParams) -> Plan:
    """Per-frame poses for the speaking part (phones of the TTS speech) and the listening part."""
    from facecraft import media

    speech = media.resample(np.asarray(samples, np.float32), sample_rate, VOICE_RATE) \
        if sample_rate != VOICE_RATE else np.asarray(samples, np.float32)
    lead = params.lead_s
    speak_s = lead + speech.size / VOICE_RATE + 0.3
    n = int(round((speak_s + params.listening_s) * FPS))
    shifted = [Phone(p.symbol, p.start + lead, p.end + lead) for p in phones]
    vis = frame_visemes(shifted, n, FPS)
    shapes = [VISEME_SHAPES[VISEMES[v]] for v in vis]
    ap = np.array([s.aperture for s in shapes])
    wd = np.array([s.width for s in shapes])
    rd = np.array([s.rounding for s in shapes])
    th = np.array([s.teeth for s in shapes])
    closed = np.array([s.closure for s in shapes])
    # Co-articulation: lips move smoothly between targets (about 50 ms); louder speech opens wider,
    # so the opening follows the sound as it does in real footage (the mouth database learns from it).
    k = np.array([0.25, 0.5, 0.25])
    ap, wd, rd, th = (np.convolve(np.pad(v, 1, mode="edge"), k, mode="valid") for v in (ap, wd, rd, th))
    ap *= _loudness_gain(speech, lead, n)
    pp = vis == VISEMES.index("PP")
    ap[pp] = 0.0
    speaking_frames = np.zeros(n, bool)
    sounding = [p for p in shifted if p.end > p.start and phone_to_viseme(p.symbol) != "sil"]
    if sounding:
        a, b = int(sounding[0].start * FPS), int(np.ceil(sounding[-1].end * FPS))
        speaking_frames[a:min(b, n)] = True
    rng = np.random.default_rng(params.seed)
    amp = np.where(speaking_frames, params.speaking_motion, 1.0)
    amp = np.convolve(np.pad(amp, 12, mode="edge"), np.ones(25) / 25, mode="valid")
    angle = _smooth_noise(rng, n, FPS) * params.head_angle_deg * amp
    sx = _smooth_noise(rng, n, FPS) * params.head_shift_iod * amp
    sy = _smooth_noise(rng, n, FPS) * params.head_shift_iod * 0.7 * amp
    sc = 1.0 + _smooth_noise(rng, n, FPS) * params.head_scale
    blink = np.zeros(n)
    profile = np.array([0.3, 0.75, 1.0, 1.0, 0.8, 0.45, 0.15])  # about 0.3 s, closing faster than opening
    t = rng.uniform(0.8, 2.0)
    while t * FPS < n - len(profile):
        i = int(t * FPS)
        blink[i:i + len(profile)] = np.maximum(blink[i:i + len(profile)], profile)
        t += rng.uniform(*params.blink_every_s)
    poses = []
    for i in range(n):
        still = MouthPose(blink=float(blink[i]), angle_deg=float(angle[i]), shift=(float(sx[i]), float(sy[i])),
                          scale=float(sc[i]))
        if not speaking_frames[i]:  # listening (and the lead-in): lips closed
            poses.append(replace(still, aperture=0.0, width=0.5, rounding=0.0, closure=True))
            continue
        closure = bool(closed[i]) and ap[i] < 0.05
        poses.append(replace(still, aperture=float(ap[i]), width=float(wd[i]), rounding=float(rd[i]),
                             closure=closure, teeth=float(th[i])))
    total = np.zeros(int(round(n / FPS * VOICE_RATE)), np.float32)
    a = int(round(lead * VOICE_RATE))
    piece = speech[: max(0, total.size - a)]
    total[a:a + piece.size] = piece
    segs = segments(speaking_frames, FPS)
    return Plan(poses=poses, state=speaking_frames.astype(np.uint8), phones=shifted, samples=total,
                speech=segs)


# --- build steps ------------------------------------------------------------------------------


@dataclass
class _PhotoJob:
    """What the photo steps share beyond BuildContext."""

    data: bytes
    filename: str
    voice: StockVoice
    auto_fix: bool
    params: PhotoParams
    report: CheckReport | None = None
    image: np.ndarray | None = None
    landmarks: np.ndarray | None = None
    plan: Plan | None = None


def _step_photo(job: _PhotoJob) -> Callable[[BuildContext], None]:
    def step(ctx: BuildContext) -> None:
        from facecraft import media

        report = check_image(job.data)
        report.source = job.filename
        job.report = report
        failures = report.failures()
        if failures:
            first = failures[0]
            more = f" (and {len(failures) - 1} more failed check(s))" if len(failures) > 1 else ""
            raise ChecksFailed(f"{first.label}: {first.message}{more}", error_id=first.id, report=report)
        image = media.read_image(job.data)
        original = [int(image.shape[1]), int(image.shape[0])]
        landmarks = _track_one(image)
        if landmarks is None:
            raise VisionError("no face was found in the photo", error_id="face_or_obstruction_detected")
        if job.auto_fix:
            image = reframe(image, landmarks)
        image = _fit_size(image)
        landmarks = _track_one(image)
        if landmarks is None or landmarks.shape[0] != N_LANDMARKS:
            raise VisionError("the face could not be tracked in the reframed photo",
                              error_id="face_or_obstruction_detected")
        job.image, job.landmarks = image, landmarks
        h, w = image.shape[:2]
        ctx.manifest["source"] = {
            "kind": "image",
            "filename": job.filename,
            "sha256": hashlib.sha256(job.data).hexdigest(),
            "size": original,
            "auto_fix": job.auto_fix,
            "synthesised": {"size": [w, h], "fps": FPS},
        }

    return step


def _step_speech(job: _PhotoJob) -> Callable[[BuildContext], None]:
    def step(ctx: BuildContext) -> None:
        from facecraft.speech.voices import tts_for

        assert job.image is not None
        tts = tts_for(job.voice, deterministic=True)
        samples, rate, alignment = tts.synthesize(SCRIPT)
        plan = make_plan(samples, rate, list(alignment.phones), job.params)
        job.plan = plan
        n = len(plan.poses)
        h, w = job.image.shape[:2]
        duration = n / FPS
        ctx.info = MediaInfo(
            path=ctx.video_path, container="synthesised", size_bytes=len(job.data), duration_s=duration,
            video=VideoStreamInfo(codec="synthesised", width=w, height=h, fps=FPS, frame_count=n, rotation=0,
                                  pix_fmt="rgb24", bit_rate=None),
            audio=None,
        )
        ctx.samples, ctx.sample_rate = plan.samples, VOICE_RATE
        ctx.phones = plan.phones  # the script's own timings: no recognition of the footage's audio
        ctx.manifest["source"].update({"duration": round(duration, 3), "fps": FPS,
                                       "range": [0.0, round(duration, 3)], "script": SCRIPT})
        assert job.image is not None and job.landmarks is not None
        synth = FaceSynth(job.image, job.landmarks)

        def frames() -> Iterator[Frame]:
            for i, pose in enumerate(plan.poses):
                yield Frame(index=i, time_s=i / FPS, image=synth.render(pose))

        ctx.frames = frames

    return step


def _step_analyze(job: _PhotoJob) -> Callable[[BuildContext], None]:
    def step(ctx: BuildContext) -> None:
        """The known speaking/listening states (no VAD guess), with the tracked mouth motion."""
        assert ctx.tracks is not None and job.plan is not None
        n = len(ctx.tracks)
        state = np.zeros(n, np.uint8)
        m = min(n, job.plan.state.size)
        state[:m] = job.plan.state[:m]
        measured = analyze(ctx.tracks, None, VOICE_RATE)  # mouth motion only: no audio given
        ctx.analysis = replace(measured, state=state, speaking=segments(state == 1, FPS),
                               listening=segments(state == 0, FPS),
                               speech=list(job.plan.speech))
        fb.write_json(ctx.work_dir / fb.ANALYSIS, ctx.analysis.to_dict())
        seg = lambda xs: [[s.start, s.end] for s in xs]  # noqa: E731
        ctx.manifest["segments"] = {"speaking": seg(ctx.analysis.speaking),
                                    "listening": seg(ctx.analysis.listening)}

    return step


def _step_checks(job: _PhotoJob) -> Callable[[BuildContext], None]:
    def step(ctx: BuildContext) -> None:
        """The bundle's report is the photo's upload checks."""
        assert job.report is not None
        ctx.report = job.report
        fb.write_json(ctx.work_dir / fb.REPORT, ctx.report.to_dict())
        ctx.manifest["report"] = {"status": ctx.report.status,
                                  "warnings": [c.id for c in ctx.report.checks if c.status == "warn"]}

    return step


def _step_voice(job: _PhotoJob) -> Callable[[BuildContext], None]:
    def step(ctx: BuildContext) -> None:
        """The stock voice's speech as the voice clip and profile; the choice is recorded."""
        step_voice(ctx)
        ctx.wait("voice_profile")  # its profile is written in the background
        v = job.voice
        choice = {"kind": "stock", "engine": v.engine, "voice_name": v.voice_id, "voice_id": v.base}
        path = ctx.work_dir / fb.VOICE_PROFILE
        profile = json.loads(path.read_text(encoding="utf-8"))
        profile["source"] = choice
        fb.write_json(path, profile)
        ctx.manifest["voice"].update({"source": choice, "tts": {"engine": v.engine, "voice": v.base,
                                                                "voice_name": v.voice_id}})

    return step


def build_face_from_image(
    image: str | Path | bytes,
    *,
    name: str,
    out_dir: str | Path,
    voice: str | None = DEFAULT_VOICE_NAME,
    auto_fix: bool = False,
    progress: Callable[[float, str], None] | None = None,
    face_id: str | None = None,
    params: PhotoParams | None = None,
    timings: dict[str, StepTime] | None = None,
) -> Path:
    """Build a Face bundle from one photo (JPG/PNG path or bytes); returns ``out_dir/<face id>``.
    ``timings``, when given, receives each step's cost (as ``faces.build.build_face``'s).

    Raises ChecksFailed with the id of the first failing photo check (``face_or_obstruction_detected``,
    ``second_person_detected``, ``quality_issue_detected``, ...), InputError for an unknown voice or
    name. Nothing is left behind on failure.
    """
    if not name or not name.strip():
        raise InputError("a Face needs a name")
    stock_voice = resolve_voice(voice)
    if isinstance(image, (bytes, bytearray)):
        data, filename = bytes(image), "photo"
    else:
        path = Path(image)
        if not path.is_file():
            raise InputError(f"photo not found: {path}", error_id="video_format")
        data, filename = path.read_bytes(), path.name
    face_id = face_id or fb.new_face_id()
    final = Path(out_dir) / face_id
    if final.exists():
        raise InputError(f"{final} already exists")
    job = _PhotoJob(data=data, filename=filename, voice=stock_voice,
                    auto_fix=auto_fix, params=params or PhotoParams())
    ctx = BuildContext(video_path=Path(filename), name=name.strip(), face_id=face_id,
                       work_dir=fb.staging_dir(out_dir), progress=progress,
                       timings=timings if timings is not None else {})
    ctx.manifest.update({"id": face_id, "name": ctx.name,
                         "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                         "engine": {"version": __version__, "params": {}}})
    steps: list[BuildStep] = [
        ("photo", _step_photo(job)),
        ("speech", _step_speech(job)),
        ("footage", step_footage),
        ("analyze", _step_analyze(job)),
        ("checks", _step_checks(job)),
        ("voice", _step_voice(job)),
        ("thumbnail", step_thumbnail),
        ("mouths", step_mouths),
        ("motion", step_motion),
    ]
    log.info("photo Face %s from %s (voice %s)", face_id, filename, stock_voice.voice_id)
    return run_build(ctx, steps, final)
