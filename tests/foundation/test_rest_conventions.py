"""REST conventions: a request body naming a field the request does not take is a 400 naming
it; a long export is streamed as DRF would render it whole."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

from generation.models import GenerationRequest, Playlist
from profiles.api.serializers import ListenSubmissionSerializer
from profiles.listen_input import API_LISTEN_FIELDS
from profiles.models import Listen

pytestmark = pytest.mark.django_db

A_LISTEN = {
    "track_metadata": {"artist_name": "Ola Belle Reed", "track_name": "High on a Mountain"},
    "listened_at": "2026-11-01T10:00:00Z",
}


def test_a_misspelt_generation_field_is_named_and_nothing_is_queued(auth_client):
    response = auth_client.post(
        "/api/v1/generations/", {"count": 1, "temprature": 1.4}, format="json"
    )
    assert response.status_code == 400
    message = response.json()["temprature"][0]
    assert message.startswith("Unknown field")
    assert "temperature" in message
    assert not GenerationRequest.objects.exists()


def test_a_playlist_request_with_an_unknown_field_creates_nothing(auth_client):
    response = auth_client.post(
        "/api/v1/playlists/", {"length": 10, "generated_shar": 0.5}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"generated_shar"}
    assert not Playlist.objects.exists()


def test_read_only_fields_sent_back_to_me_are_refused_and_preferences_kept(auth_client):
    me = auth_client.get("/api/v1/me/").json()
    body = {**me, "username": "someone-else", "preferences": {"styles": ["folk"]}}
    response = auth_client.patch("/api/v1/me/", body, format="json")
    assert response.status_code == 400
    assert {"id", "username", "taste", "email"} <= set(response.json())
    assert "preferences" not in response.json()
    assert auth_client.get("/api/v1/me/").json() == me


def test_an_unknown_field_in_one_listen_rejects_the_batch_naming_it(auth_client):
    listens = [A_LISTEN, {**A_LISTEN, "listened_at": 1762000000, "ms_playd": 5000}]
    response = auth_client.post("/api/v1/listens/", {"listens": listens}, format="json")
    assert response.status_code == 400
    errors = response.json()["listens"]
    assert list(errors) == ["1"]
    assert errors["1"]["ms_playd"][0].startswith("Unknown field")
    assert not Listen.objects.exists()


def test_an_unknown_field_beside_the_listens_is_refused(auth_client):
    body = {"listens": [A_LISTEN], "listen_type": "import"}
    response = auth_client.post("/api/v1/listens/", body, format="json")
    assert response.status_code == 400
    assert "listen_type" in response.json()
    assert not Listen.objects.exists()


def test_a_known_listen_is_still_accepted(auth_client):
    response = auth_client.post("/api/v1/listens/", {"listens": [A_LISTEN]}, format="json")
    assert response.status_code == 201
    assert response.json() == {"accepted": 1, "duplicates": 0}


def test_the_documented_listen_fields_are_those_accepted():
    assert set(ListenSubmissionSerializer().fields) == set(API_LISTEN_FIELDS)


def test_the_schema_says_which_request_bodies_take_no_other_fields():
    components = SchemaGenerator().get_schema(request=None, public=True)["components"]
    schemas = components["schemas"]
    assert schemas["GenerationCreateRequest"]["additionalProperties"] is False
    assert schemas["ListenSubmissionRequest"]["additionalProperties"] is False
    # Answers may grow fields: clients must not be told otherwise.
    assert "additionalProperties" not in schemas["Playlist"]


def test_a_streamed_document_reads_as_drf_renders_it():
    from datetime import UTC, datetime

    from rest_framework.renderers import JSONRenderer

    from musicsite.api import json_chunks

    at = datetime(2026, 11, 30, 23, 59, 1, 123456, tzinfo=UTC)
    rows = [{"at": at, "name": "Zoë \u2014 \U0001f3b9 \u2028\u2029", "n": None}] * 3
    document = {"exported_at": at, "nested": {"a": [1, 2.5], "b": {}}, "rows": rows}
    streamed = "".join(json_chunks({**document, "rows": iter(rows)}))
    assert streamed.encode() == JSONRenderer().render(document)
    assert "".join(json_chunks({"rows": iter([])})) == '{"rows":[]}'
    with pytest.raises(ValueError):  # NaN is no JSON, as DRF's renderer holds
        "".join(json_chunks({"rows": iter([{"x": float("nan")}])}))
