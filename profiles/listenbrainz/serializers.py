"""ListenBrainz's payload shapes, for the OpenAPI schema and for rendering listens."""

from __future__ import annotations

import uuid
from typing import Any

from rest_framework import serializers

from profiles.importers.rules import MAX_LISTENS_PER_REQUEST, MAX_NAME_CHARS
from profiles.models import Listen

LISTEN_TYPES = ("single", "import", "playing_now")
# recording_msid: a stable id per track, in the UUID form ListenBrainz clients expect.
_MSID_NAMESPACE = uuid.UUID("8f0b3f0c-6a8e-4a55-9a4c-0d2b7f1c5e01")


class AdditionalInfoSerializer(serializers.Serializer):
    duration_ms = serializers.IntegerField(required=False, min_value=0)
    recording_mbid = serializers.UUIDField(required=False)


class ListenBrainzTrackMetadataSerializer(serializers.Serializer):
    artist_name = serializers.CharField(max_length=MAX_NAME_CHARS)
    track_name = serializers.CharField(max_length=MAX_NAME_CHARS)
    release_name = serializers.CharField(required=False, max_length=MAX_NAME_CHARS)
    additional_info = AdditionalInfoSerializer(required=False)


class SubmittedListenSerializer(serializers.Serializer):
    listened_at = serializers.IntegerField(
        required=False,
        help_text="Unix seconds; required for single and import, absent for playing_now.",
    )
    track_metadata = ListenBrainzTrackMetadataSerializer()


class SubmitListensSerializer(serializers.Serializer):
    listen_type = serializers.ChoiceField(choices=LISTEN_TYPES)
    payload = SubmittedListenSerializer(many=True, max_length=MAX_LISTENS_PER_REQUEST)


class StatusSerializer(serializers.Serializer):
    status = serializers.CharField()


class ValidateTokenSerializer(serializers.Serializer):
    code = serializers.IntegerField()
    message = serializers.CharField()
    valid = serializers.BooleanField()
    user_name = serializers.CharField(required=False)


class ListenOutSerializer(serializers.Serializer):
    inserted_at = serializers.IntegerField()
    listened_at = serializers.IntegerField()
    recording_msid = serializers.CharField()
    user_name = serializers.CharField()
    track_metadata = ListenBrainzTrackMetadataSerializer()


class ListensPayloadSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    listens = ListenOutSerializer(many=True)
    latest_listen_ts = serializers.IntegerField(allow_null=True)
    oldest_listen_ts = serializers.IntegerField(allow_null=True)
    user_id = serializers.CharField()


class ListensResponseSerializer(serializers.Serializer):
    payload = ListensPayloadSerializer()


class PlayingNowListenSerializer(serializers.Serializer):
    playing_now = serializers.BooleanField()
    track_metadata = ListenBrainzTrackMetadataSerializer()


class PlayingNowPayloadSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    listens = PlayingNowListenSerializer(many=True)
    playing_now = serializers.BooleanField()
    user_id = serializers.CharField()


class PlayingNowResponseSerializer(serializers.Serializer):
    payload = PlayingNowPayloadSerializer()


class CountPayloadSerializer(serializers.Serializer):
    count = serializers.IntegerField()


class ListenCountResponseSerializer(serializers.Serializer):
    payload = CountPayloadSerializer()


def track_metadata(track: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"artist_name": track.artist, "track_name": track.title}
    if track.duration_s:
        metadata["additional_info"] = {"duration_ms": round(track.duration_s * 1000)}
    return metadata


def listen_payload(listen: Listen, user_name: str) -> dict[str, Any]:
    return {
        "inserted_at": int(listen.created_at.timestamp()),
        "listened_at": int(listen.listened_at.timestamp()),
        "recording_msid": str(uuid.uuid5(_MSID_NAMESPACE, str(listen.track_id))),
        "user_name": user_name,
        "track_metadata": track_metadata(listen.track),
    }
