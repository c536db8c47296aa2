"""Playlists mixing recommended and generated tracks; staff curation of generated tracks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import Client

from catalog.midi.style_space import STYLES
from catalog.models import Origin, Track
from generation.models import GeneratedTrack, GenerationRequest, Playlist, ReviewStatus
from generation.services import complete_playlists, piece_seed, review_generated
from jobs.models import Job, JobStatus
from jobs.runner import run_job
from profiles.models import Listen
from tests.helpers import client_for

pytestmark = pytest.mark.django_db
PLAYLISTS = "/api/v1/playlists/"


def run_pending_jobs() -> None:
    for job in Job.objects.filter(status=JobStatus.QUEUED):
        run_job(job.pk, heartbeat=False)


@pytest.fixture
def listener(tiny_world, make_user):
    user = make_user("listener")
    start = datetime(2025, 3, 1, tzinfo=UTC)
    fiddle = list(Track.objects.filter(style_label="fiddle")[:2])
    Listen.objects.bulk_create(
        Listen(user=user, track=track, listened_at=start + timedelta(hours=i))
        for i, track in enumerate(fiddle * 3)
    )
    call_command("train_taste")
    return user


def test_playlists_need_a_taste_model(tiny_world, auth_client):
    response = auth_client.post(PLAYLISTS, {"length": 5}, format="json")
    assert response.status_code == 503
    assert "taste" in response.json()["detail"]


def test_a_playlist_mixes_recommendations_and_fresh_generations(listener):
    client = client_for(listener)
    created = client.post(
        PLAYLISTS, {"name": "Morning", "length": 5, "generated_share": 0.4}, format="json"
    )
    assert created.status_code == 202, created.json()
    playlist = created.json()
    assert playlist["status"] == "building"
    assert len(playlist["items"]) == 3
    heard = set(Listen.objects.filter(user=listener).values_list("track_id", flat=True))
    assert not heard & {item["track"]["id"] for item in playlist["items"]}

    run_pending_jobs()
    ready = client.get(f"{PLAYLISTS}{playlist['id']}/").json()
    assert ready["status"] == "ready"
    assert [item["position"] for item in ready["items"]] == [1, 2, 3, 4, 5]
    generated = [item for item in ready["items"] if item["track"]["ai_generated"]]
    assert len(generated) == 2
    assert all(item["reason"] for item in ready["items"])
    # Without a style classifier (this world has none) a piece has no style to name.
    assert [item["track"]["style"] for item in generated] == [None, None]
    assert {item["reason"] for item in generated} == {"freshly generated for you"}


def test_a_generated_piece_its_owner_deletes_leaves_the_playlist_without_a_gap(listener):
    client = client_for(listener)
    body = {"length": 5, "generated_share": 0.4}
    playlist = client.post(PLAYLISTS, body, format="json").json()
    run_pending_jobs()
    url = f"{PLAYLISTS}{playlist['id']}/"
    items = client.get(url).json()["items"]
    piece = next(item["track"] for item in items if item["track"]["ai_generated"])

    assert client.delete(f"/api/v1/tracks/{piece['id']}/").status_code == 204

    left = client.get(url).json()["items"]
    assert [item["track"]["id"] for item in left] == [
        item["track"]["id"] for item in items if item["track"]["id"] != piece["id"]
    ]
    assert [item["position"] for item in left] == [1, 2, 3, 4]
    assert client.get(url).json()["length"] == 4


def test_an_order_chosen_while_the_playlist_builds_is_kept_when_pieces_join(listener):
    client = client_for(listener)
    created = client.post(PLAYLISTS, {"length": 6, "generated_share": 0.34}, format="json")
    playlist = created.json()
    first, second, third, fourth = [item["track"]["id"] for item in playlist["items"]]
    arranged = [second, fourth, first, third]  # an order of the person's, not the flow's
    url = f"{PLAYLISTS}{playlist['id']}/"
    assert client.patch(url, {"tracks": arranged}, format="json").status_code == 200
    run_pending_jobs()
    ready = client.get(url).json()
    assert ready["status"] == "ready" and len(ready["items"]) == 6
    kept = [i["track"]["id"] for i in ready["items"] if not i["track"]["ai_generated"]]
    assert kept == arranged


def test_the_generated_share_preference_applies_when_the_request_does_not_say(listener):
    client = client_for(listener)
    client.patch("/api/v1/me/", {"preferences": {"generated_share": 0.0}}, format="json")
    by_preference = client.post(PLAYLISTS, {"length": 5}, format="json")
    assert by_preference.status_code == 201 and by_preference.json()["status"] == "ready"
    asked = client.post(PLAYLISTS, {"length": 5, "generated_share": 0.4}, format="json")
    assert asked.status_code == 202 and len(asked.json()["items"]) == 3


def test_a_generated_piece_is_explained_by_the_style_it_came_out_in(listener):
    created = client_for(listener).post(
        PLAYLISTS, {"length": 5, "generated_share": 0.4}, format="json"
    )
    playlist = Playlist.objects.get(pk=created.json()["id"])
    piece = Track.objects.create(
        title="Piece", style="madrigal", origin=Origin.GENERATED, owner=listener, is_public=False
    )
    complete_playlists(GenerationRequest.objects.get(job=playlist.job), [piece])
    assert playlist.items.get(track=piece).reason == "freshly generated for you, in madrigal"


def test_a_playlist_can_be_renamed_reordered_trimmed_and_deleted(listener, make_user):
    client = client_for(listener)
    playlist = client.post(PLAYLISTS, {"length": 5, "generated_share": 0}, format="json")
    assert playlist.status_code == 201
    body = playlist.json()
    assert body["status"] == "ready"
    url = f"{PLAYLISTS}{body['id']}/"
    order = [item["track"]["id"] for item in body["items"]][::-1][:4]
    updated = client.patch(url, {"name": "Evening", "tracks": order}, format="json")
    assert updated.status_code == 200, updated.json()
    assert updated.json()["name"] == "Evening"
    assert [item["track"]["id"] for item in updated.json()["items"]] == order
    assert updated.json()["length"] == 4
    emptied = client.patch(url, {"tracks": []}, format="json")
    assert emptied.status_code == 400 and "tracks" in emptied.json()

    foreign = client.patch(url, {"tracks": [*order, 999_999]}, format="json")
    assert foreign.status_code == 400
    assert "not in this playlist: [999999]" in foreign.json()["tracks"][0]
    twice = client.patch(url, {"tracks": [order[0], *order]}, format="json")
    assert twice.status_code == 400
    assert f"listed more than once: [{order[0]}]" in twice.json()["tracks"][0]
    assert len(client.get(url).json()["items"]) == 4

    assert client_for(make_user("nosy")).get(url).status_code == 404
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404


def test_a_playlist_counts_the_tracks_it_holds_when_the_catalog_has_fewer(listener):
    client = client_for(listener)
    created = client.post(PLAYLISTS, {"length": 40, "generated_share": 0}, format="json").json()
    url = f"{PLAYLISTS}{created['id']}/"
    held = [item["track"]["id"] for item in created["items"]]

    trimmed = client.patch(url, {"tracks": held[:2]}, format="json").json()

    assert created["status"] == "ready" and 0 < len(held) < 40
    assert created["length"] == len(held)
    assert trimmed["length"] == 2 and client.get(url).json()["length"] == 2


def test_a_building_playlist_counts_its_items_and_the_pieces_to_come(listener):
    client = client_for(listener)
    created = client.post(PLAYLISTS, {"length": 5, "generated_share": 0.4}, format="json").json()
    url = f"{PLAYLISTS}{created['id']}/"
    held = [item["track"]["id"] for item in created["items"]]
    Track.objects.filter(pk=held[0]).delete()  # staff delete a recommended track

    building = client.get(url).json()
    trimmed = client.patch(url, {"tracks": held[1:2]}, format="json").json()
    run_pending_jobs()
    ready = client.get(url).json()

    assert created["length"] == 5 and building["status"] == "building"
    assert building["length"] == 2 + 2
    assert trimmed["length"] == 1 + 2
    assert ready["status"] == "ready" and ready["length"] == len(ready["items"]) == 3


def test_a_person_who_wants_no_generated_tracks_gets_none_unless_they_ask(listener):
    client = client_for(listener)
    preferences = {"include_generated": False, "generated_share": 0.4}
    client.patch("/api/v1/me/", {"preferences": preferences}, format="json")

    by_preference = client.post(PLAYLISTS, {"length": 5}, format="json")
    asked = client.post(PLAYLISTS, {"length": 5, "generated_share": 0.4}, format="json")

    assert by_preference.status_code == 201, by_preference.json()
    assert by_preference.json()["generated_share"] == 0.0
    assert not any(item["track"]["ai_generated"] for item in by_preference.json()["items"])
    assert asked.status_code == 202 and asked.json()["generated_share"] == 0.4


def test_other_peoples_published_pieces_join_playlists_as_catalog_tracks(
    generated_track, make_user
):
    _, generated = generated_track
    curator = make_user("curator", staff=True)
    for decision in (ReviewStatus.APPROVED, ReviewStatus.PUBLISHED):
        review_generated(generated=generated, decision=decision, reviewer=curator)
    fan = make_user("fan")
    fiddle = Track.objects.filter(style_label="fiddle").first()
    Listen.objects.create(user=fan, track=fiddle, listened_at=datetime(2025, 3, 1, tzinfo=UTC))
    call_command("train_taste")
    client = client_for(fan)

    wanted = client.post(PLAYLISTS, {"length": 40, "generated_share": 0}, format="json")
    client.patch("/api/v1/me/", {"preferences": {"include_generated": False}}, format="json")
    unwanted = client.post(PLAYLISTS, {"length": 40, "generated_share": 0}, format="json")

    assert generated.track_id in [item["track"]["id"] for item in wanted.json()["items"]]
    assert generated.track_id not in [item["track"]["id"] for item in unwanted.json()["items"]]


@pytest.mark.parametrize(
    "payload", [{"length": 4}, {"length": 101}, {"length": 5, "generated_share": 1.5}, {}]
)
def test_bad_playlist_requests_are_400s(listener, payload):
    response = client_for(listener).post(PLAYLISTS, payload, format="json")
    assert response.status_code == 400


@pytest.fixture
def generated_track(tiny_world, make_user):
    owner = make_user("maker")
    response = client_for(owner).post("/api/v1/generations/", {"count": 1}, format="json")
    run_pending_jobs()
    return owner, GeneratedTrack.objects.get(request_id=response.json()["id"])


def admin_action(client, action: str, generated: GeneratedTrack):
    return client.post(
        "/admin/generation/generatedtrack/",
        {"action": action, "_selected_action": [generated.pk]},
    )


def test_staff_publish_and_reject_generated_tracks(generated_track, make_user):
    owner, generated = generated_track
    staff = make_user("curator", staff=True)
    staff.is_superuser = True
    staff.save()
    admin = Client()
    admin.force_login(staff)
    other = client_for(make_user("fan"))
    track_url = f"/api/v1/tracks/{generated.track_id}/"
    assert other.get(track_url).status_code == 404

    queue = admin.get("/admin/generation/generatedtrack/")
    assert queue.status_code == 200
    page = admin.get(f"/admin/generation/generatedtrack/{generated.pk}/change/").content.decode()
    assert "<audio" in page
    assert "Piano roll" in page
    assert generated.model_version in page

    refused = admin.post(
        "/admin/generation/generatedtrack/",
        {"action": "publish", "_selected_action": [generated.pk]},
        follow=True,
    )
    assert "pending tracks can become approved or rejected, not published" in (
        refused.content.decode()
    )
    generated.refresh_from_db()
    assert generated.review_status == ReviewStatus.PENDING
    assert other.get(track_url).status_code == 404

    assert admin_action(admin, "approve", generated).status_code == 302
    assert admin_action(admin, "publish", generated).status_code == 302
    generated.refresh_from_db()
    assert generated.review_status == ReviewStatus.PUBLISHED
    assert generated.reviewed_by == staff
    assert generated.reviewed_at is not None
    assert other.get(track_url).status_code == 200

    admin_action(admin, "reject", generated)
    assert other.get(track_url).status_code == 404
    assert client_for(owner).get(track_url).status_code == 200


def test_only_staff_can_curate(generated_track, make_user):
    _, generated = generated_track
    member = make_user("member")
    client = Client()
    client.force_login(member)
    response = admin_action(client, "publish", generated)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    generated.refresh_from_db()
    assert generated.review_status == ReviewStatus.PENDING


def _logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_repeated_decision_keeps_the_first_reviewer_and_is_logged_once(
    generated_track, make_user
):
    _, generated = generated_track
    first, second = (make_user(name, staff=True) for name in ("first", "second"))
    for curator in (first, second):
        curator.is_superuser = True
        curator.save()

    admin_action(_logged_in(first), "approve", generated)
    generated.refresh_from_db()
    approved_at = generated.reviewed_at
    again = _logged_in(second).post(
        "/admin/generation/generatedtrack/",
        {"action": "approve", "_selected_action": [generated.pk]},
        follow=True,
    )

    assert "1 already approved" in again.content.decode()
    generated.refresh_from_db()
    assert (generated.reviewed_by, generated.reviewed_at) == (first, approved_at)
    assert LogEntry.objects.filter(object_id=str(generated.pk)).count() == 1


def test_the_change_page_saves_unchanged_and_refuses_a_skipped_step(generated_track, make_user):
    _, generated = generated_track
    staff = make_user("curator", staff=True)
    staff.is_superuser = True
    staff.save()
    admin = _logged_in(staff)
    url = f"/admin/generation/generatedtrack/{generated.pk}/change/"

    unchanged = admin.post(url, {"review_status": "pending"})
    published = admin.post(url, {"review_status": "published"})

    assert unchanged.status_code == 302
    assert published.status_code == 200  # the form again, with the error
    assert "can become approved or rejected, not published" in published.content.decode()
    generated.refresh_from_db()
    assert generated.review_status == ReviewStatus.PENDING and generated.reviewed_by is None


def test_view_only_staff_see_the_queue_but_cannot_decide(generated_track, make_user):
    _, generated = generated_track
    viewer = make_user("viewer", staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_generatedtrack"))
    client = _logged_in(viewer)

    assert client.get("/admin/generation/generatedtrack/").status_code == 200
    client.post(
        "/admin/generation/generatedtrack/",
        {"action": "approve", "_selected_action": [generated.pk]},
    )

    generated.refresh_from_db()
    assert generated.review_status == ReviewStatus.PENDING


def test_track_admin_cannot_publish_a_generated_track_or_change_its_provenance(
    generated_track, make_user
):
    _, generated = generated_track
    staff = make_user("curator", staff=True)
    staff.is_superuser = True
    staff.save()
    admin = _logged_in(staff)
    track = generated.track
    url = f"/admin/catalog/track/{track.pk}/change/"
    form = {
        "title": "Renamed",
        "artist": track.artist,
        "style_label": "fiddle",
        "is_public": "on",
        "origin": "catalog",
        "collection": track.collection,
    }

    assert admin.post(url, form).status_code == 302
    track.refresh_from_db()
    assert track.title == "Renamed" and track.style == "fiddle"  # names and styles: staff's
    style_part = track.style_vector[: len(STYLES)]
    assert style_part == [1.0 if style == "fiddle" else 0.0 for style in STYLES]
    assert track.is_public is False and track.ai_generated is True
    assert track.origin == Origin.GENERATED
    assert admin.get("/admin/catalog/track/add/").status_code == 403


def test_a_rejected_track_leaves_other_peoples_playlists(generated_track, make_user):
    _, generated = generated_track
    curator, fan = make_user("curator", staff=True), make_user("fan")
    for decision in (ReviewStatus.APPROVED, ReviewStatus.PUBLISHED):
        review_generated(generated=generated, decision=decision, reviewer=curator)
    playlist = Playlist.objects.create(user=fan, name="mine", length=1, status="ready")
    playlist.items.create(position=1, track=generated.track, reason="new")
    url = f"/api/v1/playlists/{playlist.pk}/"
    assert [item["track"]["id"] for item in client_for(fan).get(url).json()["items"]] == [
        generated.track_id
    ]

    review_generated(generated=generated, decision=ReviewStatus.REJECTED, reviewer=curator)

    assert client_for(fan).get(url).json()["items"] == []


def test_nearby_request_seeds_share_no_piece():
    pieces = {seed: {piece_seed(seed, index, 0, 0) for index in range(8)} for seed in range(50)}
    for seed in range(49):
        assert not pieces[seed] & pieces[seed + 1]


def test_playlists_count_against_the_generation_quota(listener, settings):
    settings.GENERATION_MAX_CONCURRENT = 1
    client = client_for(listener)

    first = client.post(PLAYLISTS, {"length": 100, "generated_share": 1.0}, format="json")
    explicit = client.post(PLAYLISTS, {"length": 10, "generated_share": 0.5}, format="json")
    by_default = client.post(PLAYLISTS, {"length": 10}, format="json")

    assert first.status_code == 202
    assert GenerationRequest.objects.get().count == 8  # never more than one job may make
    assert explicit.status_code == 429 and "generation jobs in progress" in str(explicit.json())
    assert int(explicit["Retry-After"]) > 0
    assert by_default.status_code == 201 and by_default.json()["status"] == "ready"
    assert by_default.json()["generated_share"] == 0.0  # what it holds, not what was hoped
    assert all(not item["track"]["ai_generated"] for item in by_default.json()["items"])
    assert GenerationRequest.objects.count() == 1


def test_the_api_shows_staff_their_own_playlists_and_jobs_only(listener, make_user):
    created = client_for(listener).post(PLAYLISTS, {"length": 5}, format="json").json()
    staff = client_for(make_user("curator", staff=True))

    assert staff.get(PLAYLISTS).json()["results"] == []
    assert staff.get("/api/v1/generations/").json()["results"] == []
    assert staff.delete(f"{PLAYLISTS}{created['id']}/").status_code == 404
    assert Playlist.objects.filter(pk=created["id"]).exists()


def test_a_piece_others_kept_while_it_was_published_stays_when_its_owner_deletes_it(
    generated_track, make_user
):
    owner, generated = generated_track
    curator, fan = make_user("curator", staff=True), make_user("fan")
    for decision in (ReviewStatus.APPROVED, ReviewStatus.PUBLISHED):
        review_generated(generated=generated, decision=decision, reviewer=curator)
    listen = {"track": generated.track_id, "listened_at": "2026-11-01T10:00:00Z"}
    posted = client_for(fan).post("/api/v1/listens/", {"listens": [listen]}, format="json")
    assert posted.status_code == 201
    review_generated(generated=generated, decision=ReviewStatus.REJECTED, reviewer=curator)

    refused = client_for(owner).delete(f"/api/v1/tracks/{generated.track_id}/")

    assert refused.status_code == 409
    assert "Others have listened" in refused.json()["detail"]
    assert Listen.objects.filter(user=fan, track_id=generated.track_id).exists()


def test_a_piece_of_a_generation_still_running_is_not_deleted(generated_track):
    owner, generated = generated_track
    Job.objects.filter(pk=generated.request.job_id).update(status=JobStatus.RUNNING)

    refused = client_for(owner).delete(f"/api/v1/tracks/{generated.track_id}/")

    assert refused.status_code == 409
    assert "still running" in refused.json()["detail"]
    Job.objects.filter(pk=generated.request.job_id).update(status=JobStatus.SUCCEEDED)
    assert client_for(owner).delete(f"/api/v1/tracks/{generated.track_id}/").status_code == 204
    assert not GeneratedTrack.objects.filter(pk=generated.pk).exists()


def test_a_reorder_read_before_a_piece_joined_is_refused_when_it_says_so(listener):
    client = client_for(listener)
    body = {"length": 5, "generated_share": 0.2}
    created = client.post(PLAYLISTS, body, format="json")
    url = f"{PLAYLISTS}{created.json()['id']}/"
    read = client.get(url)
    version = created["ETag"]  # the answer to the creation carries it already
    assert read["ETag"] == version
    order = [item["track"]["id"] for item in reversed(read.json()["items"])]

    run_pending_jobs()  # the piece joins between the read and the reorder

    refused = client.patch(url, {"tracks": order}, format="json", HTTP_IF_MATCH=version)
    assert refused.status_code == 412
    assert "changed since you read it" in refused.json()["detail"]
    now = client.get(url)
    assert len(now.json()["items"]) == 5  # the piece stayed
    reordered = [item["track"]["id"] for item in reversed(now.json()["items"])]
    accepted = client.patch(url, {"tracks": reordered}, format="json", HTTP_IF_MATCH=now["ETag"])
    assert accepted.status_code == 200
    assert [item["track"]["id"] for item in accepted.json()["items"]] == reordered
    assert accepted["ETag"] != now["ETag"]


def test_a_retried_playlist_request_with_its_key_makes_one_playlist(listener):
    client = client_for(listener)
    body = {"name": "Run", "length": 5, "generated_share": 0.4}
    first = client.post(PLAYLISTS, body, format="json", HTTP_IDEMPOTENCY_KEY="run-1")
    retry = client.post(PLAYLISTS, body, format="json", HTTP_IDEMPOTENCY_KEY="run-1")
    other_body = client.post(
        PLAYLISTS, {**body, "length": 6}, format="json", HTTP_IDEMPOTENCY_KEY="run-1"
    )
    bad_key = client.post(PLAYLISTS, body, format="json", HTTP_IDEMPOTENCY_KEY="x" * 256)

    assert first.status_code == 202 and "Idempotent-Replayed" not in first
    assert retry.status_code == 202 and retry["Idempotent-Replayed"] == "true"
    assert retry.json()["id"] == first.json()["id"]
    assert other_body.status_code == 422 and "Idempotency-Key" in other_body.json()["detail"]
    assert bad_key.status_code == 400 and "Idempotency-Key" in bad_key.json()
    assert Playlist.objects.filter(user=listener).count() == 1
    assert GenerationRequest.objects.filter(user=listener).count() == 1

    assert client.delete(f"{PLAYLISTS}{first.json()['id']}/").status_code == 204
    gone = client.post(PLAYLISTS, body, format="json", HTTP_IDEMPOTENCY_KEY="run-1")
    assert gone.status_code == 409 and "deleted" in gone.json()["detail"]
    fresh = client.post(PLAYLISTS, body, format="json", HTTP_IDEMPOTENCY_KEY="run-2")
    assert fresh.status_code == 202 and fresh.json()["id"] != first.json()["id"]
