"""Stock Faces: build the ones facecraft ships (``faces.stock``) with their preview clips, and register
built Faces as ``system`` Faces that every key can use (``facecraft stock add``, ``serve --stock``).

A stock folder holds one folder per stock Face: ``<key>/stock.json`` (where it came from),
``<key>/<bundle id>/`` (the Face bundle) and ``<key>/preview.mp4`` (the Face saying its greeting).
``add`` also takes a plain bundle folder, a ``.face`` file, or a folder of any of these.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from facecraft.errors import FacecraftError, InputError
from facecraft.service.db import Database
from facecraft.service.ids import new_id, new_token
from facecraft.service.models import Face
from facecraft.service.settings import Settings
from facecraft.service.storage import Storage

__all__ = ["StockFace", "PREVIEW", "build_stock_faces", "find_stock_faces", "install_stock_faces"]

log = logging.getLogger(__name__)

PREVIEW = "preview.mp4"  # a stock Face's preview clip, next to its bundle (served as its thumbnail video)


@dataclass(frozen=True)
class StockFace:
    """A built stock Face on disk."""

    key: str
    name: str
    bundle: Path
    preview: Path | None
    built_now: bool = False


def _bundle_in(folder: Path) -> Path | None:
    bundles = sorted(p for p in folder.iterdir() if p.is_dir() and (p / "manifest.json").is_file())
    return bundles[0] if bundles else None


def _is_current(folder: Path, sha256: str, voice: str) -> StockFace | None:
    """The stock Face already built in ``folder`` from this photo and voice, if it still loads."""
    from facecraft.faces.bundle import load_bundle
    from facecraft.faces.stock import STOCK_INFO

    try:
        info = json.loads((folder / STOCK_INFO).read_text(encoding="utf-8"))
        bundle_dir = _bundle_in(folder)
        if bundle_dir is None or info.get("sha256") != sha256 or info.get("voice") != voice:
            return None
        load_bundle(bundle_dir)  # a bundle of an older format no longer loads: rebuild it
    except (OSError, ValueError, FacecraftError):
        return None
    preview = folder / PREVIEW
    if not preview.is_file():
        return None
    return StockFace(key=str(info["key"]), name=str(info["name"]), bundle=bundle_dir, preview=preview)


def build_stock_faces(
    out_root: str | Path,
    *,
    keys: list[str] | None = None,
    on_step: Callable[[str], None] | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> list[StockFace]:
    """Build every stock Face (or those in ``keys``) into ``out_root/<key>``, with its preview clip.

    Idempotent: a Face already built from the same photo and voice, in a bundle format this version
    reads, is kept. A rebuild happens in a temporary folder and replaces the old one only when done.
    ``on_step`` gets one line per Face and stage; ``progress`` the build's fraction and step name.
    """
    from facecraft.faces.bundle import load_bundle
    from facecraft.faces.stock import STOCK_SOURCES, build_stock_face, get_source
    from facecraft.perform import render_text

    sources = [get_source(k) for k in keys] if keys else list(STOCK_SOURCES)
    root = Path(out_root)
    root.mkdir(parents=True, exist_ok=True)
    say = on_step or (lambda line: log.info("%s", line))
    built: list[StockFace] = []
    for source in sources:
        folder = root / source.key
        current = _is_current(folder, source.sha256, source.voice) if folder.is_dir() else None
        if current is not None:
            say(f"{source.name}: already built ({current.bundle})")
            built.append(current)
            continue
        work = Path(tempfile.mkdtemp(prefix=f".{source.key}-", dir=root))
        try:
            say(f"{source.name}: building from {source.package}'s {source.path} (voice {source.voice})")
            bundle = build_stock_face(source, work, progress=progress)
            say(f"{source.name}: rendering the preview clip")
            render_text(load_bundle(bundle), source.greeting, out_path=work / PREVIEW)
            if folder.exists():
                shutil.rmtree(folder)
            work.rename(folder)
        finally:
            if work.exists():
                shutil.rmtree(work, ignore_errors=True)
        face = StockFace(key=source.key, name=source.name, bundle=folder / bundle.name,
                         preview=folder / PREVIEW, built_now=True)
        say(f"{source.name}: built {face.bundle}")
        built.append(face)
    return built


def find_stock_faces(source: Path) -> Iterator[tuple[Path, Path | None, str | None]]:
    """(bundle folder or .face file, preview clip or None, stock key or None) for everything under
    ``source`` that can be installed: a bundle, a stock folder, a .face file, or a folder of them."""
    from facecraft.faces.stock import STOCK_INFO

    if source.is_file():
        yield source, None, None
        return
    if (source / "manifest.json").is_file():
        yield source, None, None
        return
    if (source / STOCK_INFO).is_file():
        bundle = _bundle_in(source)
        if bundle is not None:
            preview = source / PREVIEW
            try:
                key = str(json.loads((source / STOCK_INFO).read_text(encoding="utf-8"))["key"])
            except (OSError, ValueError, KeyError):
                key = None
            yield bundle, preview if preview.is_file() else None, (f"stock:{key}" if key else None)
        return
    for child in sorted(source.iterdir()):
        if child.name.startswith("."):
            continue
        if child.is_dir() or child.suffix == ".face":
            yield from find_stock_faces(child)


def install_stock_faces(source: Path, *, settings: Settings | None = None) -> list[str]:
    """Register every Face found in ``source`` (see ``find_stock_faces``) as a completed ``system`` Face.

    Idempotent: a Face already installed under the same stock key (a stock folder's key, else the
    bundle's id) is kept when it is the same bundle, and replaced in place (same Face id) when it was
    rebuilt. Damaged bundles are skipped with a warning. Returns the Face ids added or replaced.
    """
    from facecraft.faces.bundle import import_bundle, load_bundle

    source = Path(source)
    if not source.exists():
        raise InputError(f"no such bundle or folder: {source}")
    settings = settings or Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.db_url)
    db.migrate()
    storage = Storage(settings.data_dir)
    changed: list[str] = []
    try:
        _retire_outdated(db)
        with tempfile.TemporaryDirectory(prefix="facecraft-stock-") as tmp:
            for path, preview, key in find_stock_faces(source):
                try:
                    folder = import_bundle(path, tmp) if path.is_file() else path
                    bundle = load_bundle(folder)  # refuses damaged bundles before anything is copied
                except FacecraftError as exc:
                    log.warning("skipping %s: not a usable Face bundle (%s)", path, exc.message)
                    continue
                face_id = _install_one(db, storage, folder, bundle, preview, key or bundle.id)
                if face_id is not None:
                    changed.append(face_id)
    finally:
        db.dispose()
    return changed


def _install_one(db: Database, storage: Storage, folder: Path, bundle, preview: Path | None,  # noqa: ANN001
                 stock_key: str) -> str | None:
    name = str(bundle.manifest.get("name") or folder.name)
    with db.session() as session:
        face = session.scalar(select(Face).where(Face.stock_key == stock_key, Face.deleted_at.is_(None)))
        if face is not None and face.bundle_path and Path(face.bundle_path).is_dir():
            installed = json.loads((Path(face.bundle_path) / "manifest.json").read_text(encoding="utf-8"))
            if installed.get("id") == bundle.id:
                log.info("stock Face %s (%s) already installed", name, face.id)
                return None
        face_id = face.id if face is not None else new_id("r")
        face_dir = storage.face_dir(face_id)
        staging = face_dir.with_name(f".{face_id}-new")
        if staging.exists():
            shutil.rmtree(staging)
        shutil.copytree(folder, staging / "bundle")
        if preview is not None:
            shutil.copy2(preview, staging / PREVIEW)
        if face_dir.exists():
            storage.remove(face_dir)
        staging.rename(face_dir)
        if face is None:
            face = Face(id=face_id, owner_id=None, face_type="system", source_kind="bundle",
                        stock_key=stock_key, share_token=new_token())
            session.add(face)
        face.name, face.status, face.progress = name, "completed", 100
        face.report = bundle.report.to_dict()
        face.bundle_path = str(face_dir / "bundle")
        voice = (bundle.manifest.get("voice") or {}).get("source") or {}
        face.voice_name = voice.get("voice_name") if isinstance(voice, dict) else None
    log.info("installed stock Face %s (%s) from %s", name, face_id, folder)
    return face_id


def _retire_outdated(db: Database) -> None:
    """Installed stock Faces whose bundle this version no longer reads (an older format) turn to
    ``error`` with the rebuild instruction, so they are not offered for videos that would fail."""
    from facecraft.errors import BundleError
    from facecraft.faces.bundle import load_bundle

    with db.session() as session:
        installed = select(Face).where(Face.face_type == "system", Face.status == "completed")
        for face in session.scalars(installed):
            try:
                load_bundle(face.bundle_path or "")
            except BundleError as exc:
                if exc.error_id == "bundle_version":
                    face.status, face.error_id, face.error_message = "error", exc.error_id, exc.message
                    log.warning("stock Face %s needs a rebuild: %s", face.id, exc.message)
