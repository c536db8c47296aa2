"""Reads the database into the arrays the pure taste model and recommender take."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone
from scipy import sparse

from catalog.midi.style_space import VECTOR_DIM
from catalog.models import Track
from profiles.models import Feedback, Listen, Profile
from recommender.ml.taste import ExplicitPreferences, ListenEvents, UserHistory
from recommender.ml.taste import Feedback as FeedbackArrays

# A skipped play of a track the person also played through adds a little to it; a track
# they only ever skipped is no sign that they want more like it.
SKIP_WEIGHT = 0.25
# Aggregate imports (one row, many plays) count as at most this many listens for the taste
# model: beyond it, more plays of one track say little more about the person's style.
MAX_REPEATS_PER_ROW = 50


@dataclass(frozen=True)
class TrainingData:
    user_ids: np.ndarray  # database ids, row order
    track_ids: np.ndarray  # database ids, column order
    track_vectors: np.ndarray  # (n_tracks, VECTOR_DIM); zeros where a track has none
    user_items: sparse.csr_matrix  # weighted play counts
    histories: list[UserHistory]
    read_at: datetime  # when reading began: what arrived or was deleted later is not in it

    def summary(self) -> dict[str, int | str]:
        return {
            "read_at": self.read_at.isoformat(),
            "users": len(self.user_ids),
            "tracks": len(self.track_ids),
            "user_track_pairs": int(self.user_items.nnz),
            "listens": int(sum(len(h.listens.track_index) for h in self.histories)),
            "feedback": int(sum(len(h.feedback.track_index) for h in self.histories)),
        }


def track_vector(track_style_vector: list[float] | None) -> np.ndarray:
    if not track_style_vector or len(track_style_vector) != VECTOR_DIM:
        return np.zeros(VECTOR_DIM, dtype=np.float32)
    return np.asarray(track_style_vector, dtype=np.float32)


def load_training_data() -> TrainingData:
    read_at = timezone.now()
    tracks = list(Track.objects.order_by("pk").values_list("pk", "style_vector", "duration_s"))
    track_ids = np.array([pk for pk, _, _ in tracks], dtype=np.int64)
    column = {pk: i for i, pk in enumerate(track_ids)}
    durations_ms = np.array([(d or 0.0) * 1000.0 for _, _, d in tracks])
    vectors = np.stack([track_vector(v) for _, v, _ in tracks]) if tracks else np.zeros((0, 12))
    user_ids = np.array(
        get_user_model().objects.order_by("pk").values_list("pk", flat=True), dtype=np.int64
    )
    row = {pk: i for i, pk in enumerate(user_ids)}
    listens = _listens_by_user(column, durations_ms)
    feedback = _feedback_by_user(column)
    preferences = dict(Profile.objects.values_list("user_id", "preferences"))
    histories = [
        UserHistory(
            listens=listens.get(pk, ListenEvents.empty()),
            feedback=feedback.get(pk, FeedbackArrays.empty()),
            preferences=explicit_preferences(preferences.get(pk) or {}),
        )
        for pk in user_ids
    ]
    return TrainingData(
        user_ids=user_ids,
        track_ids=track_ids,
        track_vectors=vectors.astype(np.float32),
        user_items=_user_items(row, column, (len(user_ids), len(track_ids))),
        histories=histories,
        read_at=read_at,
    )


def history_of(user_id: int, track_ids: np.ndarray) -> UserHistory:
    """One person's current history for a fitted model that knows ``track_ids`` (ascending):
    the person's tracks it knows are its columns, those newer than it follow as
    ``newer_track_vectors``, so that what they did with a fresh upload counts at once."""
    own = Listen.objects.filter(user_id=user_id)
    feedback = Feedback.objects.filter(user_id=user_id)
    # One subquery of the union: PostgreSQL plans an OR of two IN subqueries as a scan of
    # every track.
    heard_or_rated = own.order_by().values("track_id").union(feedback.order_by().values("track_id"))
    mine = Track.objects.filter(pk__in=heard_or_rated).values_list(
        "pk", "duration_s", "style_vector"
    )
    column: dict[int, int] = {}
    durations: list[float] = []
    newer: list[np.ndarray] = []
    known = np.asarray(track_ids)
    for track_id, duration_s, style_vector in mine:
        position = int(np.searchsorted(known, track_id))
        if position < len(known) and known[position] == track_id:
            column[track_id] = position
        else:
            column[track_id] = len(known) + len(newer)
            newer.append(track_vector(style_vector))
        durations.append((duration_s or 0.0) * 1000.0)
    durations_ms = np.zeros(len(known) + len(newer))
    durations_ms[list(column.values())] = durations
    listens = _listens_by_user(column, durations_ms, own)
    feedback_arrays = _feedback_by_user(column, feedback)
    preferences = Profile.objects.filter(user_id=user_id).values_list("preferences", flat=True)
    return UserHistory(
        listens=listens.get(user_id, ListenEvents.empty()),
        feedback=feedback_arrays.get(user_id, FeedbackArrays.empty()),
        preferences=explicit_preferences(preferences.first() or {}),
        newer_track_vectors=np.stack(newer) if newer else np.zeros((0, VECTOR_DIM), np.float32),
    )


def explicit_preferences(preferences: dict) -> ExplicitPreferences:
    tempo = preferences.get("tempo_bpm")
    return ExplicitPreferences(
        styles=tuple(preferences.get("styles", ())),
        tempo_bpm_range=(float(tempo[0]), float(tempo[1])) if tempo else None,
        avoid_styles=tuple(preferences.get("avoid_styles", ())),
    )


def listening_weight(played: float, skipped: float) -> float:
    """A person's weight on a track for collaborative filtering, from their plays of it
    heard through and their skipped ones."""
    return played + SKIP_WEIGHT * skipped if played > 0 else 0.0


def plays_by_track(listens: QuerySet[Listen]) -> QuerySet:
    """``(user_id, track_id, plays heard through, plays skipped)`` rows, summed by the
    database (a history of a hundred thousand listens is a few thousand rows here)."""
    return (
        listens.values("user_id", "track_id")
        .annotate(
            played=Sum("play_count", filter=Q(skipped=False), default=0),
            skipped=Sum("play_count", filter=Q(skipped=True), default=0),
        )
        .values_list("user_id", "track_id", "played", "skipped")
    )


def _user_items(
    row: dict[int, int], column: dict[int, int], shape: tuple[int, int]
) -> sparse.csr_matrix:
    rows, columns, weights = [], [], []
    for user_id, track_id, played, skipped in plays_by_track(Listen.objects.all()).iterator(
        chunk_size=20_000
    ):
        if user_id not in row or track_id not in column:
            continue  # a person or track newer than the read began: the next fit has them
        weight = listening_weight(played, skipped)
        if weight > 0:
            rows.append(row[user_id])
            columns.append(column[track_id])
            weights.append(weight)
    return sparse.csr_matrix(
        (np.array(weights, dtype=np.float32), (rows, columns)), shape=shape, dtype=np.float32
    )


def _listens_by_user(
    column: dict[int, int], durations_ms: np.ndarray, listens: QuerySet[Listen] | None = None
) -> dict[int, ListenEvents]:
    fields = ("user_id", "track_id", "listened_at", "ms_played", "skipped", "play_count")
    grouped: dict[int, list[tuple]] = {}
    listens = Listen.objects.all() if listens is None else listens
    for user_id, *rest in (
        listens.order_by("user_id").values_list(*fields).iterator(chunk_size=20_000)
    ):
        if rest[0] in column:  # tracks added after a model was fitted are unknown to it
            grouped.setdefault(user_id, []).append(tuple(rest))
    return {
        user_id: _listen_events(rows, column, durations_ms) for user_id, rows in grouped.items()
    }


def _listen_events(
    rows: list[tuple], column: dict[int, int], durations_ms: np.ndarray
) -> ListenEvents:
    repeats = np.array([min(max(1, count), MAX_REPEATS_PER_ROW) for *_, count in rows])
    tracks = np.array([column[track_id] for track_id, *_ in rows], dtype=np.int64)
    durations = durations_ms[tracks]
    played = np.array(
        [ms if ms is not None else np.nan for _, _, ms, _, _ in rows], dtype=np.float64
    )
    # Unknown play time means the whole track, as scrobblers report completed plays.
    played = np.where(np.isnan(played), durations, played)
    return ListenEvents(
        track_index=np.repeat(tracks, repeats),
        listened_at=np.repeat([at.timestamp() for _, at, *_ in rows], repeats),
        ms_played=np.repeat(played, repeats),
        duration_ms=np.repeat(durations, repeats),
        skipped=np.repeat([bool(s) for _, _, _, s, _ in rows], repeats),
    )


def _feedback_by_user(
    column: dict[int, int], feedback: QuerySet[Feedback] | None = None
) -> dict[int, FeedbackArrays]:
    grouped: dict[int, tuple[list[int], list[float]]] = {}
    feedback = Feedback.objects.all() if feedback is None else feedback
    for user_id, track_id, score in feedback.exclude(score=0).values_list(
        "user_id", "track_id", "score"
    ):
        if track_id not in column:
            continue
        tracks, scores = grouped.setdefault(user_id, ([], []))
        tracks.append(column[track_id])
        scores.append(float(score))
    return {
        user_id: FeedbackArrays(np.array(tracks, dtype=np.int64), np.array(scores))
        for user_id, (tracks, scores) in grouped.items()
    }
