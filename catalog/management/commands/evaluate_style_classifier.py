from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from catalog.midi.classifier import TrainingConfig
from catalog.midi.excerpts import EXCERPT_BEATS
from catalog.services import fit_style_classifier


class Command(BaseCommand):
    help = (
        "Measure the style classifier on the catalog's labelled tracks: held-out accuracy "
        "and confusion matrix (nothing is saved; train_style_classifier saves a model)."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--test-size", type=float, default=0.2)
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args: Any, **options: Any) -> None:
        config = TrainingConfig(test_size=options["test_size"], seed=options["seed"])
        try:
            classifier = fit_style_classifier(config)
        except ValueError as error:
            raise CommandError(f"cannot evaluate: {error}") from error
        metrics = classifier.metrics
        self.stdout.write(
            f"held-out accuracy {metrics.accuracy:.3f} (balanced {metrics.balanced_accuracy:.3f}) "
            f"on {metrics.test_size} held-out tracks; trained on {metrics.train_size} samples"
        )
        if metrics.excerpt_accuracy is not None:
            self.stdout.write(
                f"held-out excerpts ({EXCERPT_BEATS} beats of the held-out tracks): accuracy "
                f"{metrics.excerpt_accuracy:.3f} on {metrics.excerpt_test_size}"
            )
        self.stdout.write("confusion matrix (rows: true style, columns: predicted):")
        self.stdout.write(metrics.format_confusion_matrix())
