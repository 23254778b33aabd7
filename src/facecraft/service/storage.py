"""Where artifacts live: one folder per Face, video and upload under the data dir (copy it to back up)."""

from __future__ import annotations

import logging
import shutil
import uuid
from pathlib import Path

__all__ = ["Storage"]

log = logging.getLogger(__name__)


class Storage:
    """``<data_dir>/faces/<id>/``, ``<data_dir>/videos/<id>/``, ``<data_dir>/uploads/<id>/``."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir
        for sub in ("faces", "videos", "uploads", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def face_dir(self, face_id: str) -> Path:
        return self.root / "faces" / face_id

    def video_dir(self, video_id: str) -> Path:
        return self.root / "videos" / video_id

    def upload_dir(self, upload_id: str) -> Path:
        return self.root / "uploads" / upload_id

    @property
    def tmp_dir(self) -> Path:
        return self.root / "tmp"

    def remove(self, path: Path) -> None:
        """Delete a folder or file of ours; refuses anything outside the data dir.

        A folder is first renamed into ``tmp/`` (atomic on one filesystem), then deleted there: a job
        still writing into it by path (a build being cancelled) cannot add entries to the folder being
        deleted, and whatever it recreates at the old path is removed by the job's cancel hook.
        """
        path = path.resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"refusing to delete outside the data dir: {path}")
        if path.is_dir():
            trash = self.tmp_dir / f"trash-{uuid.uuid4().hex}"
            try:
                path.rename(trash)
            except FileNotFoundError:  # removed meanwhile by the other party (route or cancel hook)
                return
            shutil.rmtree(trash)
        elif path.exists():
            path.unlink()
        log.info("removed %s", path)
