"""facecraft.media: probing, decoding, resampling and encoding of video and audio (PyAV only).

Every failure is a :class:`facecraft.errors.MediaError` whose ``error_id`` is ``video_format``
(not media / no video stream / a still image), ``video_processing`` (corrupt or truncated) or
``audio_processing`` (no or unusable audio).
"""

from facecraft.media.audio import resample, write_wav
from facecraft.media.decode import iter_frames, read_audio, scaled_size
from facecraft.media.encode import VideoWriter, encode_video
from facecraft.media.image import image_size, read_image
from facecraft.media.limits import PixelLimits, pixel_limits, set_pixel_limits
from facecraft.media.probe import probe
from facecraft.media.types import Audio, AudioStreamInfo, Frame, MediaInfo, VideoStreamInfo

__all__ = [
    "Audio",
    "AudioStreamInfo",
    "Frame",
    "PixelLimits",
    "image_size",
    "pixel_limits",
    "set_pixel_limits",
    "MediaInfo",
    "VideoStreamInfo",
    "VideoWriter",
    "encode_video",
    "iter_frames",
    "probe",
    "read_audio",
    "read_image",
    "resample",
    "scaled_size",
    "write_wav",
]
