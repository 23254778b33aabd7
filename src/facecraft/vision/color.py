"""Colour transfer between two aligned patches, inside a mask: global Lab mean/std, or local shading.

Mouth patches come from other moments of the footage, where light and white balance drift a little
and the head sat at another angle to the light; matching their colour and shading to the base
frame's own lower face hides the paste.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["match_color", "match_shading", "shading_offset", "SHADING_PX_PER_SIGMA"]


def match_color(
    source: np.ndarray, reference: np.ndarray, weight: np.ndarray, *, strength: float = 1.0
) -> np.ndarray:
    """Return ``source`` (RGB uint8) with its Lab mean/std moved toward ``reference``'s, weighted by ``weight``."""
    w = weight.astype(np.float32)
    total = float(w.sum())
    if total < 1.0 or strength <= 0:
        return source
    src = cv2.cvtColor(source, cv2.COLOR_RGB2LAB).astype(np.float32)
    ref = cv2.cvtColor(reference, cv2.COLOR_RGB2LAB).astype(np.float32)
    wn = (w / total)[..., None]
    mu_s = (src * wn).sum((0, 1))
    mu_r = (ref * wn).sum((0, 1))
    sd_s = np.sqrt(((src - mu_s) ** 2 * wn).sum((0, 1))) + 1e-3
    sd_r = np.sqrt(((ref - mu_r) ** 2 * wn).sum((0, 1))) + 1e-3
    gain = np.clip(sd_r / sd_s, 0.7, 1.4)
    gain = 1.0 + strength * (gain - 1.0)
    out = (src - mu_s) * gain + mu_s + strength * (mu_r - mu_s)
    out = np.clip(out, 0, 255).astype(np.uint8)
    return cv2.cvtColor(out, cv2.COLOR_LAB2RGB)


def match_shading(
    source: np.ndarray,
    reference: np.ndarray,
    weight: np.ndarray,
    *,
    sigma_px: float,
    strength: float = 1.0,
    clamp: float = 20.0,
) -> np.ndarray:
    """Return ``source`` (RGB uint8) with its low-frequency Lab shading moved toward ``reference``'s.

    A global mean/std match leaves the light falling differently across the cheeks and chin when
    the head sat at another angle, which shows as pale bands along the blend. Here the Lab difference
    (reference - source), clamped to +-``clamp`` so that features that differ on purpose (lips, chin
    line) count little, is averaged with a Gaussian of ``sigma_px`` where ``weight`` says both show
    skin (normalised convolution), and added back: the pasted mouth takes the base frame's light
    while keeping its own detail. Far from any weight the offset falls back to the weighted mean
    difference. The shading is smooth, so it is measured on copies shrunk to ``SHADING_PX_PER_SIGMA``
    pixels per ``sigma_px`` (``shading_offset``) and only the resulting RGB offset is enlarged.
    """
    h, wd = weight.shape
    scale = min(1.0, SHADING_PX_PER_SIGMA / max(sigma_px, 1e-3))
    small = (max(1, int(round(wd * scale))), max(1, int(round(h * scale))))
    w = np.clip(weight.astype(np.float32), 0.0, 1.0)
    offset = shading_offset(
        cv2.resize(source, small, interpolation=cv2.INTER_AREA),
        cv2.resize(reference, small, interpolation=cv2.INTER_AREA),
        cv2.resize(w, small, interpolation=cv2.INTER_AREA),
        sigma_px=sigma_px * small[0] / wd, strength=strength, clamp=clamp,
    )
    if offset is None:
        return source
    offset = cv2.resize(offset, (wd, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(source.astype(np.float32) + offset + 0.5, 0, 255).astype(np.uint8)


SHADING_PX_PER_SIGMA = 2.5  # ``match_shading`` measures shading at this many pixels per sigma (it is smooth)
_LAB_UNITS = np.array([255.0 / 100.0, 1.0, 1.0], np.float32)  # float Lab -> 8-bit Lab units (clamp's)


def shading_offset(
    source: np.ndarray,
    reference: np.ndarray,
    weight: np.ndarray,
    *,
    sigma_px: float,
    strength: float = 1.0,
    clamp: float = 20.0,
) -> np.ndarray | None:
    """(h, w, 3) float32 RGB offset (0..255 scale) that moves ``source``'s Lab shading toward
    ``reference``'s (``match_shading``; all three given at the scale it is measured at, ``sigma_px``
    in their pixels); None when the weight is empty or ``strength`` is 0.

    The Lab offset is turned into RGB where it is measured: it is smooth, so adding the enlarged RGB
    offset to the full-size source is the Lab move up to rounding.
    """
    w = np.clip(weight.astype(np.float32), 0.0, 1.0)
    total = float(w.sum())
    if total < 1e-3 or strength <= 0:
        return None
    src_rgb = source.astype(np.float32) * np.float32(1.0 / 255.0)
    src = cv2.cvtColor(src_rgb, cv2.COLOR_RGB2LAB)
    ref = cv2.cvtColor(reference.astype(np.float32) * np.float32(1.0 / 255.0), cv2.COLOR_RGB2LAB)
    weighted = np.clip((ref - src) * _LAB_UNITS, -clamp, clamp) * w[..., None]
    sig = max(0.5, float(sigma_px))
    den = cv2.GaussianBlur(w, (0, 0), sig)
    num = cv2.GaussianBlur(weighted, (0, 0), sig)
    if num.ndim == 2:  # a 1x1 image loses its channel axis
        num = num.reshape(den.shape + (3,))
    mean = weighted.sum((0, 1)) / total
    conf = np.clip(den / max(float(den.max()), 1e-6) * 4.0, 0.0, 1.0)[..., None]
    local = np.where(den[..., None] > 1e-4, num / np.maximum(den[..., None], 1e-4), mean)
    lab = src + strength * (conf * local + (1.0 - conf) * mean) / _LAB_UNITS
    return (cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_LAB2RGB) - src_rgb) * np.float32(255.0)
