"""The product end to end, as a person uses it through the REST API, with a real worker.

A fiddle lover and a chorale lover each register and post a listening history; the taste
model is fitted; each asks for generated tracks and the fiddle lover for a playlist; a real
`run_worker` process makes them; the MIDI and audio download; and the catalog's style
classifier hears each person's style in most of what was generated for them.
"""

from __future__ import annotations

import io
import time

import pretty_midi
import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from catalog.models import Track
from tests.helpers import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
COUNT = 5


def register(username: str) -> APIClient:
    client = APIClient()
    response = client.post(
        "/api/v1/auth/register/", {"username": username, "password": "listening all day 42"}
    )
    assert response.status_code == 201, response.json()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return client


def post_history(client: APIClient, style: str) -> None:
    tracks = client.get("/api/v1/tracks/", {"style": style, "page_size": 8}).json()["results"]
    assert len(tracks) >= 4, f"the catalog needs {style} tracks"
    now = int(time.time())
    listens = [
        {"track": track["id"], "listened_at": now - 600 * (i + 1) - 60 * repeat}
        for i, track in enumerate(tracks)
        for repeat in range(3)
    ]
    response = client.post("/api/v1/listens/", {"listens": listens}, format="json")
    assert response.status_code == 201, response.json()


def finished(client: APIClient, url: str) -> dict:
    body: dict = {}

    def done() -> bool:
        body.update(client.get(url).json())
        return body["status"] in {"succeeded", "failed", "ready"}

    wait_until(done, timeout=600, what=url)
    return body


def download(client: APIClient, url: str) -> tuple[str, bytes]:
    response = client.get(url)
    assert response.status_code == 200, url
    return response["Content-Type"], b"".join(response.streaming_content)


def test_personalized_generation_and_playlists(start_process):
    call_command(
        "import_corpus",
        "--collections",
        "bach,ryansMammoth,essenFolksong,palestrina",
        "--limit",
        "8",
    )
    call_command("load_defaults")  # the shipped style classifier and generator; a taste model
    assert Track.objects.filter(style_label="fiddle").count() >= 4

    fiddler, singer = register("fiddler"), register("singer")
    post_history(fiddler, "fiddle")
    post_history(singer, "chorale")
    call_command("train_taste")
    taste = fiddler.get("/api/v1/me/").json()["taste"]
    assert max(taste["styles"], key=taste["styles"].get) == "fiddle"

    start_process("run_worker", "--interval", "0.1")
    jobs = {
        name: client.post("/api/v1/generations/", {"count": COUNT, "seed": 7}, format="json")
        for name, client in (("fiddle", fiddler), ("chorale", singer))
    }
    assert all(job.status_code == 202 for job in jobs.values())
    playlist = fiddler.post(
        "/api/v1/playlists/", {"length": 6, "generated_share": 0.5}, format="json"
    )
    assert playlist.status_code == 202, playlist.json()

    verdicts = {}
    for style, client in (("fiddle", fiddler), ("chorale", singer)):
        result = finished(client, jobs[style].json()["url"])
        assert result["status"] == "succeeded", result["error"]
        assert len(result["tracks"]) == COUNT
        verdicts[style] = [track["style"] for track in result["tracks"]]
    fiddle_share = verdicts["fiddle"].count("fiddle") / COUNT
    assert fiddle_share >= 0.8, verdicts
    singer_top = max(set(verdicts["chorale"]), key=verdicts["chorale"].count)
    assert singer_top != "fiddle", verdicts

    track = finished(fiddler, jobs["fiddle"].json()["url"])["tracks"][0]
    kind, midi = download(fiddler, f"/api/v1/tracks/{track['id']}/midi/")
    assert kind == "audio/midi"
    assert pretty_midi.PrettyMIDI(io.BytesIO(midi)).instruments
    kind, audio = download(fiddler, f"/api/v1/tracks/{track['id']}/audio/?format=ogg")
    assert kind == "audio/ogg"
    assert audio[:4] == b"OggS"

    ready = finished(fiddler, f"/api/v1/playlists/{playlist.json()['id']}/")
    assert ready["status"] == "ready"
    assert len(ready["items"]) == 6
    assert sum(item["track"]["ai_generated"] for item in ready["items"]) == 3
