"""Read still images (photos) as RGB uint8."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from facecraft.errors import MediaError
from facecraft.media.limits import check_image_size

__all__ = ["read_image", "image_size"]


def read_image(path_or_bytes: str | Path | bytes | bytearray | memoryview) -> np.ndarray:
    """Decode a JPEG/PNG/WebP/BMP (EXIF orientation applied) to RGB uint8 HxWx3.

    Raises MediaError ``video_format`` for a missing file, bytes that are not an image, or an image
    larger than ``media.limits`` allows (read from its header, before any pixel is decoded).
    """
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        data = np.frombuffer(bytes(path_or_bytes), dtype=np.uint8)
        name = "image bytes"
    else:
        path = Path(path_or_bytes)
        if not path.is_file():
            raise MediaError(f"image not found: {path.name}", error_id="video_format")
        data = np.fromfile(str(path), dtype=np.uint8)
        name = path.name
    if data.size:
        size = image_size(data)
        if size is not None:
            check_image_size(size[0], size[1], name)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise MediaError(f"{name} is not a readable image", error_id="video_format")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def image_size(data: np.ndarray) -> tuple[int, int] | None:
    """(width, height) from an image's header, or None when no Pillow plugin knows the format (OpenCV then
    decides whether it is an image). Pillow's format plugins read the header only; its own
    decompression-bomb guard is left to ``check_image_size`` so that the refusal names the real size."""
    import io
    import struct

    from PIL import Image

    Image.init()
    head = data[:16].tobytes()
    for fmt in Image.ID:
        factory, accept = Image.OPEN[fmt]
        if accept is not None and not accept(head):
            continue
        try:
            with factory(io.BytesIO(data.tobytes()), "") as img:
                return int(img.size[0]), int(img.size[1])
        except (SyntaxError, IndexError, TypeError, ValueError, OSError, struct.error):
            continue
    return None
