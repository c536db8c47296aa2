"""Times at the edges of what a datetime holds, counts past 32 bits and NUL characters: each
is refused with a 400 or reported as a skipped line, never a 500, and on PostgreSQL too."""

from __future__ import annotations

import json

import pytest

from profiles.importing import MAX_SKIPPED_REPORTED
from profiles.models import Listen
from tests.profiles.test_imports import upload

pytestmark = pytest.mark.django_db

YEAR_ONE_EAST_OF_UTC = "0001-01-01T00:00:00+01:00"
YEAR_9999_WEST_OF_UTC = "9999-12-31T23:59:59-01:00"


def test_times_outside_the_years_one_to_9999_in_utc_are_a_field_error(auth_client, make_track):
    track = make_track("Fine")
    for listened_at in (YEAR_ONE_EAST_OF_UTC, YEAR_9999_WEST_OF_UTC):
        listens = {"listens": [{"track": track.pk, "listened_at": listened_at}]}
        response = auth_client.post("/api/v1/listens/", listens, format="json")
        assert response.status_code == 400, response.content
        assert "listened_at" in response.json()["listens"]["0"]
    for query in (f"since={YEAR_ONE_EAST_OF_UTC}", f"until={YEAR_9999_WEST_OF_UTC}"):
        response = auth_client.get("/api/v1/listens/", {query.split("=")[0]: query.split("=")[1]})
        assert response.status_code == 400, response.content
    assert not Listen.objects.exists()


def test_listenbrainz_reads_refuse_times_past_the_year_9999(auth_client, user):
    response = auth_client.get(f"/1/user/{user.username}/listens", {"max_ts": 1_099_511_627_775})
    assert response.status_code == 400, response.content
    assert response.json() == {"code": 400, "error": "max_ts is out of range."}


def test_imports_skip_lines_with_unusable_times_or_counts(auth_client, user):
    lastfm_1k = f"u\t{YEAR_ONE_EAST_OF_UTC}\t\tArtist\t\tSong\nu\t2009-05-04T13:08:57Z\t\tA\t\tB\n"
    report = upload(auth_client, lastfm_1k.encode(), "lastfm-1k").json()
    assert (report["accepted"], [s["line"] for s in report["skipped"]]) == (1, [1])

    spotify = [
        {
            "ts": ts,
            "ms_played": ms_played,
            "master_metadata_album_artist_name": "Artist",
            "master_metadata_track_name": f"Song {number}",
        }
        for number, (ts, ms_played) in enumerate(
            [
                ("0001-01-01T00:00:00Z", 1000),
                ("0001-01-01T00:30:00+01:00", 1000),
                ("2021-01-01T15:00:00Z", 3_000_000_000),
                ("2021-01-01T16:00:00Z", 200_000),
            ]
        )
    ]
    report = upload(auth_client, json.dumps(spotify).encode(), "spotify").json()
    assert report["accepted"] == 1
    assert [s["line"] for s in report["skipped"]] == [1, 2, 3]
    assert "ms_played" in report["skipped"][2]["reason"]
    assert Listen.objects.get(user=user, listened_at__year=2021).ms_played == 200_000


def test_imports_keep_listens_but_not_nul_characters_or_oversize_durations(auth_client, user):
    listenbrainz = {
        "listened_at": 1_600_000_000,
        "track_metadata": {
            "artist_name": "Artist",
            "track_name": "Song",
            "release_name": "Al\u0000bum",
            "additional_info": {"duration_ms": 3_000_000_000},
        },
    }
    report = upload(auth_client, json.dumps(listenbrainz).encode(), "listenbrainz").json()
    assert report["accepted"] == 1, report
    csv = "artist,album,track,date\nArtist,Re\x00cord,Other song,2021-01-01 12:00\n"
    assert upload(auth_client, csv.encode(), "lastfm-csv").json()["accepted"] == 1
    listens = Listen.objects.filter(user=user)
    albums = sorted(listen.track_metadata["release_name"] for listen in listens)
    assert albums == ["Album", "Record"]
    assert [listen.ms_played for listen in listens] == [None, None]


def test_listenbrainz_reads_answer_with_the_stored_user_name(auth_client, user):
    shouted = user.username.upper()
    for path in ("listens", "playing-now"):
        response = auth_client.get(f"/1/user/{shouted}/{path}")
        assert response.status_code == 200
        assert response.json()["payload"]["user_id"] == user.username


def test_an_import_of_mostly_junk_reports_the_first_skipped_lines_and_counts_them(auth_client):
    lines = ["artist,album,track,date", "Artist,Album,Song,2021-01-01 12:00"] + ["x"] * 5000
    report = upload(auth_client, "\n".join(lines).encode(), "lastfm-csv").json()
    assert report["accepted"] == 1
    assert report["skipped_count"] == 5000
    assert [s["line"] for s in report["skipped"]] == list(range(3, 3 + MAX_SKIPPED_REPORTED))


def test_a_number_too_large_for_a_float_is_no_unix_time(auth_client, make_track):
    track_id = make_track("Fine").pk
    body = f'{{"listens": [{{"track": {track_id}, "listened_at": 1e400}}]}}'
    response = auth_client.post("/api/v1/listens/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["listens"]["0"]["listened_at"] == ["Not a valid Unix time."]


def test_integers_too_long_for_any_time_or_count_are_refused_not_crashed_on(
    auth_client, make_track
):
    huge = int("9" * 401)
    track_id = make_track("Fine").pk
    body = f'{{"listens": [{{"track": {track_id}, "listened_at": {huge}}}]}}'
    response = auth_client.post("/api/v1/listens/", body, content_type="application/json")
    assert response.status_code == 400 and "listened_at" in response.json()["listens"]["0"]
    for since in ("9" * 5000, "\u00b2"):
        assert auth_client.get("/api/v1/listens/", {"since": since}).status_code == 400

    weights = ["12", "99999999999", "3000000000", "\u00b2"]
    hetrec = "userID\tartistID\tweight\n" + "".join(
        f"2\t{51 + n}\t{w}\n" for n, w in enumerate(weights)
    )
    report = upload(auth_client, hetrec.encode(), "hetrec").json()
    assert report["accepted"] == 1
    assert [s["line"] for s in report["skipped"]] == [3, 4, 5]
    assert "play count" in report["skipped"][1]["reason"]


def test_a_time_range_that_ends_before_it_begins_is_a_400(auth_client):
    response = auth_client.get("/api/v1/listens/", {"since": 1_700_000_300, "until": 1_700_000_000})
    assert response.status_code == 400
    assert response.json() == {"until": ["Must be later than since."]}


def test_imports_skip_lone_surrogates_and_refuse_json_nested_too_deeply(auth_client, user):
    lone_surrogate = (
        b'[{"listened_at": 1700000000, "track_metadata": {"artist_name": "\\ud800", '
        b'"track_name": "b"}}, {"listened_at": 1700000100, "track_metadata": '
        b'{"artist_name": "a", "track_name": "b"}}]'
    )
    report = upload(auth_client, lone_surrogate, "listenbrainz").json()
    assert report["accepted"] == 1
    assert report["skipped"] == [{"line": 1, "reason": "not valid Unicode text (lone surrogates)"}]

    answer = upload(auth_client, b"[" + b"[" * 5000 + b"]" * 5000 + b"]", "spotify")
    assert answer.status_code == 400
    assert "nested too deeply" in answer.json()["file"][0]
    assert Listen.objects.filter(user=user).count() == 1
