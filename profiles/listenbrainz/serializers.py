"""ListenBrainz's payload shapes, for the OpenAPI schema and for rendering listens."""

from __future__ import annotations

import uuid
from typing import Any

from rest_framework import serializers

from profiles.importers.rules import MAX_LISTENS_PER_REQUEST, MAX_NAME_CHARS
from profiles.listen_input import MAX_TAG_CHARS, MAX_TAGS
from profiles.models import Listen, NowPlaying

LISTEN_TYPES = ("single", "import", "playing_now")
# recording_msid: a stable id per track, in the UUID form ListenBrainz clients expect.
_MSID_NAMESPACE = uuid.UUID("8f0b3f0c-6a8e-4a55-9a4c-0d2b7f1c5e01")


class ListenBrainzTrackMetadataSerializer(serializers.Serializer):
    artist_name = serializers.CharField(max_length=MAX_NAME_CHARS)
    track_name = serializers.CharField(max_length=MAX_NAME_CHARS)
    release_name = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=MAX_NAME_CHARS
    )
    additional_info = serializers.DictField(
        required=False,
        help_text="Whatever the player knows, kept and shown back as sent: duration_ms (or "
        "duration in seconds), recording_mbid, release_mbid, artist_mbids, tags (at most "
        f"{MAX_TAGS} of {MAX_TAG_CHARS} characters), submission_client...",
    )


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


def shown_metadata(listen: Listen | NowPlaying) -> dict[str, Any]:
    """The metadata as the player sent it; for a listen of a catalog track, the track's."""
    if listen.track_metadata is not None:
        return listen.track_metadata
    track = listen.track
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
        "track_metadata": shown_metadata(listen),
    }
