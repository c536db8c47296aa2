"""HetRec 2011 Last.fm-2K ``user_artists.dat``: total play counts per (user, artist).

The data set has no times and no tracks, so each (user, artist) row becomes ONE listen
that carries the count as its ``play_count`` weight: its track is the artist's
metadata-only track titled ``ARTIST_PLAYS_TITLE``, stamped at the data set's snapshot
date. A taste model reads ``play_count`` as the weight of that artist; a re-import
finds the same (track, time) and adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import TextIO

from profiles.importers.records import ImportRecord, OtherUserRow, SkippedLine, checked_listen
from profiles.importers.rules import is_plain_number

ARTIST_PLAYS_TITLE = "(all plays of this artist)"
# The data set's release (version 1.0, May 2011); the counts were collected before it.
SNAPSHOT_AT = datetime(2011, 5, 1, tzinfo=UTC)
_HEADER = ("userid", "artistid", "weight")


def read_hetrec_artists(stream: TextIO) -> dict[str, str]:
    """artist id → name, from ``artists.dat`` (id, name, url, pictureURL)."""
    names = {}
    for text in stream:
        fields = text.rstrip("\r\n").split("\t")
        if len(fields) >= 2 and is_plain_number(fields[0]):
            names[fields[0]] = fields[1]
    return names


def parse_hetrec(
    stream: TextIO,
    *,
    now: datetime,
    file_user: str | None = None,
    artist_names: Mapping[str, str] | None = None,
) -> Iterator[ImportRecord]:
    """Rows of userID, artistID, weight; artists without a known name are named by id."""
    names = artist_names or {}
    for line, text in enumerate(stream, start=1):
        fields = text.rstrip("\r\n").split("\t")
        if line == 1 and tuple(field.strip().lower() for field in fields) == _HEADER:
            continue
        if not text.strip():
            continue
        if len(fields) != len(_HEADER):
            yield SkippedLine(line, "expected userID, artistID and weight")
            continue
        user, artist_id, weight = (field.strip() for field in fields)
        file_user = file_user or user
        if user != file_user:
            yield OtherUserRow(line, user)
            continue
        # A count has at most 10 digits (32 bits); past 4300, int() itself refuses.
        if not is_plain_number(weight) or len(weight) > 10 or int(weight) == 0:
            yield SkippedLine(line, f"weight {weight!r} is not a positive play count")
            continue
        yield checked_listen(
            line=line,
            artist_name=names.get(artist_id, f"Last.fm-2K artist {artist_id}"),
            track_name=ARTIST_PLAYS_TITLE,
            listened_at=SNAPSHOT_AT,
            now=now,
            play_count=int(weight),
        )
