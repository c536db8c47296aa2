from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from artifacts.services import ArtifactUnavailable, activate_version


class Command(BaseCommand):
    help = (
        "Make a stored model version active again (a rollback), once its file checks out "
        "and loads; the version that served until now stays stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("version", help="e.g. taste-20261130T120000123456")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            artifact = activate_version(
                options["version"],
                on_wait=lambda: self.stdout.write("waiting for a training run to finish"),
            )
        except ArtifactUnavailable as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"activated {artifact.version} ({artifact.kind})")
