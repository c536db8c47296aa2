"""The streaming parsers, on real data sets where they are present and on small files."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from profiles.importers import jsonstream, parse
from profiles.importers.hetrec import ARTIST_PLAYS_TITLE, SNAPSHOT_AT, read_hetrec_artists
from profiles.importers.records import OtherUserRow, ParsedListen, SkippedLine
from tests.helpers import SHARED_DATA

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LASTFM_1K = (
    SHARED_DATA / "lastfm-1k-sample" / "userid-timestamp-artid-artname-traid-traname.head5000.tsv"
)
HETREC = SHARED_DATA / "lastfm-2k"


def records(format_name: str, text: str, **options):
    return list(parse(format_name, io.StringIO(text), now=NOW, **options))


def split(items):
    listens = [r for r in items if isinstance(r, ParsedListen)]
    skipped = [r for r in items if isinstance(r, SkippedLine)]
    others = [r for r in items if isinstance(r, OtherUserRow)]
    return listens, skipped, others


class CountingStream(io.StringIO):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.chars_read = 0

    def read(self, size: int = -1) -> str:
        chunk = super().read(size)
        self.chars_read += len(chunk)
        return chunk


def lb_listen(ts: int, artist: str = "Artist", track: str = "Track") -> dict:
    return {"listened_at": ts, "track_metadata": {"artist_name": artist, "track_name": track}}


@pytest.mark.parametrize("chunk_chars", [7, 1 << 16])
def test_json_array_streams_item_by_item_across_chunk_boundaries(monkeypatch, chunk_chars):
    monkeypatch.setattr(jsonstream, "CHUNK_CHARS", chunk_chars)
    items = [lb_listen(1_600_000_000 + i, track=f"Track {i}") for i in range(300)]
    stream = CountingStream(" \n" + json.dumps(items, indent=1))
    parsed = parse("listenbrainz", stream, now=NOW)
    first = next(parsed)
    assert first.track_name == "Track 0"
    if chunk_chars < 100:
        assert stream.chars_read < len(stream.getvalue()) / 10
    rest = list(parsed)
    assert [r.track_name for r in [first, *rest]] == [f"Track {i}" for i in range(300)]
    assert [r.line for r in rest][:2] == [2, 3]


def test_listenbrainz_jsonl_reports_bad_lines_and_goes_on():
    lines = [
        json.dumps(lb_listen(1_600_000_000)),
        "{not json",
        json.dumps(lb_listen(1_000_000_000)),  # 2001: before ListenBrainz's minimum
        json.dumps({"listened_at": 1_600_000_001}),
        "",
        json.dumps(lb_listen(1_600_000_002, track="Last")),
    ]
    listens, skipped, _ = split(records("listenbrainz", "\n".join(lines)))
    assert [listen.track_name for listen in listens] == ["Track", "Last"]
    assert listens[1].line == 6
    assert [s.line for s in skipped] == [2, 3, 4]
    assert "malformed" in skipped[0].reason
    assert "2002-10-01" in skipped[1].reason
    assert "track_metadata" in skipped[2].reason


def test_malformed_json_array_stops_with_a_reason():
    text = json.dumps([lb_listen(1_600_000_000)])[:-1] + ", {oops}]"
    listens, skipped, _ = split(records("listenbrainz", text))
    assert len(listens) == 1
    assert skipped[0].line == 2 and "rest was not read" in skipped[0].reason


def test_spotify_history_skips_podcasts_incognito_and_marks_short_skips():
    base = {
        "ts": "2023-03-01T10:00:00Z",
        "ms_played": 200_000,
        "master_metadata_track_name": "Song",
        "master_metadata_album_artist_name": "Band",
        "master_metadata_album_album_name": "Album",
        "spotify_track_uri": "spotify:track:x",
        "reason_end": "trackdone",
        "skipped": False,
        "incognito_mode": False,
    }
    rows = [
        base,
        {**base, "ms_played": 12_000, "reason_end": "fwdbtn", "skipped": True},
        {**base, "ms_played": 40_000, "reason_end": "fwdbtn", "skipped": True},
        {**base, "incognito_mode": True},
        {
            **base,
            "master_metadata_track_name": None,
            "master_metadata_album_artist_name": None,
            "episode_name": "A podcast",
            "spotify_episode_uri": "spotify:episode:y",
        },
        {**base, "ms_played": -5},
    ]
    listens, skipped, _ = split(records("spotify", json.dumps(rows)))
    assert [listen.skipped for listen in listens] == [False, True, False]
    ended = datetime(2023, 3, 1, 10, tzinfo=UTC)
    assert listens[0].listened_at == ended - timedelta(milliseconds=200_000)
    assert listens[0].album == "Album" and listens[0].ms_played == 200_000
    reasons = {s.line: s.reason for s in skipped}
    assert set(reasons) == {4, 5, 6}
    assert "incognito" in reasons[4] and "podcast" in reasons[5] and "negative" in reasons[6]


def test_lastfm_csv_positional_and_with_header():
    positional = (
        'Radiohead,OK Computer,"Paranoid Android",31 Jan 2021 12:34\n'
        "Radiohead,,Airbag,not a date\n"
        "Björk,Post,Army of Me,1612096440\n"
    )
    listens, skipped, _ = split(records("lastfm-csv", positional))
    assert [(r.artist_name, r.track_name) for r in listens] == [
        ("Radiohead", "Paranoid Android"),
        ("Björk", "Army of Me"),
    ]
    assert listens[0].listened_at == datetime(2021, 1, 31, 12, 34, tzinfo=UTC)
    assert listens[1].listened_at == datetime.fromtimestamp(1612096440, tz=UTC)
    assert skipped == [SkippedLine(2, "unreadable date 'not a date'")]

    with_header = "uts,utc_time,artist,album,track\n1612096440,x,Björk,Post,Army of Me\n"
    listens, skipped, _ = split(records("lastfm-csv", with_header))
    assert (listens[0].artist_name, listens[0].album, listens[0].line) == ("Björk", "Post", 2)


def test_lastfm_1k_sample_keeps_the_first_user_and_counts_the_others():
    if not LASTFM_1K.exists():
        pytest.skip(f"Last.fm-1K sample not found at {LASTFM_1K}")
    with LASTFM_1K.open(encoding="utf-8") as stream:
        rows = [line.rstrip("\n").split("\t") for line in stream]
    with LASTFM_1K.open(encoding="utf-8") as stream:
        listens, skipped, others = split(list(parse("lastfm-1k", stream, now=NOW)))
    first_user = rows[0][0]
    assert len(listens) + len(skipped) == sum(row[0] == first_user for row in rows)
    assert len(others) == sum(row[0] != first_user for row in rows) > 0
    sample = listens[10]
    row = rows[sample.line - 1]
    assert (sample.artist_name, sample.track_name) == (row[3].strip(), row[5].strip())
    assert sample.listened_at == datetime.fromisoformat(row[1])
    with LASTFM_1K.open(encoding="utf-8") as stream:
        chosen = list(parse("lastfm-1k", stream, now=NOW, file_user=others[0].file_user))
    assert sum(isinstance(r, ParsedListen) for r in chosen) == len(others)


def test_hetrec_aggregates_become_weighted_listens_of_artist_tracks():
    if not HETREC.exists():
        pytest.skip(f"HetRec Last.fm-2K data not found at {HETREC}")
    with (HETREC / "artists.dat").open(encoding="utf-8") as stream:
        names = read_hetrec_artists(stream)
    with (HETREC / "user_artists.dat").open(encoding="utf-8") as stream:
        rows = [line.split() for line in stream][1:]
    with (HETREC / "user_artists.dat").open(encoding="utf-8") as stream:
        listens, skipped, others = split(
            list(parse("hetrec", stream, now=NOW, file_user="3", artist_names=names))
        )
    expected = [(names[a], int(w)) for u, a, w in rows if u == "3"]
    assert [(r.artist_name, r.play_count) for r in listens] == expected
    assert {r.track_name for r in listens} == {ARTIST_PLAYS_TITLE}
    assert {r.listened_at for r in listens} == {SNAPSHOT_AT}
    assert not skipped
    assert len(others) == len(rows) - len(expected)
