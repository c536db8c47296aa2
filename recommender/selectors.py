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
from catalog.midi.style_space import STYLES, split_vector
from catalog.models import Origin, Track
from catalog.selectors import visible_tracks
from profiles.models import Feedback, FeedbackScore, Listen
from profiles.selectors import preferences_of
from recommender.dataset import SKIP_WEIGHT, history_of, track_vector
from recommender.ml.taste import UserHistory
from recommender.services import TASTE_KIND, TasteBundle, load_bundle

__all__ = ["ArtifactUnavailable", "Recommendation", "recommend_for"]
# How many candidates to pull from the model before visibility and preference filters; when
# too few pass them, the next pass pulls this many times more.
CANDIDATE_FACTOR = 4
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
    fit compete on content similarity to the user's taste. Someone with no listens, feedback
    or stated preferences gets the most-listened tracks, styles taking turns.
    ``include_generated=None`` follows the person's preference (generated tracks are offered
    unless they said otherwise). Fewer than ``limit`` come back only when fewer are allowed.
    """
    served: LoadedArtifact[TasteBundle] = load_active(TASTE_KIND, load_bundle)
    bundle = served.model
    history = history_of(user.pk, bundle.track_ids)
    heard = _heard_weights(user, bundle)
    preferences = preferences_of(user)
    if include_generated is None:
        include_generated = preferences.get("include_generated", True)
    allowed = recommendable_tracks(user, include_generated=include_generated)
    left_out = _left_out_by_feedback(user, include_heard)
    never = _never_offered(served, include_generated, left_out)
    if history.is_empty and not heard:
        spread = diversity > 0

        def pick(depth: int) -> tuple[Ranked, Explain]:
            return _starter_picks(bundle, allowed, never, depth, spread=spread)
    else:
        pick = _personal_picker(
            bundle, user, history, heard, allowed, never, include_heard, diversity
        )
    avoided = set(preferences.get("avoid_styles", []))
    depth = limit * CANDIDATE_FACTOR
    while True:
        ranked, explain = pick(depth)
        results = _offer(ranked, explain, allowed, avoided, left_out, limit)
        if len(results) == limit or depth >= len(bundle.track_ids):
            return served.artifact.version, results
        depth *= CANDIDATE_FACTOR


def _offer(
    ranked: Ranked,
    explain: Explain,
    allowed: QuerySet[Track],
    avoided: set[str],
    left_out: set[int],
    limit: int,
) -> list[Recommendation]:
    """The first ``limit`` of ``ranked`` that the person may be offered, each once."""
    by_id = allowed.in_bulk([track_id for track_id, _ in ranked])
    taken = set(left_out)
    results: list[Recommendation] = []
    for track_id, score in ranked:
        track = by_id.get(track_id)
        if track is None or track.style in avoided or track_id in taken:
            continue
        taken.add(track_id)
        results.append(Recommendation(track, score, explain(track)))
        if len(results) == limit:
            break
    return results


def _never_offered(
    served: LoadedArtifact[TasteBundle], include_generated: bool, left_out: set[int]
) -> np.ndarray:
    """Model columns to leave out before ranking (a boolean mask): listening-history-only
    tracks, generated ones when unwanted, and tracks the person's feedback rules out."""
    bundle = served.model
    never = np.zeros(len(bundle.track_ids), dtype=bool)
    by_origin = _origin_columns(served)
    never[by_origin[Origin.EXTERNAL]] = True
    if not include_generated:
        never[by_origin[Origin.GENERATED]] = True
    never[_columns_of(bundle, np.fromiter(left_out, dtype=np.int64))] = True
    return never


_ORIGIN_COLUMNS: dict[str, dict[str, np.ndarray]] = {}


def _origin_columns(served: LoadedArtifact[TasteBundle]) -> dict[str, np.ndarray]:
    """The model's columns of external and of generated tracks. A track's origin never
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
    user: AbstractBaseUser,
    history: UserHistory,
    heard: dict[int, float],
    allowed: QuerySet[Track],
    never: np.ndarray,
    include_heard: bool,
    diversity: float,
) -> Callable[[int], tuple[Ranked, Explain]]:
    """Ranks ``depth`` of the model's picks in its own (diversified) order, with tracks newer
    than the model merged in by score."""
    vector = np.asarray(bundle.taste.conditioning_vector(history), dtype=np.float32)
    row = _history_row(bundle, heard)
    fresh = sorted(
        _new_track_candidates(bundle, allowed, row, vector, heard, include_heard),
        key=lambda c: -c[1],
    )
    favourite_style = STYLES[int(np.argmax(split_vector(vector)[0]))]
    seeds = _top_heard_tracks(user)

    def explain(track: Track) -> str:
        return _reason(bundle, track, favourite_style, seeds)

    def pick(depth: int) -> tuple[Ranked, Explain]:
        from_model = _model_candidates(bundle, row, vector, never, depth, include_heard, diversity)
        return _merge_by_score(from_model, fresh), explain

    return pick


def _merge_by_score(first: Ranked, second: Ranked) -> Ranked:
    """Merge two ranked lists, keeping each list's own order: at every step the head with
    the higher score goes next (ties to ``first``)."""
    merged: Ranked = []
    i = j = 0
    while i < len(first) or j < len(second):
        if j == len(second) or (i < len(first) and first[i][1] >= second[j][1]):
            merged.append(first[i])
            i += 1
        else:
            merged.append(second[j])
            j += 1
    return merged


def _starter_picks(
    bundle: TasteBundle, allowed: QuerySet[Track], never: np.ndarray, depth: int, *, spread: bool
) -> tuple[Ranked, Explain]:
    """Most-listened first; with ``spread``, each style in turn gives its next most-listened
    track, so that a newcomer sees the breadth of the catalog."""
    popularity = bundle.recommender.popularity
    order = np.argsort(-popularity, kind="stable")
    order = order[~never[order]][: depth * len(STYLES)]
    ranked = [(int(bundle.track_ids[column]), float(popularity[column])) for column in order]
    if len(ranked) < depth:
        known = [track_id for track_id, _ in ranked]
        newest = allowed.exclude(pk__in=known).order_by("-pk")[:depth]
        ranked += [(track_id, 0.0) for track_id in newest.values_list("pk", flat=True)]
    style_of = dict(allowed.filter(pk__in=[t for t, _ in ranked]).values_list("pk", "style"))
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


def _left_out_by_feedback(user: AbstractBaseUser, include_heard: bool) -> set[int]:
    """Hated tracks, always; loved ones too unless heard tracks are asked for, since a
    person who loved a track knows it."""
    scores = [FeedbackScore.HATE] if include_heard else [FeedbackScore.HATE, FeedbackScore.LOVE]
    return set(
        Feedback.objects.filter(user=user, score__in=scores).values_list("track_id", flat=True)
    )


def _heard_weights(user: AbstractBaseUser, bundle: TasteBundle) -> dict[int, float]:
    weights: dict[int, float] = {}
    for track_id, skipped, plays in Listen.objects.filter(user=user).values_list(
        "track_id", "skipped", "play_count"
    ):
        weights[track_id] = weights.get(track_id, 0.0) + plays * (SKIP_WEIGHT if skipped else 1.0)
    return weights


def _history_row(bundle: TasteBundle, heard: dict[int, float]) -> sparse.csr_matrix:
    """The person's current listening as a ``1 x tracks`` row over the model's columns."""
    columns = {bundle.track_column(track_id): w for track_id, w in heard.items()}
    columns.pop(None, None)
    return sparse.csr_matrix(
        (list(columns.values()), ([0] * len(columns), list(columns.keys()))),
        shape=(1, len(bundle.track_ids)),
        dtype=np.float32,
    )


def _model_candidates(
    bundle: TasteBundle,
    row: sparse.csr_matrix,
    vector: np.ndarray,
    never: np.ndarray,
    depth: int,
    include_heard: bool,
    diversity: float,
) -> Ranked:
    found = bundle.recommender.recommend(
        None,
        n=min(len(bundle.track_ids), depth),
        exclude_seen=not include_heard,
        diversity=diversity,
        user_items=row,
        user_vector=vector,
        excluded=np.flatnonzero(never),
    )
    return [
        (int(bundle.track_ids[item]), float(score))
        for item, score in zip(found.items, found.scores, strict=True)
        if np.isfinite(score)
    ]


def _new_track_candidates(
    bundle: TasteBundle,
    allowed: QuerySet[Track],
    row: sparse.csr_matrix,
    vector: np.ndarray,
    heard: dict[int, float],
    include_heard: bool,
) -> Ranked:
    """Tracks newer than the model, scored by it as tracks nobody has listened to yet."""
    newest_known = int(bundle.track_ids.max()) if len(bundle.track_ids) else 0
    fresh = [
        (track_id, style_vector)
        for track_id, style_vector in allowed.filter(pk__gt=newest_known).values_list(
            "pk", "style_vector"
        )
        if include_heard or track_id not in heard
    ]
    if not fresh:
        return []
    scores = bundle.recommender.score_new_items(
        np.stack([track_vector(style_vector) for _, style_vector in fresh]),
        user_items=row,
        user_vector=vector,
    )
    return [(track_id, float(score)) for (track_id, _), score in zip(fresh, scores, strict=True)]


def _top_heard_tracks(user: AbstractBaseUser) -> list[Track]:
    top = (
        Listen.objects.filter(user=user, skipped=False)
        .values_list("track_id", flat=True)
        .order_by("-listened_at")[:200]
    )
    return list(visible_tracks(user).filter(pk__in=list(top))[:50])


def _reason(bundle: TasteBundle, track: Track, favourite_style: str, seeds: list[Track]) -> str:
    column = bundle.track_column(track.pk)
    if column is not None and seeds:
        similar = bundle.recommender.similar_items(column, n=25)
        seed_by_column = {bundle.track_column(s.pk): s for s in seeds}
        for item in similar.items:
            seed = seed_by_column.get(int(item))
            if seed is not None:
                return f"because you played {seed.title}"
    if track.origin == Origin.GENERATED:
        if track.style == favourite_style:
            return f"freshly generated in your favourite style, {favourite_style}"
        return f"freshly generated {track.style or 'music'} close to your taste"
    if track.style == favourite_style:
        return f"in your favourite style, {favourite_style}"
    if not seeds:
        return f"popular {track.style or 'music'} to start with"
    return f"{track.style or 'music'} close to your taste"
