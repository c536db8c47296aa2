"""Generation jobs through the REST API, run by the job runner as a worker runs them."""

from __future__ import annotations

import io

import pretty_midi
import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog import services as catalog_services
from catalog.midi.style_space import STYLES
from catalog.models import Track
from generation.ml.sampling import DEFAULT_TEMPERATURE, STYLE_INSTRUMENTS
from generation.models import GenerationRequest, Playlist
from generation.services import LENGTH_ROUNDS, MIN_FILLED_SHARE
from jobs.models import JobStatus
from jobs.runner import run_job
from tests.helpers import client_for, exported

pytestmark = pytest.mark.django_db
GENERATIONS = "/api/v1/generations/"


def download(client, url: str) -> bytes:
    response = client.get(url)
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def run_pending_jobs() -> None:
    for request in GenerationRequest.objects.filter(job__status=JobStatus.QUEUED):
        run_job(request.job_id, heartbeat=False)


def test_a_generation_job_makes_private_ai_generated_tracks(tiny_world, make_user):
    owner = make_user("composer")
    client = client_for(owner)
    accepted = client.post(GENERATIONS, {"count": 2, "bars": 8, "seed": 11}, format="json")
    assert accepted.status_code == 202, accepted.json()
    body = accepted.json()
    assert body["status"] == "queued"
    assert body["url"] == f"http://testserver{GENERATIONS}{body['id']}/"
    assert client.get(body["url"]).json()["status"] == "queued"

    run_pending_jobs()
    job = client.get(body["url"]).json()
    assert job["status"] == "succeeded", job["error"]
    assert job["progress"] == 1.0
    assert len(job["tracks"]) == 2
    track = job["tracks"][0]
    assert track["ai_generated"] is True
    assert track["origin"] == "generated"
    provenance = track["provenance"]
    assert provenance["model_version"] == tiny_world.version
    assert provenance["requested_by"] == "composer"
    first, second = [t["provenance"]["seed"] for t in job["tracks"]]  # in the order made
    assert first == 11 and second not in (11, 12)  # seed 12's first piece is not seed 11's
    assert len(provenance["conditioning_vector"]) == 12

    midi_bytes = download(client, f"/api/v1/tracks/{track['id']}/midi/")
    midi = pretty_midi.PrettyMIDI(io.BytesIO(midi_bytes))
    texts = [event.text for event in midi.text_events]
    assert any(text.startswith("AI-generated") and tiny_world.version in text for text in texts)

    stranger = client_for(make_user("stranger"))
    hidden = stranger.get(body["url"])
    assert hidden.status_code == 404 and hidden.json() == {"detail": "Not found."}
    assert stranger.get(f"/api/v1/tracks/{track['id']}/").status_code == 404


def test_the_same_seed_gives_the_same_music(tiny_world, make_user):
    client = client_for(make_user("twin"))
    ids = []
    for _ in range(2):
        response = client.post(GENERATIONS, {"count": 1, "bars": 8, "seed": 5}, format="json")
        ids.append(response.json()["id"])
        run_pending_jobs()
    tracks = [client.get(f"{GENERATIONS}{i}/").json()["tracks"][0] for i in ids]
    midis = [download(client, f"/api/v1/tracks/{t['id']}/midi/") for t in tracks]
    notes = [
        [
            (n.pitch, round(n.start, 3))
            for i in pretty_midi.PrettyMIDI(io.BytesIO(m)).instruments
            for n in i.notes
        ]
        for m in midis
    ]
    assert notes[0] == notes[1]
    assert notes[0]


def test_style_mix_and_tempo_shape_the_condition(tiny_world, make_user):
    client = client_for(make_user("mixer"))
    response = client.post(
        GENERATIONS,
        {"count": 1, "style_mix": {"fiddle": 3, "folk": 1}, "tempo_bpm": 180},
        format="json",
    )
    generation = GenerationRequest.objects.get(pk=response.json()["id"])
    weights = dict(zip(STYLES, generation.condition[:7], strict=True))
    assert weights["fiddle"] == pytest.approx(0.75, abs=1e-4)
    assert weights["folk"] == pytest.approx(0.25, abs=1e-4)
    run_pending_jobs()
    track = client.get(f"{GENERATIONS}{generation.pk}/").json()["tracks"][0]
    assert track["tempo_bpm"] == pytest.approx(180, rel=0.05)


def test_a_variation_of_a_catalog_track(tiny_world, make_user):
    from catalog.models import Track

    source = Track.objects.filter(style_label="chorale").first()
    client = client_for(make_user("varier"))
    response = client.post(GENERATIONS, {"count": 1, "variation_of": source.pk}, format="json")
    assert response.status_code == 202
    run_pending_jobs()
    job = client.get(f"{GENERATIONS}{response.json()['id']}/").json()
    assert job["status"] == "succeeded", job["error"]
    assert job["variation_of"] == source.pk
    # What the job reports is what it did: the source's style, its length, the temperature.
    assert job["condition"] == pytest.approx(source.style_vector, abs=1e-6)
    assert (job["bars"], job["temperature"]) == (16, DEFAULT_TEMPERATURE)
    assert job["tracks"][0]["provenance"]["variation_of"] == source.pk
    assert job["tracks"][0]["provenance"]["conditioning_vector"] == job["condition"]

    clash = client.post(
        GENERATIONS,
        {"count": 1, "variation_of": source.pk, "bars": 8, "tempo_bpm": 90},
        format="json",
    )
    assert clash.status_code == 400
    assert set(clash.json()) == {"bars", "tempo_bpm"}


def test_a_retried_generation_request_with_its_key_is_one_job_and_one_quota_slot(
    tiny_world, make_user, settings
):
    settings.GENERATION_MAX_DAILY = 1
    client = client_for(make_user("retrier"))
    body = {"count": 1, "style_mix": {"fiddle": 1}, "seed": 7}
    first = client.post(GENERATIONS, body, format="json", HTTP_IDEMPOTENCY_KEY="k-7")
    retry = client.post(GENERATIONS, body, format="json", HTTP_IDEMPOTENCY_KEY="k-7")
    unkeyed = client.post(GENERATIONS, body, format="json")

    assert first.status_code == retry.status_code == 202
    assert retry.json() == first.json() and retry["Idempotent-Replayed"] == "true"
    assert unkeyed.status_code == 429  # the retry took no second slot of the day's one
    assert GenerationRequest.objects.count() == 1

    GenerationRequest.objects.all().delete()  # as staff may, in the admin
    gone = client.post(GENERATIONS, body, format="json", HTTP_IDEMPOTENCY_KEY="k-7")
    assert gone.status_code == 409 and "deleted" in gone.json()["detail"]


def test_a_key_older_than_a_day_makes_something_new_and_stale_keys_go(
    tiny_world, make_user, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from jobs.models import IdempotencyKey

    client, other = client_for(make_user("again")), client_for(make_user("other"))
    body = {"count": 1, "seed": 3}
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(GENERATIONS, body, format="json", HTTP_IDEMPOTENCY_KEY="daily")
        other.post(GENERATIONS, body, format="json", HTTP_IDEMPOTENCY_KEY="theirs")
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))

    with django_capture_on_commit_callbacks(execute=True):
        later = client.post(GENERATIONS, body, format="json", HTTP_IDEMPOTENCY_KEY="daily")

    assert later.status_code == 202 and later.json()["id"] != first.json()["id"]
    assert "Idempotent-Replayed" not in later
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["daily"]


def test_a_retried_variation_replays_even_if_its_source_was_hidden_since(tiny_world, make_user):
    source = Track.objects.filter(style_label="chorale").first()
    client = client_for(make_user("varier"))
    body = {"count": 1, "variation_of": source.pk}
    first = client.post(GENERATIONS, body, format="json", HTTP_IDEMPOTENCY_KEY="v-1")
    Track.objects.filter(pk=source.pk).update(is_public=False)

    retry = client.post(GENERATIONS, body, format="json", HTTP_IDEMPOTENCY_KEY="v-1")

    assert first.status_code == retry.status_code == 202, retry.json()
    assert retry.json()["id"] == first.json()["id"]


def test_staff_cannot_vary_someone_elses_private_upload(tiny_world, make_user):
    owner, curator = make_user("owner"), make_user("curator", staff=True)
    with Track.objects.filter(style_label="chorale").first().midi.open("rb") as handle:
        midi = handle.read()
    private = catalog_services.import_midi(midi_bytes=midi, title="mine alone", owner=owner)
    assert not private.is_public

    refused = client_for(curator).post(
        GENERATIONS, {"count": 1, "variation_of": private.pk}, format="json"
    )
    allowed = client_for(owner).post(
        GENERATIONS, {"count": 1, "variation_of": private.pk}, format="json"
    )

    assert refused.status_code == 400 and "variation_of" in refused.json()
    assert allowed.status_code == 202


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"count": 0}, "count"),
        ({"count": 9}, "count"),
        ({}, "count"),
        ({"count": 1, "bars": 2}, "bars"),
        ({"count": 1, "style_mix": {"polka": 1}}, "style_mix"),
        ({"count": 1, "style_mix": {"folk": 0}}, "style_mix"),
        ({"count": 1, "style_mix": {"folk": 1e-300, "fiddle": 0}}, "style_mix"),
        ({"count": 1, "tempo_bpm": 900}, "tempo_bpm"),
        ({"count": 1, "variation_of": 999999}, "variation_of"),
    ],
)
def test_bad_requests_name_the_field_and_queue_nothing(tiny_world, auth_client, payload, field):
    response = auth_client.post(GENERATIONS, payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not GenerationRequest.objects.exists()


def test_quotas_answer_429_with_a_message(tiny_world, make_user, settings):
    settings.GENERATION_MAX_CONCURRENT = 1
    client = client_for(make_user("eager"))
    assert client.post(GENERATIONS, {"count": 1}, format="json").status_code == 202
    refused = client.post(GENERATIONS, {"count": 1}, format="json")
    assert refused.status_code == 429
    assert "limit is 1" in refused.json()["detail"]
    assert int(refused["Retry-After"]) > 0
    settings.GENERATION_MAX_CONCURRENT = 10
    settings.GENERATION_MAX_DAILY = 1
    tomorrow = client.post(GENERATIONS, {"count": 1}, format="json")
    assert tomorrow.status_code == 429
    assert 86_000 < int(tomorrow["Retry-After"]) <= 86_400  # when the first job leaves the day


def test_any_seed_a_piece_shows_can_be_asked_for(tiny_world, make_user):
    client = client_for(make_user("composer"))
    accepted = client.post(GENERATIONS, {"count": 1, "bars": 4, "seed": 2**32 - 1}, format="json")
    assert accepted.status_code == 202, accepted.json()
    run_pending_jobs()
    job = client.get(accepted.json()["url"]).json()
    assert job["status"] == "succeeded", job["error"]
    assert job["tracks"][0]["provenance"]["seed"] == 2**32 - 1
    too_big = client.post(GENERATIONS, {"count": 1, "seed": 2**32}, format="json")
    assert too_big.status_code == 400 and "seed" in too_big.json()


def test_healthz_reports_the_generator(tiny_world, client):
    assert client.get("/healthz").json()["models"]["generator"] == "ok"


def test_deleting_an_account_deletes_its_generated_music_and_files(
    tiny_world, make_user, django_capture_on_commit_callbacks
):
    from pathlib import Path

    from catalog.models import Track

    client = client_for(make_user("leaver"))
    response = client.post(GENERATIONS, {"count": 1}, format="json")
    run_pending_jobs()
    track = Track.objects.get(generated__request_id=response.json()["id"])
    midi_path = Path(track.midi.path)
    assert midi_path.is_file()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete("/api/v1/me/").status_code == 204
    assert not Track.objects.filter(pk=track.pk).exists()
    assert not midi_path.exists()
    assert not GenerationRequest.objects.filter(pk=response.json()["id"]).exists()


def test_a_published_piece_outlives_the_account_that_asked_for_it(
    tiny_world, make_user, django_capture_on_commit_callbacks
):
    from pathlib import Path

    from catalog.models import Track
    from generation.models import GeneratedTrack, ReviewStatus
    from generation.services import review_generated
    from profiles.models import Feedback, Listen

    leaver, listener, curator = make_user("leaver"), make_user("listener"), make_user("curator")
    client = client_for(leaver)
    request_id = client.post(GENERATIONS, {"count": 2}, format="json").json()["id"]
    run_pending_jobs()
    published, private = GeneratedTrack.objects.filter(request_id=request_id)
    for decision in (ReviewStatus.APPROVED, ReviewStatus.PUBLISHED):
        review_generated(generated=published, decision=decision, reviewer=curator)
    fan = client_for(listener)
    listen = {"track": published.track_id, "listened_at": "2024-05-01T12:00:00Z"}
    assert fan.post("/api/v1/listens/", {"listens": [listen]}, format="json").status_code == 201
    loved = {"track": published.track_id, "score": 1}
    assert fan.post("/api/v1/feedback/", loved, format="json").status_code == 200
    private_midi = Path(private.track.midi.path)

    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete("/api/v1/me/").status_code == 204

    kept = fan.get(f"/api/v1/tracks/{published.track_id}/")
    assert kept.status_code == 200
    assert "requested_by" not in kept.json()["provenance"]
    assert Path(Track.objects.get(pk=published.track_id).midi.path).is_file()
    curation = GeneratedTrack.objects.get(pk=published.pk)
    assert (curation.requested_by, curation.review_status) == (None, ReviewStatus.PUBLISHED)
    assert Listen.objects.filter(user=listener, track=published.track_id).exists()
    assert Feedback.objects.filter(user=listener, track=published.track_id).exists()
    assert not Track.objects.filter(pk=private.track_id).exists()
    assert not private_midi.exists()


def test_pieces_fill_the_bars_asked_for_and_sound_like_their_style(tiny_world, make_user):
    call_command("train_style_classifier", stdout=io.StringIO())
    client = client_for(make_user("composer"))
    # This world's generator makes chorale-like music whatever it is asked: the pieces must
    # be played by the instruments of the style they are heard in, not of the one asked for.
    asked = {"count": 2, "bars": 8, "seed": 5, "style_mix": {"fiddle": 1}}
    accepted = client.post(GENERATIONS, asked, format="json")
    run_pending_jobs()
    job = client.get(accepted.json()["url"]).json()
    assert job["status"] == "succeeded", job["error"]
    for track in job["tracks"]:
        midi = pretty_midi.PrettyMIDI(io.BytesIO(download(client, track["midi_url"])))
        tempo = midi.get_tempo_changes()[1][0]
        planned = 8 * 4 * 60.0 / tempo
        assert midi.get_end_time() >= MIN_FILLED_SHARE * planned, (track["id"], planned)
        programs = [i.program for i in sorted(midi.instruments, key=lambda i: i.name)]
        voices = [
            int(i.name.split()[-1]) - 1 for i in sorted(midi.instruments, key=lambda i: i.name)
        ]
        expected = [STYLE_INSTRUMENTS[track["style"]][v] for v in voices]
        assert programs == expected, track["style"]


def test_when_no_candidate_fills_the_length_the_longest_is_kept(
    tiny_world, make_user, monkeypatch, caplog
):
    monkeypatch.setattr("generation.services.MIN_FILLED_SHARE", 1.5)  # nothing can fill it
    client = client_for(make_user("composer"))
    accepted = client.post(GENERATIONS, {"count": 1, "bars": 4, "seed": 3}, format="json")
    with caplog.at_level("INFO", logger="generation.services"):
        run_pending_jobs()
    job = client.get(accepted.json()["url"]).json()
    assert job["status"] == "succeeded", job["error"]
    stopped_early = [r for r in caplog.records if "stops early" in r.getMessage()]
    assert len(stopped_early) == LENGTH_ROUNDS  # then no more rounds for length


def test_the_export_holds_each_generation_as_asked_and_what_it_made(tiny_world, make_user):
    client = client_for(make_user("composer"))
    asked = {"count": 1, "bars": 8, "temperature": 0.7, "seed": 3, "style_mix": {"folk": 1}}
    request_id = client.post(GENERATIONS, {**asked, "tempo_bpm": 96}, format="json").json()["id"]
    run_pending_jobs()
    playlist = {"name": "Mine", "length": 5, "generated_share": 1.0}
    assert client.post("/api/v1/playlists/", playlist, format="json").status_code in (201, 202)

    export = exported(client)

    generation = next(g for g in export["generations"] if g["id"] == request_id)
    assert {name: generation[name] for name in asked} == asked
    assert generation["tempo_bpm"] == 96 and generation["variation_of"] is None
    [piece] = generation["tracks"]
    assert piece["review_status"] == "pending" and piece["provenance"]["seed"] == 3
    assert piece["title"].startswith("Generated piece")
    [kept] = export["playlists"]
    assert (kept["name"], kept["length"], kept["generated_share"]) == ("Mine", 5, 1.0)


def test_listing_generations_and_exporting_take_the_same_queries_however_many(
    tiny_world, make_user
):
    person = make_user("prolific")
    client = client_for(person)
    tracks = list(Track.objects.filter(is_public=True)[:5])

    def queries_for(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
            assert response.status_code == 200
            if response.streaming:  # the export is read as it is sent
                b"".join(response.streaming_content)
        return len(captured)

    def make(requests: int) -> None:
        for _ in range(requests):
            accepted = client.post(GENERATIONS, {"count": 2, "bars": 4}, format="json")
            assert accepted.status_code == 202
            run_pending_jobs()
            playlist = Playlist.objects.create(user=person, length=5, status="ready")
            for position, track in enumerate(tracks, start=1):
                playlist.items.create(position=position, track=track, reason="picked")

    make(1)
    few = queries_for(GENERATIONS), queries_for("/api/v1/me/export/")
    make(3)
    assert len(client.get(GENERATIONS).json()["results"]) == 4
    assert (queries_for(GENERATIONS), queries_for("/api/v1/me/export/")) == few
