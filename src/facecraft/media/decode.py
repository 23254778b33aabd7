"""Streamed decoding of video frames and audio with PyAV.

Frames come out upright (display rotation applied) as RGB uint8, optionally downscaled while
converting: one swscale pass, no second resize (swscale's bilinear filter widens when it shrinks, so
it does not alias). Decoding is threaded (``thread_type = "AUTO"``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from facecraft.audio import RATE
from facecraft.errors import MediaError
from facecraft.media._errors import check_readable, translate_av_errors
from facecraft.media.limits import check_video_size
from facecraft.media.probe import _tag_rotation, clockwise_rotation, is_still_image, open_input
from facecraft.media.types import Audio, Frame

__all__ = ["iter_frames", "read_audio", "scaled_size"]

log = logging.getLogger(__name__)

# A decode that stops before this share of the frames the container announces is a truncated file.
_TRUNCATED_SHARE = 0.8


def scaled_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """Size after fitting the long side into ``max_side`` (never upscaled; at least 2 px)."""
    if not max_side or max(width, height) <= max_side:
        return width, height
    scale = max_side / float(max(width, height))
    return max(2, int(round(width * scale))), max(2, int(round(height * scale)))


def _open(path: Path) -> av.container.InputContainer:
    check_readable(path)
    with translate_av_errors(path, opening=True):
        return open_input(path)


def iter_frames(
    path: str | Path,
    *,
    max_side: int | None = None,
    start_s: float = 0.0,
    end_s: float | None = None,
) -> Iterator[Frame]:
    """Yield the frames of ``path`` in ``[start_s, end_s)`` as upright RGB uint8 images.

    ``Frame.index`` is the frame number in the whole video and ``time_s`` its time from the
    start of the stream. Raises MediaError ``video_format`` (no video stream, still image, not
    media) or ``video_processing`` (corrupt or truncated data).
    """
    path = Path(path)
    container = _open(path)
    try:
        with translate_av_errors(path, opening=False):
            if not container.streams.video:
                raise MediaError(f"{path.name} has no video stream", error_id="video_format")
            stream = container.streams.video[0]
            if is_still_image(container, stream):
                raise MediaError(f"{path.name} is a still image, not a video", error_id="video_format")
            check_video_size(stream.codec_context.width, stream.codec_context.height, path.name)
            stream.thread_type = "AUTO"
            yield from _decode_video(container, stream, path, max_side, start_s, end_s)
    finally:
        container.close()


def _decode_video(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    path: Path,
    max_side: int | None,
    start_s: float,
    end_s: float | None,
) -> Iterator[Frame]:
    time_base = Fraction(stream.time_base) if stream.time_base else Fraction(1, 90000)
    t0 = float(stream.start_time * time_base) if stream.start_time is not None else 0.0
    fps = float(stream.average_rate or stream.guessed_rate or 25)
    eps = 1e-3  # timestamps are exact rationals; this only absorbs float rounding
    tag_rotation = _tag_rotation(stream)
    index: int | None = None if start_s > 0 else 0
    decoded = 0
    reached_end = True
    if start_s > 0:
        source = _seek(container, stream, path, start_s, t0, time_base, eps)
    else:
        source = container.decode(stream)
    for frame in source:
        t = float(frame.time - t0) if frame.time is not None else (index or 0) / fps
        if t < start_s - eps:
            continue
        if end_s is not None and t >= end_s - eps:
            reached_end = False
            break
        if index is None:
            index = int(round(t * fps))
        rotation = tag_rotation if tag_rotation is not None else clockwise_rotation(frame.rotation)
        disp_w, disp_h = (frame.height, frame.width) if rotation in (90, 270) else (frame.width, frame.height)
        out_w, out_h = scaled_size(disp_w, disp_h, max_side)
        if rotation in (90, 270):
            out_w, out_h = out_h, out_w
        image: np.ndarray
        if (out_w, out_h) != (frame.width, frame.height):
            image = frame.to_ndarray(format="rgb24", width=out_w, height=out_h, interpolation="BILINEAR")
        else:
            image = frame.to_ndarray(format="rgb24")
        if rotation:
            image = np.ascontiguousarray(np.rot90(image, k=-rotation // 90))
        yield Frame(index=index, time_s=t, image=image)
        index += 1
        decoded += 1
    announced = int(stream.frames or 0)
    if reached_end and start_s <= 0 and announced > 10 and decoded < _TRUNCATED_SHARE * announced:
        raise MediaError(
            f"{path.name} is truncated: decoded {decoded} of {announced} frames", error_id="video_processing"
        )


def _seek(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    path: Path,
    start_s: float,
    t0: float,
    time_base: Fraction,
    eps: float,
) -> Iterator[av.VideoFrame]:
    """Frames from the key frame at or before ``start_s``.

    Some demuxers (MPEG program streams) seek by estimated byte position and can land after the
    target; then we seek again further back (1 s, 2 s, 4 s...). Seeking such a file to 0 can skip
    its first group of pictures, so "from the start" decodes a freshly opened container instead.
    """
    back = 0.0
    while True:
        target = start_s - back
        if target <= 0.0:
            with open_input(path) as fresh:
                video = fresh.streams.video[0]
                video.thread_type = "AUTO"
                yield from fresh.decode(video)
            return
        container.seek(int((target + t0) / time_base), stream=stream, backward=True, any_frame=False)
        frames = container.decode(stream)
        first = next(frames, None)
        if first is None:
            return
        late = first.time is not None and first.time - t0 > start_s + eps
        if not late:
            yield first
            yield from frames
            return
        back = 1.0 if back == 0.0 else 2.0 * back


def read_audio(
    path: str | Path, *, sample_rate: int = RATE, mono: bool = True, max_s: float | None = None
) -> Audio:
    """Decode the first audio stream to float32 at ``sample_rate`` (mono by default).

    ``max_s`` bounds the memory a long (or lying) file can take: decoding stops a little past it, so a
    caller that refuses long audio sees ``duration_s > max_s`` without holding hours of samples.
    Raises MediaError ``audio_processing`` when there is no audio stream or it cannot be decoded,
    ``video_format`` when the file is not media at all.
    """
    path = Path(path)
    container = _open(path)
    try:
        if not container.streams.audio:
            raise MediaError(f"{path.name} has no audio stream", error_id="audio_processing")
        stream = container.streams.audio[0]
        stream.thread_type = "AUTO"  # type: ignore[attr-defined]  # PyAV sets it on any stream
        channels = 1 if mono else max(1, int(stream.codec_context.channels or 1))
        layout = "mono" if channels == 1 else ("stereo" if channels == 2 else stream.layout.name)
        resampler = av.AudioResampler(format="flt", layout=layout, rate=sample_rate)
        chunks: list[np.ndarray] = []
        cap = None if max_s is None else int((max_s + 1.0) * sample_rate * channels)
        held = 0
        with translate_av_errors(path, opening=False, damaged_id="audio_processing"):
            for frame in container.decode(stream):
                frame.pts = None  # let the resampler run on sample counts; timestamps can jump in bad files
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
                    held += chunks[-1].size
                if cap is not None and held > cap:
                    break
            else:
                for out in resampler.resample(None):
                    chunks.append(out.to_ndarray().reshape(-1))
    finally:
        container.close()
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    samples = np.clip(samples, -1.0, 1.0).astype(np.float32, copy=False)  # AAC decoding can overshoot
    if channels > 1:
        samples = samples.reshape(-1, channels)
    if samples.shape[0] == 0:
        raise MediaError(f"{path.name}: the audio stream is empty", error_id="audio_processing")
    log.debug("read %d samples at %d Hz from %s", samples.shape[0], sample_rate, path)
    return Audio(samples=samples, sample_rate=sample_rate)
