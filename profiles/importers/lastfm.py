"""Last.fm scrobbles: CSV exports, and the Last.fm-1K data set's TSV layout."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TextIO

from profiles.importers.records import (
    ImportRecord,
    OtherUserRow,
    SkippedLine,
    checked_listen,
)
from profiles.importers.rules import from_unix, parse_iso

# Exporters write the date as Last.fm shows it ("31 Jan 2021 12:34") or as Unix seconds.
_LASTFM_DATE_FORMATS = ("%d %b %Y %H:%M", "%d %b %Y, %H:%M", "%d %B %Y %H:%M")
_HEADER_ALIASES = {
    "artist": ("artist", "artist_name"),
    "album": ("album", "album_name", "release_name"),
    "track": ("track", "track_name", "title", "name"),
    "date": ("uts", "date", "timestamp", "utc_time", "listened_at"),
}
_POSITIONAL = {"artist": 0, "album": 1, "track": 2, "date": 3}
LASTFM_1K_FIELDS = 6


def parse_lastfm_date(text: str) -> datetime:
    text = text.strip()
    if text.isdigit():
        return from_unix(int(text))
    for pattern in _LASTFM_DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    return parse_iso(text)


def _header_columns(row: list[str]) -> dict[str, int] | None:
    """Column positions when ``row`` is a header naming artist and track, else None."""
    names = [cell.strip().lower() for cell in row]
    columns = {}
    for field, aliases in _HEADER_ALIASES.items():
        found = next((names.index(alias) for alias in aliases if alias in names), None)
        if found is not None:
            columns[field] = found
    return columns if {"artist", "track", "date"} <= columns.keys() else None


def parse_lastfm_csv(stream: TextIO, *, now: datetime) -> Iterator[ImportRecord]:
    """Rows of artist, album, track, date; a header row, if present, may reorder them."""
    reader = csv.reader(stream)
    columns = _POSITIONAL
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield SkippedLine(reader.line_num, f"not CSV ({exc})")
            continue
        line = reader.line_num
        if line == 1 and (header := _header_columns(row)):
            columns = header
            continue
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(columns.values()):
            yield SkippedLine(line, f"expected at least {max(columns.values()) + 1} columns")
            continue
        try:
            listened_at = parse_lastfm_date(row[columns["date"]])
        except (ValueError, OverflowError, OSError):
            yield SkippedLine(line, f"unreadable date {row[columns['date']]!r}")
            continue
        yield checked_listen(
            line=line,
            artist_name=row[columns["artist"]],
            track_name=row[columns["track"]],
            listened_at=listened_at,
            now=now,
            album=row[columns["album"]].strip() if "album" in columns else "",
        )


def parse_lastfm_1k(
    stream: TextIO, *, now: datetime, file_user: str | None = None
) -> Iterator[ImportRecord]:
    """userid, timestamp, artist MBID, artist name, track MBID, track name (tab-separated).

    The data set holds many people; only ``file_user``'s rows (by default, the first
    row's user) are listens, the others are reported as rows of other users.
    """
    for line, text in enumerate(stream, start=1):
        text = text.rstrip("\r\n")
        if not text.strip():
            continue
        fields = text.split("\t")
        if len(fields) != LASTFM_1K_FIELDS:
            yield SkippedLine(line, f"expected {LASTFM_1K_FIELDS} tab-separated fields")
            continue
        user, timestamp, _artist_mbid, artist, track_mbid, track = fields
        file_user = file_user or user
        if user != file_user:
            yield OtherUserRow(line, user)
            continue
        try:
            listened_at = parse_iso(timestamp)
        except ValueError:
            yield SkippedLine(line, f"unreadable timestamp {timestamp!r}")
            continue
        yield checked_listen(
            line=line,
            artist_name=artist,
            track_name=track,
            listened_at=listened_at,
            now=now,
            recording_mbid=track_mbid,
        )
