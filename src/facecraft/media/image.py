"""Read still images (photos) as RGB uint8."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from facecraft.errors import MediaError

__all__ = ["read_image"]


def read_image(path_or_bytes: str | Path | bytes | bytearray | memoryview) -> np.ndarray:
    """Decode a JPEG/PNG/WebP/BMP (EXIF orientation applied) to RGB uint8 HxWx3.

    Raises MediaError ``video_format`` for a missing file or bytes that are not an image.
    """
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        data = np.frombuffer(bytes(path_or_bytes), dtype=np.uint8)
        name = "image bytes"
    else:
        path = Path(path_or_bytes)
        if not path.is_file():
            raise MediaError(f"image not found: {path}", error_id="video_format")
        data = np.fromfile(str(path), dtype=np.uint8)
        name = path.name
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise MediaError(f"{name} is not a readable image", error_id="video_format")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
