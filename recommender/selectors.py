"""Reads of the recommender: ranked recommendations from the active model, with reasons."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet
from scipy import sparse

from artifacts.services import ArtifactUnavailable, LoadedArtifact, load_active
from catalog.midi.style_space import STYLES, split_vector
from catalog.models import Track
from profiles.models import Feedback, FeedbackScore, Listen
from profiles.selectors import preferences_of
from recommender.dataset import SKIP_WEIGHT, history_of, track_vector
from recommender.ml.taste import UserHistory
from recommender.services import TASTE_KIND, TasteBundle, load_bundle

__all__ = ["ArtifactUnavailable", "Recommendation", "recommend_for"]
# How many candidates to pull from the model before visibility and preference filters.
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
    """Tracks this user may be offered: public playable tracks and their own uploads."""
    visible = Q(is_public=True) | Q(owner=user)
    tracks = Track.objects.filter(visible).exclude(origin="external")
    if not include_generated:
        tracks = tracks.exclude(origin="generated")
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
    unless they said otherwise).
    """
    served: LoadedArtifact[TasteBundle] = load_active(TASTE_KIND, load_bundle)
    bundle = served.model
    history = history_of(user.pk, bundle.track_ids)
    heard = _heard_weights(user, bundle)
    preferences = preferences_of(user)
    if include_generated is None:
        include_generated = preferences.get("include_generated", True)
    allowed = recommendable_tracks(user, include_generated=include_generated)
    if history.is_empty and not heard:
        ranked, explain = _starter_picks(bundle, allowed, limit, spread=diversity > 0)
    else:
        ranked, explain = _personal_picks(
            bundle, user, history, heard, allowed, limit, include_heard, diversity
        )
    avoided = set(preferences.get("avoid_styles", []))
    left_out = _left_out_by_feedback(user, include_heard)
    by_id = allowed.in_bulk([track_id for track_id, _ in ranked])
    results: list[Recommendation] = []
    for track_id, score in ranked:
        track = by_id.get(track_id)
        if track is None or track.style in avoided or track_id in left_out:
            continue
        left_out.add(track_id)  # once in the list is enough
        results.append(Recommendation(track, score, explain(track)))
        if len(results) == limit:
            break
    return served.artifact.version, results


def _personal_picks(
    bundle: TasteBundle,
    user: AbstractBaseUser,
    history: UserHistory,
    heard: dict[int, float],
    allowed: QuerySet[Track],
    limit: int,
    include_heard: bool,
    diversity: float,
) -> tuple[Ranked, Explain]:
    """The model's picks in its own (diversified) order, with tracks newer than the model
    merged in by score."""
    vector = np.asarray(bundle.taste.conditioning_vector(history), dtype=np.float32)
    from_model = _model_candidates(bundle, heard, vector, limit, include_heard, diversity)
    fresh = _new_track_candidates(bundle, allowed, vector, heard, include_heard)
    favourite_style = STYLES[int(np.argmax(split_vector(vector)[0]))]
    seeds = _top_heard_tracks(user)
    ranked = _merge_by_score(from_model, sorted(fresh, key=lambda c: -c[1]))
    return ranked, lambda track: _reason(bundle, track, favourite_style, seeds)


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
    bundle: TasteBundle, allowed: QuerySet[Track], limit: int, *, spread: bool
) -> tuple[Ranked, Explain]:
    """Most-listened first; with ``spread``, each style in turn gives its next most-listened
    track, so that a newcomer sees the breadth of the catalog."""
    popularity = bundle.recommender.popularity
    order = np.argsort(-popularity, kind="stable")[: limit * CANDIDATE_FACTOR * len(STYLES)]
    ranked = [(int(bundle.track_ids[column]), float(popularity[column])) for column in order]
    if len(ranked) < limit * CANDIDATE_FACTOR:
        known = [track_id for track_id, _ in ranked]
        newest = allowed.exclude(pk__in=known).order_by("-pk")[: limit * CANDIDATE_FACTOR]
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


def _model_candidates(
    bundle: TasteBundle,
    heard: dict[int, float],
    vector: np.ndarray,
    limit: int,
    include_heard: bool,
    diversity: float,
) -> Ranked:
    columns = {bundle.track_column(track_id): w for track_id, w in heard.items()}
    columns.pop(None, None)
    row = sparse.csr_matrix(
        (list(columns.values()), ([0] * len(columns), list(columns.keys()))),
        shape=(1, len(bundle.track_ids)),
        dtype=np.float32,
    )
    found = bundle.recommender.recommend(
        None,
        n=min(len(bundle.track_ids), limit * CANDIDATE_FACTOR),
        exclude_seen=not include_heard,
        diversity=diversity,
        user_items=row,
        user_vector=vector,
    )
    return [
        (int(bundle.track_ids[item]), float(score))
        for item, score in zip(found.items, found.scores, strict=True)
        if np.isfinite(score)
    ]


def _new_track_candidates(
    bundle: TasteBundle,
    allowed: QuerySet[Track],
    vector: np.ndarray,
    heard: dict[int, float],
    include_heard: bool,
) -> Ranked:
    """Tracks the model has not seen compete on content, weighted as the model weighs it."""
    newest_known = int(bundle.track_ids.max()) if len(bundle.track_ids) else 0
    fresh = allowed.filter(pk__gt=newest_known).values_list("pk", "style_vector")
    unit = vector / max(float(np.linalg.norm(vector)), 1e-9)
    weight = bundle.recommender.content_weight
    candidates = []
    for track_id, style_vector in fresh:
        if track_id in heard and not include_heard:
            continue
        other = track_vector(style_vector)
        cosine = float(other @ unit) / max(float(np.linalg.norm(other)), 1e-9)
        candidates.append((track_id, weight * cosine))
    return candidates


def _top_heard_tracks(user: AbstractBaseUser) -> list[Track]:
    top = (
        Listen.objects.filter(user=user, skipped=False)
        .values_list("track_id", flat=True)
        .order_by("-listened_at")[:200]
    )
    return list(Track.objects.filter(pk__in=list(top)).exclude(origin="external")[:50])


def _reason(bundle: TasteBundle, track: Track, favourite_style: str, seeds: list[Track]) -> str:
    column = bundle.track_column(track.pk)
    if column is not None and seeds:
        similar = bundle.recommender.similar_items(column, n=25)
        seed_by_column = {bundle.track_column(s.pk): s for s in seeds}
        for item in similar.items:
            seed = seed_by_column.get(int(item))
            if seed is not None:
                return f"because you played {seed.title}"
    if track.origin == "generated":
        return f"freshly generated in your favourite style, {favourite_style}"
    if track.style == favourite_style:
        return f"in your favourite style, {favourite_style}"
    if not seeds:
        return f"popular {track.style or 'music'} to start with"
    return f"{track.style or 'music'} close to your taste"
