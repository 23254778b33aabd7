"""Job workers: claim jobs from the database and run each in its own process within a budget.

A worker is a light loop (no decoding, no models): it claims the oldest runnable job, holds its lease,
starts a job process (``facecraft.service.jobrun`` through ``facecraft.service.isolation``) and handles
how it ended:

- finished, failed or cancelled by itself: the job process already wrote the terminal state;
- over its memory or time budget: the job fails at once with a clear error, on its first try;
- killed by something else (a crash, the kernel): the job is re-queued until it has been started
  ``max_job_attempts`` times, then fails, so a job that kills its process is never retried forever;
- the worker stopping: the job process is asked to stop and the job goes back to the queue.

``facecraft serve`` runs ``Settings.workers`` of these loops as threads of the server process (they only
wait on their job process); ``facecraft worker`` runs them alone, e.g. on another machine that shares
the database and the data directory. Memory does not grow across jobs: each job's process exits.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

from facecraft.errors import JobBudgetError
from facecraft.service.db import Database
from facecraft.service.isolation import Budget, Outcome, run_isolated
from facecraft.service.jobrun import INTERRUPTED, make_handlers
from facecraft.service.jobs import (
    Claimed,
    JobHandler,
    claim_job,
    fail_job,
    handler_error_id,
    recover_jobs,
    release_job,
    renew_lease,
)
from facecraft.service.models import Job
from facecraft.service.settings import Settings
from facecraft.service.storage import Storage
from facecraft.service.webhooks import WebhookSender

__all__ = ["WorkerPool", "job_budget"]

log = logging.getLogger(__name__)
LEASE_S = 30.0  # a job's lease; renewed every HEARTBEAT_S while its process runs
HEARTBEAT_S = 5.0
RECOVER_EVERY_S = 15.0  # how often an idle worker looks for jobs abandoned by dead workers


def job_budget(settings: Settings, kind: str) -> Budget:
    time_s = settings.build_time_s if kind == "face_build" else settings.render_time_s
    return Budget(memory_mb=settings.job_memory_mb, time_s=time_s, nice=settings.job_nice)


class WorkerPool:
    """``count`` worker loops sharing one stop signal and one webhook sender."""

    def __init__(self, settings: Settings, db: Database, webhooks: WebhookSender, *, count: int) -> None:
        self.settings = settings
        self.db = db
        self.webhooks = webhooks
        self.count = count
        # Handlers are only used here for their database side (ready/requeue/fail); jobs run elsewhere.
        self.handlers = make_handlers(settings, Storage(settings.data_dir), webhooks)
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        if self._threads:
            return
        self._stop.clear()
        for n in range(self.count):
            thread = threading.Thread(
                target=self._loop, args=(f"{self.name}/{n}",), name=f"facecraft-worker-{n}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        self._wake.set()

    def request_stop(self) -> None:
        """Ask the loops to stop (safe in a signal handler); ``run_forever`` then waits for them."""
        self._stop.set()
        self._wake.set()

    def stop(self, timeout: float = 60.0) -> None:
        """Stop the running job processes (their jobs go back to the queue) and wait for the loops."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("worker %s did not stop within %.0f s", thread.name, timeout)
        self._threads = []

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def run_forever(self) -> None:
        """``facecraft worker``: the loops in the foreground until ``stop`` (a signal handler) is called."""
        self.start()
        try:
            while self.running and not self._stop.wait(1.0):
                pass
        finally:
            self.stop()

    def _loop(self, worker: str) -> None:
        log.info("job worker %s started", worker)
        idle_since_recover = RECOVER_EVERY_S  # recover once at start
        try:
            while not self._stop.is_set():
                try:
                    if idle_since_recover >= RECOVER_EVERY_S:
                        idle_since_recover = 0.0
                        with self.db.session() as session:
                            recover_jobs(session, self.handlers, max_attempts=self.settings.max_job_attempts)
                    with self.db.session() as session:
                        claimed = claim_job(session, self.handlers, worker=worker, lease_s=LEASE_S)
                    if claimed is not None:
                        self._run(claimed, worker)
                        continue
                except Exception:  # e.g. the database briefly unavailable: keep the worker alive
                    log.exception("job worker error; retrying")
                self._wake.wait(self.settings.worker_poll_s)
                self._wake.clear()
                idle_since_recover += self.settings.worker_poll_s
        finally:
            log.info("job worker %s stopped", worker)

    def _run(self, claimed: Claimed, worker: str) -> None:
        handler = self.handlers[claimed.kind]
        budget = job_budget(self.settings, claimed.kind)
        payload = {
            "settings": self.settings.model_dump(mode="json"),
            "job_id": claimed.job_id,
            "kind": claimed.kind,
            "target_id": claimed.target_id,
        }

        def heartbeat() -> None:
            with self.db.session() as session:
                renew_lease(session, claimed.job_id, worker=worker, lease_s=LEASE_S)

        log.info(
            "job %s (%s %s) attempt %d in a job process (%d MB, %.0f s)",
            claimed.job_id,
            claimed.kind,
            claimed.target_id,
            claimed.attempt,
            budget.memory_mb,
            budget.time_s,
        )
        outcome = run_isolated(
            "facecraft.service.jobrun:run_job",
            payload,
            budget,
            on_message=self._message,
            stop=self._stop,
            on_tick=heartbeat,
            tick_s=HEARTBEAT_S,
        )
        log.info(
            "job %s process ended: %s (peak %.0f MB, %.1f s)",
            claimed.job_id,
            outcome.ending,
            outcome.peak_rss_mb,
            outcome.seconds,
        )
        with self.db.session() as session:
            self._settle(session, handler, claimed, outcome, budget)

    def _settle(
        self, session: Any, handler: JobHandler, claimed: Claimed, outcome: Outcome, budget: Budget
    ) -> None:
        peak = outcome.peak_rss_mb
        error_id = handler_error_id(handler)
        if outcome.ending == "result" and outcome.value != INTERRUPTED:
            job = session.get(Job, claimed.job_id)
            if job is not None:
                job.peak_rss_mb = peak
            return
        if outcome.ending == "memory":
            msg = JobBudgetError(
                f"the job needed more than its memory budget of {budget.memory_mb} MB and was stopped; "
                "a shorter script or a smaller video fits (the limit is FACECRAFT_JOB_MEMORY_MB)",
                error_id=error_id,
            )
            fail_job(session, handler, claimed.job_id, msg.error_id, msg.message, peak_rss_mb=peak)
        elif outcome.ending == "timeout":
            msg = JobBudgetError(
                f"the job took longer than its time budget of {budget.time_s:.0f} s and was stopped",
                error_id=error_id,
            )
            fail_job(session, handler, claimed.job_id, msg.error_id, msg.message, peak_rss_mb=peak)
        elif outcome.ending == "stopped" or (outcome.ending == "result" and outcome.value == INTERRUPTED):
            release_job(session, handler, claimed.job_id, peak_rss_mb=peak)
        elif outcome.ending == "error":  # raised before the job could record it (e.g. bad settings)
            fail_job(session, handler, claimed.job_id, error_id, outcome.message, peak_rss_mb=peak)
        elif claimed.attempt >= self.settings.max_job_attempts:
            fail_job(
                session,
                handler,
                claimed.job_id,
                error_id,
                f"the job's process died {claimed.attempt} times ({outcome.message}); giving up",
                peak_rss_mb=peak,
            )
        else:
            log.warning(
                "job %s: its process died (%s); it will be tried again", claimed.job_id, outcome.message
            )
            release_job(session, handler, claimed.job_id, peak_rss_mb=peak)

    def _message(self, message: dict[str, Any]) -> None:
        if message.get("type") == "webhook":
            self.webhooks.send(message.get("url"), message.get("payload") or {})
