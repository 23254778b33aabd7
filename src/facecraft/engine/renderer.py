"""The per-Face renderer: loads a bundle's engine artefacts once and turns plans into frames.

A plan for one output frame is a motion step (which footage frame, maybe cross-faded with the run
left behind) and a mouth (a database patch, or none to keep the footage's own mouth). The streaming
renderer makes the plans; this object holds what every render of the Face shares: the mouth
database, the motion graph, the decoded-footage cache, the selector and the compositor.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from facecraft.audio import RATE
from facecraft.engine import motion_graph, mouthdb
from facecraft.engine.audio_model import AudioMouthModel
from facecraft.engine.compose import BaseGeometry, Compositor
from facecraft.engine.config import EngineConfig
from facecraft.engine.emotion import Expression, footage_affinity
from facecraft.engine.expression import ExpressionRenderer
from facecraft.engine.footage import FootageReader
from facecraft.engine.motion import MotionStep
from facecraft.engine.select import MouthSelector
from facecraft.engine.timeline import ShapePriors, Timeline, build_timeline
from facecraft.errors import BundleError, InputError
from facecraft.speech.types import Phone
from facecraft.vision import landmarks as lm
from facecraft.vision.types import Tracks
from facecraft.vision.warp import fit_similarity

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
        self.priors = _priors(self.db)
        self.selector = MouthSelector(self.db, self.config, closed_aperture=self.priors.closed)
        self.compositor = Compositor(self.db, self.config)
        self.expressions = ExpressionRenderer(self.tracks)
        # (len(EMOTIONS), N) how clearly each footage frame shows each emotion: the walk and the mouth
        # selection prefer footage that already shows the one wanted
        self.emotion_affinity = footage_affinity(self.tracks.blendshapes)
        self.selector.emotion_affinity = self.emotion_affinity[:, self.db.src_index]
        self.listening_mouth_rests = _listening_mouth_rests(self.graph, self.tracks, self.priors, self.config)
        self.audio_model = AudioMouthModel.unpack(self.db.audio_model)
        if self.audio_model is not None and self.audio_model.future_frames > self.config.lookahead:
            log.warning("the audio model reads %d frames ahead, more than the %d-frame look-ahead: streamed "
                        "renders may differ from batch ones",
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
                old = self._aligned(old, step.fade_index, step.index)
                image = cv2.addWeighted(old, step.fade_weight, image, 1.0 - step.fade_weight, 0.0)
        return image

    def _aligned(self, image: np.ndarray, source: int, target: int) -> np.ndarray:
        """Footage frame ``source`` moved so its face (stable landmarks) lies on frame ``target``'s.

        A cross-fade between two runs of footage blends two head positions; aligned first, the
        eyes and nose of the two coincide instead of showing twice.
        """
        present = self.tracks.present
        if not (present[source] and present[target]):
            return image
        stable = list(lm.STABLE)
        mat = fit_similarity(self.tracks.landmarks[source, stable], self.tracks.landmarks[target, stable])
        if not np.isfinite(mat).all():
            return image
        h, w = image.shape[:2]
        return cv2.warpAffine(image, mat, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

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


def _priors(db: mouthdb.MouthDB) -> ShapePriors:
    """The Face's closed and wide-open apertures and its range of mouth widths."""
    ap = db.features[:, 0].astype(np.float64)
    wd = db.features[:, 1].astype(np.float64)
    speaking = db.state == 1
    open_ap = float(np.percentile(ap[speaking] if speaking.sum() >= 10 else ap, 95))
    closed = float(np.percentile(ap, 5))
    spread = float(np.percentile(wd, 90) - np.percentile(wd, 10)) / 2
    return ShapePriors(closed=closed, open=max(open_ap, closed + 0.05), width_mid=float(np.median(wd)),
                       width_spread=max(spread, 0.01))
