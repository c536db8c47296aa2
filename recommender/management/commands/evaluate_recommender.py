from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recommender.ml.evaluation import DEFAULT_TUNING_BUDGET_S, evaluate_files


class Command(BaseCommand):
    help = (
        "Offline evaluation: fit on --train (tune on --valid), rank every item for each "
        "--test user excluding train and valid items, and report NDCG/Recall/Precision@k "
        "and coverage for the project's model, popularity and tuned implicit ALS. Files are "
        "tab-separated with a header: user, item, weight. The ALS peer needs the "
        "development dependencies (bin/setup --dev)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--train", required=True, type=Path)
        parser.add_argument("--test", required=True, type=Path)
        parser.add_argument("--valid", type=Path, default=None)
        parser.add_argument("--k", type=int, default=10)
        parser.add_argument(
            "--tuning-budget",
            type=float,
            default=DEFAULT_TUNING_BUDGET_S,
            help="seconds of tuning per model",
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object only")

    def handle(self, *args: Any, **options: Any) -> None:
        if importlib.util.find_spec("implicit") is None:
            raise CommandError(
                "the ALS peer needs the 'implicit' package, a development dependency: "
                "run bin/setup --dev (requirements/dev.txt) first"
            )
        for name in ("train", "test", "valid"):
            path = options[name]
            if path is not None and not path.is_file():
                raise CommandError(f"--{name}: no such file: {path}")
        try:
            report = evaluate_files(
                options["train"],
                options["test"],
                options["valid"],
                k=options["k"],
                tuning_budget_s=options["tuning_budget"],
            )
        except (ValueError, KeyError) as exc:
            raise CommandError(f"cannot evaluate: {exc}") from exc
        if options["json"]:
            self.stdout.write(json.dumps(report))
            return
        self.stdout.write(json.dumps(report, indent=2))
        ndcg = f"ndcg@{options['k']}"
        for name, metrics in report["models"].items():
            self.stdout.write(f"{name:>12}: {ndcg} {metrics[ndcg]:.4f}")
        self.stdout.write(f"project / ALS {ndcg} ratio: {report['ndcg_ratio_vs_als']:.3f}")
