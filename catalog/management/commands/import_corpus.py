from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from catalog.midi.corpus import (
    COLLECTION_STYLES,
    PRESETS,
    CorpusFailure,
    CorpusPlan,
    load_pieces,
    plan_corpus,
    plan_preset,
)
from catalog.models import Track
from catalog.services import import_corpus_piece


class Command(BaseCommand):
    help = (
        "Import the music21 package's bundled corpus (or part of it) as public catalog "
        "tracks. Re-runs skip pieces already imported."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--collections",
            help="Comma-separated music21 collection names, e.g. bach,ryansMammoth "
            f"(default: all; styled ones: {', '.join(COLLECTION_STYLES)}).",
        )
        parser.add_argument("--limit", type=int, help="At most N pieces per collection.")
        parser.add_argument(
            "--preset",
            choices=sorted(PRESETS),
            help="A predefined subset; 'balanced' takes about the same number of every style.",
        )
        parser.add_argument("--workers", type=int, default=2, help="Parsing processes.")

    def handle(self, *args: Any, **options: Any) -> None:
        plan = self._plan(options)
        for skipped in plan.skipped:
            self.stdout.write(f"collection {skipped.collection} skipped: {skipped.reason}")
        known = set(
            Track.objects.filter(source_id__in=[item.source_id for item in plan.items]).values_list(
                "source_id", flat=True
            )
        )
        pending = [item for item in plan.items if item.source_id not in known]
        imported: Counter[str] = Counter()
        failures: list[CorpusFailure] = []
        results = load_pieces(pending, workers=options["workers"])
        for result in tqdm(results, total=len(pending), unit="piece", desc="import_corpus"):
            if isinstance(result, CorpusFailure):
                failures.append(result)
                continue
            _, created = import_corpus_piece(piece=result)
            imported[result.style] += created
        self._summarize(imported, len(known), failures)

    def _plan(self, options: dict[str, Any]) -> CorpusPlan:
        if options["preset"] and (options["collections"] or options["limit"] is not None):
            raise CommandError("--preset cannot be combined with --collections or --limit")
        if options["limit"] is not None and options["limit"] < 1:
            raise CommandError("--limit must be at least 1")
        if options["preset"]:
            return plan_preset(options["preset"])
        names = options["collections"]
        collections = [name.strip() for name in names.split(",") if name.strip()] if names else None
        try:
            return plan_corpus(collections, options["limit"])
        except ValueError as error:
            raise CommandError(str(error)) from error

    def _summarize(
        self, imported: Counter[str], already: int, failures: list[CorpusFailure]
    ) -> None:
        per_style = ", ".join(f"{style} {count}" for style, count in sorted(imported.items()))
        self.stdout.write(
            f"imported {sum(imported.values())} ({per_style or 'none'}); "
            f"skipped {already} already imported; failed {len(failures)}"
        )
        for failure in failures:
            self.stdout.write(f"  failed {failure.source_id}: {failure.reason}")
