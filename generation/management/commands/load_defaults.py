from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from artifacts.models import ModelArtifact
from artifacts.services import activate_artifact, register_artifact
from catalog.midi.classifier import StyleClassifier
from catalog.models import Track
from catalog.services import STYLE_CLASSIFIER_KIND, restyle_unlabelled_tracks
from generation.generator import (
    GENERATOR_KIND,
    SHIPPED,
    is_shipped,
    load_generator,
    register_checkpoint,
)
from generation.ml.training import read_checkpoint
from recommender.services import TASTE_KIND

SHIPPED_GENERATOR = Path(settings.SHIPPED_MODEL_ROOT) / "generator" / "cvae-shipped.pt"
SHIPPED_CLASSIFIER = Path(settings.SHIPPED_MODEL_ROOT) / "style_classifier.joblib"


class Command(BaseCommand):
    help = (
        "Load what the embedded default serves, skipping what is already there: a balanced "
        "corpus subset, the style classifier, the shipped generator and a taste model."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--generator", type=Path, default=SHIPPED_GENERATOR)
        parser.add_argument(
            "--replace-generator",
            action="store_true",
            help="serve the shipped generator even if staff activated another one",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not Track.objects.filter(origin="catalog").exists():
            call_command("import_corpus", "--preset", "balanced")
        else:
            self.stdout.write("catalog: already imported")
        self._style_classifier()
        self._generator(options["generator"], options["replace_generator"])
        if not ModelArtifact.objects.filter(kind=TASTE_KIND, is_active=True).exists():
            call_command("train_taste")
        else:
            self.stdout.write("taste model: already trained")

    def _style_classifier(self) -> None:
        """The shipped classifier saw the whole labelled corpus import; the embedded catalog
        subset alone would give a weaker one."""
        if ModelArtifact.objects.filter(kind=STYLE_CLASSIFIER_KIND, is_active=True).exists():
            self.stdout.write("style classifier: already active")
            return
        if not SHIPPED_CLASSIFIER.is_file():
            call_command("train_style_classifier")
            return
        classifier = StyleClassifier.load(SHIPPED_CLASSIFIER)
        description = classifier.describe()
        register_artifact(
            kind=STYLE_CLASSIFIER_KIND,
            source=SHIPPED_CLASSIFIER,
            loader=StyleClassifier.load,
            metrics=description.get("metrics", {}),
            hyperparameters=description.get("config", {}),
            data_summary=classifier.training_data,
            version=classifier.version,
        )
        restyle_unlabelled_tracks(classifier=classifier)
        self.stdout.write(f"style classifier: activated the shipped {classifier.version}")

    def _generator(self, checkpoint: Path, replace: bool) -> None:
        """Serve the shipped generator unless staff chose another: a newer shipped checkpoint
        replaces an older shipped one, never (unless ``replace``) another generator."""
        shipped = str(read_checkpoint(checkpoint)["model_version"])
        active = ModelArtifact.objects.filter(kind=GENERATOR_KIND, is_active=True).first()
        keep = active is not None and not (replace or is_shipped(active))
        if active is not None and (active.version == shipped or keep):
            self.stdout.write(f"generator: {active.version} already active")
            return
        known = ModelArtifact.objects.filter(kind=GENERATOR_KIND, version=shipped).first()
        if known is None:
            register_checkpoint(checkpoint, source=SHIPPED)
        else:
            activate_artifact(artifact=known, loader=load_generator)
        replaced = "" if active is None else f" (replacing {active.version})"
        self.stdout.write(f"generator: activated the shipped {shipped}{replaced}")
