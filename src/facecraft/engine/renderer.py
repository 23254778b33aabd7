"""The per-Face renderer: loads a bundle's engine artefacts once and turns plans into frames.

A plan for one output frame is a motion step (which footage frame, maybe cross-faded with the run
left behind) and a mouth (a database patch, or none to keep the footage's own mouth). The streaming
renderer makes the plans; this object holds what every render of the Face shares: the mouth
database, the motion graph, the decoded-footage cache, the selector and the compositor.
"""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import replace
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from facecraft.audio import RATE
from facecraft.engine import lipsync, motion_graph, mouthdb
from facecraft.engine.audio_model import AudioMouthModel
from facecraft.engine.compose import BaseGeometry, Compositor, laplacian_variance
from facecraft.engine.config import EngineConfig
from facecraft.engine.emotion import Expression, footage_affinity
from facecraft.engine.expression import ExpressionRenderer
from facecraft.engine.footage import FootageReader
from facecraft.engine.motion import MotionStep
from facecraft.engine.select import MouthSelector
from facecraft.engine.timeline import ShapePriors, Timeline, build_timeline
from facecraft.errors import BundleError, FacecraftError, InputError
from facecraft.speech.types import Phone
from facecraft.vision import landmarks as lm
from facecraft.vision.masks import border_ramp
from facecraft.vision.types import Tracks
from facecraft.vision.warp import apply_affine, fit_similarity, invert_affine

__all__ = ["Renderer", "FaceData"]

log = logging.getLogger(__name__)


class FaceData(Protocol):
    """What the engine reads of a Face: its tracks, its footage and its engine files by name.

    A loaded bundle (``faces.bundle.FaceBundle``, which checks the format version) is one; the engine
    itself never opens a bundle directory.
    """

    @property
    def tracks(self) -> Tracks: ...

    @property
    def footage_path(self) -> Path: ...

    def file(self, name: str) -> Path: ...


def _optional_file(bundle: FaceData, name: str) -> Path | None:
    try:
        return bundle.file(name)
    except BundleError:  # not in this bundle
        return None


def _even(v: int) -> int:
    return max(2, int(v) // 2 * 2)


class Renderer:
    """Shared, loaded state of one Face; ``size`` (width, height) scales the output frames."""

    def __init__(
        self, bundle: FaceData, *, size: tuple[int, int] | None = None, config: EngineConfig | None = None
    ) -> None:
        self.bundle = bundle
        self.config = config or EngineConfig()
        self.db = mouthdb.MouthDB.load(bundle.file(mouthdb.FILENAME))
        self.graph = motion_graph.MotionGraph.load(bundle.file(motion_graph.FILENAME))
        self.tracks = bundle.tracks
        if len(self.graph) != len(self.tracks) or len(self.db.to_patch) != len(self.tracks):
            raise BundleError("the Face bundle's engine files do not match its tracks; rebuild the Face")
        self.fps = float(self.tracks.fps)
        self.footage = FootageReader(bundle.footage_path, self.fps, cache_frames=self.config.cache_frames)
        self.priors = mouthdb.shape_priors(self.db)
        self.selector = MouthSelector(self.db, self.config, closed_aperture=self.priors.closed,
                                      sealed_aperture=self.priors.closed_limit)
        self.compositor = Compositor(self.db, self.config, footage=self.footage.get)
        try:  # the mouths' detail gain, measured on the footage (a footage that fails here fails its renders)
            self.compositor.calibrate()
        except FacecraftError as exc:
            log.warning("mouth detail not calibrated (%s): patches are pasted as stored", exc)
        self.expressions = ExpressionRenderer(self.tracks)
        # (len(EMOTIONS), N) how clearly each footage frame shows each emotion: the walk and the mouth
        # selection prefer footage that already shows the one wanted
        self.emotion_affinity = footage_affinity(self.tracks.blendshapes)
        self.selector.emotion_affinity = self.emotion_affinity[:, self.db.src_index]
        self.listening_mouth_rests = _listening_mouth_rests(self.graph, self.tracks, self.priors, self.config)
        # the speaker-independent model adapted to this Face, mixed with the Face's own log-mel model by the
        # share chosen at build time; a Face without one (no usable speech in its footage) keeps its own
        # log-mel model, if any
        self.audio_model: lipsync.FaceLipModel | lipsync.BlendedMouthModel | AudioMouthModel | None
        lip_file = _optional_file(bundle, lipsync.FILENAME)
        own = AudioMouthModel.unpack(self.db.audio_model)
        if lip_file is not None:
            lip = lipsync.FaceLipModel.load(lip_file)
            self.audio_model = lipsync.BlendedMouthModel(lip, own) if own is not None and lip.blend < 1 else lip
            # the lips in the pauses between words follow the Face's own habit, measured at build
            self.priors = replace(self.priors, pause_share=lip.pause_share,
                                  pause_open=lip.pause_open if np.isfinite(lip.pause_open) else None)
        else:
            self.audio_model = own
        # The lip-sync model may read up to ``future_frames`` (~21-23) of audio past a frame, the streaming
        # look-ahead holds 12: a frame planned with no more than that reads the end of its Whisper windows as
        # silence. Measured harmless (bench/stream_lipsync.py, tests/engine/test_streaming.py): audio streamed
        # right behind the puller gives the batch mouths within 5 % of the closed-to-open range (r >= 0.998);
        # a longer look-ahead would cost live replies their first frames.
        if self.audio_model is not None and self.audio_model.future_frames > self.config.lookahead:
            log.debug("the audio model reads %d frames ahead of the %d-frame look-ahead",
                      self.audio_model.future_frames, self.config.lookahead)
        self.source_size = (int(self.tracks.width), int(self.tracks.height))
        self.scaled = size is not None  # an explicit output size (dub mode otherwise keeps its input's)
        if size is not None:
            w, h = (int(v) for v in size)
            if w < 16 or h < 16 or w > 4096 or h > 4096:
                raise InputError(f"output size {w}x{h} is out of range (16..4096)")
            self.size = (_even(w), _even(h))
        else:
            self.size = (_even(self.source_size[0]), _even(self.source_size[1]))

    def predict_mouth(
        self, samples16k: np.ndarray, n: int, fps: float | None = None, *, first: int = 0, offset: int = 0,
    ) -> np.ndarray | None:
        """(n, 2) aperture and width of frames ``first`` .. ``first + n - 1`` from the Face's own
        audio-to-mouth model (None without a model); ``samples16k[0]`` is sample ``offset``."""
        if self.audio_model is None or n == 0:
            return None
        lead = self.config.model_lead_frames  # optional extra lead on top of the model's learned lag
        m = n + max(lead, 0)
        raw = self.audio_model.predict(samples16k, RATE, fps or self.fps, m, first=first, offset=offset)
        return raw[lead:] if lead > 0 else raw

    def timeline(
        self, samples16k: np.ndarray, n: int, phones: list[Phone], *, trust_phones: bool, fps: float | None = None
    ) -> Timeline:
        """The timeline of ``n`` frames for 16 kHz speech, shaped by this Face: its mouth priors, its audio
        model's prediction and its lips' lead."""
        fps = fps or self.fps
        return build_timeline(samples16k, RATE, fps=fps, n_frames=n, phones=phones, priors=self.priors,
                              config=self.config, predicted=self.predict_mouth(samples16k, n, fps),
                              trust_phones=trust_phones, mouth_lead=self.mouth_lead)

    @property
    def mouth_lead(self) -> int:
        """Frames the Face's lips lead its sound in the footage (0 without an audio model)."""
        return self.audio_model.mouth_lead if self.audio_model is not None else 0

    def base_image(self, step: MotionStep) -> np.ndarray:
        image = self.footage.get(step.index)
        if step.fade_index >= 0 and step.fade_weight > 0:
            old = self.footage.get(step.fade_index)
            if old.shape == image.shape:
                image = self._morph(old, step.fade_index, image, step.index, step.fade_weight)
        return image

    def _morph(
        self, old: np.ndarray, old_index: int, new: np.ndarray, new_index: int, w: float
    ) -> np.ndarray:
        """The frame ``w`` of the way back from footage frame ``new_index`` to ``old_index`` (a jump's fade).

        Both frames are moved onto in-between head geometry (their stable landmarks blended with weight
        ``w``), then blended: over the fade the head glides from where it was to where the new run
        has it, with no double image of the eyes and nose and no jump in size. Where the pixels still
        differ after that (mouth, hair, background), dense optical flow (OpenCV's DIS, ``fade_flow``)
        between the two aligned frames moves each part of the way toward the other. The two are
        blended in two bands: light and shape (the low band) fade, the fine detail (edges, texture) is
        the nearer frame's alone (the sharper one's in the middle frame, where both are as near), since
        averaging two textures that flow aligns only to within a pixel or two halves their detail (a
        double image). Each frame is resampled once, with Lanczos over the head and bilinearly around it
        (every resampling softens the picture; Lanczos everywhere took 70 ms for a 512x512 fade frame, a
        stall in a live call; over the head alone it keeps 3-7 % more edge detail than bicubic). Only the
        frame that gives the detail band is resampled sharply (both in the middle frame): a 512x512
        fade frame took 16.5 ms with bicubic for both, 23-26 ms with Lanczos for both."""
        present = self.tracks.present
        if not (present[old_index] and present[new_index]):
            return cv2.addWeighted(old, w, new, 1.0 - w, 0.0)
        stable = list(lm.STABLE)
        a, b = self.tracks.landmarks[old_index, stable, :2], self.tracks.landmarks[new_index, stable, :2]
        mid = w * a + (1.0 - w) * b
        to_old, to_new = invert_affine(fit_similarity(a, mid)), invert_affine(fit_similarity(b, mid))
        h, wd = new.shape[:2]
        gx, gy = _grid(h, wd)
        flow = _flow(old, to_old, new, to_new) if self.config.fade_flow else None

        # Lanczos over the head (where detail is watched), bilinear elsewhere (a fraction of the cost)
        head = self.tracks.landmarks[new_index, :, :2]
        box = _grown_box(apply_affine(fit_similarity(b, mid), head), (h, wd), _HEAD_PAD)

        def pull(image: np.ndarray, to_src: np.ndarray, share: float, sharp: bool) -> np.ndarray:
            x, y = gx, gy  # in-between frame -> aligned frame
            if flow is not None:
                x, y = gx + np.float32(share) * flow[..., 0], gy + np.float32(share) * flow[..., 1]
            a = to_src.astype(np.float32)
            mx = a[0, 0] * x + a[0, 1] * y + a[0, 2]
            my = a[1, 0] * x + a[1, 1] * y + a[1, 2]
            out = cv2.remap(image, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            if box is not None and sharp:
                x0, y0, x1, y1 = box
                sub = (slice(y0, y1), slice(x0, x1))
                sharp = cv2.remap(image, np.ascontiguousarray(mx[sub]), np.ascontiguousarray(my[sub]),
                                  _HEAD_INTERP, borderMode=cv2.BORDER_REPLICATE)
                ramp = border_ramp(y1 - y0, x1 - x0, _RAMP_PX)
                out[sub] = cv2.blendLinear(sharp, np.ascontiguousarray(out[sub]), ramp, 1.0 - ramp)
            return out

        # a feature at x of the aligned new frame sits at x + flow in the aligned old one: both are drawn
        # at x + w * flow
        # only the frame that gives the detail band needs the sharp resampling (the other one's low band
        # alone is kept); the middle frame picks the sharper of the two, so both get it there
        return _two_band_blend(pull(old, to_old, 1.0 - w, w >= 0.5), pull(new, to_new, -w, w <= 0.5), w, box)

    def geometry(self, index: int) -> BaseGeometry | None:
        if not self.graph.present[index] or np.isnan(self.db.to_patch[index]).any():
            return None
        return self.compositor.footage_geometry(index, self.tracks.landmarks[index])

    def render(
        self, step: MotionStep, mouth: int | None, aperture: float | None = None, opacity: float = 1.0,
        expression: Expression | None = None,
    ) -> np.ndarray:
        """The output frame for one plan: footage frame, mouth patch, the aperture the timeline wants, how
        opaque the patch is over the frame's own mouth, and the expression shown (``engine.expression``)."""
        image = self.base_image(step)
        geo = self.geometry(step.index) if mouth is not None and opacity > 0 else None
        if geo is not None and mouth is not None:
            image = self.compositor.compose(image, mouth, geo, aperture, opacity)
        if expression is not None and not expression.neutral:
            source = int(self.db.src_index[mouth]) if geo is not None and mouth is not None and opacity >= 0.5 \
                else step.index
            image = self.expressions.apply(image, self.tracks.landmarks[step.index], expression, fps=self.fps,
                                           footage=step.index, mouth_footage=source)
        return self.finish(image)

    def finish(self, image: np.ndarray, *, keep_size: bool = False) -> np.ndarray:
        """Scale to the output size (the footage size unless ``size`` was given)."""
        h, w = image.shape[:2]
        if (w, h) != self.size and not (keep_size and not self.scaled):
            interp = cv2.INTER_AREA if self.size[0] < w else cv2.INTER_LINEAR
            image = cv2.resize(image, self.size, interpolation=interp)
        return np.ascontiguousarray(image)


_DETAIL_SIGMA = 0.004  # the fade's detail band: finer than this share of the frame's long side (Gaussian)
_HEAD_PAD = 0.15  # the Lanczos box reaches this share of the head's landmark box beyond it
_RAMP_PX = 4.0  # and fades into the bilinear rest over this many pixels
_HEAD_INTERP = cv2.INTER_LANCZOS4  # resampling of the head in a fade frame


def _grown_box(points: np.ndarray, shape: tuple[int, int], pad: float) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) pixel box of ``points`` grown by ``pad`` of its size on every side, clipped to
    ``shape`` (h, w); None when empty."""
    lo, hi = np.nanmin(points, 0), np.nanmax(points, 0)
    grow = pad * (hi - lo)
    h, w = shape
    x0, y0 = np.floor(lo - grow).astype(int)
    x1, y1 = np.ceil(hi + grow).astype(int)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    return None if x1 <= x0 or y1 <= y0 else (int(x0), int(y0), int(x1), int(y1))


def _two_band_blend(
    old: np.ndarray, new: np.ndarray, w: float, box: tuple[int, int, int, int] | None = None
) -> np.ndarray:
    """``w`` of ``old`` and ``1 - w`` of ``new`` (aligned RGB uint8 frames) in the low band; the detail
    band (``_DETAIL_SIGMA``) taken from the one with the larger weight. At a tie (the middle frame of a
    fade) either is as near, so the sharper one over the head ``box`` (x0, y0, x1, y1) gives it: footage
    frames differ in motion blur, and the middle frame otherwise keeps the blurrier one's detail half
    the time (``new`` without a box)."""
    sigma = max(1.0, _DETAIL_SIGMA * max(old.shape[:2]))
    low_old = cv2.GaussianBlur(old, (0, 0), sigma)
    low_new = cv2.GaussianBlur(new, (0, 0), sigma)
    take_old = w > 0.5 or (w == 0.5 and box is not None and _in_box_sharpness(old, box) > _in_box_sharpness(new, box))
    near, low_near = (old, low_old) if take_old else (new, low_new)
    low = cv2.addWeighted(low_old, w, low_new, 1.0 - w, 0.0, dtype=cv2.CV_16S)
    return cv2.add(cv2.subtract(near, low_near, dtype=cv2.CV_16S), low, dtype=cv2.CV_8U)  # saturating


def _in_box_sharpness(image: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """``laplacian_variance`` of ``image`` in ``box`` (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    return laplacian_variance(np.ascontiguousarray(image[y0:y1, x0:x1]))


@functools.lru_cache(maxsize=4)
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates x (1, w) and y (h, 1), float32 (broadcast against each other)."""
    return np.arange(w, dtype=np.float32)[None, :], np.arange(h, dtype=np.float32)[:, None]


_DIS = threading.local()  # one DIS instance per drawing thread (it keeps state between calls)


def _flow(old: np.ndarray, to_old: np.ndarray, new: np.ndarray, to_new: np.ndarray) -> np.ndarray:
    """(h, w, 2) dense flow (DIS, ultrafast, on half-size grey frames) from ``new`` to ``old``, both first
    aligned to the in-between geometry (``to_old``/``to_new`` map in-between pixels to theirs):
    aligned_new(x) ~ aligned_old(x + flow(x))."""
    dis = getattr(_DIS, "dis", None)
    if dis is None:
        dis = _DIS.dis = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
    h, wd = new.shape[:2]
    scale = 0.5 if max(h, wd) > 320 else 1.0
    size = (int(round(wd * scale)), int(round(h * scale)))
    half = np.diag([1.0 / scale, 1.0 / scale, 1.0])  # small pixels -> full pixels

    def small(image: np.ndarray, to_src: np.ndarray) -> np.ndarray:
        mat = np.vstack([to_src, [0, 0, 1]]) @ half
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        return cv2.warpAffine(grey, mat[:2], size, flags=cv2.INTER_AREA | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)

    flow = dis.calc(small(new, to_new), small(old, to_old), None)
    return cv2.resize(flow, (wd, h), interpolation=cv2.INTER_LINEAR) / scale if scale != 1.0 else flow


def _listening_mouth_rests(
    graph: motion_graph.MotionGraph, tracks: Tracks, priors: ShapePriors, config: EngineConfig
) -> bool:
    """Whether the Face's listening footage mostly shows its mouth closed (``own_listening_mouth_share``),
    so that a silent Face may keep that footage's own mouth."""
    listening = np.asarray(graph.present, dtype=bool) & (np.asarray(graph.state) == 0)
    aperture = np.asarray(tracks.aperture, dtype=np.float64)[listening]
    aperture = aperture[np.isfinite(aperture)]
    if not aperture.size:
        return False
    return float(np.mean(aperture < priors.closed_limit)) >= config.own_listening_mouth_share

