import math

import numpy as np
from scipy import sparse

from recommender.ml.metrics import (
    catalog_coverage,
    evaluate_ranking,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    top_k_indices,
)


def test_ndcg_of_hits_at_ranks_one_and_three_against_two_relevant_items():
    expected = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert math.isclose(ndcg_at_k(np.array([5, 9, 7, 1]), {5, 7}, k=3), expected)


def test_ndcg_is_one_for_a_perfect_list_and_zero_without_hits():
    assert ndcg_at_k(np.array([2, 1, 0]), {1, 2}, k=3) == 1.0
    assert ndcg_at_k(np.array([3, 4, 5]), {1, 2}, k=3) == 0.0


def test_precision_and_recall_count_hits_within_k_only():
    ranked = np.array([4, 0, 8, 3])
    assert precision_at_k(ranked, {0, 3, 6}, k=2) == 0.5
    assert math.isclose(recall_at_k(ranked, {0, 3, 6}, k=4), 2 / 3)


def test_coverage_is_the_share_of_distinct_recommended_items():
    assert catalog_coverage([np.array([0, 1]), np.array([1, 2])], n_items=6) == 0.5


def test_top_k_indices_orders_best_first():
    scores = np.array([[0.1, 0.9, 0.5, 0.7]])
    assert top_k_indices(scores, 3).tolist() == [[1, 3, 2]]


def test_evaluate_ranking_never_recommends_excluded_items():
    scores = np.array([[9.0, 8.0, 1.0, 0.5], [9.0, 8.0, 1.0, 0.5]])
    test = sparse.csr_matrix(np.array([[0, 0, 1, 0], [0, 1, 0, 0]]))
    exclude = sparse.csr_matrix(np.array([[1, 1, 0, 0], [0, 0, 0, 0]]))
    result = evaluate_ranking(lambda users: scores[users], test, exclude, k=1)
    # User 0's first two items are excluded, so item 2 moves to rank 1 (a hit); user 1 gets
    # item 0 (a miss).
    assert result.ndcg == 0.5
    assert result.precision == 0.5
    assert result.coverage == 0.5
    assert result.users == 2
