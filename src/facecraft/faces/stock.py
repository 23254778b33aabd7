"""The stock Faces facecraft ships: public-domain portraits that installed packages carry.

Nothing is downloaded and no likeness is committed: each source is a file inside a pinned package
(``pyproject.toml``), found through the package, checked against the sha256 recorded here, and built
into a Face through the normal photo build (``faces.from_image``), so a new bundle format or tracker
rebuilds them the same way. Origins and licences are listed in ``STOCK.md`` next to this module.
``service.stock`` builds them all, renders their preview clips and installs them as ``system`` Faces.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from facecraft.errors import InputError

__all__ = ["StockSource", "STOCK_SOURCES", "get_source", "source_path", "read_source", "build_stock_face",
           "STOCK_INFO"]

STOCK_INFO = "stock.json"  # beside a stock Face's bundle: where it came from (the StockSource)


@dataclass(frozen=True)
class StockSource:
    """One stock Face: the photo (a file of an installed package), its provenance, name and voice."""

    key: str  # stable across rebuilds: the stock Face is replaced, not duplicated, when rebuilt
    name: str
    voice: str  # a stock voice id (speech.voices)
    package: str  # the distribution that ships the photo (pinned in pyproject.toml)
    module: str  # an importable module of that package, to find the file without importing it
    path: str  # the file, relative to the module's folder
    sha256: str
    origin: str
    licence: str
    greeting: str  # what the preview clip says
    auto_fix: bool = False  # reframe to a head-and-shoulders square (only where the framing needs it)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


STOCK_SOURCES: tuple[StockSource, ...] = (
    StockSource(
        key="eileen-collins",
        name="Eileen Collins",
        voice="ada-us",
        package="scikit-image",
        module="skimage",
        path="data/astronaut.png",
        sha256="88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
        origin="NASA portrait of astronaut Eileen Collins, from the NASA Great Images database; shipped by "
               "scikit-image as skimage.data.astronaut() (512x512)",
        licence="Public domain (NASA photograph, a work of the US federal government; scikit-image: "
                "'No known copyright restrictions, released into the public domain')",
        greeting="Hello, I'm Eileen. I'm one of the stock Faces that come with facecraft. "
                 "Type anything you like, and I will say it for you.",
    ),
    StockSource(
        key="grace-hopper",
        name="Grace Hopper",
        voice="grace-us",
        package="matplotlib",
        module="matplotlib",
        path="mpl-data/sample_data/grace_hopper.jpg",
        sha256="a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130",
        origin="Official US Navy portrait of Commodore Grace M. Hopper (1984), cropped to 512x600; shipped "
               "by matplotlib as sample data (mpl-data/sample_data/grace_hopper.jpg)",
        licence="Public domain (US Navy photograph, a work of the US federal government)",
        greeting="Good morning. I'm Grace, a stock Face from facecraft. "
                 "Give me a script, and I will read it to your audience.",
    ),
)


def get_source(key: str) -> StockSource:
    for source in STOCK_SOURCES:
        if source.key == key:
            return source
    raise InputError(f"unknown stock Face {key!r}: the stock Faces are "
                     f"{', '.join(s.key for s in STOCK_SOURCES)}")


def source_path(source: StockSource) -> Path:
    """Where the installed package keeps the photo; InputError when the package is missing."""
    spec = importlib.util.find_spec(source.module)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"the stock Face {source.name} needs the {source.package} package, which is not "
                         "installed", error_id="invalid_input")
    return Path(next(iter(spec.submodule_search_locations))) / source.path


def read_source(source: StockSource) -> bytes:
    """The photo's bytes, after checking them against the recorded sha256 (a changed file is refused:
    its licence and content are no longer the ones recorded)."""
    path = source_path(source)
    if not path.is_file():
        raise InputError(f"{source.package} no longer ships {source.path} (stock Face {source.name})")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != source.sha256:
        raise InputError(f"{path} has sha256 {digest}, not the recorded {source.sha256}: the stock Face "
                         f"{source.name} is not built from an unverified file")
    return data


def build_stock_face(
    source: StockSource,
    out_dir: str | Path,
    *,
    progress: Callable[[float, str], None] | None = None,
) -> Path:
    """Build one stock Face bundle from its photo into ``out_dir``; returns the bundle's path.

    ``out_dir/<bundle id>`` is the bundle, as every photo build makes it; ``stock.json`` inside
    ``out_dir`` records the source.
    """
    from facecraft.faces.from_image import build_face_from_image

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    bundle = build_face_from_image(read_source(source), name=source.name, out_dir=out, voice=source.voice,
                                   auto_fix=source.auto_fix, progress=progress)
    (out / STOCK_INFO).write_text(json.dumps(source.to_dict(), indent=2) + "\n", encoding="utf-8")
    return bundle
