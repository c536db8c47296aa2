"""Offline evaluation: tune every model on the validation split, then compare them on test.

Protocol: each model is fitted on train only (valid serves tuning only, for all models alike),
every item of the catalog is ranked for each test user, and the user's train and valid items
are left out of the ranking.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from recommender.ml.interactions import Interactions, read_interactions, shared_interactions
from recommender.ml.metrics import evaluate_ranking
from recommender.ml.recommenders import (
    ALSRecommender,
    HybridBlendRecommender,
    PopularityRecommender,
    Recommender,
)

Factory = Callable[..., Recommender]


def _grid(**axes: Sequence[Any]) -> list[dict[str, Any]]:
    names = list(axes)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*axes.values())]


Stages = Sequence[Sequence[Mapping[str, Any]]]

# Enough for every stage of both grids on lastfm-2k with one thread (6.5-8 min for the
# project's model, 3-5 min for ALS); a larger data set stops tuning early instead of never.
DEFAULT_TUNING_BUDGET_S = 900.0

# The project's model is tuned one stage at a time (item side, user side, latent factors),
# each stage starting from the best parameters so far: 48 fits instead of 5,832.
PROJECT_STAGES: Stages = (
    _grid(weighting=["rank", "log"], l2=[50.0, 100.0, 200.0], popularity_l2=[0.3, 1.0, 3.0]),
    _grid(user_l2=[50.0, 100.0, 200.0, 400.0], user_weight=[0.4, 0.6, 0.8]),
    _grid(factors=[32, 64], factor_weight=[0.15, 0.3, 0.45], factor_l2=[3.0, 10.0, 30.0]),
)
# The peer is tuned as fairly: first regularization against confidence at 128 factors, then
# the factor count over the (regularization, alpha) pairs that lead on lastfm-2k. Strong
# regularization with many factors is where implicit's ALS peaks there (valid NDCG 0.190 at
# 512 factors, regularization 50, alpha 2, against 0.179 at the old grid's edge of 10), so the
# grid reaches well past it (docs/benchmarks.md).
_ALS_LEADING_PAIRS = ((20.0, 1.0), (30.0, 1.0), (50.0, 2.0), (75.0, 3.0))
ALS_STAGES: Stages = (
    _grid(
        factors=[128],
        regularization=[3.0, 10.0, 20.0, 30.0, 50.0, 100.0],
        alpha=[0.5, 1.0, 2.0, 4.0],
        weighting=["log"],
    ),
    [
        {"factors": factors, "regularization": regularization, "alpha": alpha}
        for factors in (64, 256, 512)
        for regularization, alpha in _ALS_LEADING_PAIRS
    ],
)


@dataclass
class TuningResult:
    best_params: dict[str, Any]
    best_ndcg: float
    trials: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


def tune(
    factory: Factory,
    stages: Stages,
    train: Interactions,
    valid: Interactions,
    k: int = 10,
    time_budget_s: float = DEFAULT_TUNING_BUDGET_S,
    description: str = "tuning",
) -> TuningResult:
    """Staged grid search on validation NDCG@k; stops early once ``time_budget_s`` is spent.

    Each stage's parameters are laid over the best parameters of the stages before it.
    """
    started = time.perf_counter()
    result = TuningResult(best_params=dict(stages[0][0]), best_ndcg=-1.0)
    for number, grid in enumerate(stages, start=1):
        base = dict(result.best_params)
        for overrides in tqdm(grid, desc=f"{description} ({number}/{len(stages)})"):
            params = {**base, **overrides}
            model = factory(**params).fit(train.matrix)
            ndcg = evaluate_ranking(model.score_users, valid.matrix, train.matrix, k).ndcg
            result.trials.append({"params": params, f"ndcg@{k}": ndcg})
            if ndcg > result.best_ndcg:
                result.best_params, result.best_ndcg = params, ndcg
            if time.perf_counter() - started > time_budget_s:
                result.seconds = time.perf_counter() - started
                return result
    result.seconds = time.perf_counter() - started
    return result


def _evaluate_model(
    model: Recommender, train: Interactions, test: Interactions, exclude: Interactions, k: int
) -> dict[str, Any]:
    started = time.perf_counter()
    model.fit(train.matrix)
    fitted = time.perf_counter()
    metrics = evaluate_ranking(
        model.score_users, test.matrix, exclude.matrix, k, description=type(model).__name__
    )
    return {
        **metrics.as_dict(),
        "hyperparameters": model.hyperparameters(),
        "fit_seconds": round(fitted - started, 3),
        "eval_seconds": round(time.perf_counter() - fitted, 3),
    }


def evaluate(
    train: Interactions,
    test: Interactions,
    valid: Interactions | None = None,
    k: int = 10,
    tuning_budget_s: float = DEFAULT_TUNING_BUDGET_S,
) -> dict[str, Any]:
    """Compare the project's model with popularity and tuned ALS; a JSON-able dict.

    ``train``, ``test`` and ``valid`` must share one user and item index
    (:func:`recommender.ml.interactions.shared_interactions`). Without ``valid``, every model
    keeps its default hyperparameters.
    """
    started = time.perf_counter()
    factories: dict[str, tuple[Factory, Stages]] = {
        "project": (HybridBlendRecommender, PROJECT_STAGES),
        "als": (ALSRecommender, ALS_STAGES),
    }
    exclude = train if valid is None else _union(train, valid)
    report: dict[str, Any] = {"k": k, "data": {"train": train.summary(), "test": test.summary()}}
    tuning: dict[str, Any] = {}
    models: dict[str, Recommender] = {"popularity": PopularityRecommender()}
    for name, (factory, stages) in factories.items():
        params: dict[str, Any] = {}
        if valid is not None:
            result = tune(factory, stages, train, valid, k, tuning_budget_s, f"tuning {name}")
            params = result.best_params
            tuning[name] = {
                "best_params": params,
                f"valid_ndcg@{k}": result.best_ndcg,
                "trials": len(result.trials),
                "seconds": round(result.seconds, 1),
            }
        models[name] = factory(**params)
    report["models"] = {
        name: _evaluate_model(model, train, test, exclude, k) for name, model in models.items()
    }
    report["tuning"] = tuning
    if valid is not None:
        report["data"]["valid"] = valid.summary()
    ndcg = f"ndcg@{k}"
    als_ndcg = report["models"]["als"][ndcg]
    report["ndcg_ratio_vs_als"] = report["models"]["project"][ndcg] / max(als_ndcg, 1e-12)
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def _union(first: Interactions, second: Interactions) -> Interactions:
    return Interactions(
        matrix=(first.matrix + second.matrix).tocsr(),
        user_ids=first.user_ids,
        item_ids=first.item_ids,
    )


def evaluate_files(
    train_path: str | Path,
    test_path: str | Path,
    valid_path: str | Path | None = None,
    k: int = 10,
    tuning_budget_s: float = DEFAULT_TUNING_BUDGET_S,
) -> dict[str, Any]:
    """:func:`evaluate` on ``user, item, weight`` TSV files (the ``evaluate_recommender`` CLI)."""
    paths = [train_path, test_path] + ([] if valid_path is None else [valid_path])
    parts = shared_interactions([read_interactions(path) for path in paths])
    valid = parts[2] if valid_path is not None else None
    report = evaluate(parts[0], parts[1], valid, k, tuning_budget_s)
    report["files"] = {
        "train": str(train_path),
        "test": str(test_path),
        "valid": None if valid_path is None else str(valid_path),
    }
    return report
