from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from jobs.services import recover_stale_jobs


class Command(BaseCommand):
    help = "Re-queue or fail running jobs whose worker stopped sending heartbeats."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--stale-after", type=float, default=None, help="seconds")

    def handle(self, *args: Any, **options: Any) -> None:
        counts = recover_stale_jobs(stale_after_s=options["stale_after"])
        self.stdout.write(f"re-queued {counts['requeued']}, failed {counts['failed']} stale jobs")
