"""Pixel limits that decoders enforce before they allocate a frame.

Why: a 431 KB PNG can declare 20000x20000 pixels (1.2 GB once decoded) and a small H.264 file can
declare 8192x8192 frames; the size is in the header, so it is checked there, before any pixel buffer
exists. A 1x1 video is refused the same way (nothing can be tracked in it). The limits are process-wide
defaults that a deployment can change (the service sets them in its job processes from its settings).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from facecraft.errors import MediaError

__all__ = ["PixelLimits", "pixel_limits", "set_pixel_limits", "check_video_size", "check_image_size"]


@dataclass(frozen=True)
class PixelLimits:
    max_video_pixels: int = 4096 * 2304  # 4K UHD and DCI 4K fit; 8192x8192 does not
    max_image_pixels: int = 50_000_000  # a 48 MP phone photo fits
    min_side: int = 16  # below this a frame holds no usable face


_limits = PixelLimits()


def pixel_limits() -> PixelLimits:
    return _limits


def set_pixel_limits(**changes: int) -> PixelLimits:
    """Change the process-wide limits (``max_video_pixels``, ``max_image_pixels``, ``min_side``)."""
    global _limits
    _limits = replace(_limits, **{k: int(v) for k, v in changes.items() if v})
    return _limits


def _mp(pixels: int) -> str:
    return f"{pixels / 1e6:.1f} megapixels"


def check_video_size(width: int, height: int, name: str) -> None:
    """MediaError ``video_format`` for frames outside the limits (from the stream header, before decoding)."""
    limits = _limits
    if min(width, height) < limits.min_side:
        raise MediaError(
            f"{name} has {width}x{height} frames; the smallest accepted frame is "
            f"{limits.min_side}x{limits.min_side} (record at 720p or more)",
            error_id="video_format",
        )
    if width * height > limits.max_video_pixels:
        raise MediaError(
            f"{name} has {width}x{height} frames ({_mp(width * height)}); the largest accepted frame is "
            f"{_mp(limits.max_video_pixels)} (e.g. 3840x2160): scale it down",
            error_id="video_format",
        )


def check_image_size(width: int, height: int, name: str) -> None:
    """MediaError ``video_format`` for a photo outside the limits (from its header, before decoding)."""
    limits = _limits
    if min(width, height) < 1:
        raise MediaError(f"{name} declares an empty {width}x{height} image", error_id="video_format")
    if width * height > limits.max_image_pixels:
        raise MediaError(
            f"{name} is {width}x{height} ({_mp(width * height)}); the largest accepted photo is "
            f"{_mp(limits.max_image_pixels)}: scale it down",
            error_id="video_format",
        )
