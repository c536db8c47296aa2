"""Runs one job inside a worker: claims it, keeps its heartbeat, records the outcome."""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django.db.models import F
from django.utils import timezone

from jobs.models import Job, JobStatus
from jobs.registry import handler_for

logger = logging.getLogger(__name__)


class JobError(Exception):
    """An expected failure: its message is shown to the job's owner as is."""


class JobLost(Exception):
    """The job was taken over (recovered) while this worker still ran it."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:128]


class JobContext:
    """What a handler sees: the job's parameters and a way to report progress."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self._lost = threading.Event()

    @property
    def params(self) -> dict[str, Any]:
        return self.job.params

    def progress(self, fraction: float, message: str = "") -> None:
        if self._lost.is_set():
            raise JobLost(f"job {self.job.pk} was recovered by another worker")
        fraction = min(1.0, max(0.0, float(fraction)))
        updated = Job.objects.filter(
            pk=self.job.pk, status=JobStatus.RUNNING, worker=self.job.worker
        ).update(progress=fraction, message=message[:255], heartbeat_at=timezone.now())
        if not updated:
            self._lost.set()
            raise JobLost(f"job {self.job.pk} was recovered by another worker")

    def mark_lost(self) -> None:
        self._lost.set()


class _Heartbeat(threading.Thread):
    """Refreshes ``heartbeat_at`` while the handler works, so a dead worker shows."""

    def __init__(self, context: JobContext) -> None:
        super().__init__(daemon=True, name=f"job-{context.job.pk}-heartbeat")
        self.context = context
        self.stopped = threading.Event()

    def run(self) -> None:
        job = self.context.job
        try:
            while not self.stopped.wait(settings.JOBS_HEARTBEAT_S):
                alive = Job.objects.filter(
                    pk=job.pk, status=JobStatus.RUNNING, worker=job.worker
                ).update(heartbeat_at=timezone.now())
                if not alive:
                    self.context.mark_lost()
                    return
        finally:
            close_old_connections()


def _claim(job_id: int) -> Job | None:
    """Move a queued job to running, atomically; None when another worker has it."""
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING,
        worker=worker_name(),
        started_at=now,
        heartbeat_at=now,
        error="",
        attempts=F("attempts") + 1,
    )
    return Job.objects.get(pk=job_id) if claimed else None


def _finish(job: Job, **fields: Any) -> None:
    Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, worker=job.worker).update(
        finished_at=timezone.now(), **fields
    )


def run_job(job_id: int, *, heartbeat: bool = True) -> str:
    """Run the handler of job ``job_id`` once; safe to call twice for the same job.

    ``heartbeat=False`` is for callers that run a job inside a transaction of their own
    (a shell, a test): a heartbeat thread's separate connection could not see the job.
    """
    job = _claim(job_id)
    if job is None:
        logger.info("job %s is not queued any more; nothing to do", job_id)
        return "skipped"
    context = JobContext(job)
    beating = _Heartbeat(context)
    if heartbeat:
        beating.start()
    try:
        result = handler_for(job.kind)(context)
    except JobLost:
        logger.warning("job %s was recovered elsewhere; dropping this run", job_id)
        return "lost"
    except JobError as exc:
        _finish(job, status=JobStatus.FAILED, error=str(exc))
        return "failed"
    except Exception as exc:
        logger.exception("job %s (%s) failed", job_id, job.kind)
        _finish(job, status=JobStatus.FAILED, error=f"Unexpected error ({type(exc).__name__}).")
        return "failed"
    finally:
        beating.stopped.set()
        if heartbeat:
            beating.join()
    _finish(job, status=JobStatus.SUCCEEDED, progress=1.0, result=result or {})
    return "succeeded"
