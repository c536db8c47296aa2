"""Offline evaluation on HetRec lastfm-2k: per-user random 80/10/10 split, tuned models.

"project" is :class:`recommender.ml.recommenders.HybridBlendRecommender` (item-EASE,
user-EASE and in-house implicit ALS), "als" is ``implicit``'s ALS; both are tuned on the
validation split (grids in :mod:`recommender.ml.evaluation`). About 10 minutes with
``OMP_NUM_THREADS=1``.

Usage: OMP_NUM_THREADS=1 .venv/bin/python bench/recommender_eval.py [--data PATH] [--seed N]
[--budget S]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from recommender.ml.evaluation import DEFAULT_TUNING_BUDGET_S, evaluate_files  # noqa: E402
from recommender.ml.interactions import read_interactions, split_per_user, write_split  # noqa: E402

DEFAULT_DATA = REPO / ".." / "shared" / "data" / "lastfm-2k" / "user_artists.dat"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--budget", type=float, default=DEFAULT_TUNING_BUDGET_S, help="tuning seconds per model"
    )
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"lastfm-2k not found at {args.data}")
    with tempfile.TemporaryDirectory() as directory:
        paths = write_split(split_per_user(read_interactions(args.data), seed=args.seed), directory)
        report = evaluate_files(
            paths["train"], paths["test"], paths["valid"], k=10, tuning_budget_s=args.budget
        )
    report["split"] = {"fractions": [0.8, 0.1, 0.1], "seed": args.seed, "data": str(args.data)}
    print(json.dumps(report, indent=2))
    models = report["models"]
    print(
        "NDCG@10  project {:.4f}  als {:.4f}  popularity {:.4f}  ratio vs ALS {:.3f}".format(
            models["project"]["ndcg@10"],
            models["als"]["ndcg@10"],
            models["popularity"]["ndcg@10"],
            report["ndcg_ratio_vs_als"],
        ),
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
