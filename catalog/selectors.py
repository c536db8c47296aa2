"""Reads on the catalog. A person sees public tracks and their own; staff see every track.

Metadata-only external tracks (named by listens, without music) never show in the catalog.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q, QuerySet

from catalog.midi.style_space import STYLE_DESCRIPTIONS, STYLES
from catalog.models import Origin, Track, normalize_name


@dataclass(frozen=True)
class StyleSummary:
    name: str
    description: str
    track_count: int


def labelled_tracks_by_style(tracks: QuerySet[Track]) -> dict[str, list[Track]]:
    """The labelled ones of ``tracks`` per style (styles sorted), each style's in ``source_id``
    order: a stable order that does not depend on when the catalog was imported, so an evenly
    spaced choice from it reaches every collection of the style."""
    by_style: dict[str, list[Track]] = {}
    ordered = tracks.filter(style_label__isnull=False).order_by("style_label", "source_id", "pk")
    for track in ordered.iterator(chunk_size=1000):
        by_style.setdefault(track.style_label, []).append(track)
    return by_style


def visible_tracks(user: AbstractBaseUser) -> QuerySet[Track]:
    if user.is_staff:
        return Track.objects.exclude(origin=Origin.EXTERNAL)
    return public_or_own_tracks(user)


def public_or_own_tracks(user: AbstractBaseUser) -> QuerySet[Track]:
    """What a person may build on (vary, say): public tracks and their own. Staff too: they
    see every track in order to curate it, not to make things of other people's."""
    return Track.objects.exclude(origin=Origin.EXTERNAL).filter(
        Q(is_public=True) | Q(owner_id=user.pk)
    )


def search_tracks(
    *,
    user: AbstractBaseUser,
    search: str = "",
    style: str | None = None,
    origin: str | None = None,
) -> QuerySet[Track]:
    """Visible tracks matching every word of ``search`` in their title, artist or collection
    ("beethoven quartet" finds Beethoven's string quartets), newest first.

    Words are compared as the catalog stores names for matching, without case, accents or
    punctuation: "pieta" and "PIETÀ" find "pietà", and a straight apostrophe finds a curly one.
    """
    tracks = visible_tracks(user)
    for word in normalize_name(search).split():
        tracks = tracks.filter(
            Q(normalized_title__contains=word)
            | Q(normalized_artist__contains=word)
            | Q(collection__icontains=word)
        )
    if style:
        tracks = tracks.filter(style=style)
    if origin:
        tracks = tracks.filter(origin=origin)
    return tracks.order_by("-created_at", "-id")


def style_summaries(*, user: AbstractBaseUser) -> list[StyleSummary]:
    """Every style of the style space with the number of tracks of it the user can see."""
    counts = dict(
        visible_tracks(user)
        .filter(style__isnull=False)
        .values("style")
        .annotate(count=Count("id"))
        .order_by()
        .values_list("style", "count")
    )
    return [
        StyleSummary(
            name=style, description=STYLE_DESCRIPTIONS[style], track_count=counts.get(style, 0)
        )
        for style in STYLES
    ]
