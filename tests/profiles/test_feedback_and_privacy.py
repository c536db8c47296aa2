"""Feedback with history, export and deletion of listening data, cross-user refusals."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from catalog.models import Track
from jobs.models import Job
from profiles.importing import IMPORT_JOB_KIND
from profiles.models import Feedback, FeedbackEvent, Listen, NowPlaying
from tests.helpers import client_for, exported

pytestmark = pytest.mark.django_db
T0 = 1_700_000_000


def test_feedback_keeps_one_current_value_and_the_whole_history(auth_client, user, make_track):
    track = make_track("Madrigal")
    for score in (1, -1):
        response = auth_client.post("/api/v1/feedback/", {"track": track.pk, "score": score})
        assert response.status_code == 200 and response.json()["score"] == score
    assert list(Feedback.objects.filter(user=user).values_list("score", flat=True)) == [-1]
    assert auth_client.get("/api/v1/feedback/").json()["results"][0]["score"] == -1

    cleared = auth_client.post("/api/v1/feedback/", {"track": track.pk, "score": 0})
    assert cleared.status_code == 200 and cleared.json()["score"] == 0
    assert not Feedback.objects.filter(user=user).exists()
    history = FeedbackEvent.objects.filter(user=user).order_by("created_at", "id")
    assert list(history.values_list("score", flat=True)) == [1, -1, 0]


@pytest.mark.parametrize("body", [{"track": 1, "score": 2}, {"score": 1}, {"track": 0, "score": 1}])
def test_feedback_validation(auth_client, body):
    assert auth_client.post("/api/v1/feedback/", body).status_code == 400


def test_nobody_gives_feedback_on_another_persons_private_track(auth_client, make_user, make_track):
    private = make_track("Private", owner=make_user("bob"), public=False)
    response = auth_client.post("/api/v1/feedback/", {"track": private.pk, "score": 1})
    assert response.status_code == 400 and "track" in response.json()
    assert not FeedbackEvent.objects.exists()


def test_feedback_is_private(auth_client, make_user, make_track):
    track = make_track("Shared")
    bob = client_for(make_user("bob"))
    bob.post("/api/v1/feedback/", {"track": track.pk, "score": 1})
    assert auth_client.get("/api/v1/feedback/").json()["results"] == []


def test_export_holds_listens_and_feedback_and_delete_removes_them(
    auth_client, user, make_user, make_track
):
    track = make_track("Jig", "O'Neill")
    listens = [{"track": track.pk, "listened_at": T0 + i} for i in range(3)]
    auth_client.post("/api/v1/listens/", {"listens": listens}, format="json")
    auth_client.post("/api/v1/feedback/", {"track": track.pk, "score": 1})
    bob = make_user("bob")
    client_for(bob).post("/api/v1/listens/", {"listens": listens[:1]}, format="json")

    upload = make_track("My tune", owner=user, public=False)
    make_track("Bob's tune", owner=bob, public=False)
    NowPlaying.objects.create(user=user, track=track, expires_at=timezone.now())
    Job.objects.create(kind=IMPORT_JOB_KIND, owner=user, params={"format": "spotify"})

    export = exported(auth_client)
    assert len(export["listens"]) == 3
    assert [row["id"] for row in export["uploads"]] == [upload.pk]
    assert export["now_playing"]["track_id"] == track.pk
    assert [(job["format"], job["status"]) for job in export["import_jobs"]] == [
        ("spotify", "queued")
    ]
    assert {row["track__title"] for row in export["listens"]} == {"Jig"}
    assert export["feedback"]["current"][0]["score"] == 1
    assert len(export["feedback"]["history"]) == 1

    assert auth_client.delete("/api/v1/me/").status_code == 204
    assert not get_user_model().objects.filter(pk=user.pk).exists()
    assert not Listen.objects.filter(user_id=user.pk).exists()
    assert not FeedbackEvent.objects.filter(user_id=user.pk).exists()
    assert Listen.objects.filter(user=bob).count() == 1


def test_other_peoples_external_tracks_cannot_be_named_by_id(make_user):
    alice, bob = make_user("alice"), make_user("bob")
    secret = {"artist_name": "Alice's Therapist", "track_name": "Episode 12"}
    listened_at = "2025-03-01T10:00:00Z"
    client_for(alice).post(
        "/api/v1/listens/",
        {"listens": [{"track_metadata": secret, "listened_at": listened_at}]},
        format="json",
    )
    external = Listen.objects.get(user=alice).track_id

    guessed = client_for(bob).post(
        "/api/v1/listens/",
        {"listens": [{"track": external, "listened_at": listened_at}]},
        format="json",
    )
    loved = client_for(bob).post("/api/v1/feedback/", {"track": external, "score": 1})
    own = client_for(alice).post("/api/v1/feedback/", {"track": external, "score": 1})

    assert guessed.status_code == 400 and "Unknown track id" in str(guessed.json())
    assert loved.status_code == 400
    assert own.status_code == 200  # her own listens show the id: she may love it
    assert not Listen.objects.filter(user=bob).exists()


def test_the_export_file_name_keeps_a_non_ascii_user_name(make_user):
    answer = client_for(make_user("zoë")).get("/api/v1/me/export/")
    disposition = answer["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=utf-8''musicsite-export-zo%C3%AB.json" in disposition


def test_deleting_a_person_in_the_admin_deletes_them_as_the_api_does(make_user, make_track):
    from django.test import Client

    from profiles.models import AccountDeletion

    leaver = make_user("leaver")
    shared = make_track("Published", owner=leaver, public=True)
    private = make_track("Draft", owner=leaver, public=False)
    admin = make_user("root", staff=True)
    admin.is_superuser = True
    admin.save()
    browser = Client()
    browser.force_login(admin)

    url = f"/admin/auth/user/{leaver.pk}/delete/"
    assert browser.post(url, {"post": "yes"}).status_code == 302

    assert not get_user_model().objects.filter(pk=leaver.pk).exists()
    shared.refresh_from_db()
    assert shared.owner is None
    assert not type(private).objects.filter(pk=private.pk).exists()
    assert AccountDeletion.objects.count() == 1


def test_a_track_withdrawn_from_the_catalog_is_no_longer_matched_by_name(make_user, make_track):
    track = make_track("Cooley's Reel", "Trad")
    by_name = {
        "track_metadata": {"artist_name": "Trad", "track_name": "Cooley's Reel"},
        "listened_at": "2026-11-01T10:00:00Z",
    }
    first, second = client_for(make_user("first")), client_for(make_user("second"))
    assert first.post("/api/v1/listens/", {"listens": [by_name]}, format="json").status_code == 201
    assert Listen.objects.get().track_id == track.pk  # matched, and remembered by name

    Track.objects.filter(pk=track.pk).update(is_public=False)  # staff withdraw it

    assert second.post("/api/v1/listens/", {"listens": [by_name]}, format="json").status_code == 201
    matched = Listen.objects.get(user__username="second").track
    assert matched.pk != track.pk and matched.origin == "external"
