"""The taste model and recommendations through the public API and the train command."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from artifacts.models import ModelArtifact
from artifacts.services import load_active
from catalog.midi.style_space import STYLES, compose_vector, one_hot_style
from catalog.models import Track
from jobs.models import Job
from jobs.runner import run_job
from jobs.services import submit_due_periodic_jobs
from profiles.models import Listen, Profile
from recommender.dataset import load_training_data
from recommender.selectors import recommend_for
from recommender.services import TASTE_KIND, load_bundle, store_tastes, taste_retraining_is_due
from tests.helpers import client_for, wait_until

pytestmark = pytest.mark.django_db
RECOMMENDATIONS = "/api/v1/recommendations/"
STYLES_USED = ("fiddle", "chorale", "madrigal")


@pytest.fixture(autouse=True)
def model_root(settings, tmp_path):
    settings.MODEL_ROOT = tmp_path / "models"


def make_track(style: str, number: int, **fields) -> Track:
    vector = compose_vector(one_hot_style(style), np.full(5, 0.5, dtype=np.float32))
    return Track.objects.create(
        title=f"{style} tune {number}",
        artist=f"{style} composer",
        style=style,
        style_label=style,
        style_vector=vector.tolist(),
        is_public=fields.pop("is_public", True),
        duration_s=120.0,
        **fields,
    )


@pytest.fixture
def catalog():
    return {style: [make_track(style, n) for n in range(8)] for style in STYLES_USED}


def listen(user, tracks, start=datetime(2025, 6, 1, tzinfo=UTC)):
    Listen.objects.bulk_create(
        Listen(user=user, track=t, listened_at=start + timedelta(minutes=i), ms_played=120_000)
        for i, t in enumerate(tracks)
    )


@pytest.fixture
def listeners(make_user, catalog):
    """Fiddle fans who co-listen fiddle tunes 0-5, and chorale fans."""
    fans = [make_user(f"fiddler{i}") for i in range(4)]
    for fan in fans:
        listen(fan, catalog["fiddle"][:6])
    singers = [make_user(f"singer{i}") for i in range(3)]
    for singer in singers:
        listen(singer, catalog["chorale"][:5] + catalog["madrigal"][:1])
    return fans, singers


def test_recommendations_answer_503_until_a_model_is_trained(auth_client):
    response = auth_client.get(RECOMMENDATIONS)
    assert response.status_code == 503
    assert "no taste model has been trained yet" in response.json()["detail"]


def test_training_stores_a_versioned_model_and_every_users_taste(listeners, capsys):
    call_command("train_taste")
    artifact = ModelArtifact.objects.get(kind="taste", is_active=True)
    assert artifact.data_summary["users"] == 7
    assert artifact.data_summary["listens"] == 4 * 6 + 3 * 6
    assert "holdout_ndcg@10" in artifact.metrics
    fans, singers = listeners
    fan_taste = client_for(fans[0]).get("/api/v1/me/").json()["taste"]
    singer_taste = client_for(singers[0]).get("/api/v1/me/").json()["taste"]
    assert fan_taste["model_version"] == artifact.version
    assert max(fan_taste["styles"], key=fan_taste["styles"].get) == "fiddle"
    assert max(singer_taste["styles"], key=singer_taste["styles"].get) == "chorale"
    assert "activated" in capsys.readouterr().out


def test_recommendations_follow_co_listening_and_skip_what_was_heard(listeners, catalog, make_user):
    call_command("train_taste")
    newcomer = make_user("newcomer")
    listen(newcomer, catalog["fiddle"][:2])
    response = client_for(newcomer).get(RECOMMENDATIONS, {"limit": 5, "diversity": 0})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["model_version"].startswith("taste-")
    ids = [item["track"]["id"] for item in body["results"]]
    heard = {t.pk for t in catalog["fiddle"][:2]}
    assert not heard & set(ids)
    co_listened = {t.pk for t in catalog["fiddle"][2:6]}
    assert set(ids[:4]) == co_listened
    assert all(item["reason"] for item in body["results"])
    assert any(item["reason"].startswith("because you played") for item in body["results"])


def test_private_tracks_are_never_recommended_and_own_tracks_not_to_their_owner(
    listeners, catalog, make_user
):
    owner = make_user("owner")
    private = make_track("fiddle", 99, is_public=False, owner=owner, origin="upload")
    call_command("train_taste")
    fan = listeners[0][0]
    ids = [
        i["track"]["id"]
        for i in client_for(fan).get(RECOMMENDATIONS, {"limit": 30}).json()["results"]
    ]
    assert private.pk not in ids
    owner_ids = [
        i["track"]["id"]
        for i in client_for(owner).get(RECOMMENDATIONS, {"limit": 30}).json()["results"]
    ]
    assert owner_ids and private.pk not in owner_ids  # they have it already


def test_tracks_added_after_training_are_recommended_by_content(listeners, catalog):
    call_command("train_taste")
    fresh = make_track("fiddle", 100)
    fan = listeners[0][0]
    body = client_for(fan).get(RECOMMENDATIONS, {"limit": 10, "diversity": 0}).json()
    assert fresh.pk in [item["track"]["id"] for item in body["results"]]


def test_a_user_without_history_gets_the_most_listened_tracks_of_every_style(
    listeners, catalog, make_user
):
    call_command("train_taste")
    stranger = client_for(make_user("stranger"))
    body = stranger.get(RECOMMENDATIONS, {"limit": 3}).json()
    # Fiddle tunes 0-5 have four listeners each, chorales 0-4 and madrigal 0 three.
    assert [item["track"]["style"] for item in body["results"]] == ["fiddle", "chorale", "madrigal"]
    assert body["results"][2]["track"]["id"] == catalog["madrigal"][0].pk
    assert [item["reason"] for item in body["results"]] == [
        "popular fiddle to start with",
        "popular chorale to start with",
        "popular madrigal to start with",
    ]
    by_popularity = stranger.get(RECOMMENDATIONS, {"limit": 6, "diversity": 0}).json()
    assert {item["track"]["id"] for item in by_popularity["results"]} == {
        t.pk for t in catalog["fiddle"][:6]
    }


def test_diversity_spreads_recommendations_over_styles(listeners, catalog, make_user):
    call_command("train_taste")
    newcomer = make_user("newcomer")
    listen(newcomer, catalog["fiddle"][:2])
    client = client_for(newcomer)

    def styles(diversity: float) -> list[str]:
        body = client.get(RECOMMENDATIONS, {"limit": 4, "diversity": diversity}).json()
        return [item["track"]["style"] for item in body["results"]]

    assert styles(0) == ["fiddle"] * 4
    assert len(set(styles(0.9))) == 3


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 500}, {"diversity": 2}, {"limit": "x"}])
def test_bad_queries_are_400s(auth_client, query):
    response = auth_client.get(RECOMMENDATIONS, query)
    assert response.status_code == 400
    assert set(response.json()) <= {"limit", "diversity"}


def test_listens_since_the_fit_count_without_refitting(listeners, catalog, make_user):
    call_command("train_taste")
    latecomer = make_user("latecomer")
    listen(latecomer, catalog["madrigal"][5:8])
    body = client_for(latecomer).get(RECOMMENDATIONS, {"limit": 4, "diversity": 0}).json()
    styles = [item["track"]["style"] for item in body["results"]]
    assert styles.count("madrigal") >= 3, styles
    assert any("madrigal" in item["reason"] for item in body["results"])


def test_tastes_are_stored_for_every_account_that_still_exists(listeners):
    call_command("train_taste")
    bundle = load_active(TASTE_KIND, load_bundle).model
    data = load_training_data()
    fans, singers = listeners
    fans[0].delete()
    store_tastes(bundle, data, "taste-retold")
    versions = set(Profile.objects.values_list("taste_model_version", flat=True))
    assert versions == {"taste-retold"}
    assert Profile.objects.count() == len(fans) - 1 + len(singers)


def test_hated_tracks_are_never_recommended_and_loved_ones_count_as_known(
    listeners, catalog, make_user
):
    call_command("train_taste")
    newcomer = make_user("newcomer")
    listen(newcomer, catalog["fiddle"][:2])
    client = client_for(newcomer)
    hated, loved = catalog["fiddle"][2], catalog["fiddle"][3]
    for track, score in ((hated, -1), (loved, 1)):
        assert (
            client.post("/api/v1/feedback/", {"track": track.pk, "score": score}).status_code == 200
        )

    def recommended(**query) -> list[int]:
        body = client.get(RECOMMENDATIONS, {"limit": 10, "diversity": 0, **query}).json()
        return [item["track"]["id"] for item in body["results"]]

    unheard = recommended()
    assert len(unheard) == 10
    assert hated.pk not in unheard and loved.pk not in unheard
    assert set(unheard[:2]) == {t.pk for t in catalog["fiddle"][4:6]}
    everything = recommended(include_heard="true")
    assert hated.pk not in everything
    assert loved.pk in everything


def test_stated_preferences_update_the_stored_taste_at_once(listeners):
    call_command("train_taste")
    fan = client_for(listeners[0][0])
    before = fan.get("/api/v1/me/").json()["taste"]
    response = fan.patch(
        "/api/v1/me/", {"preferences": {"styles": ["madrigal"]}}, content_type="application/json"
    )
    assert response.status_code == 200, response.json()
    after = response.json()["taste"]
    assert after["styles"].get("madrigal", 0.0) > before["styles"].get("madrigal", 0.0) + 0.05
    assert after["model_version"] == before["model_version"]
    assert after["updated_at"] > before["updated_at"]
    assert fan.get("/api/v1/me/").json()["taste"] == after


def test_preferences_before_the_first_model_leave_the_taste_empty(auth_client):
    response = auth_client.patch(
        "/api/v1/me/", {"preferences": {"styles": ["madrigal"]}}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["taste"] is None


def test_a_model_trained_before_anyone_listened_serves_the_first_listeners(catalog, make_user):
    call_command("train_taste")  # what `load_defaults` does on a fresh install
    first = make_user("first")
    listen(first, catalog["madrigal"][:2])
    client = client_for(first)
    body = client.get(RECOMMENDATIONS, {"limit": 4, "diversity": 0}).json()
    assert [item["track"]["style"] for item in body["results"]] == ["madrigal"] * 4
    playlist = client.post("/api/v1/playlists/", {"length": 5, "generated_share": 0})
    assert playlist.status_code == 201, playlist.json()


def test_the_include_generated_preference_holds_unless_the_query_says(listeners, catalog):
    call_command("train_taste")
    generated = make_track("fiddle", 200, origin="generated")
    fan = client_for(listeners[0][0])

    def offered(**query) -> bool:
        body = fan.get(RECOMMENDATIONS, {"limit": 30, **query}).json()
        return generated.pk in [item["track"]["id"] for item in body["results"]]

    assert offered()
    fan.patch(
        "/api/v1/me/",
        {"preferences": {"include_generated": False}},
        content_type="application/json",
    )
    assert not offered()
    assert offered(include_generated="true")


def test_the_worker_refits_the_taste_model_once_new_listens_arrive(
    listeners, catalog, make_user, settings
):
    settings.TASTE_RETRAIN_INTERVAL_S = 3600
    call_command("train_taste")
    assert submit_due_periodic_jobs() == []  # nothing new since the fit
    listen(make_user("late"), catalog["madrigal"][5:8])
    [job] = submit_due_periodic_jobs()
    assert job.kind == "train_taste"
    assert submit_due_periodic_jobs() == []  # one is already queued
    before = ModelArtifact.objects.get(kind="taste", is_active=True)
    assert run_job(job.pk, heartbeat=False) == "succeeded"
    after = ModelArtifact.objects.get(kind="taste", is_active=True)
    assert after.version != before.version and after.data_summary["users"] == 8
    listen(make_user("later"), catalog["madrigal"][:1])
    assert submit_due_periodic_jobs() == []  # the last refit is under an hour old
    settings.TASTE_RETRAIN_INTERVAL_S = 0
    Job.objects.filter(pk=job.pk).update(created_at=job.created_at - timedelta(days=1))
    assert submit_due_periodic_jobs() == []  # turned off


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_running_worker_fits_the_taste_model_by_itself(listeners, start_process):
    start_process("run_worker", "--interval", "0.1", TASTE_RETRAIN_INTERVAL_S="3600")
    wait_until(
        lambda: Job.objects.filter(kind="train_taste", status="succeeded").exists(),
        timeout=120,
        what="the worker's periodic train_taste job",
    )
    assert ModelArtifact.objects.get(kind="taste", is_active=True).data_summary["users"] == 7


def test_lists_are_full_when_unofferable_tracks_lead_the_model(listeners, catalog, make_user):
    """Listening-history-only tracks and other people's private uploads can be the most
    co-listened columns of the model; the list is still filled with tracks one may hear."""
    fans, _ = listeners
    owner = make_user("uploader")
    hidden = [
        make_track("fiddle", 200 + n, origin="external", is_public=False) for n in range(30)
    ] + [
        make_track("fiddle", 300 + n, origin="upload", is_public=False, owner=owner)
        for n in range(30)
    ]
    for fan in fans:
        listen(fan, hidden)
    call_command("train_taste")
    newcomer = make_user("newcomer")
    listen(newcomer, catalog["fiddle"][:2] + hidden[:3])
    for diversity in (0, 0.2):
        body = client_for(newcomer).get(RECOMMENDATIONS, {"limit": 10, "diversity": diversity})
        ids = [item["track"]["id"] for item in body.json()["results"]]
        assert len(ids) == 10
        assert not {t.pk for t in hidden} & set(ids)
    offerable = sum(len(tracks) for tracks in catalog.values()) - 2
    everything = client_for(newcomer).get(RECOMMENDATIONS, {"limit": 100}).json()["results"]
    assert len(everything) == offerable


def test_generated_tracks_are_explained_by_their_own_style(listeners, catalog, make_user):
    call_command("train_taste")
    composer = make_user("composer")
    generated = make_track("madrigal", 400, origin="generated", owner=composer)
    fan = client_for(listeners[0][0])
    styles = fan.get("/api/v1/me/").json()["taste"]["styles"]
    assert max(styles, key=styles.get) == "fiddle"
    results = fan.get(RECOMMENDATIONS, {"limit": 30, "diversity": 0}).json()["results"]
    reasons = {item["track"]["id"]: item["reason"] for item in results}
    assert reasons[generated.pk] == "freshly generated madrigal close to your taste"


def test_reasons_never_name_a_track_the_person_can_no_longer_see(listeners, catalog):
    call_command("train_taste")
    Track.objects.filter(pk__in=[t.pk for t in catalog["fiddle"][:6]]).update(is_public=False)
    fan = client_for(listeners[0][0])
    reasons = [i["reason"] for i in fan.get(RECOMMENDATIONS, {"limit": 20}).json()["results"]]
    assert reasons
    assert not [reason for reason in reasons if "fiddle tune" in reason]


def test_the_taste_shown_follows_feedback_and_new_listens_without_refitting(
    listeners, catalog, make_user
):
    call_command("train_taste")
    version = ModelArtifact.objects.get(kind="taste", is_active=True).version
    fan = client_for(listeners[0][0])
    before = fan.get("/api/v1/me/").json()["taste"]["styles"]
    for track in catalog["fiddle"][:3]:
        assert fan.post("/api/v1/feedback/", {"track": track.pk, "score": -1}).status_code == 200
    after = fan.get("/api/v1/me/").json()["taste"]
    assert after["styles"].get("fiddle", 0.0) < before["fiddle"] - 0.05
    assert after["model_version"] == version
    latecomer = make_user("latecomer")
    assert client_for(latecomer).get("/api/v1/me/").json()["taste"]["model_version"] == version
    listen(latecomer, catalog["madrigal"][:4])
    styles = client_for(latecomer).get("/api/v1/me/").json()["taste"]["styles"]
    assert max(styles, key=styles.get) == "madrigal"


def test_old_versions_are_pruned_and_a_kept_one_can_be_activated_again(listeners, settings):
    settings.MODEL_VERSIONS_KEPT = 2
    for _ in range(3):
        call_command("train_taste")
    older, newest = ModelArtifact.objects.filter(kind="taste").order_by("created_at", "id")
    assert newest.is_active and not older.is_active
    out = StringIO()
    call_command("activate_model", older.version, stdout=out)
    assert f"activated {older.version} (taste)" in out.getvalue()
    fan = client_for(listeners[0][0])
    assert fan.get(RECOMMENDATIONS).json()["model_version"] == older.version
    with pytest.raises(CommandError, match="no model version"):
        call_command("activate_model", "taste-nonesuch")
    assert fan.get("/api/v1/me/").json()["taste"]["model_version"] == older.version
    assert not taste_retraining_is_due()  # nothing new since the last fit: the rollback holds
    listen(listeners[0][0], catalog_tracks(1))
    assert taste_retraining_is_due()


def test_a_deleted_account_leaves_no_stored_model_that_holds_its_listening(listeners, settings):
    settings.MODEL_VERSIONS_KEPT = 5
    call_command("train_taste")
    call_command("train_taste")
    leaver = listeners[0][0]
    leaver_id = leaver.pk
    assert not taste_retraining_is_due()
    assert client_for(leaver).delete("/api/v1/me/").status_code == 204
    assert taste_retraining_is_due()
    call_command("train_taste")
    [kept] = ModelArtifact.objects.filter(kind="taste")
    assert kept.is_active and kept.data_summary["users"] == 6
    assert leaver_id not in load_bundle(Path(settings.MODEL_ROOT) / kept.path).user_ids
    assert not taste_retraining_is_due()


def catalog_tracks(count: int) -> list[Track]:
    return list(Track.objects.order_by("-pk")[:count])


def test_no_list_asked_for_is_an_empty_list_and_nothing_left_is_no_error(
    listeners, catalog, make_user
):
    external = [make_track("fiddle", 500 + n, origin="external", is_public=False) for n in range(3)]
    for fan in listeners[0]:
        listen(fan, external)
    call_command("train_taste")
    newcomer = make_user("newcomer")
    assert recommend_for(newcomer, limit=0)[1] == []
    listen(newcomer, [t for tracks in catalog.values() for t in tracks])  # heard everything
    make_track("folk", 600, is_public=True)  # newer than the model: the only unheard track
    for diversity in (0, 0.2):
        body = client_for(newcomer).get(RECOMMENDATIONS, {"diversity": diversity})
        assert body.status_code == 200
        assert [item["track"]["title"] for item in body.json()["results"]] == ["folk tune 600"]
    playlist = client_for(newcomer).post(
        "/api/v1/playlists/", {"length": 5, "generated_share": 1.0}, format="json"
    )
    assert playlist.status_code in (201, 202, 503), playlist.json()


def test_lists_are_full_when_tracks_newer_than_the_model_are_mostly_avoided(
    listeners, catalog, make_user
):
    call_command("train_taste")
    for n in range(20):
        make_track("chorale", 700 + n)
    for n in range(150):
        make_track("fiddle", 800 + n)
    avoid_fiddle = {"preferences": {"avoid_styles": ["fiddle"]}}
    fan, newcomer = client_for(listeners[0][0]), client_for(make_user("newcomer"))
    for client, limit in ((fan, 25), (newcomer, 20)):
        client.patch("/api/v1/me/", avoid_fiddle, content_type="application/json")
        body = client.get(RECOMMENDATIONS, {"limit": limit, "diversity": 0}).json()
        styles = [item["track"]["style"] for item in body["results"]]
        assert len(styles) == limit and "fiddle" not in styles


def similar(client, track: Track, **query) -> dict:
    response = client.get(f"/api/v1/tracks/{track.pk}/similar/", {"diversity": 0, **query})
    assert response.status_code == 200, response.json()
    return response.json()


def test_similar_tracks_are_those_its_listeners_play_then_its_style(listeners, catalog, user):
    call_command("train_taste")
    seed = catalog["fiddle"][0]
    body = similar(client_for(user), seed, limit=8)
    assert body["track"]["id"] == seed.pk
    assert body["model_version"].startswith("taste-")
    ids = [item["track"]["id"] for item in body["results"]]
    assert seed.pk not in ids
    co_listened = {t.pk for t in catalog["fiddle"][1:6]}
    assert set(ids[:5]) == co_listened
    assert all(
        item["reason"] == f"people who play {seed.title} play it too"
        for item in body["results"][:5]
    )
    # Then the fiddle tunes nobody co-listened, by style, before the other styles.
    assert {item["track"]["style"] for item in body["results"][5:7]} == {"fiddle"}
    assert body["results"][5]["reason"] == f"fiddle close to {seed.title}"


def test_similar_tracks_leave_out_what_the_person_heard_hated_or_avoids(listeners, catalog, user):
    call_command("train_taste")
    client = client_for(user)
    listen(user, catalog["fiddle"][1:2])
    hated = catalog["fiddle"][2]
    assert client.post("/api/v1/feedback/", {"track": hated.pk, "score": -1}).status_code == 200
    patch = {"preferences": {"avoid_styles": ["madrigal"]}}
    assert client.patch("/api/v1/me/", patch, format="json").status_code == 200
    seed = catalog["fiddle"][0]
    results = similar(client, seed, limit=30)["results"]
    ids = {item["track"]["id"] for item in results}
    assert ids and not ids & {catalog["fiddle"][1].pk, hated.pk}
    assert "madrigal" not in {item["track"]["style"] for item in results}
    with_heard = similar(client, seed, limit=30, include_heard="true")["results"]
    assert catalog["fiddle"][1].pk in {item["track"]["id"] for item in with_heard}


def test_a_track_newer_than_the_model_gets_tracks_of_its_style(listeners, catalog, make_user):
    call_command("train_taste")
    owner = make_user("owner")
    upload = make_track("chorale", 50, is_public=False, owner=owner, origin="upload")
    body = similar(client_for(owner), upload, limit=5)
    assert [item["track"]["style"] for item in body["results"]] == ["chorale"] * 5
    assert body["results"][0]["reason"] == f"chorale close to {upload.title}"
    fresh = make_track("madrigal", 51)
    ids = [i["track"]["id"] for i in similar(client_for(owner), catalog["madrigal"][3])["results"]]
    assert fresh.pk in ids[:8]


def test_similar_tracks_of_a_track_one_may_not_see_are_a_404(listeners, catalog, make_user):
    call_command("train_taste")
    private = make_track("fiddle", 60, is_public=False, owner=make_user("owner"), origin="upload")
    stranger = client_for(make_user("stranger"))
    assert stranger.get(f"/api/v1/tracks/{private.pk}/similar/").status_code == 404
    assert stranger.get("/api/v1/tracks/99999999999999999999/similar/").status_code == 404
    bad = stranger.get(f"/api/v1/tracks/{catalog['fiddle'][0].pk}/similar/", {"limit": 0})
    assert bad.status_code == 400
    assert set(bad.json()) == {"limit"}


def test_similar_tracks_answer_503_until_a_model_is_trained(catalog, auth_client):
    response = auth_client.get(f"/api/v1/tracks/{catalog['fiddle'][0].pk}/similar/")
    assert response.status_code == 503
    assert "no taste model has been trained yet" in response.json()["detail"]


def test_a_fit_survives_listeners_and_tracks_that_arrive_while_it_reads(
    listeners, catalog, make_user, monkeypatch
):
    from recommender import dataset

    read_listens = dataset._listens_by_user
    fan = listeners[0][0]
    arrived = {}

    def listens_arriving_meanwhile(*args, **kwargs):
        # Between the read of people and tracks and the read of listens, someone new plays
        # a track new to the catalog (a listen by metadata, say), and a fan plays chorales.
        arrived["newcomer"] = make_user("newcomer")
        listen(arrived["newcomer"], [make_track("folk", 70)])
        listen(fan, catalog["chorale"], start=datetime(2025, 7, 1, tzinfo=UTC))
        return read_listens(*args, **kwargs)

    monkeypatch.setattr(dataset, "_listens_by_user", listens_arriving_meanwhile)
    call_command("train_taste")
    monkeypatch.undo()

    artifact = ModelArtifact.objects.get(kind="taste", is_active=True)
    assert artifact.data_summary["users"] == 7  # the newcomer came after the read began
    newcomer_taste = client_for(arrived["newcomer"]).get("/api/v1/me/").json()["taste"]
    assert newcomer_taste["model_version"] == artifact.version
    # The fan's stored taste is dated when the data was read, before the chorales arrived, so
    # reading it recomputes it with them.
    stored = Profile.objects.get(user=fan).taste_updated_at
    assert stored.isoformat() == artifact.data_summary["read_at"]
    client_for(fan).get("/api/v1/me/")
    assert Profile.objects.get(user=fan).taste_updated_at > stored


def top_style(taste: dict) -> str:
    return max(taste["styles"], key=taste["styles"].get)


def test_listens_to_tracks_newer_than_the_model_count_for_taste_at_once(
    listeners, catalog, make_user
):
    call_command("train_taste")
    fresh = [make_track("madrigal", 300 + n) for n in range(3)]
    newcomer = make_user("newcomer")
    listen(newcomer, fresh)
    client = client_for(newcomer)

    taste = client.get("/api/v1/me/").json()["taste"]
    body = client.get(RECOMMENDATIONS, {"limit": 3, "diversity": 0}).json()

    assert top_style(taste) == "madrigal"
    assert [item["track"]["style"] for item in body["results"]] == ["madrigal"] * 3
    assert not {item["track"]["id"] for item in body["results"]} & {t.pk for t in fresh}
    assert all("to start with" not in item["reason"] for item in body["results"])


def test_a_hated_track_neither_leads_recommendations_nor_is_named_in_reasons(
    listeners, catalog, make_user
):
    call_command("train_taste")
    newcomer = make_user("newcomer")
    played = catalog["fiddle"][0]
    listen(newcomer, [played])
    client = client_for(newcomer)
    assert client.post("/api/v1/feedback/", {"track": played.pk, "score": -1}).status_code == 200

    results = client.get(RECOMMENDATIONS, {"limit": 10, "diversity": 0}).json()["results"]

    assert len(results) == 10
    assert all(played.title not in item["reason"] for item in results)
    assert results[0]["track"]["style"] != "fiddle"


def test_tracks_only_skipped_bring_no_more_of_their_kind(listeners, catalog, make_user):
    call_command("train_taste")
    newcomer = make_user("newcomer")
    start = datetime(2025, 6, 1, tzinfo=UTC)
    Listen.objects.bulk_create(
        Listen(
            user=newcomer,
            track=track,
            listened_at=start + timedelta(minutes=i),
            ms_played=3_000,
            skipped=True,
        )
        for i, track in enumerate(catalog["fiddle"][:5])
    )
    client = client_for(newcomer)

    results = client.get(RECOMMENDATIONS, {"limit": 5, "diversity": 0}).json()["results"]
    taste = client.get("/api/v1/me/").json()["taste"]

    assert len(results) == 5
    assert "fiddle" not in [item["track"]["style"] for item in results]
    assert "fiddle" not in taste["styles"]
    skipped = {t.pk for t in catalog["fiddle"][:5]}
    unheard = client.get(RECOMMENDATIONS, {"limit": 30}).json()["results"]
    heard = client.get(RECOMMENDATIONS, {"limit": 30, "include_heard": "true"}).json()
    assert len(unheard) == 24 - 5 and not skipped & {i["track"]["id"] for i in unheard}
    assert skipped <= {i["track"]["id"] for i in heard["results"]}


def test_a_history_the_model_cannot_read_gets_the_starter_list(listeners, catalog, make_user):
    call_command("train_taste")
    unknown = [make_track("fiddle", 600 + n, origin="external", is_public=False) for n in range(3)]
    for track in unknown:
        track.style_vector = []  # a listening-history track outside the catalog
        track.save(update_fields=["style_vector"])
    listener, stranger = make_user("listener"), make_user("stranger")
    listen(listener, unknown)

    def offered(user) -> list[tuple[int, str]]:
        body = client_for(user).get(RECOMMENDATIONS, {"limit": 6}).json()
        return [(item["track"]["id"], item["reason"]) for item in body["results"]]

    assert offered(listener) == offered(stranger)
    assert all(reason.endswith(" to start with") for _, reason in offered(listener))
    assert (
        client_for(listener).get("/api/v1/me/").json()["taste"]["styles"]
        == (client_for(stranger).get("/api/v1/me/").json()["taste"]["styles"])
    )


def test_a_generation_is_conditioned_on_listens_since_the_stored_taste(
    listeners, catalog, make_user
):
    from generation.services import request_generation

    call_command("train_taste")
    newcomer = make_user("newcomer")  # no stored taste: the fit was before them
    listen(newcomer, catalog["madrigal"][:4])

    request = request_generation(user=newcomer, count=1)

    assert top_style({"styles": dict(zip(STYLES, request.condition, strict=False))}) == "madrigal"


def test_avoided_styles_have_no_weight_in_the_taste_or_a_generation(listeners):
    from generation.services import request_generation

    call_command("train_taste")
    fan = listeners[0][0]
    client = client_for(fan)
    assert top_style(client.get("/api/v1/me/").json()["taste"]) == "fiddle"

    answer = client.patch(
        "/api/v1/me/",
        {"preferences": {"avoid_styles": ["fiddle"]}},
        content_type="application/json",
    )
    request = request_generation(user=fan, count=1)

    assert answer.status_code == 200, answer.json()
    assert "fiddle" not in answer.json()["taste"]["styles"]
    assert answer.json()["taste"]["styles"]
    assert request.condition[STYLES.index("fiddle")] == 0.0
    assert sum(request.condition[: len(STYLES)]) == pytest.approx(1.0, abs=1e-4)


def test_avoided_styles_have_no_weight_in_a_generation_before_any_taste_model(user):
    from generation.services import request_generation

    client = client_for(user)
    answer = client.patch(
        "/api/v1/me/",
        {"preferences": {"avoid_styles": ["fiddle"]}},
        content_type="application/json",
    )
    request = request_generation(user=user, count=1)

    assert answer.status_code == 200 and answer.json()["taste"] is None
    assert request.condition[STYLES.index("fiddle")] == 0.0
    assert sum(request.condition[: len(STYLES)]) == pytest.approx(1.0, abs=1e-4)


def test_no_favourite_style_is_named_for_a_history_that_says_nothing_of_style(
    listeners, catalog, make_user
):
    outside = [make_track("fiddle", 700 + n, origin="external", is_public=False) for n in range(3)]
    Track.objects.filter(pk__in=[t.pk for t in outside]).update(style_vector=[])
    listener = make_user("listener")
    listen(listener, outside)
    call_command("train_taste")  # the model knows these tracks; nobody else played them

    results = client_for(listener).get(RECOMMENDATIONS, {"limit": 8}).json()["results"]

    assert len(results) == 8
    assert all("favourite" not in item["reason"] for item in results)
    assert all(item["reason"].endswith("pick to start with") for item in results)


def test_on_a_fresh_install_the_first_listens_steer_recommendations_before_any_refit(
    make_user, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    call_command("import_corpus", "--collections", "bach,ryansMammoth", "--limit", "5")
    call_command("train_taste")  # as bin/run does, before anyone has listened
    fiddle = list(Track.objects.filter(style_label="fiddle").order_by("pk"))
    first = make_user("first")
    listen(first, fiddle[:3])

    taste = client_for(first).get("/api/v1/me/").json()["taste"]
    body = client_for(first).get(RECOMMENDATIONS, {"limit": 2, "diversity": 0}).json()

    assert top_style(taste) == "fiddle" and taste["styles"]["fiddle"] > 0.5
    assert [item["track"]["style"] for item in body["results"]] == ["fiddle", "fiddle"]
