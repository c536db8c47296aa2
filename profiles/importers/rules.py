"""ListenBrainz's validation limits, shared by the REST API, /1/ and the importers.

Pure Python (no Django), so the importers can apply them while parsing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# ListenBrainz's LISTEN_MINIMUM_TS: no scrobbles exist from before Last.fm went live.
MIN_LISTENED_AT = datetime(2002, 10, 1, tzinfo=UTC)
MAX_FUTURE = timedelta(hours=1)
MAX_LISTEN_BYTES = 10_240
MAX_LISTENS_PER_REQUEST = 1000
MAX_NAME_CHARS = 1024
MAX_SOURCE_CHARS = 32


def listened_at_problem(listened_at: datetime, now: datetime) -> str | None:
    """Why ``listened_at`` is not acceptable, or None when it is."""
    if listened_at < MIN_LISTENED_AT:
        return f"listened_at is before {MIN_LISTENED_AT:%Y-%m-%d}."
    if listened_at > now + MAX_FUTURE:
        return "listened_at is more than an hour in the future."
    return None


def from_unix(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def parse_iso(text: str) -> datetime:
    """An ISO 8601 time; a time without a zone is taken as UTC."""
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
