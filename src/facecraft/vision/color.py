"""Colour transfer between two aligned patches (mean/std per channel in Lab, inside a mask).

Mouth patches come from other moments of the footage, where light and white balance drift a little;
matching their statistics to the base frame's own lower face hides the paste.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["match_color"]


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
