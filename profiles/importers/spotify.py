"""Spotify extended streaming history (``Streaming_History_Audio_*.json``).

``ts`` is when the stream *ended*; a listen is stamped when it began, ``ts - ms_played``,
as ListenBrainz and Last.fm do. Podcast episodes and incognito plays are skipped; a play
shorter than 30 s that ended because the person skipped it is recorded as a skip.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, TextIO

from profiles.importers.jsonstream import iter_json_items
from profiles.importers.records import ImportRecord, SkippedLine, checked_listen
from profiles.importers.rules import parse_iso, started_at

SKIP_THRESHOLD_MS = 30_000
SKIP_END_REASONS = frozenset({"fwdbtn", "backbtn"})


def parse_spotify(stream: TextIO, *, now: datetime) -> Iterator[ImportRecord]:
    for item in iter_json_items(stream):
        if item.error:
            yield SkippedLine(item.number, item.error)
        else:
            yield listen_from_spotify(item.number, item.value, now=now)


def listen_from_spotify(number: int, row: Any, *, now: datetime) -> ImportRecord:
    if not isinstance(row, dict):
        return SkippedLine(number, "not a streaming history object")
    if row.get("episode_name") or row.get("spotify_episode_uri"):
        return SkippedLine(number, "podcast episode, not music")
    if row.get("incognito_mode"):
        return SkippedLine(number, "incognito play")
    ms_played = row.get("ms_played")
    if not isinstance(ms_played, int) or isinstance(ms_played, bool) or ms_played < 0:
        return SkippedLine(number, "ms_played missing or negative")
    try:
        ended_at = parse_iso(str(row.get("ts")))
    except ValueError:
        return SkippedLine(number, "ts missing or not an ISO 8601 time")
    try:
        listened_at = started_at(ended_at, ms_played)
    except ValueError:
        return SkippedLine(number, "ms_played reaches back before the year 1")
    ended_by_skip = bool(row.get("skipped")) or row.get("reason_end") in SKIP_END_REASONS
    return checked_listen(
        line=number,
        artist_name=row.get("master_metadata_album_artist_name"),
        track_name=row.get("master_metadata_track_name"),
        listened_at=listened_at,
        now=now,
        album=str(row.get("master_metadata_album_album_name") or ""),
        ms_played=ms_played,
        skipped=ended_by_skip and ms_played < SKIP_THRESHOLD_MS,
    )
