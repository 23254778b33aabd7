"""The Face's VP8 encoder settings and the colour conversion in front of it.

aiortc encodes VP8 through PyAV's libvpx with settings meant for a camera: the temporal denoiser on
(``noise-sensitivity`` 4) and ``cpu-used`` -6. A rendered Face has no sensor noise to remove: the
denoiser only costs CPU and smooths the image. ``bench/live_codec.py`` (300 live frames of a 512x512
Face, load ~9, noisy), per frame: at 1.5 Mbit/s (aiortc's ceiling) aiortc's settings 3.08 ms, PSNR
41.61 dB, SSIM 0.9772; denoiser off and ``cpu-used`` -8: 2.37 ms, 42.80 dB, 0.9815; at 500 kbit/s
(aiortc's start) 2.38 -> 1.89 ms, PSNR 40.41 -> 40.64 dB, SSIM 0.9699 -> 0.9674 (``cpu-used`` -12
saved another 0.4 ms but lost 0.4 dB there). aiortc has no hook for encoder
options, so the session process swaps its sender's encoder factory (``use_face_encoder``) for VP8 only.

OpenCV's RGB -> I420 conversion is 4x cheaper than the swscale path aiortc takes (0.37-0.45 vs
1.46-1.54 ms a 512x512 frame) and agrees with it within 2 levels (mean 0.05): the Face's frames go to
the track as I420 already (``rgb_to_i420``), and the encoder takes them as they are.
"""

from __future__ import annotations

import multiprocessing
from typing import Any

import av
import cv2
import numpy as np
from aiortc.codecs import vpx
from aiortc.mediastreams import VIDEO_TIME_BASE, convert_timebase

__all__ = ["FaceVp8Encoder", "use_face_encoder", "rgb_to_i420", "ENCODER_OPTIONS"]

# aiortc 1.16's options with the denoiser off and a faster speed step (see the module doc)
ENCODER_OPTIONS = {
    "cpu-used": "-8",
    "deadline": "realtime",
    "lag-in-frames": "0",
    "noise-sensitivity": "0",
    "overshoot-pct": "15",
    "partitions": "0",
    "static-thresh": "1",
    "undershoot-pct": "100",
}


def rgb_to_i420(image: np.ndarray) -> np.ndarray:
    """An RGB frame (H x W x 3, even sides) as I420 planes stacked (3H/2 x W), as PyAV's yuv420p takes it."""
    return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2YUV_I420)


class FaceVp8Encoder(vpx.Vp8Encoder):
    """aiortc's VP8 encoder (bitrate control, keyframes, packetising) with ``ENCODER_OPTIONS``."""

    def encode(self, frame: Any, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        assert isinstance(frame, av.VideoFrame)
        if frame.format.name != "yuv420p":
            frame = frame.reformat(format="yuv420p")
        bitrate = self.target_bitrate
        current = (self.codec.bit_rate or bitrate) if self.codec is not None else bitrate
        if self.codec is not None and (frame.width != self.codec.width or frame.height != self.codec.height
                                       or abs(bitrate - current) / current > 0.1):
            self.codec = None  # aiortc's rule: a new size, or the bitrate moved by over 10 %
        if force_keyframe:
            frame.pict_type = av.video.frame.PictureType.I
        if self.codec is None:
            codec = av.CodecContext.create("libvpx", "w")
            codec.width, codec.height = frame.width, frame.height
            codec.bit_rate = bitrate
            codec.pix_fmt = "yuv420p"
            codec.gop_size = 3000
            codec.qmin, codec.qmax = 2, 56
            # minrate = maxrate = bitrate: constant bitrate, as aiortc's
            codec.options = {**ENCODER_OPTIONS, "bufsize": str(bitrate), "minrate": str(bitrate),
                             "maxrate": str(bitrate)}
            codec.thread_count = vpx.number_of_threads(frame.width * frame.height, multiprocessing.cpu_count())
            self.codec = codec
        data = b"".join(bytes(p) for p in self.codec.encode(frame))
        payloads = self._packetize(data, self.picture_id)
        timestamp = convert_timebase(frame.pts, frame.time_base, VIDEO_TIME_BASE)
        self.picture_id = (self.picture_id + 1) % (1 << 15)
        return payloads, timestamp


def use_face_encoder() -> None:
    """Make this process's aiortc senders encode VP8 with ``FaceVp8Encoder`` (other codecs as before).
    Idempotent; meant for the session process, which sends nothing but the Face."""
    from aiortc import rtcrtpsender

    original = getattr(rtcrtpsender.get_encoder, "__wrapped__", rtcrtpsender.get_encoder)

    def get_encoder(codec: Any) -> Any:
        if codec.mimeType.lower() == "video/vp8":
            return FaceVp8Encoder()
        return original(codec)

    get_encoder.__wrapped__ = original  # type: ignore[attr-defined]
    rtcrtpsender.get_encoder = get_encoder
