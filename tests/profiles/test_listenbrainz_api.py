"""The ListenBrainz-compatible /1/ API, driven by the real liblistenbrainz client."""

from __future__ import annotations

import gc
import json
import threading
import time
from datetime import datetime

import liblistenbrainz.client
import pytest
import requests
from liblistenbrainz import Listen as LbListen
from liblistenbrainz import ListenBrainz
from liblistenbrainz.errors import InvalidAuthTokenException, ListenBrainzAPIException

from profiles.models import Listen, NowPlaying
from tests.helpers import exported as export_of
from tests.helpers import wait_until

pytestmark = [pytest.mark.urls("tests.profiles.listenbrainz_urls")]


@pytest.fixture
def close_client_connections():
    """liblistenbrainz leaves sessions (in reference cycles) holding keep-alive connections;
    closing them lets the live server's threads end and release their database sessions."""
    yield
    gc.collect()
    liblistenbrainz.client.adapter.close()
    wait_until(
        lambda: not any("process_request" in t.name for t in threading.enumerate()),
        timeout=10,
        what="the live server's request threads to end",
    )


@pytest.mark.django_db(transaction=True)
def test_liblistenbrainz_round_trip(live_server, make_user, close_client_connections):
    alice = make_user("alice")
    make_user("bob")
    client = ListenBrainz(api_base_url=live_server.url)
    with pytest.raises(InvalidAuthTokenException):
        client.set_auth_token("not-a-token")
    client.set_auth_token(alice.auth_token.key)
    assert client.remaining_requests is not None and client.ratelimit_reset_in is not None

    now = int(time.time())
    single = LbListen("Army of Me", "Björk", listened_at=now - 600, release_name="Post")
    assert client.submit_single_listen(single) == {"status": "ok"}
    batch = [LbListen(f"Song {i}", "Band", listened_at=now - 3600 * (i + 1)) for i in range(3)]
    assert client.submit_multiple_listens(batch) == {"status": "ok"}
    assert client.submit_multiple_listens(batch) == {"status": "ok"}  # idempotent
    client.submit_playing_now(LbListen("Hyperballad", "Björk"))

    listens = client.get_listens("alice")
    assert [(x.artist_name, x.track_name, x.listened_at) for x in listens] == [
        ("Björk", "Army of Me", now - 600),
        *[("Band", f"Song {i}", now - 3600 * (i + 1)) for i in range(3)],
    ]
    assert [x.track_name for x in client.get_listens("alice", max_ts=now - 3000, count=1)] == [
        "Song 0"
    ]
    assert [x.track_name for x in client.get_listens("alice", min_ts=now - 3 * 3600)] == [
        "Army of Me",
        "Song 0",
        "Song 1",
    ]
    assert client.get_playing_now("alice").track_name == "Hyperballad"
    assert client.get_user_listen_count("alice") == 4

    too_old = LbListen("Old", "Band", listened_at=1_000_000_000)
    with pytest.raises(ListenBrainzAPIException) as refused:
        client.submit_single_listen(too_old)
    assert refused.value.status_code == 400 and "2002" in refused.value.message
    for read in (client.get_listens, client.get_playing_now, client.get_user_listen_count):
        with pytest.raises(ListenBrainzAPIException) as other:
            read("bob")
        assert other.value.status_code == 404

    rest = requests.get(
        f"{live_server.url}/api/v1/listens/",
        headers={"Authorization": f"Token {alice.auth_token.key}"},
        timeout=10,
    ).json()
    rest_times = [datetime.fromisoformat(row["listened_at"]) for row in rest["results"]]
    assert [int(at.timestamp()) for at in rest_times] == [x.listened_at for x in listens]
    assert [row["track"]["title"] for row in rest["results"]] == [
        "Army of Me",
        "Song 0",
        "Song 1",
        "Song 2",
    ]
    assert {row["source"] for row in rest["results"]} == {"listenbrainz"}
    assert Listen.objects.count() == 4 and NowPlaying.objects.filter(user=alice).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"listen_type": "single", "payload": []}, "non-empty"),
        ({"listen_type": "radio", "payload": [{}]}, "listen_type"),
        ({"listen_type": "single", "payload": [{"listened_at": 1_700_000_000}] * 2}, "one"),
        (
            {
                "listen_type": "playing_now",
                "payload": [
                    {"listened_at": 1, "track_metadata": {"artist_name": "a", "track_name": "b"}}
                ],
            },
            "listened_at",
        ),
        (
            {
                "listen_type": "single",
                "payload": [{"listened_at": "yesterday", "track_metadata": {"artist_name": "a"}}],
            },
            "Listen 0",
        ),
    ],
)
def test_submissions_are_validated_the_listenbrainz_way(auth_client, body, message):
    response = auth_client.post("/1/submit-listens", body, format="json")
    assert response.status_code == 400
    error = response.json()
    assert error["code"] == 400 and message in error["error"]
    assert "X-RateLimit-Remaining" in response.headers
    assert not Listen.objects.exists()


@pytest.mark.django_db
def test_validate_token_and_anonymous_submissions(api_client, user):
    assert api_client.get("/1/validate-token").status_code == 400
    valid = api_client.get("/1/validate-token", {"token": user.auth_token.key}).json()
    assert valid == {"code": 200, "message": "Token valid.", "valid": True, "user_name": "alice"}
    invalid = api_client.get("/1/validate-token", HTTP_AUTHORIZATION="Token nope").json()
    assert invalid["valid"] is False
    anonymous = api_client.post("/1/submit-listens", {}, format="json")
    assert anonymous.status_code == 401 and anonymous.json()["code"] == 401


def test_reads_name_the_user_without_regard_to_case(auth_client, make_user):
    assert auth_client.get("/1/user/ALICE/listen-count").status_code == 200
    make_user("bob")
    assert auth_client.get("/1/user/Bob/listen-count").status_code == 404


def _single(metadata: dict, listened_at: object = None) -> dict:
    listen = {"listened_at": int(time.time()) - 60 if listened_at is None else listened_at}
    return {"listen_type": "single", "payload": [{**listen, "track_metadata": metadata}]}


SCROBBLER_METADATA = {
    "artist_name": "Björk",
    "track_name": "Hyperballad",
    "release_name": "Post",
    "additional_info": {
        "recording_mbid": "7d2d3f2a-5ba6-4b1d-9a3b-0c6f6f0a2c11",
        "release_mbid": "3b6b3f2a-5ba6-4b1d-9a3b-0c6f6f0a2c12",
        "artist_mbids": ["87c5dedd-371d-4a53-9f7f-80522fb7f3cb"],
        "tags": ["trip hop", "electronic"],
        "tracknumber": 4,
        "duration_ms": 321000,
        "submission_client": "Pano Scrobbler",
        "listening_from": "Android",
    },
}


@pytest.mark.django_db
def test_what_the_player_sent_is_kept_and_read_back_as_sent(auth_client, user):
    assert (
        auth_client.post(
            "/1/submit-listens", _single(SCROBBLER_METADATA), format="json"
        ).status_code
        == 200
    )
    playing_now = {
        "listen_type": "playing_now",
        "payload": [{"track_metadata": SCROBBLER_METADATA}],
    }
    assert auth_client.post("/1/submit-listens", playing_now, format="json").status_code == 200

    listens = auth_client.get("/1/user/alice/listens").json()["payload"]["listens"]
    assert [listen["track_metadata"] for listen in listens] == [SCROBBLER_METADATA]
    playing = auth_client.get("/1/user/alice/playing-now").json()["payload"]["listens"]
    assert [listen["track_metadata"] for listen in playing] == [SCROBBLER_METADATA]
    rest = auth_client.get("/api/v1/listens/").json()["results"]
    assert [row["track_metadata"] for row in rest] == [SCROBBLER_METADATA]
    exported = export_of(auth_client)
    assert [row["track_metadata"] for row in exported["listens"]] == [SCROBBLER_METADATA]


@pytest.mark.django_db
def test_punctuation_only_names_are_different_songs(auth_client):
    names = [("!!!", "Heart of Hearts"), ("???", "Heart of Hearts"), ("Sigur Rós", "( )")]
    now = int(time.time())
    body = {
        "listen_type": "import",
        "payload": [
            {"listened_at": now - 60 * i, "track_metadata": {"artist_name": a, "track_name": t}}
            for i, (a, t) in enumerate(names)
        ],
    }
    assert auth_client.post("/1/submit-listens", body, format="json").status_code == 200

    assert Listen.objects.values("track").distinct().count() == 3
    listens = auth_client.get("/1/user/alice/listens").json()["payload"]["listens"]
    shown = [
        (x["track_metadata"]["artist_name"], x["track_metadata"]["track_name"]) for x in listens
    ]
    assert shown == names


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("listened_at", "duration_ms"),
    [(1_700_000_000.7, "312000"), ("1700000000", 312000.0)],
)
def test_numbers_are_read_as_listenbrainz_reads_them(auth_client, listened_at, duration_ms):
    metadata = {
        "artist_name": "Dool",
        "track_name": "Vantablack",
        "additional_info": {"duration_ms": duration_ms},
    }
    response = auth_client.post("/1/submit-listens", _single(metadata, listened_at), format="json")

    assert response.status_code == 200, response.json()
    listen = Listen.objects.select_related("track").get()
    assert listen.listened_at.timestamp() == 1_700_000_000
    assert listen.track.duration_s == 312


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("additional_info", "field"),
    [
        ({"tags": ["x"] * 51}, "additional_info.tags"),
        ({"tags": ["x" * 65]}, "additional_info.tags"),
        ({"release_mbid": "not-an-mbid"}, "additional_info.release_mbid"),
        ({"artist_mbids": ["87c5dedd-371d-4a53-9f7f-80522fb7f3cb", "nope"]}, "artist_mbids"),
        ({"comment": "a\x00b"}, "NUL"),
        ({"rating": float("nan")}, "NaN"),
        ({"duration_ms": "long"}, "duration_ms"),
    ],
)
def test_additional_info_that_listenbrainz_refuses_is_refused(auth_client, additional_info, field):
    metadata = {"artist_name": "a", "track_name": "b", "additional_info": additional_info}
    body = json.dumps(_single(metadata))  # allows NaN, as a careless client would send it

    response = auth_client.post("/1/submit-listens", body, content_type="application/json")

    assert response.status_code == 400
    assert field in response.json()["error"]
    assert not Listen.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("scheme", ["Token", "token", "Bearer"])
def test_the_token_is_read_under_any_scheme_word(api_client, user, scheme):
    header = f"{scheme} {user.auth_token.key}"
    validated = api_client.get("/1/validate-token", HTTP_AUTHORIZATION=header).json()
    assert validated["valid"] is True

    submitted = api_client.post(
        "/1/submit-listens",
        _single({"artist_name": "a", "track_name": "b"}),
        format="json",
        HTTP_AUTHORIZATION=header,
    )
    assert submitted.status_code == 200
    assert Listen.objects.filter(user=user).count() == 1


@pytest.mark.django_db
def test_playing_now_lasts_as_long_as_its_duration_in_seconds(auth_client, user):
    metadata = {"artist_name": "a", "track_name": "b", "additional_info": {"duration": 90}}
    body = {"listen_type": "playing_now", "payload": [{"track_metadata": metadata}]}
    assert auth_client.post("/1/submit-listens", body, format="json").status_code == 200

    playing = NowPlaying.objects.get(user=user)
    assert (playing.expires_at - playing.started_at).total_seconds() == 90


@pytest.mark.django_db
def test_listen_window_count_is_capped_and_an_empty_count_is_the_default(auth_client):
    now = int(time.time())
    body = {
        "listen_type": "import",
        "payload": [
            {"listened_at": now - i, "track_metadata": {"artist_name": "a", "track_name": f"{i}"}}
            for i in range(30)
        ],
    }
    assert auth_client.post("/1/submit-listens", body, format="json").status_code == 200

    capped = auth_client.get("/1/user/alice/listens", {"count": 5000}).json()["payload"]
    default = auth_client.get("/1/user/alice/listens", {"count": ""}).json()["payload"]
    assert capped["count"] == 30 and default["count"] == 25


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/1/submit-listens", "/api/v1/listens/"])
def test_web_apps_on_other_origins_may_call_the_token_apis(api_client, user, path):
    origin = "https://player.example.org"
    preflight = api_client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"]

    api_client.credentials(HTTP_AUTHORIZATION=f"Token {user.auth_token.key}")
    answer = api_client.post(path, _single_or_batch(path), format="json", HTTP_ORIGIN=origin)
    assert answer.status_code in (200, 201)
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in answer.headers
    admin = api_client.get("/admin/login/", HTTP_ORIGIN=origin)
    assert "Access-Control-Allow-Origin" not in admin.headers


@pytest.mark.django_db
def test_web_apps_may_send_conditional_and_retried_requests_and_read_their_headers(api_client):
    preflight = api_client.options(
        "/api/v1/playlists/",
        HTTP_ORIGIN="https://player.example.org",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="PATCH",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, if-match, idempotency-key",
    )
    allowed = preflight.headers["Access-Control-Allow-Headers"]
    assert "if-match" in allowed and "idempotency-key" in allowed
    answer = api_client.get("/api/v1/styles/", HTTP_ORIGIN="https://player.example.org")
    exposed = answer.headers["Access-Control-Expose-Headers"]
    assert "ETag" in exposed and "Idempotent-Replayed" in exposed


def _single_or_batch(path: str) -> dict:
    metadata = {"artist_name": "a", "track_name": "b"}
    if path.startswith("/1/"):
        return _single(metadata)
    return {"listens": [{"track_metadata": metadata, "listened_at": int(time.time()) - 60}]}


def test_an_unknown_listenbrainz_path_answers_in_listenbrainz_shape(api_client, settings):
    settings.ROOT_URLCONF = "musicsite.urls"
    settings.DEBUG = False  # with DEBUG on, Django answers its own HTML page instead
    answer = api_client.get("/1/no-such-endpoint")
    assert answer.status_code == 404
    assert answer.json() == {"code": 404, "error": "Not found."}
    assert api_client.get("/api/v1/no-such-endpoint/").json() == {"detail": "Not found."}


@pytest.mark.django_db
def test_listen_sizes_are_limited_in_aggregate_as_listenbrainz_does(auth_client):
    now = int(time.time())
    notes = {"artist_name": "a", "track_name": "long", "additional_info": {"notes": "x" * 10_500}}
    small = [
        {"listened_at": now - i, "track_metadata": {"artist_name": "a", "track_name": f"{i}"}}
        for i in range(1, 6)
    ]
    one_big_among_small = {
        "listen_type": "import",
        "payload": [{"listened_at": now, "track_metadata": notes}, *small],
    }
    alone = {"listen_type": "import", "payload": [{"listened_at": now, "track_metadata": notes}]}

    accepted = auth_client.post("/1/submit-listens", one_big_among_small, format="json")
    refused = auth_client.post("/1/submit-listens", alone, format="json")

    assert accepted.status_code == 200
    assert refused.status_code == 400 and "In aggregate" in refused.json()["error"]
    assert Listen.objects.count() == 6
