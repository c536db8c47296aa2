"""Reads on accounts and profiles."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import numpy as np
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Max, Min, QuerySet, Sum
from django.utils import timezone

from catalog.midi.style_space import VECTOR_DIM, top_styles
from catalog.models import Origin, Track
from jobs.models import Job
from profiles.export import export_sections
from profiles.importers.rules import from_unix
from profiles.importing import IMPORT_JOB_KIND
from profiles.models import Feedback, FeedbackEvent, Listen, NowPlaying, Profile
from profiles.services import profile_of


def export_user_data(*, user: AbstractBaseUser) -> dict[str, Any]:
    """Everything stored about ``user``, as one JSON-able document."""
    profile = profile_of(user)
    data: dict[str, Any] = {
        "exported_at": timezone.now(),
        "account": {
            "id": user.pk,
            "username": user.get_username(),
            "email": getattr(user, "email", ""),
            "date_joined": getattr(user, "date_joined", None),
            "last_login": getattr(user, "last_login", None),
        },
        "preferences": profile.preferences,
        "taste": profile.taste,
    }
    for name, section in export_sections().items():
        data[name] = section(user)
    return data


def preferences_of(user: AbstractBaseUser) -> dict[str, Any]:
    """The person's stated preferences (empty when they have said nothing)."""
    stored = Profile.objects.filter(user=user).values_list("preferences", flat=True).first()
    return stored or {}


# --- Listening history -------------------------------------------------------------------


def listens_of(
    *, user: AbstractBaseUser, since: datetime | None = None, until: datetime | None = None
) -> QuerySet[Listen]:
    """The person's listens, newest first, optionally within [since, until)."""
    listens = Listen.objects.filter(user=user).select_related("track")
    if since is not None:
        listens = listens.filter(listened_at__gte=since)
    if until is not None:
        listens = listens.filter(listened_at__lt=until)
    return listens.order_by("-listened_at", "-id")


def listen_count(*, user: AbstractBaseUser) -> int:
    return Listen.objects.filter(user=user).count()


def now_playing_of(*, user: AbstractBaseUser) -> NowPlaying | None:
    return (
        NowPlaying.objects.filter(user=user, expires_at__gt=timezone.now())
        .select_related("track")
        .first()
    )


def listening_summary(*, user: AbstractBaseUser) -> dict[str, Any]:
    """Listens, distinct tracks, top styles (weighted by plays) and the last listen."""
    listens = Listen.objects.filter(user=user)
    totals = listens.aggregate(
        listens=Sum("play_count"),
        distinct_tracks=Count("track", distinct=True),
        last_listen=Max("listened_at"),
    )
    plays_per_track = listens.values("track__style_vector").annotate(plays=Sum("play_count"))
    style_total, styled_plays = np.zeros(VECTOR_DIM), 0
    for row in plays_per_track.iterator():
        vector = row["track__style_vector"]
        if vector and len(vector) == VECTOR_DIM:
            style_total += row["plays"] * np.asarray(vector, dtype=float)
            styled_plays += row["plays"]
    return {
        "listens": totals["listens"] or 0,
        "distinct_tracks": totals["distinct_tracks"],
        "top_styles": top_styles(style_total / styled_plays) if styled_plays else {},
        "last_listen": totals["last_listen"],
    }


def export_listens(user: AbstractBaseUser) -> Iterator[dict[str, Any]]:
    """Read as the export is written: a history of millions of listens is never whole in
    memory."""
    rows = Listen.objects.filter(user=user).order_by("listened_at", "id")
    return rows.values(
        "track_id",
        "track__artist",
        "track__title",
        "listened_at",
        "ms_played",
        "skipped",
        "play_count",
        "source",
        "track_metadata",
        "created_at",
    ).iterator(chunk_size=5000)


def export_feedback(user: AbstractBaseUser) -> dict[str, list[dict[str, Any]]]:
    current = Feedback.objects.filter(user=user).values("track_id", "score", "updated_at")
    history = FeedbackEvent.objects.filter(user=user).order_by("created_at", "id")
    return {
        "current": list(current),
        "history": list(history.values("track_id", "score", "created_at")),
    }


def export_uploads(user: AbstractBaseUser) -> list[dict[str, Any]]:
    """The person's uploaded tracks; each MIDI file is at ``/api/v1/tracks/{id}/midi/``."""
    uploads = Track.objects.filter(owner=user, origin=Origin.UPLOAD).order_by("created_at", "id")
    return list(
        uploads.values(
            "id",
            "title",
            "artist",
            "style",
            "duration_s",
            "tempo_bpm",
            "key",
            "midi_sha256",
            "is_public",
            "created_at",
        )
    )


def export_now_playing(user: AbstractBaseUser) -> dict[str, Any] | None:
    return (
        NowPlaying.objects.filter(user=user)
        .values("track_id", "track_metadata", "started_at", "expires_at")
        .first()
    )


def export_import_jobs(user: AbstractBaseUser) -> list[dict[str, Any]]:
    jobs = Job.objects.filter(owner=user, kind=IMPORT_JOB_KIND).order_by("created_at", "id")
    return [
        {
            "id": job.pk,
            "format": job.params.get("format"),
            "status": job.status,
            "result": job.result,
            "error": job.error,
            "created_at": job.created_at,
            "finished_at": job.finished_at,
        }
        for job in jobs
    ]


def listenbrainz_listens(
    *, user: AbstractBaseUser, min_ts: int | None, max_ts: int | None, count: int
) -> list[Listen]:
    """ListenBrainz's window: the ``count`` listens nearest to ``max_ts`` (or, given only
    ``min_ts``, nearest after it), newest first."""
    listens = Listen.objects.filter(user=user).select_related("track")
    if min_ts is not None:
        listens = listens.filter(listened_at__gt=from_unix(min_ts))
    if max_ts is not None:
        listens = listens.filter(listened_at__lt=from_unix(max_ts))
    if min_ts is not None and max_ts is None:
        window = list(listens.order_by("listened_at", "id")[:count])
        return window[::-1]
    return list(listens.order_by("-listened_at", "-id")[:count])


def listen_time_range(*, user: AbstractBaseUser) -> tuple[datetime | None, datetime | None]:
    """(latest, oldest) listen times of the person."""
    span = Listen.objects.filter(user=user).aggregate(
        latest=Max("listened_at"), oldest=Min("listened_at")
    )
    return span["latest"], span["oldest"]
