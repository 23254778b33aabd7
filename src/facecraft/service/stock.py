"""Stock Faces: register built bundles from a folder as ``system`` Faces that every key can use."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from sqlalchemy import select

from facecraft.errors import FacecraftError
from facecraft.service.db import Database
from facecraft.service.ids import new_id, new_token
from facecraft.service.models import Face
from facecraft.service.settings import Settings
from facecraft.service.storage import Storage

__all__ = ["install_stock_faces"]

log = logging.getLogger(__name__)


def install_stock_faces(source_dir: Path, *, settings: Settings | None = None) -> list[str]:
    """Copy every bundle folder in ``source_dir`` (or ``source_dir`` itself if it is one) into the data
    dir and register it as a completed ``system`` Face. Idempotent: a bundle already installed (same
    manifest id, or folder name) is skipped. Returns the Face ids installed now."""
    from facecraft.faces.bundle import load_bundle

    settings = settings or Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.db_url)
    db.migrate()
    storage = Storage(settings.data_dir)
    candidates = [source_dir] if (source_dir / "manifest.json").is_file() else sorted(source_dir.iterdir())
    installed: list[str] = []
    try:
        _retire_outdated(db)
        for folder in candidates:
            if not (folder / "manifest.json").is_file():
                continue
            try:
                bundle = load_bundle(folder)  # refuses damaged bundles before anything is copied
            except FacecraftError as exc:
                log.warning("skipping %s: not a usable Face bundle (%s)", folder, exc.message)
                continue
            manifest = bundle.manifest
            stock_key = str(manifest.get("id") or folder.name)
            with db.session() as session:
                if session.scalar(select(Face).where(Face.stock_key == stock_key)) is not None:
                    log.info("stock Face %s already installed", stock_key)
                    continue
                face_id = new_id("r")
                dest = storage.face_dir(face_id) / "bundle"
                shutil.copytree(folder, dest)
                session.add(
                    Face(
                        id=face_id,
                        owner_id=None,
                        face_type="system",
                        name=str(manifest.get("name") or folder.name),
                        status="completed",
                        progress=100,
                        source_kind="bundle",
                        report=bundle.report.to_dict(),
                        bundle_path=str(dest),
                        stock_key=stock_key,
                        share_token=new_token(),
                    )
                )
            installed.append(face_id)
            log.info("installed stock Face %s from %s", face_id, folder)
    finally:
        db.dispose()
    return installed


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
