from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from artifacts.models import ModelArtifact
from catalog.services import train_classifier


class Command(BaseCommand):
    help = (
        "Train the style classifier on every labelled track, activate the new version and "
        "restyle the tracks without a label; a classifier that saw more samples (the shipped "
        "one saw the whole corpus) keeps serving unless --replace-broader."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--replace-broader",
            action="store_true",
            help="activate the new version even if the active one saw more samples",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            artifact = train_classifier(replace_broader=options["replace_broader"])
        except ValueError as error:
            raise CommandError(f"cannot train: {error}") from error
        self.stdout.write(
            f"trained {artifact.version}: held-out accuracy {artifact.metrics['accuracy']:.3f} "
            f"on {artifact.metrics['test_size']} tracks, from "
            f"{artifact.data_summary['samples']} samples"
        )
        if artifact.is_active:
            self.stdout.write(f"activated {artifact.version}; unlabelled tracks restyled")
            return
        active = ModelArtifact.objects.get(kind=artifact.kind, is_active=True)
        self.stdout.write(
            f"kept {active.version} active: it saw {active.data_summary.get('samples')} "
            f"samples, this one {artifact.data_summary['samples']} (import the whole corpus "
            f"for a broader one). To serve the new one anyway: manage.py activate_model "
            f"{artifact.version}"
        )
