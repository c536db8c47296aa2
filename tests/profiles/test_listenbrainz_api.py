"""The ListenBrainz-compatible /1/ API, driven by the real liblistenbrainz client."""

from __future__ import annotations

import gc
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
