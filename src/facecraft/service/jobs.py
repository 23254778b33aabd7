"""The persisted job queue and its single in-process worker thread.

A job row is written in the same transaction as the Face or video it works on, so nothing is lost if
the process dies. The worker claims the oldest runnable job, runs its handler, and the handler moves
its target to a terminal state. On startup, jobs left ``running`` by a dead process are re-queued (or
failed once they have been interrupted ``max_attempts`` times), so nothing stays stuck in ``started``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from facecraft.errors import FacecraftError
from facecraft.service.db import Database
from facecraft.service.ids import new_id
from facecraft.service.models import Job, utcnow

__all__ = ["JobInterrupted", "JobCancelled", "JobContext", "JobHandler", "Worker", "cancel_jobs", "enqueue"]

log = logging.getLogger(__name__)


class JobInterrupted(BaseException):
    """Raised inside a running job when the server stops; the job stays ``running`` until recovery."""


class JobCancelled(Exception):
    """Raised inside a running job whose target was deleted meanwhile."""


class JobHandler(Protocol):
    """What the worker needs to know about one kind of job (face_build, video_render)."""

    kind: str

    def ready(self, session: Session, job: Job) -> bool:
        """False while the job must wait (e.g. a video whose Face is still training)."""

    def run(self, ctx: JobContext) -> None:
        """Do the work and put the target into its final success state."""

    def fail(self, session: Session, job: Job, error_id: str, message: str) -> None:
        """Put the target into its error state (and send its webhook)."""

    def requeue(self, session: Session, job: Job) -> None:
        """Reset the target for a fresh run after an interrupted one."""

    def cancelled(self, job: Job) -> None:
        """Remove whatever the job wrote for a target that was deleted while it ran."""


@dataclass
class JobContext:
    job_id: str
    target_id: str
    db: Database
    stop: threading.Event
    report: Callable[[int], bool] = field(repr=False)  # False: the target is gone

    def check_stop(self) -> None:
        if self.stop.is_set():
            raise JobInterrupted(self.job_id)

    def progress(self, fraction: float) -> None:
        """Report progress in [0, 1]; also the point where a job is interrupted (server stopping) or
        cancelled (its Face or video was deleted)."""
        self.check_stop()
        if not self.report(max(0, min(99, int(fraction * 100)))):
            raise JobCancelled(self.job_id)


def enqueue(session: Session, *, kind: str, target_id: str) -> Job:
    job = Job(id=new_id("j"), kind=kind, target_id=target_id, status="queued", attempts=0)
    session.add(job)
    session.flush()
    return job


def cancel_jobs(session: Session, target_ids: list[str], reason: str) -> None:
    """Fail the queued and running jobs of targets that are being deleted. A queued job never starts;
    a running one stops at its next progress report (the worker then removes what it wrote)."""
    if not target_ids:
        return
    for job in session.scalars(
        select(Job).where(Job.target_id.in_(target_ids), Job.status.in_(("queued", "running")))
    ):
        job.status, job.error, job.finished_at = "failed", reason, utcnow()


class Worker:
    """One background thread that runs jobs one at a time, oldest runnable first."""

    def __init__(
        self,
        db: Database,
        handlers: dict[str, JobHandler],
        *,
        progress_writer: Callable[[str, str, int], bool],
        max_attempts: int = 3,
        poll_s: float = 1.0,
    ) -> None:
        self.db = db
        self.handlers = handlers
        self.progress_writer = progress_writer
        self.max_attempts = max_attempts
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def recover(self) -> None:
        """Re-queue (or fail) the jobs a previous process left ``running``."""
        with self.db.session() as session:
            for job in session.scalars(select(Job).where(Job.status == "running")):
                handler = self.handlers.get(job.kind)
                if handler is None:
                    job.status, job.error, job.finished_at = "failed", "unknown job kind", utcnow()
                elif job.attempts >= self.max_attempts:
                    msg = f"the job was interrupted {job.attempts} times by server restarts; giving up"
                    job.status, job.error, job.finished_at = "failed", msg, utcnow()
                    handler.fail(session, job, handler_error_id(handler), msg)
                else:
                    log.info("re-queueing job %s (%s %s) after a restart", job.id, job.kind, job.target_id)
                    job.status = "queued"
                    handler.requeue(session, job)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="facecraft-worker", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 60.0) -> None:
        """Ask the running job to stop at its next progress report and wait for the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("worker did not stop within %.0f s", timeout)
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        log.info("job worker started")
        try:
            while not self._stop.is_set():
                try:
                    job = self._claim()
                    if job is not None:
                        self._run(*job)
                        continue
                except Exception:  # e.g. the database briefly unavailable: keep the worker alive
                    log.exception("job worker error; retrying")
                self._wake.wait(self.poll_s)
                self._wake.clear()
        finally:
            log.info("job worker stopped")

    def _claim(self) -> tuple[str, str, str] | None:
        with self.db.session() as session:
            # FOR UPDATE SKIP LOCKED keeps two processes on one PostgreSQL from claiming the same job
            # (SQLite ignores it; there one process serialises the claims).
            queued = session.scalars(
                select(Job)
                .where(Job.status == "queued")
                .order_by(Job.created_at, Job.id)
                .with_for_update(skip_locked=True)
            )
            for job in queued:
                handler = self.handlers.get(job.kind)
                if handler is None:
                    job.status, job.error, job.finished_at = "failed", "unknown job kind", utcnow()
                    continue
                if not handler.ready(session, job):
                    continue
                job.status, job.attempts, job.started_at = "running", job.attempts + 1, utcnow()
                return job.id, job.kind, job.target_id
        return None

    def _run(self, job_id: str, kind: str, target_id: str) -> None:
        handler = self.handlers[kind]
        ctx = JobContext(
            job_id=job_id,
            target_id=target_id,
            db=self.db,
            stop=self._stop,
            report=lambda pct: self.progress_writer(kind, target_id, pct),
        )
        log.info("running job %s (%s %s)", job_id, kind, target_id)
        error: tuple[str, str] | None = None
        try:
            handler.run(ctx)
        except JobInterrupted:
            log.warning("job %s interrupted by shutdown; it will resume on the next start", job_id)
            return
        except JobCancelled:
            log.info("job %s cancelled: its target was deleted", job_id)
            with self.db.session() as session:
                job = session.get(Job, job_id)
                if job is not None:
                    job.status, job.finished_at = "failed", utcnow()
                    job.error = job.error or "cancelled: the target was deleted"
                    handler.cancelled(job)
            return
        except FacecraftError as exc:
            log.warning("job %s failed: [%s] %s", job_id, exc.error_id, exc.message)
            error = (exc.error_id, exc.message)
        except Exception as exc:  # a bug or an untranslated library error: fail the job, keep the worker
            log.exception("job %s crashed", job_id)
            error = (
                handler_error_id(handler),
                f"internal error while processing: {type(exc).__name__}: {exc}",
            )
        with self.db.session() as session:
            job = session.get(Job, job_id)
            if job is None:
                return
            job.finished_at = utcnow()
            if job.status == "failed":  # cancelled (target deleted) while it ran
                handler.cancelled(job)
            elif error is None:
                job.status = "done"
            else:
                job.status, job.error = "failed", f"{error[0]}: {error[1]}"
                handler.fail(session, job, *error)


def handler_error_id(handler: JobHandler) -> str:
    return getattr(handler, "default_error_id", "other_quality_issue")
