"""The Face bundle (format ``facecraft.face/2``): a directory, or one ``.face`` zip, that holds a Face.

Format 2 (issue 12) holds tracks of the MediaPipe Tasks tracker (with blendshapes); a format-1
bundle does not load: rebuild it from its video or photo with ``facecraft faces create``.

Why a plain directory of well-known files: the engine memory-maps what it needs, people can inspect
a Face with ordinary tools, and loading never needs the source video. Writing is atomic: a bundle is
assembled in a hidden staging directory beside its destination, every file is fsynced, and one
``rename`` publishes it. A crash mid-build leaves only a staging directory, which never loads
(``load_bundle`` refuses hidden staging names and needs ``manifest.json``, written last).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from facecraft.errors import BundleError, VisionError
from facecraft.faces.types import Analysis, CheckReport
from facecraft.vision.types import Tracks

__all__ = [
    "FORMAT",
    "MANIFEST",
    "REQUIRED_FILES",
    "FaceBundle",
    "load_bundle",
    "new_face_id",
    "staging_dir",
    "write_json",
    "commit_bundle",
    "export_bundle",
    "import_bundle",
]

log = logging.getLogger(__name__)

FORMAT = "facecraft.face/2"
REBUILD = "rebuild it from its video or photo with `facecraft faces create`"
MANIFEST = "manifest.json"
REPORT = "report.json"
FOOTAGE = "footage.mp4"
TRACKS = "tracks.npz"
ANALYSIS = "analysis.json"
VOICE = "voice.wav"
VOICE_PROFILE = "voice.json"
THUMBNAIL = "thumbnail.jpg"
REQUIRED_FILES = (MANIFEST, REPORT, FOOTAGE, TRACKS, ANALYSIS, VOICE, VOICE_PROFILE, THUMBNAIL)
STAGING_PREFIX = ".staging-"


@dataclass
class FaceBundle:
    """A loaded Face: the parsed manifest and report, the tracks, and the paths of the big files."""

    path: Path
    manifest: dict[str, Any]
    report: CheckReport
    tracks: Tracks
    analysis: Analysis
    footage_path: Path
    voice_path: Path
    thumbnail_path: Path

    @property
    def id(self) -> str:
        return str(self.manifest["id"])

    @property
    def name(self) -> str:
        return str(self.manifest["name"])

    def file(self, name: str) -> Path:
        """Path of a bundle file (e.g. the engine's ``mouths.npz``); BundleError when it is missing."""
        path = self.path / name
        if "/" in name or "\\" in name or name.startswith(".") or not path.is_file():
            raise BundleError(f"the Face bundle {self.path.name} has no file {name!r}", error_id="bundle_invalid")
        return path


def new_face_id() -> str:
    """A short prefixed id, as in the API (``r`` for a face/replica)."""
    return "r" + secrets.token_hex(5)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BundleError(f"the Face bundle is damaged: {path.name} is missing", error_id="bundle_invalid") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"the Face bundle is damaged: {path.name} is unreadable ({exc})",
                          error_id="bundle_invalid") from exc


def load_bundle(path: str | Path) -> FaceBundle:
    """Open a bundle directory (or a ``.face`` file: use :func:`import_bundle` first).

    Raises BundleError ``bundle_version`` for another format version and ``bundle_invalid`` for a
    missing, half-written or damaged bundle.
    """
    path = Path(path)
    if path.is_file() and zipfile.is_zipfile(path):
        raise BundleError(f"{path.name} is an exported .face file; import it first", error_id="bundle_invalid")
    if not path.is_dir():
        raise BundleError(f"no Face bundle at {path}", error_id="bundle_invalid")
    if path.name.startswith(STAGING_PREFIX):
        raise BundleError(f"{path.name} is an unfinished build, not a Face bundle", error_id="bundle_invalid")
    return _load_dir(path)


def _load_dir(path: Path) -> FaceBundle:
    manifest = _read_json(path / MANIFEST)
    if not isinstance(manifest, dict) or "format" not in manifest:
        raise BundleError(f"{path / MANIFEST} is not a Face manifest", error_id="bundle_invalid")
    if manifest["format"] != FORMAT:
        raise BundleError(f"the Face bundle {path.name} has format {manifest['format']!r}; this version of "
                          f"facecraft reads {FORMAT!r}: {REBUILD}", error_id="bundle_version")
    for name in REQUIRED_FILES:
        if not (path / name).is_file():
            raise BundleError(f"the Face bundle is damaged: {name} is missing", error_id="bundle_invalid")
    for name, size in manifest.get("files", {}).items():
        file = path / name
        if not file.is_file() or file.stat().st_size != int(size):
            raise BundleError(f"the Face bundle is damaged: {name} is missing or has the wrong size",
                              error_id="bundle_invalid")
    try:
        report = CheckReport.from_dict(_read_json(path / REPORT))
        analysis = Analysis.from_dict(_read_json(path / ANALYSIS))
        tracks = Tracks.load(path / TRACKS)
    except BundleError:
        raise
    except VisionError as exc:
        if exc.error_id != "tracks_version":
            raise BundleError(f"the Face bundle is damaged: {exc.message}",
                              error_id="bundle_invalid") from exc
        raise BundleError(f"the Face bundle {path.name} was tracked by another version of facecraft "
                          f"({exc.message}): {REBUILD}", error_id="bundle_version") from exc
    except Exception as exc:  # noqa: BLE001 - numpy/zip/key errors all mean a damaged file
        raise BundleError(f"the Face bundle is damaged: {exc}", error_id="bundle_invalid") from exc
    return FaceBundle(path=path, manifest=manifest, report=report, tracks=tracks, analysis=analysis,
                      footage_path=path / FOOTAGE, voice_path=path / VOICE, thumbnail_path=path / THUMBNAIL)


# --- atomic writing -------------------------------------------------------------------------


def staging_dir(out_dir: str | Path) -> Path:
    """A fresh hidden directory inside ``out_dir`` to assemble a bundle in (same filesystem)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out_dir))


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _fsync_tree(path: Path) -> None:
    for file in path.iterdir():
        if file.is_file():
            with open(file, "rb") as fh:
                os.fsync(fh.fileno())
    _fsync_dir(path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def commit_bundle(staging: Path, manifest: dict[str, Any], final: Path) -> Path:
    """Write the manifest (last, with the size of every file), fsync, and rename into place."""
    if final.exists():
        raise BundleError(f"a Face bundle already exists at {final}", error_id="bundle_invalid")
    manifest = dict(manifest)
    manifest["format"] = FORMAT
    manifest["files"] = {f.name: f.stat().st_size for f in sorted(staging.iterdir())
                         if f.is_file() and f.name != MANIFEST}
    write_json(staging / MANIFEST, manifest)
    _fsync_tree(staging)
    os.rename(staging, final)
    _fsync_dir(final.parent)
    log.info("wrote Face bundle %s", final)
    return final


# --- .face export / import ------------------------------------------------------------------


def export_bundle(path: str | Path, out_path: str | Path) -> Path:
    """Pack a bundle directory into one ``.face`` zip (written atomically)."""
    bundle = load_bundle(path)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".export-", suffix=".face", dir=out_path.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w") as zf:
            for file in sorted(bundle.path.iterdir()):
                if file.is_file():
                    packed = file.suffix in {".mp4", ".npz", ".jpg"}
                    zf.write(file, file.name, compress_type=zipfile.ZIP_STORED if packed else zipfile.ZIP_DEFLATED)
        os.replace(tmp, out_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out_path


def import_bundle(face_file: str | Path, out_dir: str | Path) -> Path:
    """Unpack a ``.face`` zip into ``out_dir/<face id>`` after validating it; returns the bundle dir."""
    face_file = Path(face_file)
    if not zipfile.is_zipfile(face_file):
        raise BundleError(f"{face_file.name} is not a .face file", error_id="bundle_invalid")
    staging = staging_dir(out_dir)
    try:
        with zipfile.ZipFile(face_file) as zf:
            for member in zf.infolist():
                name = member.filename
                if member.is_dir() or "/" in name or "\\" in name or name.startswith(".") or not name:
                    raise BundleError(f"{face_file.name} holds an unexpected entry {name!r}",
                                      error_id="bundle_invalid")
                with zf.open(member) as src, open(staging / name, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        bundle = _load_dir(staging)
        final = Path(out_dir) / bundle.id
        if final.exists():
            raise BundleError(f"a Face with id {bundle.id} already exists in {out_dir}", error_id="bundle_invalid")
        _fsync_tree(staging)
        os.rename(staging, final)
        return final
    except zipfile.BadZipFile as exc:
        raise BundleError(f"{face_file.name} is damaged ({exc})", error_id="bundle_invalid") from exc
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
