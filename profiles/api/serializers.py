from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import UploadedFile
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from musicsite.api import RejectUnknownFields
from profiles.importers import FORMATS, MULTI_USER_FORMATS
from profiles.importers.rules import (
    MAX_LISTENS_PER_REQUEST,
    MAX_NAME_CHARS,
    MAX_SOURCE_CHARS,
    MIN_LISTENED_AT,
    is_plain_number,
)
from profiles.importing import MAX_SKIPPED_REPORTED
from profiles.listen_input import MAX_COUNT, MAX_ID, read_timestamp
from profiles.models import FeedbackScore
from profiles.preferences import PreferencesSerializer

User = get_user_model()


# Plain ASCII names: letters from other scripts (Cyrillic U+0430 for Latin "a") or with
# case rules of their own (sharp s, dotless i) would let one name pass for another.
_USERNAME = re.compile(r"[A-Za-z0-9.@+_-]+")


class RegisterSerializer(RejectUnknownFields):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(write_only=True, max_length=128, trim_whitespace=False)
    email = serializers.EmailField(required=False, allow_blank=True, default="")

    def validate_username(self, value: str) -> str:
        name = unicodedata.normalize("NFKC", value)  # full-width letters are plain ones
        if not _USERNAME.fullmatch(name):
            raise serializers.ValidationError(
                "Letters A-Z and a-z, digits and @/./+/-/_ only (no spaces or accents)."
            )
        return name


class RegisteredSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    token = serializers.CharField()


class TokenRequestSerializer(RejectUnknownFields):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


class PasswordChangeSerializer(RejectUnknownFields):
    current_password = serializers.CharField(max_length=128, trim_whitespace=False)
    new_password = serializers.CharField(max_length=128, trim_whitespace=False)


class TasteSerializer(serializers.Serializer):
    vector = serializers.ListField(child=serializers.FloatField())
    styles = serializers.DictField(child=serializers.FloatField())
    model_version = serializers.CharField()
    updated_at = serializers.DateTimeField()


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="user.pk")
    username = serializers.CharField(source="user.username")
    email = serializers.CharField(source="user.email")
    preferences = PreferencesSerializer()
    taste = TasteSerializer(allow_null=True)


class MeUpdateSerializer(RejectUnknownFields):
    preferences = serializers.DictField(
        help_text="Preferences to change; see the `preferences` object of GET /me/. "
        "A null value removes that preference."
    )


# --- Listening history -------------------------------------------------------------------
# The submission serializers document the request body; the body itself is validated by
# profiles.listen_input, which is fast enough for 1000-listen batches.


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "format": "date-time"},
            {"type": "integer", "minimum": int(MIN_LISTENED_AT.timestamp())},
        ],
        "description": "ISO 8601, or Unix seconds; from 2002-10-01 to an hour from now.",
    }
)
class TimestampField(serializers.Field):
    def to_internal_value(self, data: Any) -> datetime:
        try:
            if isinstance(data, str) and is_plain_number(data):
                data = int(data)  # ValueError past Python's 4300 digits
            return read_timestamp(data)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, value: datetime) -> str:
        return value.isoformat()


class TrackMetadataSerializer(serializers.Serializer):
    artist_name = serializers.CharField(max_length=MAX_NAME_CHARS)
    track_name = serializers.CharField(max_length=MAX_NAME_CHARS)
    release_name = serializers.CharField(
        max_length=MAX_NAME_CHARS, required=False, allow_blank=True, help_text="Album."
    )
    duration_ms = serializers.IntegerField(
        min_value=0, max_value=MAX_COUNT, required=False, allow_null=True
    )
    recording_mbid = serializers.UUIDField(required=False, help_text="MusicBrainz recording id.")


class ListenSubmissionSerializer(RejectUnknownFields):
    track = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, help_text="A catalog track id."
    )
    track_metadata = TrackMetadataSerializer(
        required=False,
        help_text="Instead of `track`: matched to a catalog track by normalized artist and "
        "title, or stored as a metadata-only (external) track.",
    )
    listened_at = TimestampField()
    ms_played = serializers.IntegerField(
        min_value=0, max_value=MAX_COUNT, required=False, allow_null=True
    )
    skipped = serializers.BooleanField(required=False, default=False)
    source = serializers.CharField(
        max_length=MAX_SOURCE_CHARS, required=False, help_text='The submitting app; "api".'
    )


class ListenBatchSerializer(RejectUnknownFields):
    listens = ListenSubmissionSerializer(
        many=True,
        min_length=1,
        max_length=MAX_LISTENS_PER_REQUEST,
        help_text="Stored all-or-nothing; each listen may be at most 10,240 bytes of JSON.",
    )


class ListenTallySerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Listens newly stored.")
    duplicates = serializers.IntegerField(help_text="Listens that were already stored.")


class ListenedTrackSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    artist = serializers.CharField()
    origin = serializers.CharField()


class ListenSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    track = ListenedTrackSerializer()
    listened_at = serializers.DateTimeField()
    ms_played = serializers.IntegerField(allow_null=True)
    skipped = serializers.BooleanField()
    play_count = serializers.IntegerField()
    source = serializers.CharField()
    track_metadata = serializers.JSONField(
        allow_null=True, help_text="The track_metadata as submitted; null for a track id."
    )
    created_at = serializers.DateTimeField()


class ListenRangeSerializer(serializers.Serializer):
    since = TimestampField(required=False, help_text="Listens at or after this time.")
    until = TimestampField(required=False, help_text="Listens before this time.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "since" in attrs and "until" in attrs and attrs["since"] >= attrs["until"]:
            raise serializers.ValidationError({"until": ["Must be later than since."]})
        return attrs


# HetRec's artists.dat is 2.6 MB; it is read while the request waits.
MAX_ARTISTS_BYTES = 16 * 2**20


def _within(upload: UploadedFile, limit: int) -> UploadedFile:
    if upload.size > limit:
        raise serializers.ValidationError(
            f"The file is {upload.size} bytes; the limit is {limit} bytes."
        )
    return upload


class ImportRequestSerializer(RejectUnknownFields):
    file = serializers.FileField(help_text="The history file, as the service exported it.")
    format = serializers.ChoiceField(choices=FORMATS)
    file_user = serializers.CharField(
        required=False,
        max_length=150,
        help_text="lastfm-1k and hetrec hold many people: whose rows to import "
        "(default: the first row's).",
    )
    artists = serializers.FileField(
        required=False, help_text="hetrec only: artists.dat, to name the artists."
    )

    def validate_file(self, upload: UploadedFile) -> UploadedFile:
        return _within(upload, settings.IMPORT_MAX_BYTES)

    def validate_artists(self, upload: UploadedFile) -> UploadedFile:
        return _within(upload, MAX_ARTISTS_BYTES)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("file_user") and attrs["format"] not in MULTI_USER_FORMATS:
            raise serializers.ValidationError({"file_user": ["Only for lastfm-1k and hetrec."]})
        if attrs.get("artists") and attrs["format"] != "hetrec":
            raise serializers.ValidationError({"artists": ["Only for hetrec."]})
        return attrs


class SkippedLineSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="Line number; in a JSON array, item number.")
    reason = serializers.CharField()


class ImportReportSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    skipped = SkippedLineSerializer(
        many=True,
        help_text=f"The first {MAX_SKIPPED_REPORTED} lines that could not be read, and why.",
    )
    skipped_count = serializers.IntegerField(
        required=False, help_text="How many lines could not be read (imports since 2026-11-30)."
    )
    other_user_rows = serializers.IntegerField(
        help_text="Rows of other people in a multi-user data set, not imported."
    )


class ImportJobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["queued", "running", "succeeded", "failed"])
    progress = serializers.FloatField()
    message = serializers.CharField()
    error = serializers.CharField()
    result = ImportReportSerializer(allow_null=True)
    url = serializers.CharField()


class FeedbackRequestSerializer(RejectUnknownFields):
    track = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    score = serializers.ChoiceField(
        choices=[FeedbackScore.LOVE, FeedbackScore.CLEAR, FeedbackScore.HATE],
        help_text="1 love, -1 hate, 0 clear.",
    )


class FeedbackSerializer(serializers.Serializer):
    track = serializers.IntegerField()
    score = serializers.IntegerField()
    updated_at = serializers.DateTimeField()
