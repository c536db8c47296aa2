"""POST/GET /api/v1/listens/: batches, idempotence, matching, validation, privacy."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from catalog.models import Origin, Track
from profiles.models import Listen
from tests.helpers import client_for

pytestmark = pytest.mark.django_db
URL = "/api/v1/listens/"
T0 = 1_700_000_000


def submit(client, listens):
    return client.post(URL, {"listens": listens}, format="json")


def test_a_batch_is_stored_once_and_listed_newest_first(auth_client, user, make_track):
    tracks = [make_track(f"Chorale {i}", "J. S. Bach") for i in range(3)]
    listens = [
        {"track": track.pk, "listened_at": T0 + i * 60, "ms_played": 1000 * i}
        for i, track in enumerate(tracks)
    ]
    odd_source = 'my "player", \\ {v2}'
    listens.append(
        {
            "track": tracks[0].pk,
            "listened_at": datetime.fromtimestamp(T0 + 999, UTC).isoformat(),
            "source": odd_source,
        }
    )
    first = submit(auth_client, listens)
    assert first.status_code == 201, first.json()
    assert first.json() == {"accepted": 4, "duplicates": 0}
    again = submit(auth_client, listens)
    assert again.json() == {"accepted": 0, "duplicates": 4}
    assert Listen.objects.filter(user=user).count() == 4

    page = auth_client.get(URL).json()
    times = [row["listened_at"] for row in page["results"]]
    assert times == sorted(times, reverse=True) and len(times) == 4
    assert page["results"][0]["track"]["id"] == tracks[0].pk
    assert page["results"][0]["source"] == odd_source
    assert {row["source"] for row in page["results"][1:]} == {"api"}
    assert [row["ms_played"] for row in page["results"][1:]] == [2000, 1000, 0]
    since = auth_client.get(URL, {"since": T0 + 60, "until": T0 + 999}).json()
    assert {row["track"]["id"] for row in since["results"]} == {tracks[1].pk, tracks[2].pk}


@pytest.mark.parametrize("debug", [False, True])
def test_a_post_without_the_trailing_slash_is_served_not_redirected(
    auth_client, user, make_track, settings, debug
):
    settings.DEBUG = debug
    track = make_track("Reel")
    response = auth_client.post(
        URL.rstrip("/"), {"listens": [{"track": track.pk, "listened_at": T0}]}, format="json"
    )
    assert response.status_code == 201, response.content
    assert Listen.objects.filter(user=user, track=track).count() == 1
    assert auth_client.get("/api/v1/listens/nothing-here").status_code == 404


def test_duplicates_inside_one_batch_count_once(auth_client, make_track):
    track = make_track("Reel")
    listen = {"track": track.pk, "listened_at": T0}
    assert submit(auth_client, [listen, listen]).json() == {"accepted": 1, "duplicates": 1}


def test_metadata_matches_the_catalog_or_makes_one_shared_external_track(
    auth_client, make_user, make_track
):
    catalog_track = make_track("Army of Me", "Björk")
    response = submit(
        auth_client,
        [
            {
                "track_metadata": {"artist_name": "bjork", "track_name": "ARMY of me!"},
                "listened_at": T0,
            },
            {
                "track_metadata": {"artist_name": "Nobody Known", "track_name": "New Song"},
                "listened_at": T0 + 1,
            },
        ],
    )
    assert response.json() == {"accepted": 2, "duplicates": 0}
    other = client_for(make_user("bob"))
    body = {
        "track_metadata": {"artist_name": "nobody known", "track_name": "new song"},
        "listened_at": T0,
    }
    assert submit(other, [body]).json() == {"accepted": 1, "duplicates": 0}
    external = Track.objects.get(origin=Origin.EXTERNAL)
    assert (external.artist, external.title, external.is_public) == (
        "Nobody Known",
        "New Song",
        False,
    )
    assert set(Listen.objects.values_list("track_id", flat=True)) == {
        catalog_track.pk,
        external.pk,
    }


def test_invalid_items_are_named_by_index_and_field_and_nothing_is_stored(auth_client, make_track):
    track = make_track("Fine")
    now = timezone.now()
    listens = [
        {"track": track.pk, "listened_at": T0},
        {"track": track.pk, "listened_at": int((now + timedelta(hours=2)).timestamp())},
        {"track": track.pk, "listened_at": "2001-05-01T00:00:00Z"},
        {"track": track.pk, "listened_at": T0, "ms_played": -1},
        {"track": 999_999, "listened_at": T0},
        {"listened_at": T0},
        {"track_metadata": {"artist_name": "", "track_name": "x"}, "listened_at": T0},
        {"track": track.pk, "listened_at": T0 + 5, "source": "x" * 20_000},
    ]
    response = submit(auth_client, listens)
    assert response.status_code == 400
    errors = response.json()["listens"]
    assert set(errors) == {"1", "2", "3", "4", "5", "6", "7"}
    assert "999999" in errors["4"]["track"][0]
    assert "future" in errors["1"]["listened_at"][0]
    assert "2002-10-01" in errors["2"]["listened_at"][0]
    assert "ms_played" in errors["3"]
    assert "track" in errors["5"] and "track_metadata.artist_name" in errors["6"]
    assert "10240 bytes" in errors["7"]["non_field_errors"][0]
    assert not Listen.objects.exists()

    unknown_only = submit(auth_client, [listens[0], listens[4]])
    assert unknown_only.status_code == 400
    assert "999999" in unknown_only.json()["listens"]["1"]["track"][0]
    assert not Listen.objects.exists()


def test_an_out_of_range_track_id_beside_another_problem_is_a_400(auth_client):
    listens = [{"track": 2**63, "listened_at": T0}, {"track": 5, "listened_at": "soon"}]
    response = submit(auth_client, listens)
    assert response.status_code == 400
    assert set(response.json()["listens"]) == {"0", "1"}


def test_a_millisecond_timestamp_is_named_as_such(auth_client, make_track):
    track = make_track("Fine")
    response = submit(auth_client, [{"track": track.pk, "listened_at": T0 * 1000}])
    assert response.status_code == 400
    assert "milliseconds" in response.json()["listens"]["0"]["listened_at"][0]


@pytest.mark.parametrize(
    "body",
    [
        {"listens": []},
        {"listens": "nope"},
        {"nothing": 1},
        [1, 2],
        {"listens": [{"track": 1, "listened_at": T0}] * 1001},
    ],
)
def test_malformed_or_oversize_batches_are_refused(auth_client, body):
    response = auth_client.post(URL, body, format="json")
    assert response.status_code == 400
    assert "listens" in response.json()


def test_broken_json_is_refused(auth_client):
    response = auth_client.post(URL, data="{not json", content_type="application/json")
    assert response.status_code == 400 and not Listen.objects.exists()


def test_a_person_sees_and_names_only_their_own(auth_client, user, make_user, make_track):
    bob = make_user("bob")
    bobs_upload = make_track("Bob's private tune", owner=bob, public=False)
    public = make_track("Public tune")
    refused = submit(auth_client, [{"track": bobs_upload.pk, "listened_at": T0}])
    assert refused.status_code == 400 and "track" in refused.json()["listens"]["0"]
    assert submit(client_for(bob), [{"track": public.pk, "listened_at": T0}]).status_code == 201
    assert auth_client.get(URL).json()["results"] == []
    assert Listen.objects.filter(user=user).count() == 0


def test_anonymous_requests_are_refused(api_client):
    assert api_client.get(URL).status_code == 401
    assert api_client.post(URL, {"listens": []}, format="json").status_code == 401


def test_schema_documents_the_listen_endpoints(auth_client):
    schema = auth_client.get("/api/schema/", {"format": "json"})
    paths = json.loads(schema.content)["paths"]
    assert {"/api/v1/listens/", "/api/v1/listens/import/", "/api/v1/feedback/"} <= set(paths)
