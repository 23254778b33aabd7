"""Colour transfer between two aligned patches, inside a mask: global Lab mean/std, or local shading.

Mouth patches come from other moments of the footage, where light and white balance drift a little
and the head sat at another angle to the light; matching their colour and shading to the base
frame's own lower face hides the paste.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["match_color", "match_shading"]


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
    the head sat at another angle, which shows as pale bands along the blend. Here the per-pixel
    Lab difference (reference - source), clamped to +-``clamp`` so that features that differ on
    purpose (lips, chin line) count little, is averaged with a Gaussian of ``sigma_px`` where
    ``weight`` says both show skin (normalised convolution), and added back: the pasted mouth takes
    the base frame's light while keeping its own detail. Far from any weight the offset falls back
    to the weighted mean difference.
    """
    w = np.clip(weight.astype(np.float32), 0.0, 1.0)
    total = float(w.sum())
    if total < 1.0 or strength <= 0:
        return source
    src = cv2.cvtColor(source, cv2.COLOR_RGB2LAB).astype(np.float32)
    ref = cv2.cvtColor(reference, cv2.COLOR_RGB2LAB).astype(np.float32)
    diff = np.clip(ref - src, -clamp, clamp)
    h, wd = w.shape
    scale = min(1.0, 4.0 / max(sigma_px, 1e-3))  # blur at reduced size: sigma of ~4 px is enough
    small = (max(1, int(round(wd * scale))), max(1, int(round(h * scale))))
    ws = cv2.resize(w, small, interpolation=cv2.INTER_AREA)
    weighted = diff * w[..., None]
    ds = cv2.resize(weighted, small, interpolation=cv2.INTER_AREA)
    sig = max(0.5, sigma_px * scale)
    den = cv2.GaussianBlur(ws, (0, 0), sig)
    num = cv2.GaussianBlur(ds, (0, 0), sig)
    mean = weighted.sum((0, 1)) / total
    conf = np.clip(den / max(float(den.max()), 1e-6) * 4.0, 0.0, 1.0)[..., None]
    local = np.where(den[..., None] > 1e-4, num / np.maximum(den[..., None], 1e-4), mean)
    offset = conf * local + (1.0 - conf) * mean
    offset = cv2.resize(offset, (wd, h), interpolation=cv2.INTER_LINEAR)
    out = np.clip(src + strength * offset, 0, 255).astype(np.uint8)
    return cv2.cvtColor(out, cv2.COLOR_LAB2RGB)
