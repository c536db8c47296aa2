from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from catalog.services import train_classifier


class Command(BaseCommand):
    help = (
        "Train the style classifier on every labelled track, activate the new version and "
        "restyle the tracks without a label."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            artifact = train_classifier()
        except ValueError as error:
            raise CommandError(f"cannot train: {error}") from error
        self.stdout.write(
            f"trained {artifact.version}: held-out accuracy {artifact.metrics['accuracy']:.3f} "
            f"on {artifact.metrics['test_size']} tracks"
        )
