import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import pretty_midi
import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from catalog import services
from catalog.midi.rendering import RendererUnavailable
from catalog.midi.style_space import VECTOR_DIM
from catalog.models import Track
from tests.catalog.conftest import BACH_CHORALE, FIDDLE_REEL
from tests.catalog.midi_factory import broken_midi_files, midi_bytes
from tests.helpers import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def corpus_tracks(corpus_piece) -> list[Track]:
    return [
        services.import_corpus_piece(piece=corpus_piece(item))[0]
        for item in (BACH_CHORALE, FIDDLE_REEL)
    ]


def upload(client, data: bytes, **fields):
    return client.post(
        "/api/v1/tracks/",
        {"midi": SimpleUploadedFile("tune.mid", data, "audio/midi"), **fields},
        format="multipart",
    )


def stored_files(media_root: Path) -> list[Path]:
    return [path for path in media_root.rglob("*") if path.is_file()] if media_root.exists() else []


def test_an_upload_is_analysed_and_private_to_its_owner(auth_client, make_user, media_root):
    answer = upload(auth_client, midi_bytes(), title="My scale")
    assert answer.status_code == 201, answer.json()
    track = answer.json()
    assert (track["title"], track["origin"], track["is_public"]) == ("My scale", "upload", False)
    assert track["key"] == "C major" and track["duration_s"] == 4.0
    assert len(track["style_vector"]) == VECTOR_DIM
    assert track["features"]["note_count"] == 8
    assert len(stored_files(media_root)) == 1
    assert auth_client.get(f"/api/v1/tracks/{track['id']}/").status_code == 200
    stranger = client_for(make_user("bob"))
    assert stranger.get(f"/api/v1/tracks/{track['id']}/").status_code == 404
    assert stranger.get("/api/v1/tracks/").json()["results"] == []


def test_a_staff_upload_joins_the_public_catalog(make_user, user):
    staff = client_for(make_user("curator", staff=True))
    track = upload(staff, midi_bytes()).json()
    assert (track["origin"], track["is_public"], track["title"]) == ("catalog", True, "tune")
    assert client_for(user).get(f"/api/v1/tracks/{track['id']}/").status_code == 200


@pytest.mark.parametrize("name", sorted(broken_midi_files()))
def test_broken_midi_is_refused_with_a_message_and_writes_nothing(auth_client, media_root, name):
    data, _ = broken_midi_files()[name]
    answer = upload(auth_client, data)
    assert answer.status_code == 400
    assert answer.json()["midi"][0]
    assert not Track.objects.exists()
    assert stored_files(media_root) == []


def test_uploading_the_same_file_again_gives_back_the_first_track(auth_client, make_user):
    first = upload(auth_client, midi_bytes(), title="Mine")
    again = upload(auth_client, midi_bytes(), title="Mine")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    other = upload(client_for(make_user("bob")), midi_bytes(), title="Bob's")
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    assert Track.objects.filter(origin="upload").count() == 2


def test_tracks_filter_by_style_and_origin_and_search_by_composer(auth_client, corpus_tracks):
    upload(auth_client, midi_bytes())

    def titles(query: str) -> set[str]:
        answer = auth_client.get(f"/api/v1/tracks/?{query}")
        assert answer.status_code == 200
        return {track["title"] for track in answer.json()["results"]}

    chorale, reel = corpus_tracks
    assert titles("style=chorale") == {chorale.title}
    assert titles("style=fiddle") == {reel.title}
    assert titles("origin=upload") == {"tune"}
    assert titles("origin=catalog") == {chorale.title, reel.title}
    assert titles("search=bach") == {chorale.title}
    # Every word must match, each in any of title, artist or collection.
    assert titles(urlencode({"search": f"BACH  {chorale.title.split()[0]}"})) == {chorale.title}
    assert titles(urlencode({"search": f"bach {reel.title.split()[0]}"})) == set()
    assert auth_client.get("/api/v1/tracks/?style=jazz").status_code == 400


def test_styles_list_counts_the_tracks_of_each_style(auth_client, corpus_tracks):
    styles = {row["name"]: row for row in auth_client.get("/api/v1/styles/").json()}
    assert styles["chorale"]["track_count"] == 1
    assert styles["fiddle"]["track_count"] == 1
    assert styles["medieval"]["track_count"] == 0
    assert styles["folk"]["description"]


def test_midi_is_served_with_validators_and_answers_304_when_unchanged(auth_client, corpus_tracks):
    track = corpus_tracks[0]
    answer = auth_client.get(f"/api/v1/tracks/{track.pk}/midi/")
    assert answer.status_code == 200
    assert answer["Content-Type"] == "audio/midi"
    assert b"".join(answer.streaming_content).startswith(b"MThd")
    assert answer["Last-Modified"]
    again = auth_client.get(f"/api/v1/tracks/{track.pk}/midi/", HTTP_IF_NONE_MATCH=answer["ETag"])
    assert again.status_code == 304


def test_audio_is_rendered_once_then_served_from_the_cache(auth_client, corpus_tracks, media_root):
    track = corpus_tracks[1]
    try:
        services.AudioRenderer.find()
    except RendererUnavailable as missing:
        pytest.skip(f"audio rendering unavailable here: {missing}")
    answer = auth_client.get(f"/api/v1/tracks/{track.pk}/audio/?format=wav")
    assert answer.status_code == 200
    assert answer["Content-Type"] == "audio/wav"
    assert b"".join(answer.streaming_content)[:4] == b"RIFF"
    cached = list((media_root / "renders").rglob("*.wav"))
    assert len(cached) == 1
    rendered = cached[0].stat().st_ino  # a new render would replace the file
    assert auth_client.get(f"/api/v1/tracks/{track.pk}/audio/?format=wav").status_code == 200
    assert cached[0].stat().st_ino == rendered
    assert auth_client.get(f"/api/v1/tracks/{track.pk}/audio/?format=mp3").status_code == 400


def test_audio_answers_503_with_a_message_without_fluidsynth(
    auth_client, corpus_tracks, monkeypatch
):
    def missing(**kwargs):
        raise RendererUnavailable("the 'fluidsynth' program is not installed")

    monkeypatch.setattr(services.AudioRenderer, "find", staticmethod(missing))
    answer = auth_client.get(f"/api/v1/tracks/{corpus_tracks[0].pk}/audio/?format=ogg")
    assert answer.status_code == 503
    assert "fluidsynth" in answer.json()["detail"]


def test_the_piano_roll_is_a_png(auth_client, corpus_tracks):
    answer = auth_client.get(f"/api/v1/tracks/{corpus_tracks[0].pk}/pianoroll/")
    assert answer.status_code == 200
    assert answer["Content-Type"] == "image/png"
    assert b"".join(answer.streaming_content).startswith(b"\x89PNG")


def test_the_catalog_needs_a_token(api_client):
    assert api_client.get("/api/v1/tracks/").status_code == 401
    assert api_client.get("/api/v1/styles/").status_code == 401


def _body(answer) -> bytes:
    return b"".join(answer.streaming_content)


def test_midi_and_audio_answer_byte_ranges(auth_client, corpus_tracks, media_root):
    try:
        services.AudioRenderer.find()
    except RendererUnavailable as missing:
        pytest.skip(f"audio rendering unavailable here: {missing}")
    for url in (
        f"/api/v1/tracks/{corpus_tracks[0].pk}/midi/",
        f"/api/v1/tracks/{corpus_tracks[0].pk}/audio/?format=ogg",
    ):
        whole = auth_client.get(url)
        content = _body(whole)
        assert whole.status_code == 200 and whole["Accept-Ranges"] == "bytes"

        middle = auth_client.get(url, HTTP_RANGE="bytes=10-109")
        assert middle.status_code == 206
        assert middle["Content-Range"] == f"bytes 10-109/{len(content)}"
        assert _body(middle) == content[10:110]
        tail = auth_client.get(url, HTTP_RANGE="bytes=-16")
        assert tail.status_code == 206 and _body(tail) == content[-16:]

        past = auth_client.get(url, HTTP_RANGE=f"bytes={len(content)}-")
        assert past.status_code == 416 and past["Content-Range"] == f"bytes */{len(content)}"
        assert "past the end" in past.json()["detail"]
        cached = auth_client.get(url, HTTP_IF_NONE_MATCH=whole["ETag"])
        assert cached.status_code == 304 and cached["ETag"] == whole["ETag"]
        stale = auth_client.get(url, HTTP_RANGE="bytes=10-109", HTTP_IF_RANGE='"old-etag"')
        assert stale.status_code == 200 and _body(stale) == content
        fresh = auth_client.get(url, HTTP_RANGE="bytes=10-109", HTTP_IF_RANGE=whole["ETag"])
        assert fresh.status_code == 206


@pytest.mark.django_db(transaction=True)
def test_retries_sent_at_once_store_one_upload(live_server, make_user, media_root):
    owner = make_user("retrier")
    # Large enough that each request spends a while analysing before it stores anything.
    notes = [(40 + i % 40, i * 0.25, 0.5) for i in range(20_000)]
    data = midi_bytes(notes=notes)

    def send(_: int) -> tuple[int, int]:
        answer = requests.post(
            f"{live_server.url}/api/v1/tracks/",
            headers={"Authorization": f"Token {owner.auth_token.key}"},
            files={"midi": ("tune.mid", data, "audio/midi")},
            timeout=120,
        )
        return answer.status_code, answer.json()["id"]

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(send, range(4)))

    assert sorted(code for code, _ in answers) == [200, 200, 200, 201]
    assert len({track_id for _, track_id in answers}) == 1
    assert Track.objects.filter(owner=owner).count() == 1
    assert len(list((media_root / "tracks").rglob("*.mid"))) == 1


def test_upload_attempts_are_throttled_refused_files_included(auth_client, monkeypatch):
    from django.core.cache import cache

    from catalog.api.views import UploadRateThrottle

    cache.clear()
    monkeypatch.setattr(UploadRateThrottle, "THROTTLE_RATES", {"upload": "3/hour"})
    broken, _ = broken_midi_files()["zero_notes"]
    codes = [upload(auth_client, broken).status_code for _ in range(3)]
    codes.append(upload(auth_client, midi_bytes()).status_code)
    assert codes == [400, 400, 400, 429]
    assert auth_client.get("/api/v1/tracks/").status_code == 200  # reading is not limited
    cache.clear()


@pytest.mark.django_db(transaction=True)
def test_uploads_sent_at_once_stay_within_the_daily_quota(live_server, make_user, settings):
    settings.UPLOAD_MAX_DAILY = 2
    owner = make_user("eager")

    def send(number: int) -> int:
        answer = requests.post(
            f"{live_server.url}/api/v1/tracks/",
            headers={"Authorization": f"Token {owner.auth_token.key}"},
            files={"midi": ("tune.mid", midi_bytes(tempo_bpm=60 + number), "audio/midi")},
            timeout=120,
        )
        return answer.status_code

    with ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(send, range(6)))

    assert sorted(codes) == [201, 201, 429, 429, 429, 429]
    assert Track.objects.filter(owner=owner).count() == 2


def test_search_ignores_case_accents_and_punctuation(auth_client, make_user):
    staff = client_for(make_user("editor", staff=True))
    upload(staff, midi_bytes(), title="Se la pietà, o dolce amor")
    curly = "Ach Gott, vom Himmel sieh\N{RIGHT SINGLE QUOTATION MARK} darein"
    upload(staff, midi_bytes(tempo_bpm=90), title=curly)

    def titles(search: str) -> list[str]:
        answer = auth_client.get("/api/v1/tracks/", {"search": search})
        return [track["title"] for track in answer.json()["results"]]

    for search in ("pietà", "PIETÀ", "pieta", "Pieta, dolce"):
        assert titles(search) == ["Se la pietà, o dolce amor"]
    assert titles("sieh' darein") == titles("SIEH DAREIN") == [curly]
    assert titles("pieta darein") == []


@pytest.mark.parametrize(
    ("file_name", "title", "expected"),
    [
        ("tune.mid", "Evil\u202eeman\u200b\nsong\t!", "Evileman song !"),
        ("tune.mid", "\u0301\u0301", "tune"),  # combining marks alone: nothing readable
        ("my.song.mid", "", "my.song"),
        (".mid", "", "Untitled"),
        ("tune.mid", "\U0001f3b9 \U0001f3b9", "\U0001f3b9 \U0001f3b9"),  # emoji are readable
        ("tune.mid", "\U0001f468\u200d\U0001f373 jig", "\U0001f468\u200d\U0001f373 jig"),
        ("tune.mid", "!!!", "tune"),
    ],
)
def test_upload_titles_are_readable(auth_client, file_name, title, expected):
    answer = auth_client.post(
        "/api/v1/tracks/",
        {"midi": SimpleUploadedFile(file_name, midi_bytes(), "audio/midi"), "title": title},
        format="multipart",
    )
    assert answer.status_code == 201 and answer.json()["title"] == expected


def test_a_riff_midi_upload_is_stored_as_plain_midi(auth_client):
    inner = midi_bytes()
    body = b"RMID" + b"data" + len(inner).to_bytes(4, "little") + inner + b"\x00" * (len(inner) % 2)
    rmi = b"RIFF" + len(body).to_bytes(4, "little") + body

    created = upload(auth_client, rmi, title="Wrapped")

    assert created.status_code == 201
    stored = auth_client.get(f"/api/v1/tracks/{created.json()['id']}/midi/")
    assert b"".join(stored.streaming_content) == inner


def test_uploads_per_day_are_limited_for_people_not_staff(auth_client, make_user, settings):
    settings.UPLOAD_MAX_DAILY = 2
    codes = [upload(auth_client, midi_bytes(tempo_bpm=60 + i)).status_code for i in range(3)]
    staff = client_for(make_user("editor", staff=True))
    staff_codes = [upload(staff, midi_bytes(tempo_bpm=90 + i)).status_code for i in range(3)]
    retry = upload(auth_client, midi_bytes(tempo_bpm=60))

    assert codes == [201, 201, 429] and staff_codes == [201, 201, 201]
    assert retry.status_code == 200  # the same file again is not a new upload


def test_deleting_an_account_keeps_renders_that_a_public_track_shares(
    auth_client, make_user, media_root
):
    staff = client_for(make_user("editor", staff=True))
    public = upload(staff, midi_bytes()).json()["id"]
    private = upload(auth_client, midi_bytes()).json()["id"]
    for track_id in (public, private):
        assert auth_client.get(f"/api/v1/tracks/{track_id}/pianoroll/").status_code == 200
    rolls = list((media_root / "renders").rglob("*.png"))
    assert len(rolls) == 1  # one render per content

    assert auth_client.delete("/api/v1/me/").status_code == 204

    assert rolls[0].exists()


def test_deleting_an_account_leaves_nothing_of_its_private_renders(
    auth_client, media_root, django_capture_on_commit_callbacks
):
    private = upload(auth_client, midi_bytes()).json()["id"]
    assert auth_client.get(f"/api/v1/tracks/{private}/pianoroll/").status_code == 200
    renders = media_root / "renders"
    assert {path.suffix for path in renders.rglob("*.*")} == {".png", ".lock"}

    with django_capture_on_commit_callbacks(execute=True):
        assert auth_client.delete("/api/v1/me/").status_code == 204

    assert [path for path in renders.rglob("*") if path.is_file()] == []


def test_a_track_deleted_in_the_admin_takes_its_files_along(
    auth_client, make_user, media_root, django_capture_on_commit_callbacks
):
    editor = make_user("editor", staff=True)
    editor.is_superuser = True
    editor.save()
    track_id = upload(client_for(editor), midi_bytes()).json()["id"]
    assert auth_client.get(f"/api/v1/tracks/{track_id}/pianoroll/").status_code == 200
    files = [path for path in media_root.rglob("*") if path.is_file()]
    assert {path.suffix for path in files} == {".mid", ".png", ".lock"}
    admin = Client()
    admin.force_login(editor)

    with django_capture_on_commit_callbacks(execute=True):
        confirm = admin.post(f"/admin/catalog/track/{track_id}/delete/", {"post": "yes"})

    assert confirm.status_code == 302
    assert not Track.objects.filter(pk=track_id).exists()
    assert [path for path in files if path.exists()] == []


def test_an_owner_deletes_a_private_upload_with_its_files_listens_and_feedback(
    auth_client, user, media_root, django_capture_on_commit_callbacks
):
    track_id = upload(auth_client, midi_bytes()).json()["id"]
    assert auth_client.get(f"/api/v1/tracks/{track_id}/pianoroll/").status_code == 200
    listen = {"track": track_id, "listened_at": "2026-11-01T10:00:00Z"}
    assert (
        auth_client.post("/api/v1/listens/", {"listens": [listen]}, format="json").status_code
        == 201
    )
    assert auth_client.post("/api/v1/feedback/", {"track": track_id, "score": 1}).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        assert auth_client.delete(f"/api/v1/tracks/{track_id}/").status_code == 204

    assert stored_files(media_root) == []
    assert auth_client.get(f"/api/v1/tracks/{track_id}/").status_code == 404
    assert auth_client.get("/api/v1/listens/").json()["results"] == []
    assert auth_client.get("/api/v1/feedback/").json()["results"] == []
    assert auth_client.delete(f"/api/v1/tracks/{track_id}/").status_code == 404  # a retry


def test_nobody_deletes_a_published_track_or_someone_elses_through_the_api(auth_client, make_user):
    staff = client_for(make_user("editor", staff=True))
    published = upload(staff, midi_bytes()).json()["id"]
    private = upload(client_for(make_user("owner")), midi_bytes()).json()["id"]

    for client in (auth_client, staff):
        refused = client.delete(f"/api/v1/tracks/{published}/")
        assert refused.status_code == 403
        assert refused.json()["detail"].startswith("A published track belongs to the catalog")
    assert auth_client.delete(f"/api/v1/tracks/{private}/").status_code == 404
    owner = Track.objects.get(pk=private).owner
    listen = {"track": private, "listened_at": "2026-11-01T10:00:00Z"}
    client_for(owner).post("/api/v1/listens/", {"listens": [listen]}, format="json")
    refused = staff.delete(f"/api/v1/tracks/{private}/")  # staff see it, but it is not theirs
    assert refused.status_code == 403
    assert "uploaded or generated" in refused.json()["detail"]
    assert Track.objects.filter(pk__in=[published, private]).count() == 2


def test_an_uploaded_ai_generated_file_keeps_its_label_and_stays_hidden(auth_client, make_user):
    generated = pretty_midi.PrettyMIDI(io.BytesIO(midi_bytes()))
    label = "AI-generated by generation.ml model cvae-test; seed 3"
    generated.text_events.append(pretty_midi.Text(label, 0.0))
    buffer = io.BytesIO()
    generated.write(buffer)
    editor = client_for(make_user("editor", staff=True))

    for uploader in (editor, auth_client):
        created = upload(uploader, buffer.getvalue())
        assert created.status_code == 201, created.json()
        body = created.json()
        assert body["ai_generated"] is True and body["provenance"] == {"label": label}
    staff_upload = Track.objects.get(origin="catalog")
    assert not staff_upload.is_public
    assert auth_client.get(f"/api/v1/tracks/{staff_upload.pk}/").status_code == 404


def test_a_title_that_normalizing_lengthens_is_stored_and_found(auth_client):
    title = "\ufdfa" * 300  # one character that NFKD spells out in 18
    created = upload(auth_client, midi_bytes(), title=title)
    assert created.status_code == 201, created.json()
    assert created.json()["title"] == title
    found = auth_client.get("/api/v1/tracks/", {"search": "\ufdfa"}).json()["results"]
    assert [track["id"] for track in found] == [created.json()["id"]]


@pytest.mark.parametrize("page_size", ["abc", "0", "-1", "\u00b2", "9" * 5000])
def test_a_page_size_that_is_no_whole_number_from_one_is_a_400(auth_client, page_size):
    response = auth_client.get("/api/v1/tracks/", {"page_size": page_size})
    assert response.status_code == 400
    assert "page_size" in response.json()


def test_an_empty_page_size_is_the_default_one(auth_client):
    assert auth_client.get("/api/v1/tracks/", {"page_size": ""}).status_code == 200
