from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from jobs.runner import worker_name
from jobs.services import record_worker_beat, recover_stale_jobs, submit_due_periodic_jobs

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Run a task worker for the configured backend (db_worker or an RQ worker), "
        "recovering jobs whose worker died, submitting due periodic jobs (such as "
        "retraining the taste model) and recording that it is alive, at start and then "
        "periodically."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--queue", default="default")
        parser.add_argument(
            "--interval", type=float, default=0.5, help="seconds between queue polls"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self._recover()
        stop = threading.Event()
        threading.Thread(target=self._recover_forever, args=(stop,), daemon=True).start()
        try:
            if settings.TASK_BACKEND == "rq":
                # RQ must build django-tasks' own Job class to call a Task object.
                call_command("rqworker", options["queue"], job_class="django_tasks_rq.backend.Job")
            else:
                call_command("db_worker", queue_name=options["queue"], interval=options["interval"])
        finally:
            stop.set()

    def _recover(self) -> None:
        record_worker_beat(name=worker_name())
        counts = recover_stale_jobs()
        if any(counts.values()):
            self.stdout.write(f"recovered stale jobs: {counts}")
        for job in submit_due_periodic_jobs():
            self.stdout.write(f"submitted periodic {job.kind} job {job.pk}")

    def _recover_forever(self, stop: threading.Event) -> None:
        period = max(1.0, settings.JOBS_STALE_AFTER_S / 2)
        while not stop.wait(period):
            try:
                self._recover()
            except Exception:  # a database hiccup must not end the beats and recovery for good
                logger.exception("periodic recovery failed; trying again in %.0f s", period)
            finally:
                close_old_connections()
