"""Top-k ranking metrics with binary relevance, and the full-catalog ranking protocol.

Definitions (per user, then averaged over users with at least one test item):

* ``precision@k = hits / k``
* ``recall@k = hits / |relevant|``
* ``ndcg@k = DCG / IDCG`` with ``DCG = Σ 1 / log2(rank + 1)`` over hits at ranks 1..k and IDCG
  the DCG of a perfect list of ``min(k, |relevant|)`` hits;
* ``coverage@k`` = distinct items recommended to anyone / number of items in the catalog.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

import numpy as np
from scipy import sparse
from tqdm import tqdm

ScoreUsers = Callable[[np.ndarray], np.ndarray]
"""Dense ``len(users) x n_items`` scores for a batch of user indices."""


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def _hits(ranked: np.ndarray, relevant: Iterable[int], k: int) -> np.ndarray:
    return np.isin(np.asarray(ranked)[:k], np.fromiter(relevant, dtype=np.int64)).astype(float)


def precision_at_k(ranked: np.ndarray, relevant: set[int], k: int) -> float:
    return float(_hits(ranked, relevant, k).sum() / k)


def recall_at_k(ranked: np.ndarray, relevant: set[int], k: int) -> float:
    if not relevant:
        return 0.0
    return float(_hits(ranked, relevant, k).sum() / len(relevant))


def ndcg_at_k(ranked: np.ndarray, relevant: set[int], k: int) -> float:
    if not relevant:
        return 0.0
    hits = _hits(ranked, relevant, k)
    discounts = _discounts(k)
    ideal = discounts[: min(k, len(relevant))].sum()
    return float((hits * discounts[: len(hits)]).sum() / ideal)


def catalog_coverage(recommended_lists: Iterable[np.ndarray], n_items: int) -> float:
    distinct: set[int] = set()
    for items in recommended_lists:
        distinct.update(int(item) for item in items)
    return len(distinct) / n_items


def top_k_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores in each row, best first (rows of a 2-D array)."""
    k = min(k, scores.shape[1])
    candidates = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, candidates, axis=1), axis=1, kind="stable")
    return np.take_along_axis(candidates, order, axis=1)


@dataclass(frozen=True)
class RankingMetrics:
    ndcg: float
    recall: float
    precision: float
    coverage: float
    users: int
    k: int

    def as_dict(self) -> dict[str, float | int]:
        figures = asdict(self)
        k = figures.pop("k")
        return {
            f"ndcg@{k}": figures["ndcg"],
            f"recall@{k}": figures["recall"],
            f"precision@{k}": figures["precision"],
            f"coverage@{k}": figures["coverage"],
            "users": figures["users"],
        }


def evaluate_ranking(
    score_users: ScoreUsers,
    test: sparse.csr_matrix,
    exclude: sparse.csr_matrix,
    k: int = 10,
    batch_size: int = 256,
    description: str = "ranking",
) -> RankingMetrics:
    """Rank every item for each user with test items, leaving out the items in ``exclude``.

    ``exclude`` holds what the user already interacted with outside the test set (train and
    valid): those items are ranked last rather than counted as misses or hits.
    """
    test = sparse.csr_matrix(test)
    exclude = sparse.csr_matrix(exclude)
    users = np.flatnonzero(np.diff(test.indptr))
    totals = np.zeros(3)
    recommended: list[np.ndarray] = []
    for start in tqdm(range(0, len(users), batch_size), desc=description, leave=False):
        batch = users[start : start + batch_size]
        scores = np.array(score_users(batch), dtype=np.float64, copy=True)
        excluded = exclude[batch].tocoo()
        scores[excluded.row, excluded.col] = -np.inf
        top = top_k_indices(scores, k)
        for user, ranked in zip(batch, top, strict=True):
            relevant = set(test.indices[test.indptr[user] : test.indptr[user + 1]].tolist())
            totals += (
                ndcg_at_k(ranked, relevant, k),
                recall_at_k(ranked, relevant, k),
                precision_at_k(ranked, relevant, k),
            )
        recommended.extend(top)
    count = max(1, len(users))
    ndcg, recall, precision = (totals / count).tolist()
    return RankingMetrics(
        ndcg=ndcg,
        recall=recall,
        precision=precision,
        coverage=catalog_coverage(recommended, test.shape[1]),
        users=len(users),
        k=k,
    )
