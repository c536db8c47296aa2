"""Streaming parsers for listening-history files; pure Python, no Django.

Each parser reads a text stream incrementally and yields one record per line (or JSON
item): a ParsedListen, a SkippedLine with its reason, or an OtherUserRow for rows of
other people in multi-user data sets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TextIO

from profiles.importers.hetrec import parse_hetrec
from profiles.importers.lastfm import parse_lastfm_1k, parse_lastfm_csv
from profiles.importers.listenbrainz import parse_listenbrainz
from profiles.importers.records import ImportRecord
from profiles.importers.spotify import parse_spotify

Parser = Callable[..., Iterator[ImportRecord]]

PARSERS: dict[str, Parser] = {
    "listenbrainz": parse_listenbrainz,
    "spotify": parse_spotify,
    "lastfm-csv": parse_lastfm_csv,
    "lastfm-1k": parse_lastfm_1k,
    "hetrec": parse_hetrec,
}
MULTI_USER_FORMATS = frozenset({"lastfm-1k", "hetrec"})
FORMATS = tuple(PARSERS)


def parse(format_name: str, stream: TextIO, **options: Any) -> Iterator[ImportRecord]:
    """Records of ``stream`` in ``format_name``; ``options`` go to that format's parser."""
    return PARSERS[format_name](stream, **options)
