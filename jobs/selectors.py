"""Reads of the job records."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from jobs.models import Job, JobStatus, WorkerBeat


def unserved_queue_problem() -> str | None:
    """Why the queue's jobs are not being taken, or None: a job has waited longer than
    ``JOBS_STALE_AFTER_S`` and no worker has shown that it is alive for as long. (A busy
    worker still beats, so a backlog alone is no problem.)"""
    stale_after = settings.JOBS_STALE_AFTER_S
    cutoff = timezone.now() - timedelta(seconds=stale_after)
    waiting = Job.objects.filter(status=JobStatus.QUEUED, created_at__lt=cutoff)
    oldest = waiting.order_by("created_at").first()
    if oldest is None or WorkerBeat.objects.filter(seen_at__gte=cutoff).exists():
        return None
    waited = (timezone.now() - oldest.created_at).total_seconds()
    return (
        f"job {oldest.pk} has waited {waited:.0f} s and no worker was seen in {stale_after:.0f} s"
    )
