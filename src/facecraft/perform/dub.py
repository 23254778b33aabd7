"""Dub mode: another video's own frames and head motion, with only the mouth replaced from the Face.

It exists for evaluation (``bench/fidelity.py``: a Face re-voices held-out footage of its own
speaker) and for re-voicing footage. The mouths are chosen as in a speech render (the same
timeline and selector), over the video's own frames instead of the motion graph's. An emotion shows
on the face as in a speech render; the head keeps the video's own motion.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from facecraft.audio import RATE
from facecraft.engine.cues import Emotion
from facecraft.engine.emotion import ExpressionSmoother
from facecraft.engine.renderer import FaceData, Renderer
from facecraft.errors import FacecraftError, InputError, RenderError
from facecraft.media.types import Audio, Frame
from facecraft.perform.render import renderer_for
from facecraft.perform.speech import audio_phones, prepare_audio
from facecraft.speech.types import Alignment
from facecraft.vision.types import Tracks

__all__ = ["DubPlan", "select_dub_mouths", "dub_frames", "render_dub"]


@dataclass(frozen=True)
class DubPlan:
    """Per frame of a dubbed video: the mouth-database entry (-1: the frame's own mouth) and the
    aperture the timeline wants there (None: show the entries as they are, as the baselines do)."""

    mouths: list[int]
    aperture: np.ndarray | None = None


def select_dub_mouths(
    renderer: Renderer,
    tracks: Tracks,
    samples: np.ndarray,
    sample_rate: int,
    *,
    alignment: Alignment | None = None,
    text: str | None = None,
    emotion: Emotion | None = None,
) -> DubPlan:
    """Mouth-database entry per frame of a tracked video for the audio, chosen as in a speech render
    (with ``emotion``, patches that show it are preferred where the lip shapes allow)."""
    x16 = prepare_audio(samples, sample_rate)
    n = len(tracks)
    cfg = renderer.config
    phones, trusted = audio_phones(x16, alignment, text)
    tl = renderer.timeline(x16, n, phones, trust_phones=trusted, fps=tracks.fps)
    if emotion is not None:
        tl.emotion = np.full(n, emotion.index, dtype=np.uint8)
        tl.intensity = np.full(n, float(emotion.intensity))
    pose = np.nan_to_num(np.asarray(tracks.pose, dtype=np.float64))
    chosen: list[int] = []
    for b0 in range(0, n, cfg.block):
        b1 = min(n, b0 + cfg.block)
        end = min(n, b1 + cfg.lookahead)
        costs = renderer.selector.target_costs(tl, slice(b0, end), pose[b0:end])
        path = renderer.selector.decode(costs, chosen[-1] if chosen else None)
        chosen.extend(int(m) for m in path[: b1 - b0])
    return DubPlan(chosen, np.asarray(tl.aperture, dtype=np.float64))


def dub_frames(
    renderer: Renderer,
    frames: Iterable[np.ndarray],
    tracks: Tracks,
    plan: DubPlan,
    *,
    emotion: Emotion | None = None,
) -> Iterator[np.ndarray]:
    """Re-voice ``frames`` (tracked by ``tracks``, same count and order): their motion, the planned mouths,
    and ``emotion`` on the face (None: as filmed).

    ``plan`` usually comes from :func:`select_dub_mouths`; the benchmark also passes random or fixed
    mouths, without target apertures, as baselines.
    """
    present = np.asarray(tracks.present, dtype=bool)
    mouths, targets = plan.mouths, plan.aperture
    smoother = ExpressionSmoother(tracks.fps) if emotion is not None and emotion.name != "neutral" else None
    for i, image in enumerate(frames):
        if i >= len(tracks):
            break
        if present[i] and i < len(mouths) and mouths[i] >= 0:
            geo = renderer.compositor.geometry(tracks.landmarks[i])
            aperture = float(targets[i]) if targets is not None and i < len(targets) else None
            image = renderer.compositor.compose(image, mouths[i], geo, aperture)
        if smoother is not None and emotion is not None and present[i]:
            shown = smoother.step(emotion, speaking=True)
            shown = replace(shown, head=np.zeros_like(shown.head))  # the video's own head motion stays
            source = int(renderer.db.src_index[mouths[i]]) if i < len(mouths) and mouths[i] >= 0 else None
            image = renderer.expressions.apply(image, tracks.landmarks[i], shown, fps=tracks.fps,
                                               mouth_footage=source)
        yield renderer.finish(image, keep_size=True)


def render_dub(
    face: FaceData | Renderer,
    video_path: str | Path,
    *,
    out_path: str | Path,
    samples: np.ndarray | None = None,
    sample_rate: int = RATE,
    start_s: float = 0.0,
    end_s: float | None = None,
    text: str | None = None,
    size: tuple[int, int] | None = None,
    emotion: Emotion | None = None,
) -> Path:
    """Dub mode: ``video_path``'s frames in ``[start_s, end_s)`` with mouths from the Face for the audio,
    showing ``emotion`` (None: the video's own expression).

    Without ``samples`` the video's own audio over the same range is used (self-reconstruction).
    """
    from facecraft import media, vision

    renderer = renderer_for(face, size)
    frames = [f.image for f in media.iter_frames(video_path, start_s=start_s, end_s=end_s)]
    if not frames:
        raise InputError("the dub range of the video holds no frame")
    info = media.probe(video_path)
    fps = float(info.video.fps) if info.video else renderer.fps
    h, w = frames[0].shape[:2]
    tracks = vision.track_frames((Frame(i, i / fps, im) for i, im in enumerate(frames)), fps=fps, width=w, height=h)
    if samples is None:
        audio = media.read_audio(video_path, sample_rate=RATE)
        a = int(round(start_s * RATE))
        b = a + int(round(len(frames) / fps * RATE))
        samples, sample_rate = audio.samples[a:b], RATE
    plan = select_dub_mouths(renderer, tracks, samples, sample_rate, text=text, emotion=emotion)
    out = dub_frames(renderer, frames, tracks, plan, emotion=emotion)
    return _encode(out, Path(out_path), fps, Audio(np.asarray(samples, dtype=np.float32), int(sample_rate)))


def _encode(frames: Iterator[np.ndarray], out: Path, fps: float, audio: Audio) -> Path:
    from facecraft.media import encode_video

    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        return encode_video(frames, out, fps=fps, audio=audio)
    except FacecraftError:
        raise
    except Exception as exc:  # an encoder failure must not surface as a traceback
        raise RenderError(f"could not write {out.name}: {exc}") from exc
