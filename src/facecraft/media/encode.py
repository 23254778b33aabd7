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

from facecraft.audio import resample
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


class _AacTrack:
    """An AAC stream in ``container``, written up to a given time from the samples given so far.

    Samples are given whole (an :class:`Audio`) or appended as they come (``append``); only those not
    yet written are held.
    """

    def __init__(self, container: av.container.OutputContainer, rate: int, channels: int) -> None:
        self.source_rate = int(rate)
        self.rate = self.source_rate if self.source_rate in _AAC_RATES else min(
            _AAC_RATES, key=lambda r: (r < self.source_rate, abs(r - self.source_rate)))
        self.layout = "mono" if channels == 1 else "stereo"
        self.pending = np.zeros((1 if channels == 1 else 2, 0), dtype=np.float32)
        self.done = 0
        self.container = container
        self.stream = container.add_stream("aac", rate=self.rate, layout=self.layout)
        self.stream.bit_rate = 128000

    @classmethod
    def of(cls, container: av.container.OutputContainer, audio: Audio) -> _AacTrack:
        samples = np.asarray(audio.samples, dtype=np.float32)
        track = cls(container, int(audio.sample_rate), 1 if samples.ndim == 1 else min(2, samples.shape[1]))
        track.append(samples)
        return track

    def append(self, samples: np.ndarray) -> None:
        """Add samples ((n,) mono or (n, channels)) at the track's source rate."""
        samples = np.asarray(samples, dtype=np.float32)
        pcm = samples[None, :] if samples.ndim == 1 else samples.T[:2]  # planar, at most stereo
        if pcm.shape[0] != self.pending.shape[0]:
            pcm = np.repeat(pcm.mean(0, keepdims=True), self.pending.shape[0], axis=0)
        if self.rate != self.source_rate:
            pcm = resample(pcm.T, self.source_rate, self.rate).T
        self.pending = np.concatenate([self.pending, np.clip(pcm, -1.0, 1.0)], axis=1)

    def write_until(self, t: float | None) -> None:
        """Encode and mux the samples before time ``t`` (all of them when None)."""
        available = self.done + self.pending.shape[1]
        end = available if t is None else min(available, int(round(t * self.rate)))
        while self.done < end:
            stop = min(end, self.done + 8192)
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(self.pending[:, : stop - self.done]), format="fltp", layout=self.layout
            )
            frame.sample_rate = self.rate
            frame.pts = self.done
            frame.time_base = Fraction(1, self.rate)
            for packet in self.stream.encode(frame):
                self.container.mux(packet)
            self.pending = self.pending[:, stop - self.done:]
            self.done = stop

    def finish(self) -> None:
        self.write_until(None)
        for packet in self.stream.encode(None):
            self.container.mux(packet)


class VideoWriter:
    """Write RGB uint8 frames to an mp4 (H.264 yuv420p, optional AAC audio).

    Odd sizes are cropped by one pixel to even (yuv420p needs even dimensions). Use as a context
    manager. ``audio`` given to the constructor (or set before the first frame) is interleaved with
    the video as it is written; set later, it is muxed at close by copying the video packets into a
    new file next to the audio (no re-encoding). All audio is kept, even past the last frame.
    ``audio_rate`` instead streams the audio: give it with ``write_audio`` as it comes (ahead of the
    frames it belongs under), so that neither side is ever held whole.
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
        audio_rate: int | None = None,
        preset: str = "veryfast",
    ) -> None:
        if fps <= 0 or width < 2 or height < 2:
            raise InputError(f"bad video geometry: {width}x{height} at {fps} fps")
        self.path = Path(path)
        self.fps = float(fps)
        self.width = int(width) & ~1
        self.height = int(height) & ~1
        self.audio = audio
        if audio is not None and audio_rate is not None:
            raise InputError("give the audio whole or its rate for write_audio, not both")
        self.audio_rate = audio_rate
        self.frames_written = 0
        self._track: _AacTrack | None = None
        self._early = np.zeros(0, dtype=np.float32)  # streamed audio given before the first frame
        self._closed = False
        options = {"preset": preset, "crf": str(int(crf))}
        if gop:
            options.update({"g": str(int(gop)), "keyint_min": str(int(gop)), "sc_threshold": "0"})
        try:
            self._container = av.open(str(self.path), mode="w", format="mp4")
            self._video = self._container.add_stream("libx264", rate=_fps_fraction(self.fps), options=options)
        except av.error.FFmpegError as exc:
            message = f"cannot open {self.path} for writing ({exc})"
            raise MediaError(message, error_id="video_processing") from exc
        self._video.width = self.width
        self._video.height = self.height
        self._video.pix_fmt = "yuv420p"
        if gop:
            self._video.codec_context.gop_size = int(gop)

    def write(self, rgb: np.ndarray) -> None:
        """Append one RGB uint8 frame of the writer's size (odd sizes cropped to even)."""
        if self._closed:
            raise MediaError("write after close", error_id="video_processing")
        image = np.asarray(rgb)
        if image.ndim != 3 or image.shape[2] != 3:
            raise InputError(f"expected an HxWx3 RGB frame, got shape {image.shape}")
        if image.shape[0] < self.height or image.shape[1] < self.width:
            size = f"{image.shape[1]}x{image.shape[0]}"
            raise InputError(f"frame {size} smaller than {self.width}x{self.height}")
        if image.shape[0] != self.height or image.shape[1] != self.width:
            image = image[: self.height, : self.width]
        if image.dtype != np.uint8:
            image = np.clip(image, 0, 255).astype(np.uint8)
        try:
            if self.frames_written == 0 and self.audio is not None:
                self._track = _AacTrack.of(self._container, self.audio)  # before the header is written
            elif self.frames_written == 0 and self.audio_rate is not None:
                self._open_stream_track()
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.pts = self.frames_written
            for packet in self._video.encode(frame):
                self._container.mux(packet)
            self.frames_written += 1
            if self._track is not None:
                self._track.write_until(self.frames_written / self.fps)
        except av.error.FFmpegError as exc:
            message = f"encoding failed for {Path(self.path).name} ({exc})"
            raise MediaError(message, error_id="video_processing") from exc

    def _open_stream_track(self) -> None:
        if self._track is None and self.audio_rate is not None:
            self._track = _AacTrack(self._container, int(self.audio_rate), 1)
            self._track.append(self._early)
            self._early = np.zeros(0, dtype=np.float32)

    def write_audio(self, samples: np.ndarray) -> None:
        """Append mono samples at ``audio_rate`` (streamed audio); they are muxed under the frames they
        belong to as those are written."""
        if self.audio_rate is None:
            raise InputError("write_audio needs the writer's audio_rate")
        if self._track is None:  # before the first frame: the track opens with it
            self._early = np.concatenate([self._early, np.asarray(samples, dtype=np.float32).reshape(-1)])
        else:
            self._track.append(np.asarray(samples, dtype=np.float32).reshape(-1))

    def close(self) -> None:
        """Flush the encoders, write the remaining audio, and finish the file."""
        if self._closed:
            return
        self._closed = True
        late_audio = self.audio is not None and self._track is None
        try:
            if self.frames_written == 0 and self.audio_rate is not None:
                self._open_stream_track()
            if late_audio and self.frames_written == 0:
                self._track = _AacTrack.of(self._container, self.audio)  # type: ignore[arg-type]
                late_audio = False
            for packet in self._video.encode(None):
                self._container.mux(packet)
            if self._track is not None:
                self._track.finish()
        except av.error.FFmpegError as exc:
            message = f"encoding failed for {Path(self.path).name} ({exc})"
            raise MediaError(message, error_id="video_processing") from exc
        finally:
            self._container.close()
        if late_audio:
            _add_audio(self.path, self.audio)  # type: ignore[arg-type]
        log.debug("wrote %d frames to %s", self.frames_written, self.path)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _add_audio(path: Path, audio: Audio) -> None:
    """Rewrite the video-only mp4 at ``path`` with ``audio`` added (video packets copied as they are)."""
    silent = path.with_name(path.name + ".video.tmp")
    path.replace(silent)
    try:
        with av.open(str(silent)) as source, av.open(str(path), mode="w", format="mp4") as target:
            video_in = source.streams.video[0]
            video_out = target.add_stream_from_template(video_in)
            track = _AacTrack.of(target, audio)
            for packet in source.demux(video_in):
                if packet.dts is None:
                    continue
                packet.stream = video_out
                target.mux(packet)
                if packet.pts is not None:
                    track.write_until(float(packet.pts * packet.time_base))
            track.finish()
    except av.error.FFmpegError as exc:
        message = f"adding audio to {Path(path).name} failed ({exc})"
        raise MediaError(message, error_id="video_processing") from exc
    finally:
        silent.unlink(missing_ok=True)


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
