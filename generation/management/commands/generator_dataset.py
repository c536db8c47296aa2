from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from generation.generator import training_pieces
from generation.ml.data import build_dataset, dataset_statistics


class Command(BaseCommand):
    help = (
        "Build (or read from cache) the generator's training segments; print statistics per style."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit-per-style", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        pieces = training_pieces(limit_per_style=options["limit_per_style"])
        if not pieces:
            raise CommandError("no labelled catalog tracks with MIDI: run import_corpus first")
        cache = Path(settings.MODEL_ROOT) / "generator-training" / "cache"
        dataset = build_dataset(pieces, cache_dir=cache)
        statistics = dataset_statistics(dataset)
        self.stdout.write(json.dumps(statistics, indent=2))
        self.stdout.write(
            f"{len(pieces)} pieces, {len(dataset)} segments of 16 bars, "
            f"{len(dataset.skipped)} pieces skipped (too short or unreadable); cache in {cache}"
        )
