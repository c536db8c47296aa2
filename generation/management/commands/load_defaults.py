from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from artifacts.models import ModelArtifact
from artifacts.services import register_artifact
from catalog.models import Track
from catalog.services import STYLE_CLASSIFIER_KIND
from generation.generator import GENERATOR_KIND, load_generator
from generation.ml.training import read_checkpoint
from recommender.services import TASTE_KIND

SHIPPED_GENERATOR = Path(settings.SHIPPED_MODEL_ROOT) / "generator" / "cvae-shipped.pt"


class Command(BaseCommand):
    help = (
        "Load what the embedded default serves, skipping what is already there: a balanced "
        "corpus subset, the style classifier, the shipped generator and a taste model."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--generator", type=Path, default=SHIPPED_GENERATOR)

    def handle(self, *args: Any, **options: Any) -> None:
        if not Track.objects.filter(origin="catalog").exists():
            call_command("import_corpus", "--preset", "balanced")
        else:
            self.stdout.write("catalog: already imported")
        if not ModelArtifact.objects.filter(kind=STYLE_CLASSIFIER_KIND, is_active=True).exists():
            call_command("train_style_classifier")
        else:
            self.stdout.write("style classifier: already trained")
        self._generator(options["generator"])
        if not ModelArtifact.objects.filter(kind=TASTE_KIND, is_active=True).exists():
            call_command("train_taste")
        else:
            self.stdout.write("taste model: already trained")

    def _generator(self, checkpoint: Path) -> None:
        if ModelArtifact.objects.filter(kind=GENERATOR_KIND, is_active=True).exists():
            self.stdout.write("generator: already active")
            return
        metadata = read_checkpoint(checkpoint)
        artifact = register_artifact(
            kind=GENERATOR_KIND,
            source=checkpoint,
            loader=load_generator,
            metrics=dict(metadata.get("metrics", {})),
            hyperparameters={
                "model": metadata.get("model_config", {}),
                "training": metadata.get("training_config", {}),
            },
            data_summary=dict(metadata.get("data_summary", {})),
            version=str(metadata["model_version"]),
        )
        self.stdout.write(f"generator: activated the shipped {artifact.version}")
