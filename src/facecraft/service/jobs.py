"""The persisted job queue: enqueue, claim with a lease, heartbeat, finish, recover, cancel.

A job row is written in the same transaction as the Face or video it works on, so nothing is lost if a
process dies. A worker claims the oldest runnable job and holds a *lease* on it that it renews while the
job runs (``facecraft.service.worker``); the job itself runs in a separate process
(``facecraft.service.jobrun``). A job whose lease ran out was abandoned by a dead worker: recovery
re-queues it, or fails it once it was started ``max_attempts`` times, so nothing stays stuck and nothing
is retried forever.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from facecraft.service.db import Database
from facecraft.service.ids import new_id
from facecraft.service.models import Job, utcnow

__all__ = [
    "JobInterrupted",
    "JobCancelled",
    "JobContext",
    "JobHandler",
    "Claimed",
    "enqueue",
    "cancel_jobs",
    "claim_job",
    "renew_lease",
    "release_job",
    "fail_job",
    "recover_jobs",
    "handler_error_id",
]

log = logging.getLogger(__name__)


class JobInterrupted(BaseException):
    """Raised inside a running job when its worker stops; the job is re-queued for a later run."""


class JobCancelled(Exception):
    """Raised inside a running job whose target was deleted meanwhile."""


class JobHandler(Protocol):
    """What a job process needs to know about one kind of job (face_build, video_render)."""

    kind: str
    default_error_id: str

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


def handler_error_id(handler: JobHandler) -> str:
    return getattr(handler, "default_error_id", "other_quality_issue")


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
        """Report progress in [0, 1]; also the point where a job is interrupted (its worker stopping) or
        cancelled (its Face or video was deleted)."""
        self.check_stop()
        if not self.report(max(0, min(99, int(fraction * 100)))):
            raise JobCancelled(self.job_id)


@dataclass(frozen=True)
class Claimed:
    job_id: str
    kind: str
    target_id: str
    attempt: int


def enqueue(session: Session, *, kind: str, target_id: str) -> Job:
    job = Job(id=new_id("j"), kind=kind, target_id=target_id, status="queued", attempts=0)
    session.add(job)
    session.flush()
    return job


def cancel_jobs(session: Session, target_ids: list[str], reason: str) -> None:
    """Fail the queued and running jobs of targets that are being deleted. A queued job never starts;
    a running one stops at its next progress report (its process then removes what it wrote)."""
    if not target_ids:
        return
    for job in session.scalars(
        select(Job).where(Job.target_id.in_(target_ids), Job.status.in_(("queued", "running")))
    ):
        job.status, job.error, job.finished_at = "failed", reason, utcnow()


def claim_job(
    session: Session, handlers: dict[str, JobHandler], *, worker: str, lease_s: float
) -> Claimed | None:
    """Mark the oldest runnable queued job ``running`` under ``worker``'s lease and return it.

    The claim itself is one conditional UPDATE (``status = 'queued'`` in its WHERE): of two workers that
    read the same queued row, only the one whose UPDATE changes it runs the job. SQLite's driver reads
    outside a transaction, so a read-then-write claim let two workers start the same job at once (the
    second attempt removed the first one's files). FOR UPDATE SKIP LOCKED spares PostgreSQL the race.
    """
    queued = session.scalars(
        select(Job)
        .where(Job.status == "queued")
        .order_by(Job.created_at, Job.id)
        .with_for_update(skip_locked=True)
    ).all()
    for job in queued:
        handler = handlers.get(job.kind)
        if handler is None:
            job.status, job.error, job.finished_at = "failed", "unknown job kind", utcnow()
            continue
        if not handler.ready(session, job):
            continue
        now = utcnow()
        won = session.execute(
            update(Job)
            .where(Job.id == job.id, Job.status == "queued")
            .values(
                status="running",
                attempts=Job.attempts + 1,
                started_at=now,
                worker=worker,
                lease_until=now + timedelta(seconds=lease_s),
            )
            .execution_options(synchronize_session=False)
        )
        if getattr(won, "rowcount", 0) != 1:
            continue  # another worker claimed it between the read and this write
        session.refresh(job)
        return Claimed(job.id, job.kind, job.target_id, job.attempts)
    return None


def renew_lease(session: Session, job_id: str, *, worker: str, lease_s: float) -> bool:
    """Extend the lease; False when the job is no longer this worker's running job (cancelled, taken)."""
    job = session.get(Job, job_id)
    if job is None or job.status != "running" or job.worker != worker:
        return False
    job.lease_until = utcnow() + timedelta(seconds=lease_s)
    return True


def release_job(session: Session, handler: JobHandler, job_id: str, *, peak_rss_mb: float | None) -> None:
    """The worker stopped while the job ran: back to the queue for a fresh run (its attempt counts)."""
    job = session.get(Job, job_id)
    if job is None:
        return
    job.peak_rss_mb = peak_rss_mb
    if job.status == "running":
        job.status, job.lease_until = "queued", None
        handler.requeue(session, job)


def fail_job(
    session: Session,
    handler: JobHandler,
    job_id: str,
    error_id: str,
    message: str,
    *,
    peak_rss_mb: float | None = None,
) -> None:
    """End a job that did not finish by itself (over budget, crashed too often) with a clear error."""
    job = session.get(Job, job_id)
    if job is None:
        return
    if peak_rss_mb is not None:
        job.peak_rss_mb = peak_rss_mb
    if job.status not in ("queued", "running"):
        return  # finished or cancelled meanwhile
    job.status, job.error, job.finished_at, job.lease_until = (
        "failed",
        f"{error_id}: {message}",
        utcnow(),
        None,
    )
    handler.fail(session, job, error_id, message)


def recover_jobs(session: Session, handlers: dict[str, JobHandler], *, max_attempts: int) -> int:
    """Re-queue (or fail) running jobs whose lease ran out: their worker died. Returns how many."""
    now = utcnow()
    stale = session.scalars(
        select(Job).where(Job.status == "running", or_(Job.lease_until.is_(None), Job.lease_until < now))
    ).all()
    for job in stale:
        handler = handlers.get(job.kind)
        if handler is None:
            job.status, job.error, job.finished_at = "failed", "unknown job kind", now
        elif job.attempts >= max_attempts:
            msg = f"the job was interrupted {job.attempts} times (its worker stopped or died); giving up"
            job.status, job.error, job.finished_at, job.lease_until = "failed", msg, now, None
            handler.fail(session, job, handler_error_id(handler), msg)
        else:
            log.info("re-queueing job %s (%s %s): its worker is gone", job.id, job.kind, job.target_id)
            job.status, job.lease_until = "queued", None
            handler.requeue(session, job)
    return len(stale)
