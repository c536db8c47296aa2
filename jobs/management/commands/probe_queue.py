from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jobs.services import submit_job


class Command(BaseCommand):
    help = "Send a probe job through the task queue and wait for a worker to run it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seconds", type=float, default=0.0, help="work time of the probe")
        parser.add_argument("--timeout", type=float, default=60.0)
        parser.add_argument("--no-wait", action="store_true", help="print the job id and exit")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        job = submit_job(kind="probe", params={"seconds": options["seconds"]})
        self.stdout.write(f"submitted probe job {job.pk}")
        if options["no_wait"]:
            return
        while time.monotonic() - started < options["timeout"]:
            job.refresh_from_db()
            if job.is_finished:
                elapsed = time.monotonic() - started
                self.stdout.write(f"probe job {job.pk} {job.status} in {elapsed:.2f}s")
                if job.status != "succeeded":
                    raise CommandError(f"probe job failed: {job.error}")
                return
            time.sleep(0.1)
        raise CommandError(f"no worker finished probe job {job.pk} in {options['timeout']}s")
