"""Reads of the recommender: ranked recommendations from the active model, with reasons."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from scipy import sparse

from artifacts.services import ArtifactUnavailable, LoadedArtifact, load_active
from catalog.midi.style_space import STYLES, VECTOR_DIM, split_vector
from catalog.models import Origin, Track
from catalog.selectors import visible_tracks
from profiles.models import Feedback, FeedbackScore, Listen
from profiles.selectors import preferences_of
from recommender.dataset import history_of, listening_weight, plays_by_track, track_vector
from recommender.ml.taste import UserHistory
from recommender.services import TASTE_KIND, TasteBundle, load_bundle

__all__ = ["ArtifactUnavailable", "Recommendation", "recommend_for", "similar_to"]
# How many candidates to pull from the model before visibility and preference filters; when
# too few pass them, the next pass pulls this many times more, and after DIVERSE_PASSES
# passes (each re-ranks for diversity, which grows with the square of the depth) one last
# pass ranks every track by relevance alone.
CANDIDATE_FACTOR = 4
DIVERSE_PASSES = 2
Ranked = list[tuple[int, float]]
"""``(track id, score)`` pairs, best first."""
Explain = Callable[[Track], str]


@dataclass(frozen=True)
class Recommendation:
    track: Track
    score: float
    reason: str


def recommendable_tracks(user: AbstractBaseUser, *, include_generated: bool) -> QuerySet[Track]:
    """Tracks this user may be offered: public, playable tracks made or uploaded by someone
    else (their own uploads and generations they have already)."""
    tracks = Track.objects.filter(is_public=True).exclude(origin=Origin.EXTERNAL)
    tracks = tracks.exclude(owner_id=user.pk)
    if not include_generated:
        tracks = tracks.exclude(origin=Origin.GENERATED)
    return tracks


def recommend_for(
    user: AbstractBaseUser,
    *,
    limit: int = 20,
    include_generated: bool | None = None,
    include_heard: bool = False,
    diversity: float = 0.2,
) -> tuple[str, list[Recommendation]]:
    """``(model_version, recommendations)`` from the active model, without refitting.

    Listens made since the fit count (the user's row is read fresh); tracks added since the
    fit are scored as tracks nobody has listened to yet (by what their style predicts for
    the person). Someone with no listens, feedback or stated preferences gets the
    most-listened tracks, styles taking turns. ``include_generated=None`` follows the
    person's preference (generated tracks are offered unless they said otherwise). Fewer
    than ``limit`` come back only when fewer are allowed.
    """
    served: LoadedArtifact[TasteBundle] = load_active(TASTE_KIND, load_bundle)
    if limit <= 0:
        return served.artifact.version, []
    bundle = served.model
    history = history_of(user.pk, bundle.track_ids)
    heard = _heard_weights(user)
    choices = _choices(user, include_generated, include_heard)
    left_out = choices.ruled_out if include_heard else {*choices.ruled_out, *heard}
    never = _never_offered(served, user, choices.include_generated, left_out)
    row = _history_row(bundle, _row_weights(heard, choices))
    knows = bundle.taste.knows(history)
    if row.nnz == 0 and not knows:
        spread = diversity > 0

        def pick(depth: int | None) -> tuple[Ranked, Explain]:
            return _starter_picks(bundle, choices.allowed, never, depth, spread=spread)
    else:
        seeds = _top_heard_tracks(user, choices.hated)
        pick = _personal_picker(
            bundle, history, knows, row, seeds, heard, choices, never, diversity
        )
    return served.artifact.version, _fill(pick, choices.allowed, limit)


def similar_to(
    user: AbstractBaseUser,
    track: Track,
    *,
    limit: int = 20,
    include_generated: bool | None = None,
    include_heard: bool = False,
    diversity: float = 0.2,
) -> tuple[str, list[Recommendation]]:
    """``(model_version, tracks like track)`` from the active model, for this person: what
    the model recommends to someone whose whole history is that one track (its listeners'
    other tracks, then by its style), among the tracks the person may be offered and has not
    ruled out, as :func:`recommend_for` chooses them. A track newer than the model is
    matched by its style alone."""
    served: LoadedArtifact[TasteBundle] = load_active(TASTE_KIND, load_bundle)
    if limit <= 0:
        return served.artifact.version, []
    bundle = served.model
    choices = _choices(user, include_generated, include_heard)
    allowed = choices.allowed.exclude(pk=track.pk)
    heard = {} if include_heard else _heard_weights(user)
    left_out = {*choices.ruled_out, *heard, track.pk}
    never = _never_offered(served, user, choices.include_generated, left_out)
    pick = _seeded_picker(bundle, track, allowed, never, heard, diversity)
    return served.artifact.version, _fill(pick, allowed, limit)


@dataclass(frozen=True)
class _Choices:
    """What a person may be offered, by their preferences and feedback."""

    include_generated: bool  # as asked, or else as their preference settles it
    include_heard: bool
    loved: frozenset[int]
    hated: frozenset[int]
    # Hated tracks, always; loved ones too unless heard tracks are asked for, since a person
    # who loved a track knows it.
    ruled_out: frozenset[int]
    allowed: QuerySet[Track]  # the tracks left to offer


def _choices(
    user: AbstractBaseUser, include_generated: bool | None, include_heard: bool
) -> _Choices:
    preferences = preferences_of(user)
    if include_generated is None:
        include_generated = preferences.get("include_generated", True)
    scores = Feedback.objects.filter(user=user).exclude(score=0).values_list("track_id", "score")
    loved = frozenset(track for track, score in scores if score == FeedbackScore.LOVE)
    hated = frozenset(track for track, score in scores if score == FeedbackScore.HATE)
    ruled_out = hated if include_heard else hated | loved
    allowed = (
        recommendable_tracks(user, include_generated=include_generated)
        .exclude(style__in=preferences.get("avoid_styles", []))
        .exclude(pk__in=ruled_out)
    )
    return _Choices(include_generated, include_heard, loved, hated, ruled_out, allowed)


def _fill(
    pick: Callable[[int | None], tuple[Ranked, Explain]], allowed: QuerySet[Track], limit: int
) -> list[Recommendation]:
    """``limit`` offerable picks: deeper passes while too few of the model's first ones pass
    the filters, the last one over everything by relevance alone."""
    depth = limit * CANDIDATE_FACTOR
    for _ in range(DIVERSE_PASSES):
        ranked, explain = pick(depth)
        results = _offer(ranked, explain, allowed, limit)
        if len(results) == limit:
            return results
        depth *= CANDIDATE_FACTOR
    ranked, explain = pick(None)
    return _offer(ranked, explain, allowed, limit)


# Tracks read from the database at a time while filling a list (also below SQLite's limit
# on query parameters).
_READ_CHUNK = 2000


def _offer(
    ranked: Ranked, explain: Explain, allowed: QuerySet[Track], limit: int
) -> list[Recommendation]:
    """The first ``limit`` of ``ranked`` that the person may be offered, each once."""
    taken: set[int] = set()
    results: list[Recommendation] = []
    for start in range(0, len(ranked), _READ_CHUNK):
        chunk = ranked[start : start + _READ_CHUNK]
        by_id = allowed.in_bulk([track_id for track_id, _ in chunk])
        for track_id, score in chunk:
            track = by_id.get(track_id)
            if track is None or track_id in taken:
                continue
            taken.add(track_id)
            results.append(Recommendation(track, score, explain(track)))
            if len(results) == limit:
                return results
    return results


def _never_offered(
    served: LoadedArtifact[TasteBundle],
    user: AbstractBaseUser,
    include_generated: bool,
    left_out: set[int],
) -> np.ndarray:
    """Model columns to leave out before ranking (a boolean mask): listening-history-only
    tracks, generated ones when unwanted, the person's own tracks and those their feedback
    rules out. (What can change, visibility and style, is checked after ranking.)"""
    bundle = served.model
    never = np.zeros(len(bundle.track_ids), dtype=bool)
    by_origin = _origin_columns(served)
    never[by_origin[Origin.EXTERNAL]] = True
    if not include_generated:
        never[by_origin[Origin.GENERATED]] = True
    own = Track.objects.filter(owner_id=user.pk).values_list("pk", flat=True)
    never[_columns_of(bundle, np.fromiter([*left_out, *own], dtype=np.int64))] = True
    return never


_ORIGIN_COLUMNS: dict[str, dict[str, np.ndarray]] = {}


def _origin_columns(served: LoadedArtifact[TasteBundle]) -> dict[str, np.ndarray]:
    """The model's columns of external tracks and of generated ones. A track's origin never
    changes, so this is read once per model version in each process."""
    version = served.artifact.version
    columns = _ORIGIN_COLUMNS.get(version)
    if columns is None:
        bundle = served.model
        newest = int(bundle.track_ids.max()) if len(bundle.track_ids) else 0
        columns = {}
        for origin in (Origin.EXTERNAL, Origin.GENERATED):
            ids = Track.objects.filter(origin=origin, pk__lte=newest).values_list("pk", flat=True)
            columns[origin] = _columns_of(bundle, np.fromiter(ids, dtype=np.int64))
        _ORIGIN_COLUMNS.clear()  # one version serves at a time
        _ORIGIN_COLUMNS[version] = columns
    return columns


def _columns_of(bundle: TasteBundle, track_ids: np.ndarray) -> np.ndarray:
    positions = np.searchsorted(bundle.track_ids, track_ids)
    inside = positions < len(bundle.track_ids)
    positions, track_ids = positions[inside], track_ids[inside]
    return positions[bundle.track_ids[positions] == track_ids]


def _personal_picker(
    bundle: TasteBundle,
    history: UserHistory,
    knows: bool,
    row: sparse.csr_matrix,
    seeds: list[Track],
    heard: dict[int, float],
    choices: _Choices,
    never: np.ndarray,
    diversity: float,
) -> Callable[[int | None], tuple[Ranked, Explain]]:
    """The picks for a person: their history ``row`` and taste by the model (see
    _model_picker), reasons naming the ``seeds`` they played; whether the taste model
    ``knows`` anything of them settles whether a favourite style may be named."""
    vector = np.asarray(bundle.taste.conditioning_vector(history), dtype=np.float32)
    fresh = _new_tracks(bundle, choices.allowed, heard, choices.include_heard)
    # A taste the history says nothing of is the population's: no favourite of theirs.
    favourite_style = STYLES[int(np.argmax(split_vector(vector)[0]))] if knows else None

    def explain(track: Track) -> str:
        return _reason(bundle, track, favourite_style, seeds)

    return _model_picker(
        bundle,
        row=row,
        vector=vector,
        never=never,
        fresh=fresh,
        explain=explain,
        diversity=diversity,
        exclude_seen=not choices.include_heard,
    )


def _model_picker(
    bundle: TasteBundle,
    *,
    row: sparse.csr_matrix,
    vector: np.ndarray,
    never: np.ndarray,
    fresh: tuple[list[int], np.ndarray],
    explain: Explain,
    diversity: float,
    exclude_seen: bool = True,
) -> Callable[[int | None], tuple[Ranked, Explain]]:
    """The model's picks for a history ``row`` and taste ``vector``, tracks newer than the
    model (``fresh``: their ids and style vectors) among them, in the model's own
    (diversified) order."""
    fresh_ids, fresh_vectors = fresh
    ids = np.concatenate([bundle.track_ids, np.asarray(fresh_ids, dtype=np.int64)])
    excluded = np.flatnonzero(never)

    def pick(depth: int | None) -> tuple[Ranked, Explain]:
        """The first ``depth`` candidates; every one, by relevance alone, for ``None``."""
        found = bundle.recommender.recommend(
            None,
            n=len(ids) if depth is None else depth,
            exclude_seen=exclude_seen,
            diversity=0.0 if depth is None else diversity,
            user_items=row,
            user_vector=vector,
            excluded=excluded,
            new_item_vectors=fresh_vectors,
        )
        ranked = [
            (int(ids[item]), float(score))
            for item, score in zip(found.items, found.scores, strict=True)
            if np.isfinite(score)
        ]
        return ranked, explain

    return pick


def _seeded_picker(
    bundle: TasteBundle,
    seed: Track,
    allowed: QuerySet[Track],
    never: np.ndarray,
    heard: dict[int, float],
    diversity: float,
) -> Callable[[int | None], tuple[Ranked, Explain]]:
    """Ranks the model's picks for a one-track history, tracks newer than the model among
    them."""
    column = bundle.track_column(seed.pk)
    columns = [] if column is None else [column]
    row = sparse.csr_matrix(
        ([1.0] * len(columns), ([0] * len(columns), columns)),
        shape=(1, len(bundle.track_ids)),
        dtype=np.float32,
    )
    co_listened: set[int] = set()
    if column is not None:
        neighbours = bundle.recommender.listened_with(column, n=_CO_LISTENED_CHECKED)
        co_listened = {int(bundle.track_ids[item]) for item in neighbours}

    def explain(track: Track) -> str:
        return _similar_reason(seed, track, track.pk in co_listened)

    return _model_picker(
        bundle,
        row=row,
        vector=track_vector(seed.style_vector),
        never=never,
        fresh=_new_tracks(bundle, allowed, heard, include_heard=False),
        explain=explain,
        diversity=diversity,
    )


# How many of the tracks listening ties most to a track give reasons ("because you played").
_CO_LISTENED_CHECKED = 25


def _similar_reason(seed: Track, track: Track, co_listened: bool) -> str:
    if co_listened:
        return f"people who play {seed.title} play it too"
    if track.style and track.style == seed.style:
        return f"{track.style} close to {seed.title}"
    return f"close in sound to {seed.title}"


def _starter_picks(
    bundle: TasteBundle,
    allowed: QuerySet[Track],
    never: np.ndarray,
    depth: int | None,
    *,
    spread: bool,
) -> tuple[Ranked, Explain]:
    """Most-listened first (then the tracks newer than the model, newest first); with
    ``spread``, each style in turn gives its next track, so that a newcomer sees the breadth
    of the catalog. ``depth`` bounds how many are considered; ``None``: all of them."""
    popularity = bundle.recommender.popularity
    order = np.argsort(-popularity, kind="stable")
    order = order[~never[order]]
    if depth is not None:
        order = order[: depth * len(STYLES)]
    ranked = [(int(bundle.track_ids[column]), float(popularity[column])) for column in order]
    if depth is None or len(ranked) < depth:
        newest_known = int(bundle.track_ids.max()) if len(bundle.track_ids) else 0
        newer = allowed.filter(pk__gt=newest_known).order_by("-pk").values_list("pk", flat=True)
        ranked += [(track_id, 0.0) for track_id in (newer if depth is None else newer[:depth])]
    style_of: dict[int, str] = {}
    for start in range(0, len(ranked), _READ_CHUNK):
        chunk = [track_id for track_id, _ in ranked[start : start + _READ_CHUNK]]
        style_of.update(allowed.filter(pk__in=chunk).values_list("pk", "style"))
    ranked = [candidate for candidate in ranked if candidate[0] in style_of]
    if spread:
        ranked = _styles_in_turn(ranked, style_of)
    listened = {track_id for track_id, score in ranked if score > 0}
    return ranked, lambda track: _starter_reason(track, track.pk in listened)


def _styles_in_turn(ranked: Ranked, style_of: dict[int, str]) -> Ranked:
    by_style: dict[str, Ranked] = {}
    for candidate in ranked:
        by_style.setdefault(style_of[candidate[0]], []).append(candidate)
    turns = itertools.zip_longest(*by_style.values())
    return [candidate for turn in turns for candidate in turn if candidate is not None]


def _starter_reason(track: Track, listened: bool) -> str:
    style = track.style or "music"
    return f"popular {style} to start with" if listened else f"a {style} pick to start with"


def _heard_weights(user: AbstractBaseUser) -> dict[int, float]:
    """Every track the person played, with the weight the model gives their plays of it (none
    for a track they only skipped)."""
    plays = plays_by_track(Listen.objects.filter(user=user))
    return {track: listening_weight(played, skipped) for _, track, played, skipped in plays}


def _row_weights(heard: dict[int, float], choices: _Choices) -> dict[int, float]:
    """What the model is to find more of: the tracks played, less the hated ones, and loved
    ones as if played once at least."""
    weights = {track: w for track, w in heard.items() if w > 0 and track not in choices.hated}
    for track in choices.loved:
        weights[track] = max(weights.get(track, 0.0), 1.0)
    return weights


def _history_row(bundle: TasteBundle, weights: dict[int, float]) -> sparse.csr_matrix:
    """The person's ``weights`` as a ``1 x tracks`` row over the model's columns."""
    columns = {bundle.track_column(track_id): w for track_id, w in weights.items()}
    columns.pop(None, None)
    return sparse.csr_matrix(
        (list(columns.values()), ([0] * len(columns), list(columns.keys()))),
        shape=(1, len(bundle.track_ids)),
        dtype=np.float32,
    )


def _new_tracks(
    bundle: TasteBundle, allowed: QuerySet[Track], heard: dict[int, float], include_heard: bool
) -> tuple[list[int], np.ndarray]:
    """Ids and style vectors of the offerable tracks newer than the model."""
    newest_known = int(bundle.track_ids.max()) if len(bundle.track_ids) else 0
    fresh = [
        (track_id, track_vector(style_vector))
        for track_id, style_vector in allowed.filter(pk__gt=newest_known).values_list(
            "pk", "style_vector"
        )
        if include_heard or track_id not in heard
    ]
    vectors = np.stack([v for _, v in fresh]) if fresh else np.zeros((0, VECTOR_DIM), np.float32)
    return [track_id for track_id, _ in fresh], vectors.astype(np.float32)


def _top_heard_tracks(user: AbstractBaseUser, hated: frozenset[int]) -> list[Track]:
    """Tracks a reason may name: the latest the person played through and did not hate."""
    top = (
        Listen.objects.filter(user=user, skipped=False)
        .exclude(track_id__in=hated)
        .values_list("track_id", flat=True)
        .order_by("-listened_at")[:200]
    )
    return list(visible_tracks(user).filter(pk__in=list(top))[:50])


def _reason(
    bundle: TasteBundle, track: Track, favourite_style: str | None, seeds: list[Track]
) -> str:
    column = bundle.track_column(track.pk)
    if column is not None and seeds:
        similar = bundle.recommender.listened_with(column, n=_CO_LISTENED_CHECKED)
        seed_by_column = {bundle.track_column(s.pk): s for s in seeds}
        for item in similar:
            seed = seed_by_column.get(int(item))
            if seed is not None:
                return f"because you played {seed.title}"
    if favourite_style is None:
        return f"a {track.style or 'music'} pick to start with"
    if track.origin == Origin.GENERATED:
        if track.style == favourite_style:
            return f"freshly generated in your favourite style, {favourite_style}"
        return f"freshly generated {track.style or 'music'} close to your taste"
    if track.style == favourite_style:
        return f"in your favourite style, {favourite_style}"
    return f"{track.style or 'music'} close to your taste"
