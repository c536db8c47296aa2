from pathlib import Path

import numpy as np
import pytest
from scipy import sparse

from recommender.ml.artifacts import ArtifactError, load_artifact, save_artifact
from recommender.ml.evaluation import tune
from recommender.ml.interactions import (
    Interactions,
    read_interactions,
    shared_interactions,
    split_per_user,
)
from recommender.ml.metrics import evaluate_ranking
from recommender.ml.recommenders import (
    ALSRecommender,
    HybridBlendRecommender,
    HybridEASERecommender,
    PopularityRecommender,
    fold_in,
    implicit_als,
    weight_interactions,
)

LASTFM = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "lastfm-2k"


@pytest.fixture(scope="module")
def lastfm_slice():
    path = LASTFM / "user_artists.dat"
    if not path.exists():
        pytest.skip(f"HetRec lastfm-2k is absent ({path}); see ../shared/data")
    frame = read_interactions(path)
    first_users = frame["user"].drop_duplicates().iloc[:500]
    return split_per_user(frame[frame["user"].isin(first_users)], seed=1)


def _ndcg(model, train, test, exclude):
    return evaluate_ranking(model.fit(train.matrix).score_users, test.matrix, exclude.matrix).ndcg


def test_project_model_and_als_beat_popularity_on_real_listens(lastfm_slice):
    train, valid, test = shared_interactions(lastfm_slice)
    exclude = train.matrix + valid.matrix
    excluded = type(train)(exclude.tocsr(), train.user_ids, train.item_ids)
    popularity = _ndcg(PopularityRecommender(), train, test, excluded)
    project = _ndcg(HybridEASERecommender(), train, test, excluded)
    als = _ndcg(ALSRecommender(factors=32, iterations=8, num_threads=1), train, test, excluded)
    blend = _ndcg(HybridBlendRecommender(), train, test, excluded)
    assert project > 1.5 * popularity
    assert blend > 1.5 * popularity
    assert als > popularity


def test_user_side_of_the_blend_helps_on_real_listens(lastfm_slice):
    train, valid, _ = shared_interactions(lastfm_slice)
    item_only = _ndcg(
        HybridBlendRecommender(user_weight=0.0, factor_weight=0.0), train, valid, train
    )
    blend = _ndcg(HybridBlendRecommender(user_weight=0.6, factor_weight=0.0), train, valid, train)
    assert blend > item_only


def test_latent_factors_help_the_blend_on_real_listens(lastfm_slice):
    train, valid, _ = shared_interactions(lastfm_slice)
    without = _ndcg(HybridBlendRecommender(factor_weight=0.0), train, valid, train)
    with_factors = _ndcg(HybridBlendRecommender(factor_weight=0.3), train, valid, train)
    assert with_factors > without


def test_implicit_als_factors_reconstruct_observed_pairs_above_unobserved():
    matrix = _toy_matrix()
    users, items = implicit_als(matrix, factors=8, regularization=0.1, alpha=1.0, iterations=10)
    predicted = users @ items.T
    observed = matrix.toarray() > 0
    assert predicted[observed].mean() > predicted[~observed].mean() + 0.3


def test_fold_in_recovers_the_fitted_user_factors():
    matrix = _toy_matrix()
    users, items = implicit_als(matrix, factors=8, regularization=1.0, alpha=1.0, cg_steps=8)
    folded = fold_in(matrix, items, regularization=1.0, alpha=1.0)
    assert np.allclose(folded, users, atol=0.05)


def _toy_matrix():
    rng = np.random.default_rng(0)
    dense = (rng.random((60, 40)) < 0.25) * rng.integers(1, 50, (60, 40))
    dense[:, 39] = 0  # a new track: nobody has listened to it
    return sparse.csr_matrix(dense.astype(np.float32))


def _toy_vectors(n_items=40, dim=12):
    return np.random.default_rng(1).standard_normal((n_items, dim)).astype(np.float32)


def test_recommend_excludes_seen_items_unless_asked():
    matrix = _toy_matrix()
    model = HybridEASERecommender(l2=5.0).fit(matrix)
    seen = set(matrix[3].indices.tolist())
    assert not seen & set(model.recommend(3, n=10).items.tolist())
    everything = model.recommend(3, n=40, exclude_seen=False).items
    assert seen <= set(everything.tolist())


def test_equal_scores_are_ranked_by_item_and_excluded_items_never_come_back():
    plays = np.zeros((4, 6), dtype=np.float32)
    plays[:, [1, 2, 4]] = 1.0  # three items every listener played: one score for them
    plays[0, 5] = 1.0
    model = PopularityRecommender().fit(sparse.csr_matrix(plays))
    assert model.recommend(None, n=2).items.tolist() == [1, 2]
    assert model.recommend(None, n=3, excluded=np.array([2])).items.tolist() == [1, 4, 5]


def test_content_blending_recommends_a_track_nobody_listened_to():
    matrix, vectors = _toy_matrix(), _toy_vectors()
    cf_only = HybridEASERecommender(l2=5.0).fit(matrix)
    blended = HybridEASERecommender(l2=5.0, content_weight=0.6).fit(matrix, vectors)
    user_vector = vectors[39]
    assert 39 not in cf_only.recommend(0, n=5, user_vector=user_vector).items
    assert 39 in blended.recommend(0, n=5, user_vector=user_vector).items


def test_new_user_without_history_gets_popular_items():
    matrix = _toy_matrix()
    model = HybridEASERecommender(l2=5.0).fit(matrix)
    listeners = np.bincount(matrix.indices, minlength=matrix.shape[1])
    picks = model.recommend(None, n=3).items
    assert listeners[picks].min() >= np.sort(listeners)[-6]


def test_a_model_fitted_before_anyone_listened_recommends_by_content():
    vectors = _toy_vectors()
    nobody = sparse.csr_matrix((0, vectors.shape[0]), dtype=np.float32)
    model = HybridBlendRecommender(content_weight=0.5).fit(nobody, vectors)
    history = sparse.csr_matrix(([1.0], ([0], [39])), shape=(1, vectors.shape[0]))
    found = model.recommend(None, n=3, user_items=history)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    cosine = unit @ unit[39]
    assert 39 not in found.items
    np.testing.assert_array_equal(found.items, np.argsort(-cosine)[1:4])
    assert len(model.recommend(None, n=3, user_items=history, diversity=0.5)) == 3


def test_diversity_changes_the_list_toward_dissimilar_items():
    matrix, vectors = _toy_matrix(), _toy_vectors()
    model = HybridEASERecommender(l2=5.0, content_weight=0.3).fit(matrix, vectors)
    plain = model.recommend(2, n=8).items
    diverse = model.recommend(2, n=8, diversity=0.7).items
    assert set(plain.tolist()) != set(diverse.tolist())

    def mean_pairwise_cosine(items):
        unit = vectors[items] / np.linalg.norm(vectors[items], axis=1, keepdims=True)
        similarity = unit @ unit.T
        return (similarity.sum() - len(items)) / (len(items) * (len(items) - 1))

    assert mean_pairwise_cosine(diverse) < mean_pairwise_cosine(plain)


def test_similar_items_leaves_the_item_out_and_follows_co_listening():
    dense = np.zeros((30, 6), dtype=np.float32)
    dense[:15, [0, 1]] = 1.0  # items 0 and 1 are always played together
    dense[15:, [2, 3, 4]] = 1.0
    dense[::3, 5] = 1.0
    model = HybridEASERecommender(l2=1.0, popularity_l2=0.0).fit(sparse.csr_matrix(dense))
    similar = model.similar_items(0, n=3).items
    assert 0 not in similar
    assert similar[0] == 1


def test_listened_with_names_co_listened_items_only_not_content_neighbours():
    dense = np.zeros((30, 6), dtype=np.float32)
    dense[:15, [0, 1]] = 1.0
    dense[:5, 2] = 1.0  # played with 0 by a third of its listeners
    dense[15:, [3, 4]] = 1.0
    vectors = np.ones((6, 3), dtype=np.float32)  # content alone finds everything alike
    model = HybridBlendRecommender(l2=1.0, popularity_l2=0.0, user_l2=1.0).fit(
        sparse.csr_matrix(dense), vectors
    )
    assert model.listened_with(0, n=5).tolist() == [1, 2]
    assert model.listened_with(0, n=1).tolist() == [1]
    assert model.listened_with(5, n=5).size == 0  # nobody played it
    assert PopularityRecommender().fit(sparse.csr_matrix(dense)).listened_with(0).size == 0
    with pytest.raises(IndexError):
        model.listened_with(6)


def test_rank_weighting_is_per_user_percentile():
    matrix = sparse.csr_matrix(np.array([[10.0, 1000.0, 0.0], [0.0, 3.0, 2.0]]))
    weighted = weight_interactions(matrix, "rank").toarray()
    assert weighted[0].tolist() == [1.5, 2.0, 0.0]
    assert weighted[1].tolist() == [0.0, 2.0, 1.5]


def test_artifact_roundtrip_keeps_scores_and_metadata(tmp_path):
    model = HybridEASERecommender(l2=5.0).fit(_toy_matrix())
    path = tmp_path / "taste.joblib"
    save_artifact(model, path, version="7", metrics={"ndcg@10": 0.3}, data_summary={"users": 60})
    loaded, metadata = load_artifact(path)
    assert np.allclose(loaded.score_users(np.arange(5)), model.score_users(np.arange(5)))
    assert metadata["version"] == "7"
    assert metadata["metrics"] == {"ndcg@10": 0.3}
    assert metadata["created_at"]


def test_missing_or_corrupt_artifact_raises_artifact_error(tmp_path):
    with pytest.raises(ArtifactError, match="does not exist"):
        load_artifact(tmp_path / "absent.joblib")
    corrupt = tmp_path / "corrupt.joblib"
    corrupt.write_bytes(b"\x80\x04 not a pickle")
    with pytest.raises(ArtifactError, match="corrupt"):
        load_artifact(corrupt)


def test_blend_scores_a_fresh_history_like_the_stored_one():
    matrix = _toy_matrix()
    model = HybridBlendRecommender(l2=5.0, user_l2=5.0).fit(matrix)
    stored = model.recommend(4, n=10)
    fresh = model.recommend(4, n=10, user_items=matrix[4])
    assert stored.items.tolist() == fresh.items.tolist()
    assert np.allclose(stored.scores, fresh.scores, atol=1e-5)


def test_one_persons_scores_equal_their_row_of_a_batch():
    """One query's user-side product reads half the matrix (BLAS symv), a batch's the whole
    of it (with tracks nobody played scored by content on both); the scores must not differ."""
    rng = np.random.default_rng(0)
    plays = (rng.random((30, 40)) < 0.25) * rng.integers(1, 9, (30, 40))
    plays[:, 35:] = 0  # five tracks nobody has played
    vectors = rng.random((40, 12)).astype(np.float32)
    model = HybridBlendRecommender(l2=5.0, user_l2=5.0, factors=4)
    model.fit(sparse.csr_matrix(plays.astype(np.float32)), vectors)
    batch = model.score_users(np.arange(30))
    for user in range(30):
        alone = model.recommend(user, n=40, exclude_seen=False)
        assert np.allclose(alone.scores, batch[user, alone.items], atol=1e-5)
        assert set(alone.items.tolist()) >= {35, 36, 37, 38, 39}


def test_user_side_follows_the_listening_of_similar_users():
    dense = np.zeros((41, 8), dtype=np.float32)
    dense[:20, [0, 1, 2]] = 1.0  # one crowd plays 0, 1, 2 and often 3
    dense[:15, 3] = 1.0
    dense[20:40, [4, 5, 6, 7]] = 1.0  # another plays 4..7
    dense[40, [0, 1]] = 1.0  # a newcomer who, like the first crowd, plays 0 and 1
    model = HybridBlendRecommender(l2=1.0, user_l2=1.0, user_weight=1.0, factor_weight=0.0).fit(
        sparse.csr_matrix(dense)
    )
    assert model.recommend(40, n=2).items.tolist() == [2, 3]


def test_fitted_user_does_not_explain_its_own_history():
    dense = np.zeros((3, 4), dtype=np.float32)
    dense[0, [0, 1]] = 1.0  # item 1 is played by user 0 only
    dense[1, [2, 3]] = 1.0
    dense[2, [0, 2]] = 1.0
    matrix = sparse.csr_matrix(dense)
    model = HybridBlendRecommender(
        user_l2=0.1, user_weight=1.0, factor_weight=0.0, popularity_tiebreak=0.0
    )
    model.fit(matrix)
    as_fitted_user = model.recommend(0, n=4, exclude_seen=False)
    as_stranger = model.recommend(None, n=4, exclude_seen=False, user_items=matrix[0])
    assert _score_of(as_fitted_user, 1) == pytest.approx(0.0, abs=1e-6)
    assert _score_of(as_stranger, 1) > 0.1


def _score_of(recommendations, item):
    return recommendations.scores[recommendations.items.tolist().index(item)]


def test_blend_rejects_a_user_weight_outside_zero_one():
    with pytest.raises(ValueError, match="user_weight"):
        HybridBlendRecommender(user_weight=1.5)


def test_staged_tuning_starts_each_stage_from_the_best_so_far():
    matrix = _toy_matrix().tocoo()
    held_out = (matrix.row + matrix.col) % 5 == 0
    users, items = np.arange(60).astype(str), np.arange(40).astype(str)
    train, valid = (
        Interactions(
            sparse.csr_matrix(
                (matrix.data[keep], (matrix.row[keep], matrix.col[keep])), shape=matrix.shape
            ),
            users,
            items,
        )
        for keep in (~held_out, held_out)
    )
    stages = ([{"l2": 1.0}, {"l2": 50.0}], [{"user_weight": 0.0}, {"user_weight": 1.0}])
    result = tune(HybridBlendRecommender, stages, train, valid, time_budget_s=60.0)
    assert len({trial["ndcg@10"] for trial in result.trials}) > 1
    stage_one_best = max(result.trials[:2], key=lambda trial: trial["ndcg@10"])["params"]
    assert [trial["params"]["l2"] for trial in result.trials[2:]] == [stage_one_best["l2"]] * 2
    assert result.best_ndcg == max(trial["ndcg@10"] for trial in result.trials)
    assert len(result.trials) == 4


def test_items_and_users_without_listens_get_zero_factors():
    matrix = _toy_matrix()  # item 39 has no listens
    _, items = implicit_als(matrix, factors=8, regularization=1.0, alpha=1.0)
    assert not items[39].any()
    assert items[:39].any(axis=1).all()
    folded = fold_in(sparse.csr_matrix(([1.0], ([0], [39])), shape=(1, 40)), items, 1.0, 1.0)
    assert not folded.any()  # a history of unheard items says nothing about taste


def _two_style_catalog():
    """Items 0-19 are style A, 20-39 style B; only 0-9 and 20-29 have listeners. A-fans
    listen to A items, B-fans to B items, and a few people to both."""
    rng = np.random.default_rng(3)
    vectors = np.zeros((40, 12), dtype=np.float32)
    vectors[:20, 0] = vectors[20:, 1] = 1.0
    vectors[:, 2:] = rng.random((40, 10)) * 0.3
    dense = np.zeros((50, 40), dtype=np.float32)
    for user in range(15):
        dense[user, rng.choice(10, 6, replace=False)] = 5.0
        dense[15 + user, 20 + rng.choice(10, 6, replace=False)] = 5.0
    for user in range(30, 50):
        dense[user, rng.choice(10, 4, replace=False)] = 5.0
        dense[user, 20 + rng.choice(10, 4, replace=False)] = 5.0
    return sparse.csr_matrix(dense), vectors


def test_unheard_tracks_of_a_persons_style_rank_above_heard_tracks_of_another():
    matrix, vectors = _two_style_catalog()
    model = HybridBlendRecommender(l2=5.0, user_l2=5.0, factors=4).fit(matrix, vectors)
    history = sparse.csr_matrix((np.full(5, 5.0), ([0] * 5, range(5))), shape=(1, 40))
    found = model.recommend(None, n=15, user_items=history).items
    assert set(found.tolist()) == set(range(5, 20))  # B items only after every A item


def test_items_added_after_the_fit_score_like_items_nobody_had_listened_to():
    matrix, vectors = _two_style_catalog()
    model = HybridBlendRecommender(l2=5.0, user_l2=5.0, factors=4).fit(matrix, vectors)
    history = sparse.csr_matrix((np.full(5, 5.0), ([0] * 5, range(5))), shape=(1, 40))
    everything = model.recommend(None, n=40, user_items=history, exclude_seen=False)
    known = dict(zip(everything.items.tolist(), everything.scores.tolist(), strict=True))
    cold = [12, 33]
    with_new = model.recommend(
        None, n=42, user_items=history, exclude_seen=False, new_item_vectors=vectors[cold]
    )
    scored = dict(zip(with_new.items.tolist(), with_new.scores.tolist(), strict=True))
    np.testing.assert_allclose([scored[40], scored[41]], [known[12], known[33]], rtol=1e-5)
    assert scored[40] > scored[41]  # the style this person listens to
    diverse = model.recommend(
        None, n=10, user_items=history, diversity=0.3, new_item_vectors=vectors[cold]
    )
    assert len(diverse) == 10
    with pytest.raises(ValueError, match="cannot score items added after the fit"):
        ALSRecommender(factors=4).fit(matrix).recommend(0, new_item_vectors=vectors[cold])
