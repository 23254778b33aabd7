"""Everything one running service holds: settings, database, storage, webhook sender and the job worker."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from facecraft.service.db import Database
from facecraft.service.face_service import FaceBuildHandler, fail_orphaned_faces
from facecraft.service.jobs import JobHandler, Worker
from facecraft.service.keys import ensure_key
from facecraft.service.models import Face, Video
from facecraft.service.settings import Settings
from facecraft.service.storage import Storage
from facecraft.service.video_service import VideoRenderHandler, fail_orphaned_videos
from facecraft.service.webhooks import WebhookSender

__all__ = ["Runtime"]

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    storage: Storage
    webhooks: WebhookSender
    worker: Worker

    @classmethod
    def open(cls, settings: Settings) -> Runtime:
        """Create the data dir, migrate the database, register configured keys, recover interrupted jobs."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.db_url)
        db.migrate()
        with db.session() as session:
            for plain in settings.api_keys:
                ensure_key(session, plain)
        storage = Storage(settings.data_dir)
        webhooks = WebhookSender(
            secret=settings.secret,
            attempts=settings.webhook_attempts,
            backoff_s=settings.webhook_backoff_s,
            allow_private=settings.allow_private_urls,
        )
        handlers: dict[str, JobHandler] = {
            FaceBuildHandler.kind: FaceBuildHandler(settings, storage, webhooks),
            VideoRenderHandler.kind: VideoRenderHandler(settings, storage, webhooks),
        }
        worker = Worker(
            db, handlers, progress_writer=_progress_writer(db), max_attempts=settings.max_job_attempts
        )
        worker.recover()
        with db.session() as session:  # never stuck: a target without a job cannot wait forever
            fail_orphaned_faces(session)
            fail_orphaned_videos(session)
        return cls(settings, db, storage, webhooks, worker)

    def start(self) -> None:
        if self.settings.run_worker:
            self.worker.start()

    def close(self) -> None:
        self.worker.stop()
        self.db.dispose()


def _progress_writer(db: Database):  # noqa: ANN202
    """Write ``N/100`` progress to the job's target when the integer changes; answer whether the
    target still exists (False once it was deleted, which cancels the job)."""
    last: dict[str, int] = {}

    def write(kind: str, target_id: str, pct: int) -> bool:
        if last.get(target_id) == pct:
            return True
        last[target_id] = pct
        with db.session() as session:
            row: Face | Video | None = (session.get(Face, target_id) if kind == FaceBuildHandler.kind
                                        else session.get(Video, target_id))
            if row is None or row.status == "deleted":
                return False
            row.progress = pct
            return True

    return write
