"""ListenBrainz exports: a JSON array of listens, or JSON Lines (one listen per line)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, TextIO

from profiles.importers.jsonstream import iter_json_items
from profiles.importers.records import ImportRecord, SkippedLine, checked_listen
from profiles.importers.rules import MAX_COUNT, from_unix, parse_iso


def parse_listenbrainz(stream: TextIO, *, now: datetime) -> Iterator[ImportRecord]:
    for item in iter_json_items(stream):
        if item.error:
            yield SkippedLine(item.number, item.error)
        else:
            yield listen_from_listenbrainz(item.number, item.value, now=now)


def listen_from_listenbrainz(number: int, value: Any, *, now: datetime) -> ImportRecord:
    if not isinstance(value, dict) or not isinstance(value.get("track_metadata"), dict):
        return SkippedLine(number, "not a listen: no track_metadata object")
    listened_at = _timestamp(value.get("listened_at"))
    if listened_at is None:
        return SkippedLine(number, "listened_at missing or not a Unix or ISO 8601 time")
    metadata = value["track_metadata"]
    info = metadata.get("additional_info")
    info = info if isinstance(info, dict) else {}
    duration_ms = info.get("duration_ms")
    recording_mbid = info.get("recording_mbid") or (metadata.get("mbid_mapping") or {}).get(
        "recording_mbid"
    )
    return checked_listen(
        line=number,
        artist_name=metadata.get("artist_name"),
        track_name=metadata.get("track_name"),
        listened_at=listened_at,
        now=now,
        album=str(metadata.get("release_name") or ""),
        ms_played=duration_ms
        if isinstance(duration_ms, int) and 0 <= duration_ms <= MAX_COUNT
        else None,
        recording_mbid=str(recording_mbid or ""),
    )


def _timestamp(value: Any) -> datetime | None:
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return from_unix(value)
        if isinstance(value, str):
            return from_unix(int(value)) if value.isdigit() else parse_iso(value)
    except (ValueError, OverflowError, OSError):
        return None
    return None
