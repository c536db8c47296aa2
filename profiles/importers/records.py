"""What the streaming parsers yield: one record per line (or per JSON item) of a file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from profiles.importers.rules import MAX_COUNT, MAX_NAME_CHARS, listened_at_problem


@dataclass(frozen=True, slots=True)
class ParsedListen:
    """One listen read from a file; ``line`` is its line (or, in a JSON array, item) number."""

    line: int
    artist_name: str
    track_name: str
    listened_at: datetime
    album: str = ""
    ms_played: int | None = None
    skipped: bool = False
    play_count: int = 1
    recording_mbid: str = ""


@dataclass(frozen=True, slots=True)
class SkippedLine:
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class OtherUserRow:
    """A row of a multi-user data set that belongs to a user other than the one imported."""

    line: int
    file_user: str


ImportRecord = ParsedListen | SkippedLine | OtherUserRow


class ImportFormatError(ValueError):
    """The file as a whole is not in the announced format."""


def checked_listen(
    *,
    line: int,
    artist_name: object,
    track_name: object,
    listened_at: datetime,
    now: datetime,
    **details: object,
) -> ParsedListen | SkippedLine:
    """A ParsedListen, or the reason this line cannot become one."""
    if not isinstance(artist_name, str) or not artist_name.strip():
        return SkippedLine(line, "no artist name")
    if not isinstance(track_name, str) or not track_name.strip():
        return SkippedLine(line, "no track name")
    if max(len(artist_name), len(track_name)) > MAX_NAME_CHARS:
        return SkippedLine(line, f"artist or track name longer than {MAX_NAME_CHARS} characters")
    texts = [artist_name, track_name, *(v for v in details.values() if isinstance(v, str))]
    if not all(_is_unicode(text) for text in texts):
        return SkippedLine(line, "not valid Unicode text (lone surrogates)")
    problem = listened_at_problem(listened_at, now)
    if problem:
        return SkippedLine(line, problem)
    ms_played = details.get("ms_played")
    if isinstance(ms_played, int) and not 0 <= ms_played <= MAX_COUNT:
        return SkippedLine(line, f"ms_played outside 0..{MAX_COUNT}")
    play_count = details.get("play_count", 1)
    if isinstance(play_count, int) and not 1 <= play_count <= MAX_COUNT:
        return SkippedLine(line, f"play count outside 1..{MAX_COUNT}")
    return ParsedListen(
        line=line,
        artist_name=_storable(artist_name),
        track_name=_storable(track_name),
        listened_at=listened_at,
        **{  # type: ignore[arg-type]
            name: _storable(value) if isinstance(value, str) else value
            for name, value in details.items()
        },
    )


def _is_unicode(text: str) -> bool:
    """False for text with lone surrogates (JSON's escapes allow them), which no database
    column can hold."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _storable(text: str) -> str:
    """Without NUL characters, which PostgreSQL text cannot hold."""
    return text.replace("\x00", "").strip()
