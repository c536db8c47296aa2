from __future__ import annotations

from django_tasks import task

from jobs.runner import run_job


@task()
def run_job_task(job_id: int) -> str:
    """The single queue entry point: the job row says what to run."""
    return run_job(job_id)
