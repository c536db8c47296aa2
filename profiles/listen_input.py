"""Validation of submitted listens, shared by /api/v1/listens/ and ListenBrainz's /1/.

Hand-written rather than a DRF serializer: a 1000-listen batch is validated in a few
milliseconds, which the ingestion rate needs. Each problem names the item's index and
field; the two APIs only format the problems differently.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from catalog.external import TrackMetadata
from profiles.importers.rules import (
    MAX_COUNT,
    MAX_LISTEN_BYTES,
    MAX_NAME_CHARS,
    MAX_SOURCE_CHARS,
    from_unix,
    listened_at_problem,
    parse_iso,
)


@dataclass(frozen=True, slots=True)
class ListenInput:
    """One validated listen: of catalog track ``track_id``, or of ``metadata``.

    ``track_metadata`` is the metadata object as the client sent it, to be kept with the
    listen (album, MusicBrainz ids, tags and whatever else its player knows).
    """

    listened_at: datetime
    track_id: int | None = None
    metadata: TrackMetadata | None = None
    ms_played: int | None = None
    skipped: bool = False
    play_count: int = 1
    source: str | None = None
    track_metadata: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class PlayingNowInput:
    metadata: TrackMetadata
    track_metadata: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Problem:
    index: int
    field: str
    message: str


class ListenProblems(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} invalid listen fields")
        self.problems = problems


MAX_ID = 2**63 - 1
COUNT_MESSAGE = f"Expected an integer from 0 to {MAX_COUNT}."
# ListenBrainz's limits on what additional_info may hold.
MAX_TAGS = 50
MAX_TAG_CHARS = 64
SINGLE_MBID_KEYS = ("recording_mbid", "release_mbid", "release_group_mbid", "track_mbid")
MULTIPLE_MBID_KEYS = ("artist_mbids", "work_mbids")
MBID_MESSAGE = "Not a valid MusicBrainz id (UUID)."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def submitted_track_ids(items: Sequence[Any]) -> list[tuple[int, int]]:
    """``(index, track id)`` of the submitted items that name a track by a well-formed id."""
    return [
        (index, item["track"])
        for index, item in enumerate(items)
        if isinstance(item, dict) and _is_track_id(item.get("track"))
    ]


def _is_track_id(value: Any) -> bool:
    return _is_int(value) and 1 <= value <= MAX_ID


def _is_count(value: Any) -> bool:
    return _is_int(value) and 0 <= value <= MAX_COUNT


def text_problem(text: Any, max_chars: int, *, required: bool = True) -> str | None:
    """Why ``text`` cannot be stored as a name, or None."""
    if not isinstance(text, str):
        return "Expected a string."
    if required and not text.strip():
        return "A non-empty string is required."
    if len(text) > max_chars:
        return f"At most {max_chars} characters."
    if "\x00" in text:
        return "Must not contain NUL characters."
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "Not valid Unicode text (lone surrogates)."
    return None


# 10^11 seconds is the year 5138; as milliseconds it is March 1973, so a number this large is
# a millisecond timestamp sent where seconds belong.
_MILLISECONDS_FROM_1973 = 100_000_000_000


def read_timestamp(value: Any) -> datetime:
    """Unix seconds or ISO 8601; ValueError for anything else."""
    if _is_int(value) or isinstance(value, float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("Not a valid Unix time.")
        if abs(value) >= _MILLISECONDS_FROM_1973:
            raise ValueError("Unix time in seconds, please; this looks like milliseconds.")
        try:
            return from_unix(value)
        except (OverflowError, OSError, ValueError) as exc:
            raise ValueError("Not a valid Unix time.") from exc
    if isinstance(value, str):
        try:
            return parse_iso(value)
        except ValueError:
            raise ValueError("Not an ISO 8601 time or Unix seconds.") from None
    raise ValueError("Give an ISO 8601 time or Unix seconds.")


class _ItemReader:
    """Reads one submitted listen, collecting every problem instead of stopping at the first."""

    def __init__(self, index: int, item: Any, problems: list[Problem], now: datetime) -> None:
        self.index = index
        self.item = item
        self.problems = problems
        self.now = now

    def problem(self, field: str, message: str) -> None:
        self.problems.append(Problem(self.index, field, message))

    def listened_at(self, *, unix_only: bool = False) -> datetime | None:
        field = "listened_at"
        if field not in self.item:
            self.problem(field, "This field is required.")
            return None
        value = self.item[field]
        if unix_only:
            # ListenBrainz takes whatever int() takes: 1700000000.5 and "1700000000" too.
            value = _lenient_int_or_none(value)
            if value is None:
                self.problem(field, "Expected an integer (Unix seconds).")
                return None
        try:
            listened_at = read_timestamp(value)
        except ValueError as exc:
            self.problem(field, str(exc))
            return None
        problem = listened_at_problem(listened_at, self.now)
        if problem:
            self.problem(field, problem)
            return None
        return listened_at

    def metadata(self, value: Any, field: str = "track_metadata") -> TrackMetadata | None:
        if not isinstance(value, dict):
            self.problem(field, "Expected an object with artist_name and track_name.")
            return None
        names = {}
        for name in ("artist_name", "track_name"):
            text = value.get(name)
            problem = text_problem(text, MAX_NAME_CHARS)
            if problem:
                self.problem(f"{field}.{name}", problem)
            else:
                names[name] = text.strip()
        info = value.get("additional_info", {})
        if not isinstance(info, dict):
            self.problem(f"{field}.additional_info", "Expected an object.")
            info = {}
        problem = text_problem(value.get("release_name") or "", MAX_NAME_CHARS, required=False)
        if problem:
            self.problem(f"{field}.release_name", problem)
        duration_ms = self._duration_ms(value, info, field)
        mbid = value.get("recording_mbid")
        if mbid and not _is_uuid(mbid):
            self.problem(f"{field}.recording_mbid", MBID_MESSAGE)
        self._check_additional_info(info, f"{field}.additional_info")
        self._check_storable(value, field)
        if len(names) < 2 or self.failed:
            return None
        return TrackMetadata(
            artist_name=names["artist_name"],
            track_name=names["track_name"],
            duration_ms=duration_ms,
        )

    def _duration_ms(self, value: dict, info: dict, field: str) -> int | None:
        """The track's length: ``duration_ms``, or ListenBrainz's ``duration`` in seconds."""
        for key, scale in (("duration_ms", 1), ("duration", 1000)):
            raw = value.get(key, info.get(key))
            if raw is None:
                continue
            number = _lenient_int_or_none(raw)
            if number is None or not 0 <= number * scale <= MAX_COUNT:
                self.problem(f"{field}.{key}", COUNT_MESSAGE)
                return None
            return number * scale
        return None

    def _check_additional_info(self, info: dict, field: str) -> None:
        tags = info.get("tags", [])
        if not isinstance(tags, list) or len(tags) > MAX_TAGS:
            self.problem(f"{field}.tags", f"Expected a list of at most {MAX_TAGS} tags.")
        elif any(not isinstance(tag, str) or len(tag) > MAX_TAG_CHARS for tag in tags):
            self.problem(f"{field}.tags", f"Each tag is a string of at most {MAX_TAG_CHARS}.")
        for key in SINGLE_MBID_KEYS:
            if info.get(key) and not _is_uuid(info[key]):
                self.problem(f"{field}.{key}", MBID_MESSAGE)
        for key in MULTIPLE_MBID_KEYS:
            mbids = info.get(key) or []
            if not isinstance(mbids, list) or not all(_is_uuid(mbid) for mbid in mbids):
                self.problem(f"{field}.{key}", "Expected a list of MusicBrainz ids (UUIDs).")

    def _check_storable(self, value: dict, field: str) -> None:
        """What is kept as sent must be storable as JSON in every supported database."""
        try:
            text = json.dumps(value, ensure_ascii=False, allow_nan=False)
            text.encode("utf-8")
        except UnicodeEncodeError:
            self.problem(field, "Not valid Unicode text (lone surrogates).")
            return
        except ValueError:
            self.problem(field, "NaN and Infinity are not JSON numbers.")
            return
        if "\\u0000" in text:
            self.problem(field, "Must not contain NUL characters.")

    @property
    def failed(self) -> bool:
        return bool(self.problems) and self.problems[-1].index == self.index


def _is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _lenient_int_or_none(value: Any) -> int | None:
    """What Python's int() makes of a JSON number or numeric string, as ListenBrainz reads
    them; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return int(value)
    except (OverflowError, ValueError):
        return None


def _check_size(index: int, item: Any, problems: list[Problem], field: str) -> bool:
    # JSON never needs more than 12 characters per character of repr() (an escaped
    # surrogate pair), and repr() is cheaper: encode only items that might be too big.
    if len(repr(item)) * 12 > MAX_LISTEN_BYTES and len(json.dumps(item)) > MAX_LISTEN_BYTES:
        problems.append(Problem(index, field, f"A listen may be at most {MAX_LISTEN_BYTES} bytes."))
        return False
    return True


def read_api_listens(
    items: list[Any], *, now: datetime, body_bytes: int | None
) -> list[ListenInput]:
    """Listens of a /api/v1/listens/ batch; raises ListenProblems naming every bad field.

    ``body_bytes`` is the request's length, when known.
    """
    problems: list[Problem] = []
    listens = []
    # No item can exceed the limit when the whole body does not.
    check_sizes = body_bytes is None or body_bytes > MAX_LISTEN_BYTES
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(Problem(index, "non_field_errors", "Expected an object."))
            continue
        if check_sizes and not _check_size(index, item, problems, "non_field_errors"):
            continue
        listen = _read_api_item(_ItemReader(index, item, problems, now))
        if listen is not None:
            listens.append(listen)
    if problems:
        raise ListenProblems(problems)
    return listens


# What one listen of a /api/v1/listens/ batch may hold; anything else is named, not ignored.
API_LISTEN_FIELDS = ("track", "track_metadata", "listened_at", "ms_played", "skipped", "source")


def _read_api_item(reader: _ItemReader) -> ListenInput | None:
    item = reader.item
    for name in sorted(set(item) - set(API_LISTEN_FIELDS)):
        reader.problem(str(name), f"Unknown field; a listen takes: {', '.join(API_LISTEN_FIELDS)}.")
    track_id = item.get("track")
    metadata = None
    if (track_id is None) == (item.get("track_metadata") is None):
        reader.problem("track", "Give either a track id or track_metadata.")
    elif track_id is not None and not _is_track_id(track_id):
        reader.problem("track", "Expected a positive integer track id.")
    elif track_id is None:
        metadata = reader.metadata(item["track_metadata"])
    listened_at = reader.listened_at()
    ms_played = item.get("ms_played")
    if ms_played is not None and not _is_count(ms_played):
        reader.problem("ms_played", COUNT_MESSAGE)
    skipped = item.get("skipped", False)
    if not isinstance(skipped, bool):
        reader.problem("skipped", "Expected true or false.")
    source = item.get("source")
    problem = source is not None and text_problem(source, MAX_SOURCE_CHARS)
    if problem:
        reader.problem("source", problem)
    if reader.failed or listened_at is None:
        return None
    return ListenInput(
        listened_at=listened_at,
        track_id=track_id,
        metadata=metadata,
        ms_played=ms_played,
        skipped=skipped,
        source=source,
        track_metadata=item["track_metadata"] if metadata else None,
    )


def read_listenbrainz_listens(
    items: list[Any], *, now: datetime, playing_now: bool
) -> list[ListenInput | PlayingNowInput]:
    """Listens of a ListenBrainz ``payload``; for ``playing_now``, what is playing.

    Sizes are ListenBrainz's: the whole body within ``MAX_LISTEN_BYTES`` per listen (the
    view checks it), not each listen on its own.
    """
    problems: list[Problem] = []
    listens: list[ListenInput | PlayingNowInput] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(Problem(index, "listen", "Expected a JSON object."))
            continue
        reader = _ItemReader(index, item, problems, now)
        if "track_metadata" not in item:
            reader.problem("track_metadata", "This field is required.")
            continue
        metadata = reader.metadata(item["track_metadata"])
        if playing_now:
            if "listened_at" in item:
                reader.problem("listened_at", "Not allowed in a playing_now submission.")
            elif metadata is not None:
                listens.append(PlayingNowInput(metadata, item["track_metadata"]))
            continue
        listened_at = reader.listened_at(unix_only=True)
        if metadata is not None and listened_at is not None and not reader.failed:
            listens.append(
                ListenInput(
                    listened_at=listened_at,
                    metadata=metadata,
                    track_metadata=item["track_metadata"],
                )
            )
    if problems:
        raise ListenProblems(problems)
    return listens
