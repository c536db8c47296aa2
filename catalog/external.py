"""Tracks named by metadata (artist and title) rather than by id: listens from other apps.

Metadata is matched to a catalog track by normalized artist and title; when nothing
matches, a metadata-only track (``origin="external"``, no MIDI) is created, so that no
listen is ever dropped. External tracks are shared by everyone who names the same song
and are not public: they never show in the catalog.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection
from django.db.models import Q

from catalog.models import Origin, Track, normalize_name

EXTERNAL_ORIGIN = Origin.EXTERNAL.value
NAME_MAX_CHARS = Track._meta.get_field("title").max_length
_CACHE_LIMIT = 100_000

MatchKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class TrackMetadata:
    artist_name: str
    track_name: str
    duration_ms: int | None = None

    @property
    def key(self) -> MatchKey:
        return match_key(self.artist_name, self.track_name)


def _fit(name: str) -> str:
    return name[:NAME_MAX_CHARS]


@functools.lru_cache(maxsize=65_536)
def match_key(artist_name: str, track_name: str) -> MatchKey:
    """Normalized (artist, title), as the catalog stores them for matching."""
    return (
        _fit(normalize_name(_fit(artist_name))),
        _fit(normalize_name(_fit(track_name))),
    )


class _TrackIdCache:
    """Normalized (artist, title) → track id, per process; emptied when it grows too big.

    Hits are checked against the table in one query by primary key (a track may have been
    deleted, its creation rolled back, or a published one withdrawn from the catalog), which
    is far cheaper than matching names.
    """

    def __init__(self) -> None:
        self.ids: dict[MatchKey, int] = {}

    def get_many(self, keys: Iterable[MatchKey]) -> dict[MatchKey, int]:
        hits = {key: self.ids[key] for key in keys if key in self.ids}
        if not hits:
            return hits
        alive = set(
            Track.objects.filter(_matchable(), pk__in=set(hits.values())).values_list(
                "pk", flat=True
            )
        )
        return {key: track_id for key, track_id in hits.items() if track_id in alive}

    def put_many(self, found: dict[MatchKey, int]) -> None:
        if len(self.ids) + len(found) > _CACHE_LIMIT:
            self.ids.clear()
        self.ids.update(found)


_track_ids = _TrackIdCache()


def resolve_tracks(metadata: Iterable[TrackMetadata]) -> dict[MatchKey, int]:
    """The track id for each item's match key, creating metadata-only tracks as needed.

    Call it inside the transaction that uses the ids. Concurrent callers never create
    two tracks for one key: on PostgreSQL the keys to create are locked (advisory
    transaction locks, in a fixed order) and looked up again under the lock; SQLite
    transactions already take the write lock when they begin.
    """
    wanted = {item.key: item for item in metadata}
    found = _track_ids.get_many(wanted)
    missing = [key for key in wanted if key not in found]
    if missing:
        found.update(_lookup(missing))
        missing = [key for key in missing if key not in found]
    if missing:
        _lock_keys(missing)
        found.update(_lookup(missing))
        created = _create([wanted[key] for key in missing if key not in found])
        found.update(created)
    _track_ids.put_many(found)
    return found


def _matchable() -> Q:
    """Public catalog tracks and shared external ones; never someone's private upload."""
    return Q(is_public=True) | Q(origin=EXTERNAL_ORIGIN)


def _lookup(keys: list[MatchKey]) -> dict[MatchKey, int]:
    wanted = set(keys)
    rows = (
        Track.objects.filter(_matchable())
        .filter(
            normalized_artist__in={artist for artist, _ in keys},
            normalized_title__in={title for _, title in keys},
        )
        .order_by("pk")
        .values_list("normalized_artist", "normalized_title", "pk")
    )
    found: dict[MatchKey, int] = {}
    for artist, title, track_id in rows.iterator(chunk_size=2000):
        if (artist, title) in wanted:
            found.setdefault((artist, title), track_id)
    return found


def _lock_keys(keys: list[MatchKey]) -> None:
    if connection.vendor != "postgresql":
        return
    lock_ids = sorted({_lock_id(key) for key in keys})
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(id) FROM unnest(%s::bigint[]) AS id", [lock_ids]
        )


def _lock_id(key: MatchKey) -> int:
    digest = hashlib.blake2b("\x1f".join(key).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _create(items: list[TrackMetadata]) -> dict[MatchKey, int]:
    tracks = [
        Track(
            title=_fit(item.track_name),
            artist=_fit(item.artist_name),
            origin=EXTERNAL_ORIGIN,
            is_public=False,
            duration_s=item.duration_ms / 1000 if item.duration_ms else None,
            normalized_artist=item.key[0],
            normalized_title=item.key[1],
        )
        for item in items
    ]
    Track.objects.bulk_create(tracks, batch_size=500)
    return {item.key: track.pk for item, track in zip(items, tracks, strict=True)}
