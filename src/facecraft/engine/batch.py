"""Batch renders to mp4: speech audio, text (through TTS), listening, and dub mode.

Speech and listening renders are the streaming renderer fed everything at once, so both paths share
one implementation. Dub mode keeps another video's own frames and head motion and replaces only the
mouth; it exists for evaluation (``bench/fidelity.py``) and for re-voicing footage.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from facecraft.engine.renderer import Renderer
from facecraft.engine.streaming import RATE, StreamingRenderer
from facecraft.errors import FacecraftError, InputError, RenderError, SpeechError
from facecraft.faces.bundle import FaceBundle
from facecraft.media.types import Frame
from facecraft.speech.types import Alignment, Phone
from facecraft.vision.types import Tracks

__all__ = [
    "render_speech",
    "render_text",
    "render_listening",
    "render_dub",
    "dub_frames",
    "DubPlan",
    "select_dub_mouths",
    "speech_frames",
    "prepare_audio",
    "Progress",
]

if TYPE_CHECKING:
    from facecraft.speech.tts import TTSBackend

log = logging.getLogger(__name__)

Progress = Callable[[float], None]
MIN_AUDIO_S = 0.1


def _renderer(bundle: FaceBundle | Renderer, size: tuple[int, int] | None) -> Renderer:
    if isinstance(bundle, Renderer):
        if size is not None and tuple(size) != bundle.size:
            return Renderer(bundle.bundle, size=size, config=bundle.config)
        return bundle
    return Renderer(bundle, size=size)


def prepare_audio(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono float32 at 16 kHz; InputError for empty, too short or non-finite audio."""
    from facecraft.media import resample

    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if x.ndim != 1 or sample_rate <= 0:
        raise InputError("audio must be mono samples with a positive sample rate")
    if x.size == 0:
        raise InputError("the audio is empty")
    if x.size / sample_rate < MIN_AUDIO_S:
        raise InputError(f"the audio is too short ({x.size / sample_rate:.3f} s; at least {MIN_AUDIO_S} s)")
    if not np.isfinite(x).all():
        raise InputError("the audio contains NaN or infinite samples")
    return x if sample_rate == RATE else resample(x, sample_rate, RATE).astype(np.float32)


def _phones(x16: np.ndarray, alignment: Alignment | None, text: str | None) -> tuple[list[Phone], bool]:
    """Phone timings (given, forced-aligned to ``text``, or recognised) and whether to trust them."""
    if alignment is not None:
        return list(alignment.phones), alignment.source != "phone_loop"
    from facecraft.speech.align import align, align_audio

    try:
        if text and text.strip():
            return list(align(x16, RATE, text).phones), True
        return list(align_audio(x16, RATE).phones), False
    except SpeechError as exc:
        log.warning("alignment failed (%s); the mouth follows the audio only", exc.message)
        return [], False


def speech_frames(
    renderer: Renderer,
    samples: np.ndarray,
    sample_rate: int,
    *,
    alignment: Alignment | None = None,
    text: str | None = None,
    progress: Progress | None = None,
) -> Iterator[np.ndarray]:
    """The frames of a speech render, one per 1/fps of audio (duration = audio, rounded to a frame)."""
    x16 = prepare_audio(samples, sample_rate)
    phones, trusted = _phones(x16, alignment, text)
    stream = StreamingRenderer(renderer)
    stream.push_audio(x16, RATE, phones, trust_phones=trusted)
    stream.end_of_speech()
    n = max(1, int(round(x16.size / RATE * renderer.fps)))
    for i in range(n):
        yield stream.next_frame()
        if progress and i % 10 == 0:
            progress(i / n)


def _write(frames: Iterator[np.ndarray], out_path: str | Path, fps: float, samples: np.ndarray, sr: int) -> Path:
    from facecraft.media import Audio, encode_video

    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        encode_video(frames, out, fps=fps, audio=Audio(np.asarray(samples, dtype=np.float32), int(sr)))
    except FacecraftError:
        raise
    except Exception as exc:  # an encoder failure must not surface as a traceback
        raise RenderError(f"could not write {out.name}: {exc}") from exc
    return out


def render_speech(
    bundle: FaceBundle | Renderer,
    samples: np.ndarray,
    sample_rate: int,
    *,
    alignment: Alignment | None = None,
    text: str | None = None,
    out_path: str | Path,
    size: tuple[int, int] | None = None,
    progress: Progress | None = None,
) -> Path:
    """Render the Face saying ``samples`` to an mp4 (H.264 + AAC, footage fps)."""
    renderer = _renderer(bundle, size)
    x = np.asarray(samples, dtype=np.float32)
    x = x.mean(axis=1) if x.ndim == 2 else x
    frames = speech_frames(renderer, x, sample_rate, alignment=alignment, text=text, progress=progress)
    first = next(frames)  # validates the input before a file is created

    def chain() -> Iterator[np.ndarray]:
        yield first
        yield from frames

    path = _write(chain(), out_path, renderer.fps, x, sample_rate)
    if progress:
        progress(1.0)
    return path


def check_text(text: str) -> str:
    """InputError unless the text has something to say (the speech layer's rule), before any work."""
    from facecraft.speech.text import require_speakable

    require_speakable(text)
    return text.strip()


def render_text(
    bundle: FaceBundle | Renderer,
    text: str,
    *,
    out_path: str | Path,
    tts: TTSBackend | None = None,
    adapt_voice: bool = True,
    size: tuple[int, int] | None = None,
    progress: Progress | None = None,
) -> Path:
    """Synthesise ``text`` and render it. Without ``tts``, the Face's own voice: the stock voice a photo
    Face was built with, or the default voice adapted toward a video Face's speaker."""
    from facecraft.speech import voice as sv
    from facecraft.speech.voices import face_speaker

    text = check_text(text)
    renderer = _renderer(bundle, size)
    if tts is not None:
        backend = tts
    else:
        backend, adapts = face_speaker(renderer.bundle.manifest.get("voice"))
        adapt_voice = adapt_voice and adapts
    samples, sr, alignment = backend.synthesize(text)
    if adapt_voice:
        try:
            profile = sv.VoiceProfile.from_dict(json.loads(renderer.bundle.file("voice.json").read_text()))
            samples = sv.adapt_voice(samples, sr, profile)
        except (FacecraftError, ValueError, KeyError) as exc:
            log.warning("voice adaptation skipped: %s", exc)
    return render_speech(renderer, samples, sr, alignment=alignment, out_path=out_path, progress=progress)


def render_listening(
    bundle: FaceBundle | Renderer,
    seconds: float,
    *,
    out_path: str | Path,
    size: tuple[int, int] | None = None,
    progress: Progress | None = None,
) -> Path:
    """The Face listening for ``seconds`` (its own footage's motion, no speech), with a silent track."""
    if not (seconds > 0) or seconds > 3600:
        raise InputError(f"seconds must be in (0, 3600], got {seconds}")
    renderer = _renderer(bundle, size)
    stream = StreamingRenderer(renderer)
    n = max(1, int(round(seconds * renderer.fps)))

    def frames() -> Iterator[np.ndarray]:
        for i in range(n):
            yield stream.next_frame()
            if progress and i % 10 == 0:
                progress(i / n)

    silence = np.zeros(int(round(n / renderer.fps * RATE)), dtype=np.float32)
    return _write(frames(), out_path, renderer.fps, silence, RATE)


# --- dub mode --------------------------------------------------------------------------------------


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
) -> DubPlan:
    """Mouth-database entry per frame of a tracked video for the audio, chosen as in a speech render."""
    x16 = prepare_audio(samples, sample_rate)
    n = len(tracks)
    cfg = renderer.config
    phones, trusted = _phones(x16, alignment, text)
    tl = renderer.timeline(x16, n, phones, trust_phones=trusted, fps=tracks.fps)
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
) -> Iterator[np.ndarray]:
    """Re-voice ``frames`` (tracked by ``tracks``, same count and order): their motion, the planned mouths.

    ``plan`` usually comes from :func:`select_dub_mouths`; the benchmark also passes random or fixed
    mouths, without target apertures, as baselines.
    """
    present = np.asarray(tracks.present, dtype=bool)
    mouths, targets = plan.mouths, plan.aperture
    for i, image in enumerate(frames):
        if i >= len(tracks):
            break
        if present[i] and i < len(mouths) and mouths[i] >= 0:
            geo = renderer.compositor.geometry(tracks.landmarks[i])
            aperture = float(targets[i]) if targets is not None and i < len(targets) else None
            image = renderer.compositor.compose(image, mouths[i], geo, aperture)
        yield renderer.finish(image, keep_size=True)


def render_dub(
    bundle: FaceBundle | Renderer,
    video_path: str | Path,
    *,
    out_path: str | Path,
    samples: np.ndarray | None = None,
    sample_rate: int = RATE,
    start_s: float = 0.0,
    end_s: float | None = None,
    text: str | None = None,
    size: tuple[int, int] | None = None,
) -> Path:
    """Dub mode: ``video_path``'s frames in ``[start_s, end_s)`` with mouths from the Face for the audio.

    Without ``samples`` the video's own audio over the same range is used (self-reconstruction).
    """
    from facecraft import media, vision

    renderer = _renderer(bundle, size)
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
    plan = select_dub_mouths(renderer, tracks, samples, sample_rate, text=text)
    out = dub_frames(renderer, frames, tracks, plan)
    return _write(out, out_path, fps, samples, sample_rate)
