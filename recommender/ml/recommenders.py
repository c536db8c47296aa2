"""Recommenders with a small library-like API over a sparse ``users x items`` matrix.

Every recommender is fitted on raw interaction weights (play counts) and answers:

* ``fit(user_items, item_vectors=None)``
* ``recommend(user_index, n, exclude_seen=True, diversity=0.0, user_items=None,
  user_vector=None, excluded=None, new_item_vectors=None)``
* ``similar_items(item_index, n)``
* ``listened_with(item_index, n)`` — the items the listening data ties to one item
* ``score_users(user_indices)`` — dense scores for a batch, used by offline evaluation.

``item_vectors`` are optional content vectors (for this project, the 12-float style vectors of
``catalog.midi.style_space``); they feed content blending and the diversity control.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Literal, Self

import numpy as np
from scipy import sparse
from scipy.linalg import blas, lapack
from threadpoolctl import threadpool_limits

Weighting = Literal["binary", "log", "rank"]

_EPSILON = 1e-9
# How many of the best-scored items MMR re-ranks, per requested item: enough room to trade
# relevance for variety without scanning the whole catalog.
_MMR_CANDIDATES_PER_ITEM = 10
_MMR_MIN_CANDIDATES = 100
# Latent factors fit log-damped counts best on lastfm-2k (validation NDCG; docs/benchmarks.md).
FACTOR_WEIGHTING: Weighting = "log"


@dataclass(frozen=True)
class Recommendations:
    """Item indices, best first, with the score that ranked each."""

    items: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.items)


def weight_interactions(user_items: sparse.csr_matrix, weighting: Weighting) -> sparse.csr_matrix:
    """Turn raw play counts into interaction strengths.

    ``log`` damps heavy listeners' counts; ``rank`` replaces each count by ``1 + its percentile
    within the user's own history``, which removes the scale differences between users (one
    user's 30 plays can mean as much as another's 3000).
    """
    weighted = sparse.csr_matrix(user_items, dtype=np.float32, copy=True)
    weighted.sum_duplicates()
    if weighting == "binary":
        weighted.data[:] = 1.0
    elif weighting == "log":
        weighted.data = np.log1p(np.maximum(weighted.data, 0.0))
    elif weighting == "rank":
        weighted.data = _within_user_percentiles(weighted) + 1.0
    else:
        raise ValueError(f"unknown weighting {weighting!r}")
    return weighted


def _within_user_percentiles(matrix: sparse.csr_matrix) -> np.ndarray:
    lengths = np.diff(matrix.indptr)
    rows = np.repeat(np.arange(matrix.shape[0]), lengths)
    order = np.lexsort((matrix.data, rows))
    position = np.empty(len(order), dtype=np.float32)
    position[order] = np.arange(len(order)) - matrix.indptr[rows[order]]
    return ((position + 1.0) / lengths[rows]).astype(np.float32)


def _normalize_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, _EPSILON)


def _scale_rows_by_max(scores: np.ndarray) -> np.ndarray:
    """Divide each row by its largest positive score, so signals of different scales blend."""
    peaks = np.maximum(scores.max(axis=1, keepdims=True), _EPSILON)
    return scores / peaks


# Ridge on the content variance: where the person's items barely differ in content, the
# line's slope is noise, and it should not send new items to either end of the range.
_CONTENT_VARIANCE_RIDGE = 1e-3


def _predict_from_content(
    content: np.ndarray, scores: np.ndarray, cold: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per row (user), the ridge-damped least-squares line of ``scores`` on ``content`` (one
    column per item) through the items that are not ``cold`` (a mask over the columns),
    evaluated at the cold items' content (clipped to the row's content range over the
    others) and clipped to the others' range of ``scores``: the cold items' indices and
    their predictions. Columns are gathered by index: on a 100k-item catalog a boolean
    column mask costs more than the line."""
    warm_items, cold_items = np.flatnonzero(~cold), np.flatnonzero(cold)
    if warm_items.size == 0:
        return cold_items, np.zeros((len(content), len(cold_items)), dtype=scores.dtype)
    warm_content = content.take(warm_items, axis=1)
    warm_scores = scores.take(warm_items, axis=1)
    content_mean = warm_content.mean(axis=1, keepdims=True)
    score_mean = warm_scores.mean(axis=1, keepdims=True)
    centred = warm_content - content_mean
    slope = (centred * (warm_scores - score_mean)).mean(axis=1, keepdims=True) / (
        (centred * centred).mean(axis=1, keepdims=True) + _CONTENT_VARIANCE_RIDGE
    )
    within = np.clip(
        content.take(cold_items, axis=1),
        warm_content.min(axis=1, keepdims=True),
        warm_content.max(axis=1, keepdims=True),
    )
    predicted = score_mean + slope * (within - content_mean)
    low, high = warm_scores.min(axis=1, keepdims=True), warm_scores.max(axis=1, keepdims=True)
    return cold_items, np.clip(predicted, low, high)


def _top_n(scores: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` best finite scores' indices, best first, equal scores by index (fewer when
    fewer are finite)."""
    n = min(n, len(scores))
    if n <= 0:
        return np.empty(0, dtype=np.int64)
    # Excluded items hold -inf, which the partition puts last: no copy of the finite ones.
    partitioned = np.argpartition(-scores, n - 1)[:n]
    lowest = scores[partitioned].min()
    above = np.flatnonzero(scores > lowest)
    tied = np.flatnonzero(scores == lowest)[: n - len(above)]  # the first of equals
    best = np.concatenate([above, tied])
    best = best[np.isfinite(scores[best])]
    return best[np.lexsort((best, -scores[best]))]


def maximal_marginal_relevance(
    candidates: np.ndarray,
    relevance: np.ndarray,
    unit_vectors: np.ndarray,
    n: int,
    diversity: float,
) -> np.ndarray:
    """Greedy MMR: pick, one at a time, the candidate maximizing
    ``(1 - diversity) * relevance - diversity * max cosine to the items already picked``.

    ``relevance`` is rescaled to [0, 1] over the candidates so that ``diversity`` means the same
    for every model; ``unit_vectors`` are the candidates' L2-normalized item vectors.
    """
    if len(candidates) == 0:
        return candidates
    spread = relevance.max() - relevance.min()
    relevance = (relevance - relevance.min()) / max(spread, _EPSILON)
    closest = np.full(len(candidates), -1.0, dtype=np.float32)
    available = np.ones(len(candidates), dtype=bool)
    picked: list[int] = []
    for _ in range(min(n, len(candidates))):
        gain = (1.0 - diversity) * relevance - diversity * np.maximum(closest, 0.0)
        gain[~available] = -np.inf
        choice = int(np.argmax(gain))
        picked.append(choice)
        available[choice] = False
        closest = np.maximum(closest, unit_vectors @ unit_vectors[choice])
    return candidates[np.array(picked, dtype=np.int64)]


class Recommender(ABC):
    """Shared plumbing: input checks, exclusion of seen items, top-n and diversity."""

    user_items: sparse.csr_matrix
    item_vectors: np.ndarray | None

    def fit(self, user_items: sparse.spmatrix, item_vectors: np.ndarray | None = None) -> Self:
        """Fit on raw ``users x items`` weights and optional ``items x d`` content vectors."""
        self.user_items = sparse.csr_matrix(user_items, dtype=np.float32)
        self.user_items.sum_duplicates()
        if item_vectors is not None:
            item_vectors = np.asarray(item_vectors, dtype=np.float32)
            if item_vectors.ndim != 2 or item_vectors.shape[0] != self.n_items:
                raise ValueError(
                    f"item_vectors must be ({self.n_items}, d), got {item_vectors.shape}"
                )
        self.item_vectors = item_vectors
        self._fit()
        return self

    @property
    def n_users(self) -> int:
        return self.user_items.shape[0]

    @property
    def n_items(self) -> int:
        return self.user_items.shape[1]

    @abstractmethod
    def _fit(self) -> None: ...

    @abstractmethod
    def _score(
        self, user_indices: np.ndarray, rows: sparse.csr_matrix, user_vectors: np.ndarray | None
    ) -> np.ndarray:
        """Dense ``len(user_indices) x n_items`` scores; ``rows`` are those users' raw weights."""

    @abstractmethod
    def _item_similarities(self, item_index: int) -> np.ndarray: ...

    def hyperparameters(self) -> dict[str, Any]:
        return {}

    def score_users(self, user_indices: np.ndarray) -> np.ndarray:
        indices = np.asarray(user_indices, dtype=np.int64)
        return self._score(indices, self.user_items[indices], None)

    def recommend(
        self,
        user_index: int | None,
        n: int = 10,
        *,
        exclude_seen: bool = True,
        diversity: float = 0.0,
        user_items: sparse.spmatrix | None = None,
        user_vector: np.ndarray | None = None,
        excluded: np.ndarray | None = None,
        new_item_vectors: np.ndarray | None = None,
    ) -> Recommendations:
        """Top ``n`` items for a user.

        ``user_index`` is the user's row in the training matrix, or ``None`` for a user the
        model has not seen; ``user_items`` (a ``1 x n_items`` row of raw weights) overrides the
        stored history, so recent listens count without refitting; ``user_vector`` is the
        user's conditioning vector for content blending. ``diversity`` in [0, 1] trades
        relevance for variety (0: pure relevance). Items in ``excluded`` (indices) are never
        offered, so that ``n`` items the caller can use come back. ``new_item_vectors`` (one
        content vector per row) are items added since the fit, ranked with the others as
        items nobody has listened to yet: indices from ``n_items`` on are its rows.
        """
        if not 0.0 <= diversity <= 1.0:
            raise ValueError(f"diversity must be in [0, 1], got {diversity}")
        row = self._history_row(user_index, user_items)
        vectors = None if user_vector is None else np.asarray(user_vector, np.float32)[None, :]
        index = np.array([-1 if user_index is None else user_index], dtype=np.int64)
        new = None if new_item_vectors is None else np.asarray(new_item_vectors, np.float32)
        # A copy: the exclusions below must not write into the model (popularity's scores
        # are a read-only view of its own array).
        scores = np.array(self._score_one(index, row, vectors, new), dtype=np.float32)
        if exclude_seen:
            scores[row.indices] = -np.inf
        if excluded is not None:
            scores[np.asarray(excluded, dtype=np.int64)] = -np.inf
        if diversity == 0.0:
            best = _top_n(scores, n)
            return Recommendations(best, scores[best])
        candidates = _top_n(scores, max(_MMR_MIN_CANDIDATES, n * _MMR_CANDIDATES_PER_ITEM))
        if candidates.size == 0:  # everything excluded
            return Recommendations(candidates, scores[candidates])
        diversity_vectors = self._diversity_vectors()
        if new is not None and len(new):
            diversity_vectors = np.vstack([diversity_vectors, new])
        unit_vectors = _normalize_rows(diversity_vectors[candidates])
        chosen = maximal_marginal_relevance(
            candidates, scores[candidates], unit_vectors, n, diversity
        )
        return Recommendations(chosen, scores[chosen])

    def _score_one(
        self,
        index: np.ndarray,
        row: sparse.csr_matrix,
        vectors: np.ndarray | None,
        new_item_vectors: np.ndarray | None,
    ) -> np.ndarray:
        """One user's scores of the model's items, then of ``new_item_vectors``."""
        if new_item_vectors is not None and len(new_item_vectors):
            raise ValueError(f"{type(self).__name__} cannot score items added after the fit")
        return self._score(index, row, vectors)[0]

    def similar_items(self, item_index: int, n: int = 10) -> Recommendations:
        """The ``n`` items most similar to ``item_index`` (itself left out)."""
        if not 0 <= item_index < self.n_items:
            raise IndexError(f"item index {item_index} outside 0..{self.n_items - 1}")
        scores = np.array(self._item_similarities(item_index), dtype=np.float32)
        scores[item_index] = -np.inf
        best = _top_n(scores, n)
        return Recommendations(best, scores[best])

    def listened_with(self, item_index: int, n: int = 10) -> np.ndarray:
        """Up to ``n`` items that listening ties to ``item_index`` (a positive collaborative
        weight, not content), strongest first; none for a model without such weights."""
        if not 0 <= item_index < self.n_items:
            raise IndexError(f"item index {item_index} outside 0..{self.n_items - 1}")
        return np.zeros(0, dtype=np.int64)

    def _history_row(
        self, user_index: int | None, user_items: sparse.spmatrix | None
    ) -> sparse.csr_matrix:
        if user_items is not None:
            row = sparse.csr_matrix(user_items, dtype=np.float32)
            if row.shape != (1, self.n_items):
                raise ValueError(f"user_items must be (1, {self.n_items}), got {row.shape}")
            return row
        if user_index is None:
            return sparse.csr_matrix((1, self.n_items), dtype=np.float32)
        if not 0 <= user_index < self.n_users:
            raise IndexError(f"user index {user_index} outside 0..{self.n_users - 1}")
        return self.user_items[[user_index]]

    def _diversity_vectors(self) -> np.ndarray:
        if self.item_vectors is None:
            raise ValueError(f"{type(self).__name__} needs item_vectors for a diversity control")
        return self.item_vectors


class PopularityRecommender(Recommender):
    """Everyone gets the items with the most listeners: the baseline to beat."""

    def _fit(self) -> None:
        self.popularity = np.bincount(self.user_items.indices, minlength=self.n_items).astype(
            np.float32
        )

    def _score(
        self, user_indices: np.ndarray, rows: sparse.csr_matrix, user_vectors: np.ndarray | None
    ) -> np.ndarray:
        return np.broadcast_to(self.popularity, (len(user_indices), self.n_items))

    def _item_similarities(self, item_index: int) -> np.ndarray:
        return self.popularity


class HybridEASERecommender(Recommender):
    """The project's model: EASE item-item collaborative filtering blended with content.

    **Collaborative part.** EASE (Steck, 2019) learns a dense item-item weight matrix ``B`` in
    closed form: ``P = (XᵀX + Λ)⁻¹``, ``B = -P / diag(P)`` with a zero diagonal, and scores a
    user by ``x_u B``. ``Λ`` is ``l2 + popularity_l2 · diag(XᵀX)``: regularizing popular items
    more (as in Steck's denoising autoencoders) keeps them from dominating every list. ``X``
    holds play counts transformed by ``weighting`` (see :func:`weight_interactions`).

    **Scale.** ``B`` is dense and its inverse costs O(K³), so a 100k x 100k EASE is out of
    the question (40 GB, hours). EASE is therefore restricted to the ``K ≤ max_cf_items`` items
    with at least ``min_item_users`` listeners, most-listened first. That loses little: an item
    with one listener co-occurs with nothing, so item-item CF has no evidence about it, and
    the long tail is exactly where content similarity is the better signal. With K = 10 000,
    ``B`` takes 400 MB, the fit is one Cholesky factorization (tens of seconds), and a query is
    a sum of a few dozen rows of ``B`` plus one ``n_items x 12`` product — milliseconds.

    **Content part.** With ``item_vectors`` (style vectors), every item also gets the cosine
    between its vector and the user's vector: the conditioning vector when one is given,
    otherwise the weighted mean of the vectors of the user's items. The final score is
    ``(1 - content_weight) · cf + content_weight · cosine``, with ``cf`` divided by the user's
    best CF score so that both terms live on the same [.., 1] scale. Items nobody had listened
    to at fit time, and items added since (``recommend(new_item_vectors=...)``), have no
    collaborative evidence: their ``cf`` is the one their content predicts for this user,
    from a ridge-damped least-squares line through the other items' (cosine, cf) pairs,
    kept within those items' range, times ``cold_item_share``. So a person whose listening
    follows one style gets that style's unlistened tracks after its co-listened ones
    (evidence first) but before other styles, and a person whose listening does not follow
    content gets them at an average ``cf``. A tiny popularity term breaks ties, so a user
    with no history at all gets popular items.
    """

    # Models stored before this setting existed unpickle without it: they get the default.
    cold_item_share: float = 0.75

    def __init__(
        self,
        l2: float = 100.0,
        popularity_l2: float = 1.0,
        weighting: Weighting = "rank",
        max_cf_items: int = 10_000,
        min_item_users: int = 2,
        content_weight: float = 0.3,
        popularity_tiebreak: float = 1e-3,
        cold_item_share: float = 0.75,
    ) -> None:
        if not 0.0 <= content_weight <= 1.0:
            raise ValueError(f"content_weight must be in [0, 1], got {content_weight}")
        if not 0.0 <= cold_item_share <= 1.0:
            raise ValueError(f"cold_item_share must be in [0, 1], got {cold_item_share}")
        self.cold_item_share = cold_item_share
        self.l2 = l2
        self.popularity_l2 = popularity_l2
        self.weighting: Weighting = weighting
        self.max_cf_items = max_cf_items
        self.min_item_users = min_item_users
        self.content_weight = content_weight
        self.popularity_tiebreak = popularity_tiebreak

    def hyperparameters(self) -> dict[str, Any]:
        return {
            "l2": self.l2,
            "popularity_l2": self.popularity_l2,
            "weighting": self.weighting,
            "max_cf_items": self.max_cf_items,
            "min_item_users": self.min_item_users,
            "content_weight": self.content_weight,
            "cold_item_share": self.cold_item_share,
        }

    def _fit(self) -> None:
        listeners = np.bincount(self.user_items.indices, minlength=self.n_items)
        self.popularity = (np.log1p(listeners) / np.log1p(max(1, listeners.max()))).astype(
            np.float32
        )
        self.cf_items = self._select_cf_items(listeners)
        weighted = weight_interactions(self.user_items, self.weighting)[:, self.cf_items]
        self.item_weights = self._solve_ease(weighted)
        self.unit_item_vectors = (
            None if self.item_vectors is None else _normalize_rows(self.item_vectors)
        )

    def _select_cf_items(self, listeners: np.ndarray) -> np.ndarray:
        eligible = np.flatnonzero(listeners >= self.min_item_users)
        most_listened = eligible[np.argsort(-listeners[eligible], kind="stable")]
        return np.sort(most_listened[: self.max_cf_items])

    def _solve_ease(self, weighted: sparse.csr_matrix) -> np.ndarray:
        gram = (weighted.T @ weighted).toarray().astype(np.float32)
        diagonal = np.diag(gram).copy()
        gram[np.diag_indices_from(gram)] += self.l2 + self.popularity_l2 * diagonal
        precision = _invert_positive_definite(gram)
        weights = -precision / np.diag(precision)
        np.fill_diagonal(weights, 0.0)
        return weights

    def _score(
        self, user_indices: np.ndarray, rows: sparse.csr_matrix, user_vectors: np.ndarray | None
    ) -> np.ndarray:
        return self._blend(user_indices, rows, user_vectors, None)

    def _score_one(
        self,
        index: np.ndarray,
        row: sparse.csr_matrix,
        vectors: np.ndarray | None,
        new_item_vectors: np.ndarray | None,
    ) -> np.ndarray:
        return self._blend(index, row, vectors, new_item_vectors)[0]

    def _blend(
        self,
        user_indices: np.ndarray,
        rows: sparse.csr_matrix,
        user_vectors: np.ndarray | None,
        new_item_vectors: np.ndarray | None,
    ) -> np.ndarray:
        """Per user, the scores of the model's items, then of ``new_item_vectors`` (items
        added since the fit, scored as items nobody had listened to)."""
        weighted = weight_interactions(rows, self.weighting)
        scores = _scale_rows_by_max(self._cf_scores(user_indices, rows, weighted))
        new_count = 0 if new_item_vectors is None else len(new_item_vectors)
        popularity = self.popularity
        if new_count:  # no copies of the catalog's scores on the usual path
            popularity = np.concatenate([popularity, np.zeros(new_count, dtype=np.float32)])
            scores = np.hstack([scores, np.zeros((len(scores), new_count), dtype=np.float32)])
        if self.unit_item_vectors is None or self.content_weight == 0.0:
            return scores + self.popularity_tiebreak * popularity
        unit_users = self._unit_user_vectors(weighted, user_vectors)
        content = unit_users @ self.unit_item_vectors.T
        if new_count:
            content = np.hstack([content, unit_users @ _normalize_rows(new_item_vectors).T])
        cold_items, predicted = _predict_from_content(content, scores, popularity == 0)
        scores[:, cold_items] = self.cold_item_share * predicted
        blended = (1.0 - self.content_weight) * scores + self.content_weight * content
        return blended + self.popularity_tiebreak * popularity

    def _cf_scores(
        self, user_indices: np.ndarray, rows: sparse.csr_matrix, weighted: sparse.csr_matrix
    ) -> np.ndarray:
        """Unscaled collaborative scores over the whole catalog (0 outside the CF items).

        ``rows`` are the users' raw weights, ``weighted`` the same after ``weighting``.
        """
        scores = np.zeros((weighted.shape[0], self.n_items), dtype=np.float32)
        if self.cf_items.size:
            scores[:, self.cf_items] = np.asarray(weighted[:, self.cf_items] @ self.item_weights)
        return scores

    def _unit_user_vectors(
        self, weighted: sparse.csr_matrix, user_vectors: np.ndarray | None
    ) -> np.ndarray:
        """The given conditioning vectors, else the weighted mean of the users' item vectors."""
        if user_vectors is None:
            user_vectors = np.asarray(weighted @ self.unit_item_vectors)
        elif user_vectors.shape[-1] != self.unit_item_vectors.shape[1]:
            raise ValueError(
                f"user_vector has {user_vectors.shape[-1]} entries, "
                f"item vectors have {self.unit_item_vectors.shape[1]}"
            )
        return _normalize_rows(user_vectors)

    def listened_with(self, item_index: int, n: int = 10) -> np.ndarray:
        super().listened_with(item_index, n)
        row = self._item_weights_of(item_index)
        if row is None:
            return np.zeros(0, dtype=np.int64)
        positive = np.flatnonzero(row > 0)
        strongest = positive[np.argsort(-row[positive], kind="stable")[:n]]
        return self.cf_items[strongest]

    def _item_weights_of(self, item_index: int) -> np.ndarray | None:
        """The item's row of EASE weights over ``cf_items``; ``None`` outside them."""
        position = np.searchsorted(self.cf_items, item_index)
        if position < len(self.cf_items) and self.cf_items[position] == item_index:
            return self.item_weights[position]
        return None

    def _item_similarities(self, item_index: int) -> np.ndarray:
        scores = np.zeros(self.n_items, dtype=np.float32)
        row = self._item_weights_of(item_index)
        if row is not None:
            scores[self.cf_items] = row / max(float(row.max()), _EPSILON)
        if self.unit_item_vectors is None or self.content_weight == 0.0:
            return scores + self.popularity_tiebreak * self.popularity
        content = self.unit_item_vectors @ self.unit_item_vectors[item_index]
        blended = (1.0 - self.content_weight) * scores + self.content_weight * content
        return blended + self.popularity_tiebreak * self.popularity


class HybridBlendRecommender(HybridEASERecommender):
    """The project's model: item-based EASE, user-based EASE and implicit ALS fused, plus content.

    **Why two sides.** Item-based EASE explains a user's items by other items; user-based EASE
    (the same closed form on the ``users x users`` Gram matrix) explains them by the listening
    of similar users. On lastfm-2k the two are about as accurate alone and make different
    mistakes, so their fusion beats either (see docs/benchmarks.md).

    **User side.** ``P = (X Xᵀ + user_l2 · I)⁻¹`` over the ``max_cf_users`` most active users.
    A history ``x`` is explained by the coefficients ``c = P X x``; for a fitted user, ``c`` is
    corrected so that the user does not explain itself (EASE's zero diagonal, applied to one
    column: ``c - P[:, u] · c[u] / P[u, u]``, which for the stored history equals the EASE
    column exactly). New histories (``user_items`` or an unknown user) use ``c`` as is, so
    recent listens count without refitting. Item scores are ``Xᵀ c``.

    **Latent factors.** A third view: implicit-feedback matrix factorization (Hu, Koren &
    Volinsky, 2008; :func:`implicit_als`) with ``factors`` dimensions on log-damped counts. It
    captures broad taste dimensions that the two neighbourhood views, which both work on
    direct co-occurrence, miss. A history is folded in exactly against the item factors
    (:func:`fold_in`), so stored and fresh histories are scored alike.

    **Fusion.** Each view's scores are divided by their per-user standard deviation (a
    per-user constant shift changes no ranking, so this is z-score fusion) and mixed as
    ``(1 - user_weight) · item + user_weight · user + factor_weight · factors``; the content
    blend, diversity and ``similar_items`` are those of :class:`HybridEASERecommender`.

    **Scale.** ``P`` is dense: 10 000 users take 400 MB and one Cholesky factorization, like
    the item side; a query is one ``users x users`` product with a sparse vector.
    """

    def __init__(
        self,
        l2: float = 100.0,
        popularity_l2: float = 1.0,
        weighting: Weighting = "rank",
        user_l2: float = 100.0,
        user_weight: float = 0.6,
        factor_weight: float = 0.3,
        factors: int = 32,
        factor_l2: float = 10.0,
        factor_alpha: float = 1.0,
        max_cf_users: int = 10_000,
        max_cf_items: int = 10_000,
        min_item_users: int = 2,
        content_weight: float = 0.3,
        popularity_tiebreak: float = 1e-3,
        cold_item_share: float = 0.75,
    ) -> None:
        if not 0.0 <= user_weight <= 1.0:
            raise ValueError(f"user_weight must be in [0, 1], got {user_weight}")
        super().__init__(
            l2=l2,
            popularity_l2=popularity_l2,
            weighting=weighting,
            max_cf_items=max_cf_items,
            min_item_users=min_item_users,
            content_weight=content_weight,
            popularity_tiebreak=popularity_tiebreak,
            cold_item_share=cold_item_share,
        )
        if factor_weight < 0.0:
            raise ValueError(f"factor_weight must be non-negative, got {factor_weight}")
        self.user_l2 = user_l2
        self.user_weight = user_weight
        self.factor_weight = factor_weight
        self.factors = factors
        self.factor_l2 = factor_l2
        self.factor_alpha = factor_alpha
        self.max_cf_users = max_cf_users

    def hyperparameters(self) -> dict[str, Any]:
        return {
            **super().hyperparameters(),
            "user_l2": self.user_l2,
            "user_weight": self.user_weight,
            "factor_weight": self.factor_weight,
            "factors": self.factors,
            "factor_l2": self.factor_l2,
            "factor_alpha": self.factor_alpha,
            "max_cf_users": self.max_cf_users,
        }

    def _fit(self) -> None:
        super()._fit()
        history_lengths = np.diff(self.user_items.indptr)
        most_active = np.argsort(-history_lengths, kind="stable")[: self.max_cf_users]
        self.cf_users = np.sort(most_active)
        self.neighbour_rows = weight_interactions(self.user_items[self.cf_users], self.weighting)
        gram = (self.neighbour_rows @ self.neighbour_rows.T).toarray().astype(np.float32)
        gram[np.diag_indices_from(gram)] += self.user_l2
        self.user_precision = _invert_positive_definite(gram)
        self.item_factors = np.zeros((self.n_items, self.factors), dtype=np.float32)
        if self.factor_weight > 0.0:
            _, self.item_factors = implicit_als(
                weight_interactions(self.user_items, FACTOR_WEIGHTING),
                factors=self.factors,
                regularization=self.factor_l2,
                alpha=self.factor_alpha,
            )
        self.factor_gram = self.item_factors.T @ self.item_factors

    def _cf_scores(
        self, user_indices: np.ndarray, rows: sparse.csr_matrix, weighted: sparse.csr_matrix
    ) -> np.ndarray:
        item_side = _scale_rows_by_std(super()._cf_scores(user_indices, rows, weighted))
        user_side = _scale_rows_by_std(self._user_side_scores(user_indices, weighted))
        scores = (1.0 - self.user_weight) * item_side + self.user_weight * user_side
        if self.factor_weight > 0.0:
            scores += self.factor_weight * _scale_rows_by_std(self._factor_scores(rows))
        return scores

    def _factor_scores(self, rows: sparse.csr_matrix) -> np.ndarray:
        histories = weight_interactions(rows, FACTOR_WEIGHTING)
        if "factor_gram" not in self.__dict__:  # a model stored before it was kept
            self.factor_gram = self.item_factors.T @ self.item_factors
        user_factors = fold_in(
            histories, self.item_factors, self.factor_l2, self.factor_alpha, self.factor_gram
        )
        return user_factors @ self.item_factors.T

    def _user_side_scores(
        self, user_indices: np.ndarray, weighted: sparse.csr_matrix
    ) -> np.ndarray:
        if not len(self.cf_users):  # fitted before anyone listened: no neighbours to ask
            return np.zeros((weighted.shape[0], self.n_items), dtype=np.float32)
        overlaps = np.asarray(self.neighbour_rows @ weighted.T.toarray(), dtype=np.float32)
        coefficients = _symmetric_product(self.user_precision, overlaps)
        positions = np.minimum(np.searchsorted(self.cf_users, user_indices), len(self.cf_users) - 1)
        fitted = np.flatnonzero((user_indices >= 0) & (self.cf_users[positions] == user_indices))
        own = positions[fitted]
        own_share = coefficients[own, fitted] / self.user_precision[own, own]
        coefficients[:, fitted] -= self.user_precision[:, own] * own_share
        return np.asarray(self.neighbour_rows.T @ coefficients, dtype=np.float32).T


def implicit_als(
    weighted: sparse.csr_matrix,
    *,
    factors: int,
    regularization: float,
    alpha: float,
    iterations: int = 15,
    cg_steps: int = 3,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """User and item factors of implicit-feedback matrix factorization (Hu et al., 2008).

    Minimizes ``Σ c_ui (p_ui - x_u·y_i)² + regularization (|X|² + |Y|²)`` with preference
    ``p = 1`` on observed pairs (0 elsewhere) and confidence ``c = 1 + alpha · weight``.
    Each half-step runs a few conjugate-gradient steps from the previous solution (Takács,
    Pilászy & Tikk, 2011), for all users (or items) at once with sparse products, so a
    million listens fit in seconds without a per-user loop. Users and items without any
    observation get zero factors.
    """
    weighted = sparse.csr_matrix(weighted, dtype=np.float32)
    rng = np.random.default_rng(seed)
    user_factors = rng.normal(0.0, 0.01, (weighted.shape[0], factors)).astype(np.float32)
    item_factors = rng.normal(0.0, 0.01, (weighted.shape[1], factors)).astype(np.float32)
    transposed = weighted.T.tocsr()
    for _ in range(iterations):
        user_factors = _conjugate_gradient(
            weighted, item_factors, user_factors, regularization, alpha, cg_steps
        )
        item_factors = _conjugate_gradient(
            transposed, user_factors, item_factors, regularization, alpha, cg_steps
        )
    # Without observations the regularized optimum is exactly zero; a few CG steps from the
    # random start only approach it, and the leftover noise would rank unheard items.
    user_factors[np.diff(weighted.indptr) == 0] = 0.0
    item_factors[np.diff(transposed.indptr) == 0] = 0.0
    return user_factors, item_factors


def _conjugate_gradient(
    weighted: sparse.csr_matrix,
    fixed: np.ndarray,
    start: np.ndarray,
    regularization: float,
    alpha: float,
    steps: int,
) -> np.ndarray:
    """Approximately solve every row's normal equations ``A_u x_u = b_u`` with
    ``A_u = YᵀY + Yᵀ(C_u - I)Y + λI`` and ``b_u = Yᵀ C_u p_u``, ``Y`` being ``fixed``."""
    rows = np.repeat(np.arange(weighted.shape[0]), np.diff(weighted.indptr))
    extra_confidence = alpha * weighted.data
    gram = fixed.T @ fixed + regularization * np.eye(fixed.shape[1], dtype=np.float32)

    def apply(vectors: np.ndarray) -> np.ndarray:
        dots = np.einsum("ij,ij->i", vectors[rows], fixed[weighted.indices])
        scaled = sparse.csr_matrix(
            (extra_confidence * dots, weighted.indices, weighted.indptr), weighted.shape
        )
        return vectors @ gram + scaled @ fixed

    confidence = sparse.csr_matrix(
        (1.0 + extra_confidence, weighted.indices, weighted.indptr), weighted.shape
    )
    solution = start.copy()
    residual = confidence @ fixed - apply(solution)
    direction = residual.copy()
    residual_norm = (residual * residual).sum(axis=1)
    for _ in range(steps):
        applied = apply(direction)
        step = residual_norm / np.maximum((direction * applied).sum(axis=1), _EPSILON)
        solution += step[:, None] * direction
        residual -= step[:, None] * applied
        new_norm = (residual * residual).sum(axis=1)
        direction = residual + (new_norm / np.maximum(residual_norm, _EPSILON))[:, None] * direction
        residual_norm = new_norm
    return solution


def fold_in(
    histories: sparse.csr_matrix,
    item_factors: np.ndarray,
    regularization: float,
    alpha: float,
    factor_gram: np.ndarray | None = None,
) -> np.ndarray:
    """The exact least-squares user factors of each history row against fixed item factors.

    ``factor_gram`` is ``item_factors.T @ item_factors`` when the caller keeps it: for a
    100k-item catalog that product is most of the work of folding in one user.
    """
    if factor_gram is None:
        factor_gram = item_factors.T @ item_factors
    gram = factor_gram + regularization * np.eye(item_factors.shape[1], dtype=np.float32)
    solutions = np.zeros((histories.shape[0], item_factors.shape[1]), dtype=np.float32)
    for row in range(histories.shape[0]):
        begin, end = histories.indptr[row], histories.indptr[row + 1]
        if begin == end:
            continue
        factors = item_factors[histories.indices[begin:end]]
        confidence = alpha * histories.data[begin:end]
        system = gram + (factors.T * confidence) @ factors
        solutions[row] = np.linalg.solve(system, factors.T @ (1.0 + confidence))
    return solutions


def _scale_rows_by_std(scores: np.ndarray) -> np.ndarray:
    return scores / np.maximum(scores.std(axis=1, keepdims=True), _EPSILON)


def _symmetric_product(matrix: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """``matrix @ vectors`` for a symmetric float32 ``matrix``. One vector (a single user's
    query) goes through BLAS symv, which reads half the matrix: the product is bound by
    memory, so it takes about half the time of a general product."""
    if vectors.shape[1] != 1 or matrix.dtype != np.float32:
        return matrix @ vectors
    # The transpose of a C-ordered symmetric matrix is the same matrix in Fortran order,
    # which BLAS takes without a copy.
    return blas.ssymv(1.0, matrix.T, vectors[:, 0])[:, None]


def _invert_positive_definite(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive-definite matrix by Cholesky: about twice as fast as a
    general inverse, and it fails loudly if regularization was too weak."""
    if matrix.size == 0:  # LAPACK rejects empty matrices; nothing to invert is no error
        return np.zeros_like(matrix)
    factor, info = lapack.spotrf(matrix, lower=False, overwrite_a=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"Cholesky factorization failed (info={info})")
    upper, info = lapack.spotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"inverse from Cholesky factor failed (info={info})")
    upper = np.triu(upper)
    return upper + np.triu(upper, 1).T


class ALSRecommender(Recommender):
    """Peer model: ``implicit``'s alternating least squares (a dev/bench dependency).

    Confidence is ``alpha · weight`` on top of implicit's own ``1 +``; weights are transformed
    by ``weighting`` first.
    """

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.05,
        alpha: float = 1.0,
        iterations: int = 15,
        weighting: Weighting = "log",
        random_state: int = 0,
        num_threads: int = 0,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.weighting: Weighting = weighting
        self.random_state = random_state
        self.num_threads = num_threads

    def hyperparameters(self) -> dict[str, Any]:
        return {
            "factors": self.factors,
            "regularization": self.regularization,
            "alpha": self.alpha,
            "iterations": self.iterations,
            "weighting": self.weighting,
        }

    def _fit(self) -> None:
        from implicit.cpu.als import AlternatingLeastSquares  # dev/bench dependency only

        # implicit runs its own threads; BLAS threads inside them only contend (implicit
        # checks the BLAS pool, and warns, when the model is built).
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                random_state=self.random_state,
                num_threads=self.num_threads,
                calculate_training_loss=False,
            )
            model.fit(weight_interactions(self.user_items, self.weighting), show_progress=False)
        self.user_factors = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors = np.asarray(model.item_factors, dtype=np.float32)

    def _score(
        self, user_indices: np.ndarray, rows: sparse.csr_matrix, user_vectors: np.ndarray | None
    ) -> np.ndarray:
        if np.any(user_indices < 0):
            raise ValueError("ALSRecommender only scores users it was fitted on")
        return self.user_factors[user_indices] @ self.item_factors.T

    def _item_similarities(self, item_index: int) -> np.ndarray:
        unit = _normalize_rows(self.item_factors)
        return unit @ unit[item_index]

    def _diversity_vectors(self) -> np.ndarray:
        return self.item_factors if self.item_vectors is None else self.item_vectors
