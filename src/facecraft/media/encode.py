"""H.264 + AAC mp4 writing with PyAV (libx264 veryfast, yuv420p).

Audio, when given, is interleaved with the video as frames are written (so the file streams well)
and the remainder is flushed at close; both streams start at time 0, which keeps them in sync.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np

from facecraft.errors import InputError, MediaError
from facecraft.media.types import Audio

__all__ = ["VideoWriter", "encode_video"]

log = logging.getLogger(__name__)

_AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)


def _fps_fraction(fps: float) -> Fraction:
    """Exact rate for common NTSC rates (29.97 → 30000/1001), else a small fraction."""
    for num in (24000, 30000, 60000):
        if abs(fps - num / 1001) < 1e-3:
            return Fraction(num, 1001)
    return Fraction(fps).limit_denominator(1001)


class VideoWriter:
    """Write RGB uint8 frames to an mp4 (H.264 yuv420p, optional AAC audio).

    Odd sizes are cropped by one pixel to even (yuv420p needs even dimensions). Use as a context
    manager; ``audio`` can be given to the constructor or set before ``close()``.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        fps: float,
        width: int,
        height: int,
        crf: int = 20,
        gop: int | None = None,
        audio: Audio | None = None,
        preset: str = "veryfast",
    ) -> None:
        if fps <= 0 or width < 2 or height < 2:
            raise InputError(f"bad video geometry: {width}x{height} at {fps} fps")
        self.path = Path(path)
        self.fps = float(fps)
        self.width = int(width) & ~1
        self.height = int(height) & ~1
        self.audio = audio
        self.frames_written = 0
        self._audio_stream: av.audio.stream.AudioStream | None = None
        self._audio_pcm: np.ndarray | None = None  # (channels, n) float32, planar for AAC
        self._audio_done = 0
        self._closed = False
        options = {"preset": preset, "crf": str(int(crf))}
        if gop:
            options.update({"g": str(int(gop)), "keyint_min": str(int(gop)), "sc_threshold": "0"})
        try:
            self._container = av.open(str(self.path), mode="w", format="mp4")
            self._video = self._container.add_stream("libx264", rate=_fps_fraction(self.fps), options=options)
        except av.error.FFmpegError as exc:
            raise MediaError(f"cannot open {self.path} for writing ({exc})", error_id="video_processing") from exc
        self._video.width = self.width
        self._video.height = self.height
        self._video.pix_fmt = "yuv420p"
        if gop:
            self._video.codec_context.gop_size = int(gop)

    # -- audio -------------------------------------------------------------------------------
    def _start_audio(self) -> None:
        """Create the AAC stream lazily: the header is written at the first muxed packet."""
        if self.audio is None or self._audio_stream is not None or self._audio_pcm is not None:
            return
        samples = np.asarray(self.audio.samples, dtype=np.float32)
        pcm = samples[None, :] if samples.ndim == 1 else samples.T
        rate = int(self.audio.sample_rate)
        if rate not in _AAC_RATES:
            from facecraft.media.audio import resample

            target = min(_AAC_RATES, key=lambda r: (r < rate, abs(r - rate)))
            pcm = resample(pcm.T, rate, target).T
            rate = target
        self._audio_pcm = np.ascontiguousarray(np.clip(pcm, -1.0, 1.0))
        layout = "mono" if pcm.shape[0] == 1 else "stereo"
        if pcm.shape[0] > 2:
            self._audio_pcm = np.ascontiguousarray(self._audio_pcm[:2])
        stream = self._container.add_stream("aac", rate=rate, layout=layout)
        stream.bit_rate = 128000
        self._audio_stream = stream

    def _write_audio_until(self, t: float | None) -> None:
        if self._audio_stream is None or self._audio_pcm is None:
            return
        rate = self._audio_stream.codec_context.sample_rate
        total = self._audio_pcm.shape[1]
        end = total if t is None else min(total, int(round(t * rate)))
        block = 1024 * 8
        while self._audio_done < end:
            stop = min(end, self._audio_done + block)
            chunk = np.ascontiguousarray(self._audio_pcm[:, self._audio_done:stop])
            frame = av.AudioFrame.from_ndarray(
                chunk, format="fltp", layout="mono" if chunk.shape[0] == 1 else "stereo"
            )
            frame.sample_rate = rate
            frame.pts = self._audio_done
            frame.time_base = Fraction(1, rate)
            for packet in self._audio_stream.encode(frame):
                self._container.mux(packet)
            self._audio_done = stop

    # -- video -------------------------------------------------------------------------------
    def write(self, rgb: np.ndarray) -> None:
        """Append one RGB uint8 frame of the writer's size (odd sizes cropped to even)."""
        if self._closed:
            raise MediaError("write after close", error_id="video_processing")
        image = np.asarray(rgb)
        if image.ndim != 3 or image.shape[2] != 3:
            raise InputError(f"expected an HxWx3 RGB frame, got shape {image.shape}")
        if image.shape[0] < self.height or image.shape[1] < self.width:
            raise InputError(f"frame {image.shape[1]}x{image.shape[0]} smaller than {self.width}x{self.height}")
        if image.shape[0] != self.height or image.shape[1] != self.width:
            image = image[: self.height, : self.width]
        if image.dtype != np.uint8:
            image = np.clip(image, 0, 255).astype(np.uint8)
        self._start_audio()
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        frame.pts = self.frames_written
        try:
            for packet in self._video.encode(frame):
                self._container.mux(packet)
            self.frames_written += 1
            self._write_audio_until(self.frames_written / self.fps)
        except av.error.FFmpegError as exc:
            raise MediaError(f"encoding failed for {self.path} ({exc})", error_id="video_processing") from exc

    def close(self) -> None:
        """Flush the encoders, write the remaining audio, and finish the file."""
        if self._closed:
            return
        self._closed = True
        try:
            self._start_audio()
            for packet in self._video.encode(None):
                self._container.mux(packet)
            self._write_audio_until(None)
            if self._audio_stream is not None:
                for packet in self._audio_stream.encode(None):
                    self._container.mux(packet)
        except av.error.FFmpegError as exc:
            raise MediaError(f"encoding failed for {self.path} ({exc})", error_id="video_processing") from exc
        finally:
            self._container.close()
        log.debug("wrote %d frames to %s", self.frames_written, self.path)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def encode_video(
    frames: Iterable[np.ndarray],
    path: str | Path,
    *,
    fps: float,
    audio: Audio | None = None,
    crf: int = 20,
    gop: int | None = None,
) -> Path:
    """Encode RGB uint8 frames (all of one size) to an H.264/AAC mp4; returns ``path``."""
    iterator = iter(frames)
    try:
        first = np.asarray(next(iterator))
    except StopIteration:
        raise InputError("no frames to encode") from None
    with VideoWriter(path, fps=fps, width=first.shape[1], height=first.shape[0], crf=crf, gop=gop,
                     audio=audio) as writer:
        writer.write(first)
        for image in iterator:
            writer.write(image)
    return Path(path)
