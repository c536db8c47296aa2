from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from generation.generator import (
    GeneratorUnavailable,
    generator_work_dir,
    training_dataset,
    training_pieces,
)
from generation.ml.data import dataset_statistics


class Command(BaseCommand):
    help = (
        "Build (or read from cache) the generator's training segments; print statistics per style."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit-per-style", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        pieces = training_pieces(limit_per_style=options["limit_per_style"])
        try:
            dataset = training_dataset(pieces)
        except GeneratorUnavailable as exc:
            raise CommandError(str(exc)) from exc
        statistics = dataset_statistics(dataset)
        self.stdout.write(json.dumps(statistics, indent=2))
        self.stdout.write(
            f"{len(pieces)} pieces, {len(dataset)} segments of 16 bars, "
            f"{len(dataset.skipped)} pieces skipped (too short or unreadable); "
            f"cache in {generator_work_dir() / 'cache'}"
        )
