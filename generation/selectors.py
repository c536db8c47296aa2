"""Reads of the generation app: a person's jobs and playlists, the curation queue."""

from __future__ import annotations

from typing import Any

import numpy as np
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Prefetch, QuerySet

from catalog.midi.style_space import STYLE_DIM, STYLES, VECTOR_DIM, compose_vector, one_hot_style
from catalog.models import Track
from catalog.selectors import visible_tracks
from generation.conditions import NEUTRAL_ATTRIBUTES
from generation.models import (
    GeneratedTrack,
    GenerationRequest,
    Playlist,
    PlaylistItem,
    PlaylistStatus,
)
from jobs.models import JobStatus


def generation_requests(user: AbstractBaseUser) -> QuerySet[GenerationRequest]:
    """A person's own requests (staff included: they see everyone's in the admin), each with
    its pieces in the order made."""
    outputs = GeneratedTrack.objects.select_related("track").order_by("pk")
    requests = GenerationRequest.objects.select_related("job").order_by("-created_at", "-id")
    return requests.filter(user=user).prefetch_related(Prefetch("outputs", queryset=outputs))


def playlists(user: AbstractBaseUser) -> QuerySet[Playlist]:
    found = Playlist.objects.select_related("job").order_by("-created_at", "-id")
    return found.filter(user=user)


def visible_playlist_items(user: AbstractBaseUser) -> Prefetch:
    """Playlist items whose track ``user`` may still hear: a generated track rejected after
    it was added, say, leaves its place empty rather than a title that answers 404."""
    items = PlaylistItem.objects.filter(track__in=visible_tracks(user)).select_related("track")
    return Prefetch("items", queryset=items.order_by("position"))


def playlist_status(playlist: Playlist) -> str:
    """A playlist waiting on a job that failed (even by losing its worker) has failed too."""
    if (
        playlist.status == PlaylistStatus.BUILDING
        and playlist.job is not None
        and playlist.job.status == JobStatus.FAILED
    ):
        return PlaylistStatus.FAILED
    return playlist.status


def pieces_to_come(playlist: Playlist) -> int:
    """How many generated pieces are still to join the playlist: its job's, while it builds
    (they join all at once)."""
    if playlist_status(playlist) != PlaylistStatus.BUILDING or playlist.job_id is None:
        return 0
    request = GenerationRequest.objects.filter(job_id=playlist.job_id).only("count").first()
    return request.count if request is not None else 0


def review_queue() -> QuerySet[GeneratedTrack]:
    return GeneratedTrack.objects.select_related("track", "requested_by").order_by("created_at")


def export_generations(user: AbstractBaseUser) -> list[dict[str, Any]]:
    """Every generation the person asked for, as asked, and what it made (each piece's MIDI
    is at ``/api/v1/tracks/{id}/midi/``)."""
    requests = (
        GenerationRequest.objects.filter(user=user)
        .select_related("job")
        .prefetch_related("outputs__track")
        .order_by("created_at", "id")
    )
    return [
        {
            "id": request.pk,
            "status": request.job.status,
            "error": request.job.error,
            "count": request.count,
            "bars": request.bars,
            "temperature": request.temperature,
            "seed": request.seed,
            "style_mix": request.style_mix,
            "tempo_bpm": request.tempo_bpm,
            "variation_of": request.variation_of_id,
            "condition": request.condition,
            "model_version": request.model_version,
            "tracks": [
                {
                    "id": output.track_id,
                    "title": output.track.title,
                    "style": output.track.style,
                    "review_status": output.review_status,
                    "provenance": output.track.provenance,
                }
                for output in request.outputs.all()
            ],
            "created_at": request.created_at,
        }
        for request in requests
    ]


def export_playlists(user: AbstractBaseUser) -> list[dict[str, Any]]:
    items = PlaylistItem.objects.order_by("position")
    playlists = (
        Playlist.objects.filter(user=user)
        .select_related("job")
        .prefetch_related(Prefetch("items", queryset=items))
        .order_by("created_at")
    )
    return [
        {
            "id": playlist.pk,
            "name": playlist.name,
            "status": playlist_status(playlist),
            "error": playlist.error,
            "length": playlist.length,
            "generated_share": playlist.generated_share,
            "items": [
                {"position": item.position, "track_id": item.track_id, "reason": item.reason}
                for item in playlist.items.all()
            ],
            "created_at": playlist.created_at,
        }
        for playlist in playlists
    ]


def style_prototypes() -> dict[str, np.ndarray]:
    """Per style, one-hot weights with the mean attributes of the catalog's labelled tracks
    of that style: what "music in style X" means for the generator's condition."""
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    labelled = Track.objects.filter(style_label__isnull=False).values_list(
        "style_label", "style_vector"
    )
    for style, vector in labelled.iterator():
        if vector and len(vector) == VECTOR_DIM:
            sums[style] = sums.get(style, 0) + np.asarray(vector[STYLE_DIM:], dtype=np.float64)
            counts[style] = counts.get(style, 0) + 1
    return {
        style: compose_vector(
            one_hot_style(style),
            (sums[style] / counts[style]).astype(np.float32)
            if style in sums
            else NEUTRAL_ATTRIBUTES,
        )
        for style in STYLES
    }
