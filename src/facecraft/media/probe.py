"""Probe a media file: container, codecs, duration, fps, display size, audio, rotation."""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import av

from facecraft.errors import MediaError
from facecraft.media._errors import check_readable, translate_av_errors
from facecraft.media.limits import check_video_size
from facecraft.media.types import AudioStreamInfo, MediaInfo, VideoStreamInfo

__all__ = ["probe", "open_input", "is_still_image", "clockwise_rotation"]

log = logging.getLogger(__name__)

# Demuxers and codecs that hold a single picture: an uploaded photo is not a video.
_IMAGE_CODECS = frozenset(
    {"png", "mjpeg", "bmp", "gif", "webp", "tiff", "jpeg2000", "jpegls", "ppm", "pgm", "pam"}
)


def open_input(path: Path) -> av.container.InputContainer:
    """Open ``path`` for reading without decoding pictures to learn its streams.

    FFmpeg's stream probing decodes a frame or two by default: 150 MB for an 8192x8192 H.264 before
    any size check could refuse it. Skipping frames there leaves sizes known from the headers and
    decoding itself unchanged; a stream whose size only a decoded frame tells is reopened as usual.
    """
    container = av.open(str(path), mode="r", options={"skip_frame": "all"})
    if any(not (s.codec_context.width and s.codec_context.height) for s in container.streams.video):
        container.close()
        container = av.open(str(path), mode="r")
    return container


def is_still_image(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> bool:
    """True when the container is an image demuxer (``png_pipe``, ``image2``...) holding one picture."""
    name = container.format.name
    if name == "image2" or name.endswith("_pipe"):
        return True
    return stream.codec_context.name in _IMAGE_CODECS and (stream.frames or 0) <= 1 and not container.duration


def clockwise_rotation(ccw_degrees: float | int | None) -> int:
    """Degrees clockwise (0/90/180/270) that display a frame upright, from FFmpeg's ccw display angle."""
    if not ccw_degrees:
        return 0
    return int(round(-float(ccw_degrees) / 90.0)) % 4 * 90


def _tag_rotation(stream: av.video.stream.VideoStream) -> int | None:
    """Old-style ``rotate`` metadata tag (clockwise degrees), when present."""
    tag = stream.metadata.get("rotate")
    if tag is None:
        return None
    try:
        return int(round(float(tag) / 90.0)) % 4 * 90
    except ValueError:
        return None


def _fps(stream: av.video.stream.VideoStream) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and float(rate) > 0:
            return float(rate)
    return 0.0


def _stream_duration(stream: av.stream.Stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * Fraction(stream.time_base))
    return None


def _video_info(container: av.container.InputContainer, stream: av.video.stream.VideoStream,
                duration_s: float, path: Path) -> VideoStreamInfo:
    check_video_size(stream.codec_context.width, stream.codec_context.height, path.name)
    rotation = _tag_rotation(stream)
    if rotation is None:
        # The display matrix travels on decoded frames; one frame is cheap to decode.
        rotation = 0
        with translate_av_errors(path, opening=False):
            for frame in container.decode(stream):
                rotation = clockwise_rotation(frame.rotation)
                break
    width, height = stream.codec_context.width, stream.codec_context.height
    if rotation in (90, 270):
        width, height = height, width
    fps = _fps(stream)
    frame_count = int(stream.frames or 0)
    if frame_count <= 0 and fps > 0:
        frame_count = int(round(duration_s * fps))
    return VideoStreamInfo(
        codec=stream.codec_context.name,
        width=int(width),
        height=int(height),
        fps=fps,
        frame_count=frame_count,
        rotation=rotation,
        pix_fmt=stream.codec_context.pix_fmt,
        bit_rate=int(stream.bit_rate) if stream.bit_rate else None,
    )


def probe(path: str | Path) -> MediaInfo:
    """Describe a media file without decoding it (except one frame, for the rotation).

    Raises MediaError ``video_format`` when the file is missing, empty, not media or a still
    image, and ``video_processing`` when it is media but damaged. A file with only audio is
    returned with ``video=None``: whether that is an error is the caller's decision.
    """
    path = Path(path)
    check_readable(path)
    with translate_av_errors(path, opening=True):
        container = open_input(path)
    try:
        with translate_av_errors(path, opening=False):
            vstream = container.streams.video[0] if container.streams.video else None
            astream = container.streams.audio[0] if container.streams.audio else None
            if vstream is not None and is_still_image(container, vstream):
                raise MediaError(f"{path.name} is a still image, not a video", error_id="video_format")
            if vstream is None and astream is None:
                raise MediaError(f"{path.name} has no video or audio stream", error_id="video_format")
            durations = [container.duration / av.time_base if container.duration else None]
            durations += [_stream_duration(s) for s in (vstream, astream) if s is not None]
            duration_s = max((d for d in durations if d), default=0.0)
            audio = None
            if astream is not None:
                audio = AudioStreamInfo(
                    codec=astream.codec_context.name,
                    sample_rate=int(astream.codec_context.sample_rate or 0),
                    channels=int(astream.codec_context.channels or 0),
                    duration_s=_stream_duration(astream),
                )
            video = _video_info(container, vstream, duration_s, path) if vstream is not None else None
            info = MediaInfo(
                path=path,
                container=container.format.name,
                size_bytes=path.stat().st_size,
                duration_s=float(duration_s),
                video=video,
                audio=audio,
            )
    finally:
        container.close()
    log.debug("probed %s: %s", path, info)
    return info
