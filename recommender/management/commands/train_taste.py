from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from artifacts.services import ArtifactUnavailable
from recommender.services import train_taste


class Command(BaseCommand):
    help = (
        "Fit the taste model and recommender on the whole database, store a new version, "
        "activate it and update every user's taste. With --enqueue, run it on a worker."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--enqueue", action="store_true", help="submit as a background job")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["enqueue"]:
            from jobs.services import submit_job

            job = submit_job(kind="train_taste")
            self.stdout.write(f"submitted train_taste job {job.pk}")
            return
        with tqdm(total=100, desc="train_taste", unit="%") as bar:

            def progress(fraction: float, message: str) -> None:
                bar.update(round(fraction * 100) - bar.n)
                bar.set_postfix_str(message)

            try:
                artifact = train_taste(progress=progress)
            except (ValueError, ArtifactUnavailable) as exc:
                raise CommandError(str(exc)) from exc
        summary = artifact.data_summary
        self.stdout.write(
            f"activated {artifact.version}: {summary['users']} users, {summary['tracks']} "
            f"tracks, {summary['listens']} listens; metrics {artifact.metrics}"
        )
