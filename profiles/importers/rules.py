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
# Play counts and milliseconds are stored as 32-bit integers (PostgreSQL's integer).
MAX_COUNT = 2**31 - 1
# The last second a datetime can hold: 9999-12-31T23:59:59Z.
MAX_UNIX_SECONDS = 253_402_300_799


def listened_at_problem(listened_at: datetime, now: datetime) -> str | None:
    """Why ``listened_at`` is not acceptable, or None when it is."""
    if listened_at < MIN_LISTENED_AT:
        return f"listened_at is before {MIN_LISTENED_AT:%Y-%m-%d}."
    if listened_at > now + MAX_FUTURE:
        return "listened_at is more than an hour in the future."
    return None


def is_plain_number(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also takes "²", which ``int`` refuses."""
    return text.isascii() and text.isdigit()


def from_unix(seconds: float) -> datetime:
    """ValueError (never OverflowError or OSError) for a time a datetime cannot hold."""
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError) as exc:
        raise ValueError(f"{seconds} is not a Unix time between the years 1 and 9999.") from exc


def parse_iso(text: str) -> datetime:
    """An ISO 8601 time; a time without a zone is taken as UTC. ValueError also for a time
    that leaves the years 1 to 9999 once moved to UTC."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(f"{text!r} in UTC lies outside the years 1 to 9999.") from exc


def started_at(ended_at: datetime, milliseconds: int) -> datetime:
    """When a play of ``milliseconds`` that ended at ``ended_at`` began; ValueError before
    the year 1."""
    try:
        return ended_at - timedelta(milliseconds=milliseconds)
    except OverflowError as exc:
        raise ValueError(f"{milliseconds} ms before {ended_at} is before the year 1.") from exc
