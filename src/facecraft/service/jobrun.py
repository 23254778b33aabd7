"""The job process: runs one claimed job (build a Face, render a video) and records how it ended.

Started by a worker (``facecraft.service.worker``) through ``facecraft.service.isolation`` with the
job's memory and time budget. It opens its own database connection, reports progress to the job's
target, and writes the terminal state itself; webhooks are handed back to the worker (a long-lived
process that can retry them) instead of being sent from a process about to exit. SIGTERM (the worker
stopping) interrupts the job at its next progress report.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from facecraft.errors import FacecraftError, public_error_id
from facecraft.service.db import Database
from facecraft.service.isolation import Send
from facecraft.service.jobs import JobCancelled, JobContext, JobHandler, JobInterrupted, handler_error_id
from facecraft.service.models import Face, Job, Video, utcnow
from facecraft.service.redact import redact_paths
from facecraft.service.settings import Settings
from facecraft.service.storage import Storage

__all__ = ["run_job", "make_handlers", "WebhookRelay", "INTERRUPTED"]

log = logging.getLogger(__name__)
INTERRUPTED = "interrupted"  # run_job's answer when SIGTERM stopped the job before it finished


class WebhookRelay:
    """The job process's ``WebhookSender``: passes each webhook to the worker to deliver."""

    def __init__(self, send: Send) -> None:
        self._send = send

    def send(self, url: str | None, payload: dict[str, Any]) -> None:
        if url:
            self._send({"type": "webhook", "url": url, "payload": payload})


def make_handlers(settings: Settings, storage: Storage, webhooks: Any) -> dict[str, JobHandler]:
    from facecraft.service.face_service import FaceBuildHandler
    from facecraft.service.video_service import VideoRenderHandler

    return {
        FaceBuildHandler.kind: FaceBuildHandler(settings, storage, webhooks),
        VideoRenderHandler.kind: VideoRenderHandler(settings, storage, webhooks),
    }


def run_job(payload: dict[str, Any], send: Send) -> str:
    """Entry point in the job process: ``payload`` = ``{settings, job_id, kind, target_id}``."""
    from facecraft.service.tasks import apply_media_limits

    settings = Settings.model_validate({**payload["settings"]})
    apply_media_limits(payload["settings"])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    db = Database(settings.db_url)
    try:
        handler = make_handlers(settings, Storage(settings.data_dir), WebhookRelay(send))[payload["kind"]]
        return _run(db, handler, payload["job_id"], payload["target_id"], stop)
    finally:
        db.dispose()


def _run(db: Database, handler: JobHandler, job_id: str, target_id: str, stop: threading.Event) -> str:
    ctx = JobContext(
        job_id=job_id,
        target_id=target_id,
        db=db,
        stop=stop,
        report=_progress_writer(db, handler.kind, target_id),
    )
    log.info("running job %s (%s %s)", job_id, handler.kind, target_id)
    error: tuple[str, str] | None = None
    try:
        handler.run(ctx)
    except JobInterrupted:
        log.warning("job %s interrupted: its worker is stopping; it will run again", job_id)
        return INTERRUPTED
    except JobCancelled:
        log.info("job %s cancelled: its target was deleted", job_id)
        with db.session() as session:
            job = session.get(Job, job_id)
            if job is not None:
                job.status, job.finished_at = "failed", utcnow()
                job.error = job.error or "cancelled: the target was deleted"
                handler.cancelled(job)
        return "cancelled"
    except FacecraftError as exc:
        log.warning("job %s failed: [%s] %s", job_id, exc.error_id, exc.message)
        error = (public_error_id(exc.error_id, handler_error_id(handler)), exc.message)
    except MemoryError:
        raise  # the isolation layer reports it as over the memory budget
    except Exception as exc:  # a bug or an untranslated library error: fail the job clearly
        log.exception("job %s crashed", job_id)
        error = (handler_error_id(handler), f"internal error while processing: {type(exc).__name__}: {exc}")
    with db.session() as session:
        job = session.get(Job, job_id)
        if job is None:
            return "gone"
        job.finished_at, job.lease_until = utcnow(), None
        if job.status == "failed":  # cancelled (target deleted) while it ran
            handler.cancelled(job)
            return "cancelled"
        if error is None:
            job.status = "done"
            return "done"
        message = redact_paths(error[1])
        job.status, job.error = "failed", f"{error[0]}: {message}"
        handler.fail(session, job, error[0], message)
    return "failed"


def _progress_writer(db: Database, kind: str, target_id: str):  # noqa: ANN202
    """Write ``N/100`` progress to the job's target when the integer changes; answer whether the target
    still exists (False once it was deleted, which cancels the job)."""
    last: list[int] = []
    model = Face if kind == "face_build" else Video

    def write(pct: int) -> bool:
        if last and last[0] == pct:
            return True
        last[:] = [pct]
        with db.session() as session:
            row = session.get(Face, target_id) if model is Face else session.get(Video, target_id)
            if row is None or row.status == "deleted":
                return False
            row.progress = pct
            return True

    return write
