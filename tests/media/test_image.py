"""Photos decode to RGB; bad bytes raise MediaError."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facecraft.errors import MediaError
from facecraft.media import read_image
from tests.utils import testdata_path as recording  # aliased: pytest would collect test*


@pytest.mark.parametrize(
    ("name", "shape"),
    [("face_recognition_biden2.jpg", (1200, 1200, 3)), ("real3dportrait_Macron.png", (512, 512, 3)),
     ("edtalk_leijun.png", (512, 512, 3)), ("hallo_reference_6.jpg", (624, 624, 3))],
)
def test_read_photos(name: str, shape: tuple[int, int, int]) -> None:
    path = recording("photo", name)
    image = read_image(path)
    assert image.shape == shape and image.dtype == np.uint8
    assert np.array_equal(read_image(path.read_bytes()), image)


def test_channels_are_rgb() -> None:
    image = read_image(recording("photo", "edtalk_leijun.png"))  # blue background
    corner = image[:40, :40].reshape(-1, 3).mean(axis=0)
    assert corner[2] > corner[0] + 30


def test_bad_images(tmp_path: Path) -> None:
    for data in (b"", b"not an image at all", bytes(range(256)) * 10):
        with pytest.raises(MediaError) as err:
            read_image(data)
        assert err.value.error_id == "video_format"
    with pytest.raises(MediaError):
        read_image(tmp_path / "missing.jpg")
