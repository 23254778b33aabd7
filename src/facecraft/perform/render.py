"""File renders: the Face says text or audio (or listens) into an mp4, through the streaming renderer.

Pieces of speech are pushed as they come (a sentence at a time for text), frames are pulled as soon
as their look-ahead is there and written straight to the encoder with their audio, so nothing grows
with the length of the script: a long script costs time, not memory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from facecraft.audio import RATE
from facecraft.engine.cues import Emotion
from facecraft.engine.renderer import FaceData, Renderer
from facecraft.engine.streaming import StreamingRenderer
from facecraft.errors import FacecraftError, InputError, RenderError
from facecraft.perform.script import Script, parse_script
from facecraft.perform.speech import Piece, audio_pieces, face_speaker, face_voice, prepare_audio, text_pieces
from facecraft.speech.types import Alignment

__all__ = ["Progress", "renderer_for", "render_pieces", "render_text", "render_speech", "render_listening",
           "speech_frames", "check_text"]

log = logging.getLogger(__name__)

Progress = Callable[[float], None]
MAX_LISTEN_S = 3600.0
PROGRESS_FRAMES = 25


def renderer_for(face: FaceData | Renderer, size: tuple[int, int] | None = None) -> Renderer:
    """A loaded renderer of ``face`` at ``size`` (a given renderer is reused when its size fits)."""
    if isinstance(face, Renderer):
        if size is not None and tuple(size) != face.size:
            return Renderer(face.bundle, size=size, config=face.config)
        return face
    return Renderer(face, size=size)


def render_pieces(
    renderer: Renderer, pieces: Iterable[Piece], *, out_path: str | Path,
    progress: Callable[[Piece | None, int], None] | None = None,
) -> Path:
    """Push ``pieces`` into a streaming renderer and write its frames and their audio to an mp4 as they
    come (H.264 + AAC at the first piece's rate, footage fps). ``progress(piece, frames written)`` after
    each piece, and ``progress(None, frames)`` every ``PROGRESS_FRAMES`` frames. Nothing is left behind
    when a piece fails."""
    from facecraft.media import VideoWriter

    stream = StreamingRenderer(renderer)
    out = Path(out_path)
    writer: VideoWriter | None = None
    frames = 0

    def pull(n: int) -> None:
        nonlocal frames
        assert writer is not None
        for _ in range(n):
            writer.write(stream.next_frame().image)
            frames += 1
            if progress and frames % PROGRESS_FRAMES == 0:
                progress(None, frames)

    try:
        for piece in pieces:
            if writer is None:
                out.parent.mkdir(parents=True, exist_ok=True)
                w, h = renderer.size
                writer = VideoWriter(out, fps=renderer.fps, width=w, height=h, audio_rate=piece.sample_rate)
            if piece.emotion is not None:
                stream.set_emotion(piece.emotion)
            stream.push_audio(piece.samples, piece.sample_rate, piece.phones, trust_phones=piece.trust_phones)
            writer.write_audio(piece.samples)
            pull(stream.ready)
            if progress:
                progress(piece, frames)
        if writer is None:
            raise InputError("there is nothing to say")
        stream.end_of_speech()
        pull(stream.ready)
        writer.close()
    except FacecraftError:
        _discard(writer, out)
        raise
    except Exception as exc:  # an encoder failure must not surface as a traceback
        _discard(writer, out)
        raise RenderError(f"could not write {out.name}: {exc}") from exc
    return out


def _discard(writer: object, out: Path) -> None:
    if writer is not None:
        try:
            writer.close()  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001  (already failing: the first error is the one to report)
            pass
        out.unlink(missing_ok=True)


def check_text(text: str) -> Script:
    """The script parsed (InputError unless it has something to say), before any work."""
    return parse_script(text)


def render_text(
    face: FaceData | Renderer,
    text: str,
    *,
    out_path: str | Path,
    tts: object | None = None,
    adapt_voice: bool = True,
    size: tuple[int, int] | None = None,
    progress: Progress | None = None,
    emotion: Emotion | None = None,
) -> Path:
    """The Face says ``text`` (a script: emotion tags allowed), synthesised sentence by sentence. Without
    ``tts``, in the Face's own voice: the stock voice a photo Face was built with, as it is, or the default
    voice adapted toward a video Face's speaker. ``emotion`` holds until the script's first tag."""
    from facecraft.speech.tts import TTSBackend

    script = check_text(text)
    renderer = renderer_for(face, size)
    if isinstance(tts, TTSBackend):
        backend = tts
    else:
        backend, adapts = face_speaker(renderer.bundle)
        adapt_voice = adapt_voice and adapts
    voice = face_voice(renderer.bundle) if adapt_voice else None
    total = max(1, len(script.text))
    said = 0

    def report(piece: Piece | None, _frames: int) -> None:
        nonlocal said
        if piece is None:
            return
        said += len(piece.text) + 1
        if progress:
            progress(min(0.99, said / total))

    pieces = text_pieces(script, backend, voice=voice, emotion=emotion)
    path = render_pieces(renderer, pieces, out_path=out_path, progress=report)
    if progress:
        progress(1.0)
    return path


def render_speech(
    face: FaceData | Renderer,
    samples: np.ndarray,
    sample_rate: int,
    *,
    alignment: Alignment | None = None,
    text: str | None = None,
    out_path: str | Path,
    size: tuple[int, int] | None = None,
    progress: Progress | None = None,
    emotion: Emotion | None = None,
) -> Path:
    """Render the Face saying ``samples`` to an mp4 (H.264 + AAC, footage fps), showing ``emotion``."""
    renderer = renderer_for(face, size)
    pieces = audio_pieces(samples, sample_rate, alignment=alignment, text=text, emotion=emotion)
    first = next(pieces)  # validates the input before a file is created
    total = max(1, int(round(first.samples.size / first.sample_rate * renderer.fps)))

    def report(_piece: Piece | None, frames: int) -> None:
        if progress:
            progress(min(0.99, frames / total))

    path = render_pieces(renderer, [first], out_path=out_path, progress=report)
    if progress:
        progress(1.0)
    return path


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
    piece = next(audio_pieces(samples, sample_rate, alignment=alignment, text=text))
    stream = StreamingRenderer(renderer)
    stream.push_audio(piece.samples, RATE, piece.phones, trust_phones=piece.trust_phones)
    stream.end_of_speech()
    n = max(1, int(round(piece.samples.size / RATE * renderer.fps)))
    for i in range(n):
        yield stream.next_frame().image
        if progress and i % 10 == 0:
            progress(i / n)


def render_listening(
    face: FaceData | Renderer,
    seconds: float,
    *,
    out_path: str | Path,
    size: tuple[int, int] | None = None,
    progress: Progress | None = None,
    emotion: Emotion | None = None,
) -> Path:
    """The Face listening for ``seconds`` (its own footage's motion, no speech), with a silent track,
    showing ``emotion`` (face and head style)."""
    from facecraft.media import VideoWriter

    if not (seconds > 0) or seconds > MAX_LISTEN_S:
        raise InputError(f"seconds must be in (0, {MAX_LISTEN_S:g}], got {seconds}")
    renderer = renderer_for(face, size)
    stream = StreamingRenderer(renderer)
    if emotion is not None:
        stream.set_emotion(emotion)
    n = max(1, int(round(seconds * renderer.fps)))
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    w, h = renderer.size
    try:
        with VideoWriter(out, fps=renderer.fps, width=w, height=h, audio_rate=RATE) as writer:
            hop = RATE / renderer.fps
            for i in range(n):
                writer.write_audio(np.zeros(int(round((i + 1) * hop)) - int(round(i * hop)), np.float32))
                writer.write(stream.next_frame().image)
                if progress and i % 10 == 0:
                    progress(i / n)
    except FacecraftError:
        raise
    except Exception as exc:
        raise RenderError(f"could not write {out.name}: {exc}") from exc
    return out


__all__ += ["prepare_audio"]
