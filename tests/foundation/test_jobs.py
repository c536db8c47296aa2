"""The job pattern: status, progress, errors, recovery from dead workers, both queues."""

from __future__ import annotations

import os
import signal
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from jobs.models import Job, JobStatus
from jobs.registry import UnknownJobKind
from jobs.runner import run_job
from jobs.services import recover_stale_jobs, submit_job
from tests.helpers import wait_until


@pytest.mark.django_db
def test_a_job_runs_to_success_with_progress_and_result():
    job = submit_job(kind="probe", params={"seconds": 0.05})
    assert job.status == JobStatus.QUEUED
    assert run_job(job.pk, heartbeat=False) == "succeeded"
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert job.progress == 1.0
    assert job.result == {"slept_s": 0.05, "attempt": 1}
    assert job.started_at <= job.finished_at
    assert run_job(job.pk, heartbeat=False) == "skipped", (
        "a second delivery of the same task must do nothing"
    )


@pytest.mark.django_db
def test_an_expected_failure_keeps_its_message():
    job = submit_job(kind="probe", params={"seconds": -1})
    assert run_job(job.pk, heartbeat=False) == "failed"
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error == "seconds must be between 0 and 3600"


@pytest.mark.django_db
def test_unknown_kinds_are_refused_at_submission():
    with pytest.raises(UnknownJobKind):
        submit_job(kind="no-such-kind")
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_stale_running_jobs_are_requeued_then_failed_after_max_attempts():
    long_ago = timezone.now() - timedelta(minutes=10)
    retry = Job.objects.create(
        kind="probe", status=JobStatus.RUNNING, attempts=1, max_attempts=2, heartbeat_at=long_ago
    )
    give_up = Job.objects.create(
        kind="probe",
        status=JobStatus.RUNNING,
        attempts=2,
        max_attempts=2,
        heartbeat_at=long_ago,
        worker="host:123",
    )
    alive = Job.objects.create(kind="probe", status=JobStatus.RUNNING, heartbeat_at=timezone.now())
    assert recover_stale_jobs(stale_after_s=60) == {"requeued": 1, "failed": 1}
    retry.refresh_from_db()
    give_up.refresh_from_db()
    alive.refresh_from_db()
    assert retry.status == JobStatus.QUEUED
    assert give_up.status == JobStatus.FAILED
    assert "host:123" in give_up.error
    assert "stopped responding" in give_up.error
    assert alive.status == JobStatus.RUNNING


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_killed_db_worker_leaves_no_job_running_forever(start_process):
    fast_recovery = {"JOBS_HEARTBEAT_S": "0.3", "JOBS_STALE_AFTER_S": "2"}
    first = start_process("run_worker", "--interval", "0.1", **fast_recovery)
    job = submit_job(kind="probe", params={"seconds": 4}, max_attempts=2)

    def job_state():
        job.refresh_from_db()
        return job

    wait_until(lambda: job_state().status == JobStatus.RUNNING, timeout=60, what="job to start")
    wait_until(lambda: job_state().progress > 0, timeout=30, what="progress")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    assert job_state().status == JobStatus.RUNNING  # nobody knows yet that the worker died

    start_process("run_worker", "--interval", "0.1", **fast_recovery)
    wait_until(lambda: job_state().is_finished, timeout=90, what="the job to be recovered")
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.attempts == 2


def _redis_or_skip(url: str) -> redis.Redis:
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip(f"no Redis server answers at {url} (bin/services starts one)")
    return client


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_tasks_run_on_redis_queue_workers(start_process):
    url = "redis://127.0.0.1:6379/15"
    _redis_or_skip(url).flushdb()
    rq = {"TASK_BACKEND": "rq", "REDIS_URL": url}
    start_process("run_worker", **rq)
    probe = start_process("probe_queue", "--seconds", "0.5", "--timeout", "90", **rq)
    output, _ = probe.communicate(timeout=120)
    assert probe.returncode == 0, output
    assert "succeeded" in output
    job = Job.objects.get(kind="probe")
    assert job.status == JobStatus.SUCCEEDED
    assert job.result["slept_s"] == 0.5
