"""Writes on jobs: submit, recover. Every app's long work goes through ``submit_job``."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Model
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import APIException

from jobs.models import IdempotencyKey, Job, JobStatus, WorkerBeat
from jobs.registry import cleanup_for, handler_for, periodic_jobs

logger = logging.getLogger(__name__)

# How long a retry with the same Idempotency-Key gets the first request's result.
IDEMPOTENCY_WINDOW = timedelta(hours=24)


class IdempotencyKeyReused(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"
    default_detail = (
        "This Idempotency-Key came with another request in the last 24 hours; use a new key "
        "for a new request."
    )


class MadeAndDeleted(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_key_resource_deleted"
    default_detail = (
        "What a request with this Idempotency-Key made has been deleted since; use a new key "
        "for a new request."
    )


Made = TypeVar("Made", bound=Model)


@dataclass
class Idempotency:
    """A request's ``Idempotency-Key`` and a fingerprint of what it asks for; ``replayed``
    once :meth:`earlier` found what a first request with the key made."""

    scope: str
    key: str
    fingerprint: str
    replayed: bool = False

    @classmethod
    def of(cls, scope: str, key: str, body: Mapping[str, Any]) -> Idempotency:
        canonical = json.dumps(body, sort_keys=True, default=str)
        return cls(scope, key, hashlib.sha256(canonical.encode()).hexdigest())

    def earlier(self, user: AbstractBaseUser, model: type[Made]) -> Made | None:
        """What an earlier request with this key made (a ``model``), within the window; call
        with the person held (:func:`hold_person`), so that a retry racing the first waits
        for it. A key that came with another request is IdempotencyKeyReused; one whose
        result was deleted since, MadeAndDeleted."""
        mine = IdempotencyKey.objects.filter(user=user, scope=self.scope, key=self.key)
        mine.filter(created_at__lt=timezone.now() - IDEMPOTENCY_WINDOW).delete()
        found = mine.first()
        if found is None:
            return None
        if found.fingerprint != self.fingerprint:
            raise IdempotencyKeyReused
        made = model.objects.filter(pk=found.resource_id).first()
        if made is None:
            raise MadeAndDeleted
        self.replayed = True
        return made

    def remember(self, user: AbstractBaseUser, resource_id: int) -> None:
        IdempotencyKey.objects.create(
            user=user,
            scope=self.scope,
            key=self.key,
            fingerprint=self.fingerprint,
            resource_id=resource_id,
        )
        # Everyone's stale keys, after the commit: inside the request's transaction the
        # delete would hold their rows, and other people's keyed requests would wait on it.
        transaction.on_commit(_prune_stale_keys)


def _prune_stale_keys() -> None:
    IdempotencyKey.objects.filter(created_at__lt=timezone.now() - IDEMPOTENCY_WINDOW).delete()


def _enqueue(job_id: int) -> None:
    """Put the job on the task queue; if the queue cannot take it (Redis down, say), the job
    fails with the reason at once instead of waiting forever and holding its owner's quota."""
    from jobs.tasks import run_job_task

    try:
        result = run_job_task.enqueue(job_id)
    except Exception as exc:  # each queue backend raises its own connection errors
        logger.exception("job %s could not be queued", job_id)
        _fail_unqueued(job_id, type(exc).__name__)
        return
    Job.objects.filter(pk=job_id).update(task_result_id=str(result.id))


def _fail_unqueued(job_id: int, reason: str) -> None:
    failed = Job.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.FAILED,
        # The owner sees this: the queue's own message may name hosts and ports.
        error=f"The task queue could not take this job ({reason}); try again later.",
        finished_at=timezone.now(),
    )
    job = Job.objects.filter(pk=job_id).first()
    cleanup = cleanup_for(job.kind) if failed and job else None
    if cleanup is not None:
        cleanup(job.params)


def hold_person(user: AbstractBaseUser, *, deleting: bool = False) -> None:
    """Lock the person's account row until the current transaction ends, so that their
    quota-checked submissions (and the deletion of their account) happen one at a time: a
    count and the insert it allows cannot interleave with another's. (SQLite's IMMEDIATE
    transactions already serialize every writer.)

    On PostgreSQL a submission takes FOR NO KEY UPDATE, which the person's listens and
    feedback being written meanwhile do not wait for; ``deleting`` takes FOR UPDATE, which
    waits for those writes to finish and makes later ones find no account."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("hold_person needs a transaction to hold the lock in")
    person = get_user_model().objects.select_for_update(no_key=not deleting).filter(pk=user.pk)
    list(person.values_list("pk"))


def record_worker_beat(*, name: str) -> None:
    """That the worker ``name`` is alive now (``jobs.selectors.unserved_queue_problem``)."""
    now = timezone.now()
    WorkerBeat.objects.update_or_create(name=name, defaults={"seen_at": now})
    WorkerBeat.objects.filter(seen_at__lt=now - timedelta(days=1)).delete()


@transaction.atomic
def submit_job(
    *,
    kind: str,
    owner: AbstractBaseUser | None = None,
    params: dict[str, Any] | None = None,
    max_attempts: int | None = None,
) -> Job:
    """Record a job and put it on the queue once the surrounding transaction commits."""
    handler_for(kind)  # fail now, in the request, for a kind no worker could run
    job = Job.objects.create(
        kind=kind,
        owner=owner,
        params=params or {},
        max_attempts=max_attempts or settings.JOBS_MAX_ATTEMPTS,
    )
    transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def submit_due_periodic_jobs() -> list[Job]:
    """Submit each registered periodic kind that has work, none of its kind is queued or
    running, and the last one was submitted at least its interval ago."""
    submitted = []
    for periodic in periodic_jobs():
        previous = Job.objects.filter(kind=periodic.kind).order_by("-created_at", "-id").first()
        if previous is not None:
            if previous.status in (JobStatus.QUEUED, JobStatus.RUNNING):
                continue
            age = (timezone.now() - previous.created_at).total_seconds()
            if age < periodic.min_interval_s():
                continue
        if periodic.is_due():
            submitted.append(submit_job(kind=periodic.kind))
            logger.info("submitted periodic %s job %s", periodic.kind, submitted[-1].pk)
    return submitted


def recover_stale_jobs(*, stale_after_s: float | None = None) -> dict[str, int]:
    """Re-queue (or fail, past ``max_attempts``) running jobs whose worker went silent."""
    stale_after = stale_after_s if stale_after_s is not None else settings.JOBS_STALE_AFTER_S
    cutoff = timezone.now() - timedelta(seconds=stale_after)
    counts = {"requeued": 0, "failed": 0}
    stale_ids = list(
        Job.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=cutoff).values_list(
            "pk", flat=True
        )
    )
    for job_id in stale_ids:
        outcome = _recover_one(job_id, cutoff)
        if outcome:
            counts[outcome] += 1
    return counts


def _recover_one(job_id: int, cutoff: Any) -> str | None:
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status != JobStatus.RUNNING or job.heartbeat_at >= cutoff:
            return None
        lost_worker = job.worker or "unknown worker"
        if job.attempts < job.max_attempts:
            job.status = JobStatus.QUEUED
            job.message = f"re-queued: worker {lost_worker} stopped during attempt {job.attempts}"
            job.worker = ""
            job.save(update_fields=["status", "message", "worker"])
            transaction.on_commit(lambda: _enqueue(job_id))
            logger.warning("job %s re-queued after losing %s", job_id, lost_worker)
            return "requeued"
        job.status = JobStatus.FAILED
        job.error = (
            f"The worker running this job ({lost_worker}) stopped responding, "
            f"after {job.attempts} of {job.max_attempts} attempts."
        )
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "error", "finished_at"])
        logger.warning("job %s failed after losing %s", job_id, lost_worker)
        return "failed"
