"""Everything one running service holds: settings, database, storage, webhook sender and its job workers."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from facecraft.service.db import Database
from facecraft.service.face_service import fail_orphaned_faces
from facecraft.service.jobs import recover_jobs
from facecraft.service.keys import ensure_key
from facecraft.service.settings import Settings
from facecraft.service.stock_pals import install_stock_pals
from facecraft.service.storage import Storage
from facecraft.service.video_service import fail_orphaned_videos
from facecraft.service.webhooks import WebhookSender
from facecraft.service.worker import WorkerPool

__all__ = ["Runtime"]

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    storage: Storage
    webhooks: WebhookSender
    workers: WorkerPool

    @classmethod
    def open(cls, settings: Settings) -> Runtime:
        """Create the data dir, migrate the database, register configured keys, recover abandoned jobs."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.db_url)
        db.migrate()
        with db.session() as session:
            for plain in settings.api_keys:
                ensure_key(session, plain)
            install_stock_pals(session)
        storage = Storage(settings.data_dir)
        webhooks = WebhookSender(
            secret=settings.secret,
            attempts=settings.webhook_attempts,
            backoff_s=settings.webhook_backoff_s,
            allow_private=settings.allow_private_urls,
        )
        workers = WorkerPool(settings, db, webhooks, count=settings.workers)
        with db.session() as session:  # jobs whose worker died with a previous process
            recover_jobs(session, workers.handlers, max_attempts=settings.max_job_attempts)
        with db.session() as session:  # never stuck: a target without a job cannot wait forever
            fail_orphaned_faces(session)
            fail_orphaned_videos(session)
        return cls(settings, db, storage, webhooks, workers)

    def start(self) -> None:
        if self.settings.run_worker:
            self.workers.start()

    def wake_workers(self) -> None:
        self.workers.wake()

    def close(self) -> None:
        self.workers.stop()
        self.db.dispose()
